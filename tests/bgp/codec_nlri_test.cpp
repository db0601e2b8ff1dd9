// bgp/nlri.cpp: prefix fields and MP_(UN)REACH_NLRI values. Byte layouts: RFC 4271 §4.3 (prefix =
// length in bits + the fewest octets that hold it), RFC 4760 §3-4; the IPv6 values are the ones
// GoBGP 3.10.0 and FRR 8.4.4 sent (tests/data/bgp/gobgp_ebgp.hex, frr8_ebgp.hex).
#include <catch2/catch.hpp>

#include "bgp/nlri.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;

namespace {
Prefix pfx(const char* s) { return *Prefix::parse(s); }
}  // namespace

TEST_CASE("prefix field: lengths 0, 1, 8, 9, 24, 25, 32", "[bgp][codec]") {
    // RFC 4271 §4.3: 0.0.0.0/0 is a single zero octet; /9 takes 2 address octets; /25 takes 4.
    const Bytes field = from_hex("00  01 80  08 0a  09 0a80  18 0af401  19 c0000280  20 7f000001");
    auto p = decode_prefixes(field, Family::kIpv4);
    REQUIRE(p);
    CHECK(*p == std::vector<Prefix>{pfx("0.0.0.0/0"), pfx("128.0.0.0/1"), pfx("10.0.0.0/8"), pfx("10.128.0.0/9"),
                                    pfx("10.244.1.0/24"), pfx("192.0.2.128/25"), pfx("127.0.0.1/32")});
    Bytes out;
    Writer w{out};
    for (const auto& x : *p) write_prefix(w, x);
    CHECK(hex(out) == hex(field));
    std::size_t total = 0;
    for (const auto& x : *p) total += encoded_prefix_size(x);
    CHECK(total == field.size());
}

TEST_CASE("prefix field: trailing bits past the length are ignored", "[bgp][codec]") {
    // RFC 4271 §4.3: padding "irrelevant"; the Prefix is canonical either way.
    auto p = decode_prefixes(from_hex("17 0af4ff"), Family::kIpv4);  // /23 with the 24th bit set
    REQUIRE(p);
    CHECK(*p == std::vector<Prefix>{pfx("10.244.254.0/23")});
}

TEST_CASE("prefix field errors are Invalid Network Field, session reset", "[bgp][codec]") {
    for (const char* bad : {"21 0a000000 00", "18 0a00", "81", "08"}) {
        INFO(bad);
        auto p = decode_prefixes(from_hex(bad), Family::kIpv4);
        REQUIRE_FALSE(p);
        CHECK(p.error().code == kUpdateMessageError);
        CHECK(p.error().subcode == kInvalidNetworkField);
        CHECK(p.error().action == ErrorAction::kSessionReset);
    }
    CHECK(decode_prefixes(from_hex("80 20010db8000000000000000000000001"), Family::kIpv6));
    CHECK_FALSE(decode_prefixes(from_hex("81 20010db8000000000000000000000001 00"), Family::kIpv6));
}

TEST_CASE("MP_REACH_NLRI values both ways", "[bgp][codec]") {
    // FRR 8.4.4's value: global + link-local next hop.
    const Bytes v = from_hex("0002 01 20 20010db8000000000000000000000020 fe800000000000000000000000000020 00 30 20010db80020");
    auto r = decode_mp_reach(v);
    REQUIRE(r);
    CHECK(r->family == AfiSafi{kAfiIpv6, kSafiUnicast});
    CHECK(r->next_hops == std::vector<IpAddress>{*IpAddress::parse("2001:db8::20"), *IpAddress::parse("fe80::20")});
    CHECK(r->nlri == std::vector<Prefix>{pfx("2001:db8:20::/48")});
    Bytes out;
    Writer w{out};
    write_mp_reach_value(w, *r);
    CHECK(hex(out) == hex(v));
}

TEST_CASE("MP_REACH_NLRI for IPv4 unicast and for families we do not parse", "[bgp][codec]") {
    auto v4 = decode_mp_reach(from_hex("0001 01 04 0a000001 00 18 0af401"));  // RFC 4760 §3 with AFI 1
    REQUIRE(v4);
    CHECK(v4->next_hops == std::vector<IpAddress>{*IpAddress::parse("10.0.0.1")});
    CHECK(v4->nlri == std::vector<Prefix>{pfx("10.244.1.0/24")});
    // L3VPN (AFI 1, SAFI 128): the family is reported, its contents are not parsed (RFC 4760 §7).
    auto vpn = decode_mp_reach(from_hex("0001 80 0c 0000000000000000 0a000001 00 70 000001 0000fde900000001 0af401"));
    REQUIRE(vpn);
    CHECK(vpn->family == AfiSafi{kAfiIpv4, 128});
    CHECK(vpn->nlri.empty());
    CHECK_FALSE(decode_mp_reach(from_hex("0001 01 10 0a000001 00")));  // IPv4 next hop of 16 octets
}

TEST_CASE("MP_UNREACH_NLRI values both ways", "[bgp][codec]") {
    const Bytes v = from_hex("0002 01 40 fd00001000000000");  // GoBGP 3.10.0's withdrawal of fd00:10::/64
    auto u = decode_mp_unreach(v);
    REQUIRE(u);
    CHECK(u->withdrawn == std::vector<Prefix>{pfx("fd00:10::/64")});
    Bytes out;
    Writer w{out};
    write_mp_unreach_value(w, *u);
    CHECK(hex(out) == hex(v));
}
