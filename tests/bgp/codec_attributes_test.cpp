// bgp/attributes.cpp: RFC 6793 §4.2.3 AS4_PATH / AS4_AGGREGATOR reconstruction from a 2-octet peer,
// the encoder's type-code order and extended-length choice (RFC 4271 §4.3), long AS paths.
// Attribute bytes are BIRD 2.0.12's (bird2_2octet.hex, where BIRD as AS 4200000001 talks to a
// 2-octet peer) rearranged per the RFC's cases; each case cites the sentence it checks.
#include <catch2/catch.hpp>

#include "bgp/attributes.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::cat;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;

namespace {

const DecodeContext kTwoOctet{.four_octet_as = false, .extended_message = false, .ebgp = true};
const DecodeContext kFourOctet{.four_octet_as = true, .extended_message = false, .ebgp = true};
const Bytes kOrigin = from_hex("40 01 01 02");
const Bytes kNextHop = from_hex("40 03 04 7f000002");

AsPathSegment seq(std::vector<std::uint32_t> asns) { return AsPathSegment{AsPathSegment::kAsSequence, std::move(asns)}; }
AsPathSegment set(std::vector<std::uint32_t> asns) { return AsPathSegment{AsPathSegment::kAsSet, std::move(asns)}; }

DecodedAttributes decode(const Bytes& field, const DecodeContext& ctx) {
    auto d = decode_path_attributes(field, ctx);
    REQUIRE(d);
    return *d;
}

}  // namespace

TEST_CASE("AS4_PATH replaces the AS_TRANS entries it covers (RFC 6793 §4.2.3)", "[bgp][codec]") {
    SECTION("as long as AS_PATH: BIRD's own case") {
        // AS_PATH 23456 23456 65001, AS4_PATH 4200000001 4200000002 65001 (bird2_2octet.hex).
        auto d = decode(cat({kOrigin, from_hex("40 02 08 02 03 5ba0 5ba0 fde9"), kNextHop,
                             from_hex("c0 11 0e 02 03 fa56ea01 fa56ea02 0000fde9")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({4200000001u, 4200000002u, 65001})});
    }
    SECTION("shorter: the leading ASes of AS_PATH are kept (prepended by an OLD speaker)") {
        // "take as many AS numbers and path segments as necessary from the leading part of the
        // AS_PATH attribute ... prepend them to the AS4_PATH attribute"
        auto d = decode(cat({kOrigin, from_hex("40 02 0a 02 04 fe4c fe4c 5ba0 fde9"), kNextHop,
                             from_hex("c0 11 0a 02 02 fa56ea02 0000fde9")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({65100, 65100, 4200000002u, 65001})});
    }
    SECTION("an AS_SET counts as one AS") {
        auto d = decode(cat({kOrigin, from_hex("40 02 0e 02 01 fe4c 01 01 5ba0 01 02 fe4d fe4e"), kNextHop,
                             from_hex("c0 11 10 01 01 fa56ea02 01 02 0000fe4d 0000fe4e")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({65100}), set({4200000002u}), set({65101, 65102})});
    }
    SECTION("longer than AS_PATH: AS4_PATH is ignored") {
        // "if the number of AS numbers in the AS_PATH attribute is less than the number of AS
        // numbers in the AS4_PATH attribute, then the AS4_PATH attribute SHALL be ignored"
        auto d = decode(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop,
                             from_hex("c0 11 0a 02 02 fa56ea01 fa56ea02")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({kAsTrans})});
    }
    SECTION("an AGGREGATOR with a real 2-octet AS: AS4_PATH and AS4_AGGREGATOR are ignored") {
        // "If the AS number in the AGGREGATOR attribute is not AS_TRANS, then ... the AS4_AGGREGATOR
        // attribute and the AS4_PATH attribute SHALL be ignored"
        auto d = decode(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 07 06 fdfc 0a000014"),
                             from_hex("c0 11 06 02 01 fa56ea01"), from_hex("c0 12 08 fa56ea01 0a000001")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({kAsTrans})});
        CHECK(d.attributes.aggregator == Aggregator{65020, *IpAddress::parse("10.0.0.20")});
    }
    SECTION("an AGGREGATOR with AS_TRANS: AS4_AGGREGATOR supplies the AS") {
        auto d = decode(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 07 06 5ba0 0a000001"),
                             from_hex("c0 11 06 02 01 fa56ea01"), from_hex("c0 12 08 fa56ea01 0a000001")}),
                        kTwoOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({4200000001u})});
        CHECK(d.attributes.aggregator == Aggregator{4200000001u, *IpAddress::parse("10.0.0.1")});
    }
    SECTION("between two 4-octet speakers AS4_PATH is disregarded, not carried") {
        auto d = decode(cat({kOrigin, from_hex("40 02 06 02 01 0000fde9"), kNextHop, from_hex("c0 11 06 02 01 fa56ea01")}),
                        kFourOctet);
        CHECK(d.attributes.as_path == std::vector<AsPathSegment>{seq({65001})});
        CHECK(d.attributes.unknown.empty());
        CHECK(d.discarded.empty());
    }
}

