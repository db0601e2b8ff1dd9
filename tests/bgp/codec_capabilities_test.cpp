// bgp/capabilities.cpp: optional parameters in both layouts, and negotiate(). The OPENs are the ones
// captured from BIRD 2.0.12, GoBGP 3.10.0 and FRR 8.4.4 (tests/data/bgp/*.hex).
#include <catch2/catch.hpp>

#include "bgp/capabilities.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;
using kroute::bgp::test::load_vectors;

namespace {

OpenMessage open_from(const char* file) {
    auto m = decode_message(load_vectors(file).at("open"), DecodeContext{});
    REQUIRE(m);
    return std::get<OpenMessage>(*m);
}

}  // namespace

TEST_CASE("FRR's one-capability-per-parameter and GoBGP's all-in-one decode alike", "[bgp][codec]") {
    // FRR 8.4.4's parameters 1 and 2 (MP IPv4, MP IPv6), each in a parameter of its own, against the
    // same two capabilities inside one parameter as BIRD 2.0.12 and GoBGP 3.10.0 send them.
    OpenMessage per_param, one_param;
    REQUIRE(decode_optional_parameters(from_hex("02 06 01 04 00010001  02 06 01 04 00020001"), per_param));
    REQUIRE(decode_optional_parameters(from_hex("02 0c 01 04 00010001 01 04 00020001"), one_param));
    CHECK(per_param == one_param);
    CHECK(per_param.multiprotocol == std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}});
    // An empty Capabilities parameter is legal and carries nothing.
    OpenMessage empty;
    REQUIRE(decode_optional_parameters(from_hex("02 00"), empty));
    CHECK(empty == OpenMessage{});
}

TEST_CASE("write_optional_parameters writes the RFC 5492 form", "[bgp][codec]") {
    OpenMessage o;
    o.multiprotocol = {{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}};
    o.route_refresh = true;
    o.four_octet_as = 65001;
    // BIRD 2.0.12's Capabilities parameter without GR/enhanced RR/LLGR (bird2_ebgp.hex "open",
    // offsets 29..): MP IPv4, MP IPv6, route refresh, then 4-octet AS 65001.
    Bytes out;
    Writer w{out};
    write_optional_parameters(w, o);
    CHECK(hex(out) == hex(from_hex("02 14 01 04 00010001 01 04 00020001 02 00 41 04 0000fde9")));
    // Over 255 octets of capabilities are split over several parameters, each decodable.
    o.other_capabilities.assign(60, RawCapability{200, {1, 2}});  // 60 x 4 octets
    out.clear();
    write_optional_parameters(w, o);
    CHECK(out.size() == 2 + 20 + 240 + 2);  // 20 + 58 x 4 = 252 in the first parameter, 2 x 4 in the second
    OpenMessage back;
    REQUIRE(decode_optional_parameters(out, back));
    CHECK(back == o);
}

TEST_CASE("negotiate(): 4-octet AS, extended messages, families, hold time", "[bgp][codec]") {
    const OpenMessage bird = open_from("bird2_ebgp.hex");     // MP v4+v6, RR, AS4, no extended message
    const OpenMessage frr = open_from("frr8_ebgp.hex");       // MP v4+v6, RR, AS4, extended message (6)
    const OpenMessage old = open_from("bird2_2octet.hex");    // MP v4 only
    OpenMessage ours;
    ours.hold_time = 90;
    ours.multiprotocol = {{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}};
    ours.four_octet_as = 65000;
    ours.other_capabilities = {RawCapability{kCapExtendedMessage, {}}};

    auto n = negotiate(ours, frr);
    CHECK(n.four_octet_as);
    CHECK(n.extended_message);
    CHECK(n.route_refresh);
    CHECK(n.families == std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}});
    CHECK(n.hold_time == 90);  // FRR offered 180
    CHECK(n.decode_context(true).ebgp);
    CHECK(n.encode_context().extended_message);

    CHECK_FALSE(negotiate(ours, bird).extended_message);
    CHECK(negotiate(ours, old).families == std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}});

    OpenMessage plain;  // no capabilities at all: IPv4 unicast, 2-octet AS (RFC 4760 §8, RFC 6793 §4)
    plain.hold_time = 240;
    auto p = negotiate(ours, plain);
    CHECK_FALSE(p.four_octet_as);
    CHECK_FALSE(p.route_refresh);
    CHECK(p.families == std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}});
    CHECK_FALSE(p.decode_context(false).four_octet_as);
}

TEST_CASE("RFC 9072 extended optional parameters: decode, and encode only past 255 octets", "[bgp][codec]") {
    // BIRD 2.0.12's OPEN (bird2_ebgp.hex) rewritten in the RFC 9072 §2 layout by hand: Non-Ext OP Len
    // 255, Non-Ext OP Type 255, Extended Opt. Parm. Length 0x001f, then the Capabilities parameter
    // with a 2-octet length 0x001c holding BIRD's 28 octets of capabilities unchanged.
    const auto v = load_vectors("bird2_ebgp.hex");
    const Bytes& classic = v.at("open");
    const Bytes caps(classic.begin() + 31, classic.end());
    REQUIRE(caps.size() == 28);
    const Bytes extended = kroute::bgp::test::cat(
        {from_hex("ffffffffffffffffffffffffffffffff 003f 01 04 fde9 00f0 0a000001 ff ff 001f 02 001c"), caps});
    auto a = decode_message(classic, DecodeContext{});
    auto b = decode_message(extended, DecodeContext{});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(std::get<OpenMessage>(*a) == std::get<OpenMessage>(*b));
    // Our encoder keeps the classic layout for BIRD's capabilities...
    CHECK(encode(*a).at(28) == 0x1e);
    // ...and switches when they cannot fit: 300 octets of capabilities.
    OpenMessage big = std::get<OpenMessage>(*a);
    big.other_capabilities.assign(75, RawCapability{200, {1, 2}});
    const Bytes out = encode(big);
    CHECK(hex(Bytes(out.begin() + 28, out.begin() + 30)) == "ffff");
    auto back = decode_message(out, DecodeContext{});
    REQUIRE(back);
    CHECK(std::get<OpenMessage>(*back) == big);
    // A cut-short extended length is a length error, not a crash.
    auto cut = decode_message(from_hex("ffffffffffffffffffffffffffffffff 001f 01 04 fde9 00f0 0a000001 ff ff 00"),
                              DecodeContext{});
    REQUIRE_FALSE(cut);
    CHECK(int(cut.error().code) == int(kMessageHeaderError));
}