TEST_CASE("towards a 2-octet peer: AS_TRANS plus AS4_PATH / AS4_AGGREGATOR (RFC 6793 §4.2.2)", "[bgp][codec]") {
    PathAttributes a;
    a.origin = Origin::kIncomplete;
    a.as_path = {seq({4200000001u, 65001})};
    a.next_hop = *IpAddress::parse("127.0.0.2");
    a.aggregator = Aggregator{4200000001u, *IpAddress::parse("10.0.0.1")};
    Bytes out;
    Writer w{out};
    write_path_attributes(w, a, nullptr, nullptr, EncodeContext{.four_octet_as = false, .extended_message = false});
    CHECK(hex(out) == hex(cat({kOrigin, from_hex("40 02 06 02 02 5ba0 fde9"), kNextHop, from_hex("c0 07 06 5ba0 0a000001"),
                               from_hex("c0 11 0a 02 02 fa56ea01 0000fde9"), from_hex("c0 12 08 fa56ea01 0a000001")})));
    CHECK(decode(out, kTwoOctet).attributes == a);
    // No AS above 65535: no AS4_PATH at all.
    a.as_path = {seq({65001})};
    a.aggregator.reset();
    out.clear();
    write_path_attributes(w, a, nullptr, nullptr, EncodeContext{.four_octet_as = false, .extended_message = false});
    CHECK(hex(out) == hex(cat({kOrigin, from_hex("40 02 04 02 01 fde9"), kNextHop})));
}

TEST_CASE("extended length only above 255 octets; MP first, then type-code order with unknown attributes", "[bgp][codec]") {
    PathAttributes a;
    a.origin = Origin::kIgp;
    a.as_path = std::vector<AsPathSegment>{};
    a.communities.assign(63, 0xfde90064);  // 252 octets: one-octet length
    a.unknown = {RawAttribute{0xe0, 11, {0x01}}, RawAttribute{0xe0, 22, {0x02}}};
    const MpUnreach unreach{AfiSafi{kAfiIpv6, kSafiUnicast}, {}};
    Bytes out;
    Writer w{out};
    write_path_attributes(w, a, nullptr, &unreach, EncodeContext{});
    Bytes comm = from_hex("c0 08 fc");
    for (int i = 0; i < 63; ++i) comm = cat({comm, from_hex("fde90064")});
    // RFC 7606 §5.1: MP_UNREACH_NLRI "SHALL be encoded as the very first path attribute", as BIRD
    // 2.0.12 does (bird2_ebgp.hex "update_mp_reach_ipv6", "eor_ipv6").
    CHECK(hex(out) == hex(cat({from_hex("80 0f 03 0002 01"), from_hex("40 01 01 00 40 02 00"), comm,
                               from_hex("e0 0b 01 01"), from_hex("e0 16 01 02")})));

    a.communities.assign(64, 0xfde90064);  // 256 octets: extended length, flag 0x10
    a.unknown.clear();
    out.clear();
    write_path_attributes(w, a, nullptr, nullptr, EncodeContext{});
    CHECK(hex(Bytes(out.begin() + 7, out.begin() + 11)) == "d0080100");
    CHECK(out.size() == 7 + 4 + 256);
    CHECK(decode(out, kFourOctet).attributes == a);
}

TEST_CASE("AS paths longer than 255 ASes are split into segments", "[bgp][codec]") {
    std::vector<std::uint32_t> asns(300);
    for (std::size_t i = 0; i < asns.size(); ++i) asns[i] = 65000 + static_cast<std::uint32_t>(i);
    PathAttributes a;
    a.as_path = {seq(asns)};
    Bytes out;
    Writer w{out};
    write_path_attributes(w, a, nullptr, nullptr, EncodeContext{});
    // 2 segment headers + 300 x 4 = 1204 octets: flags 0x50, length 0x04b4; first segment 255 ASes.
    CHECK(hex(Bytes(out.begin(), out.begin() + 6)) == "500204b402ff");
    auto d = decode(out, kFourOctet);
    REQUIRE(d.attributes.as_path);
    REQUIRE(d.attributes.as_path->size() == 2);
    CHECK((*d.attributes.as_path)[0].asns.size() == 255);
    CHECK(as_path_length(*d.attributes.as_path) == 300);
}

TEST_CASE("as_path_length counts an AS_SET as one and confederation segments as none", "[bgp][codec]") {
    CHECK(as_path_length({seq({1, 2, 3}), set({4, 5})}) == 4);
    CHECK(as_path_length({AsPathSegment{kAsConfedSequence, {7, 8}}, seq({1})}) == 1);
    CHECK(as_path_length({}) == 0);
}
