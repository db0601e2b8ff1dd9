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

TEST_CASE("typed capabilities: malformed lengths, unknown ADD-PATH modes, repeats", "[bgp][codec][errors]") {
    // Each row is one Capabilities parameter built from a capability BIRD 2.0.12 or FRR 8.4.4 sent
    // (bird2_addpath.hex, frr8_addpath.hex "open"), its length or value changed. A length the RFC
    // fixes is checked (OPEN Message Error, subcode 0, as BIRD and GoBGP answer).
    struct Row {
        const char* what;
        Bytes params;
    };
    const std::vector<Row> bad = {
        {"graceful restart of 3 octets (RFC 4724 §3: 2 + 4n)", from_hex("02 05 40 03 0078 00")},
        {"graceful restart of 1 octet", from_hex("02 03 40 01 00")},
        {"graceful restart of 0 octets", from_hex("02 02 40 00")},
        {"graceful restart with half a family (2 + 3)", from_hex("02 07 40 05 0078 000101")},
        {"ADD-PATH of 3 octets (RFC 7911 §4: 4n)", from_hex("02 05 45 03 000101")},
        {"ADD-PATH of 0 octets", from_hex("02 02 45 00")},
        {"ADD-PATH of 6 octets", from_hex("02 08 45 06 0001 01 03 0002")},
        {"extended message with a value (RFC 8654 §3: length 0)", from_hex("02 03 06 01 00")},
        {"enhanced route refresh with a value (RFC 7313 §3.1: length 0)", from_hex("02 03 46 01 00")},
    };
    for (const auto& row : bad) {
        INFO(row.what << ": " << hex(row.params));
        OpenMessage o;
        auto r = decode_optional_parameters(row.params, o);
        REQUIRE_FALSE(r);
        CHECK(int(r.error().code) == int(kOpenMessageError));
        CHECK(int(r.error().subcode) == 0);
        CHECK(r.error().action == ErrorAction::kSessionReset);
    }

    SECTION("ADD-PATH Send/Receive 0 or 4: not understood, ignored, kept raw (RFC 7911 §4)") {
        for (const char* p : {"02 0a 45 08 0001 01 03 0002 01 00", "02 06 45 04 0001 01 04"}) {
            INFO(p);
            OpenMessage o;
            REQUIRE(decode_optional_parameters(from_hex(p), o));
            CHECK(o.add_path.empty());
            REQUIRE(o.other_capabilities.size() == 1);
            CHECK(o.other_capabilities[0].code == kCapAddPath);
            OpenMessage ours;
            ours.add_path = {{AfiSafi{}, AddPathMode::kBoth}};
            CHECK(negotiate(ours, o).add_path_receive.empty());  // as if the peer had not offered it
        }
    }
    SECTION("graceful restart: reserved flag bits ignored, the 12-bit time at its maximum") {
        OpenMessage o;
        REQUIRE(decode_optional_parameters(from_hex("02 08 40 06 3fff 0001 01 7f"), o));
        CHECK(o.graceful_restart == GracefulRestart{.restart_state = false, .notification = false, .restart_time = 4095,
                                                    .families = {{AfiSafi{}, false}}});  // F is the top bit only
    }
    SECTION("repeats: ADD-PATH families accumulate (first mode wins), the first GR counts") {
        OpenMessage o;
        REQUIRE(decode_optional_parameters(
            from_hex("02 06 45 04 0001 01 01  02 0a 45 08 0002 01 02 0001 01 03  02 04 40 02 0078  02 04 40 02 805a"), o));
        CHECK(o.add_path == std::vector<AddPathFamily>{{AfiSafi{kAfiIpv4, kSafiUnicast}, AddPathMode::kReceive},
                                                       {AfiSafi{kAfiIpv6, kSafiUnicast}, AddPathMode::kSend}});
        REQUIRE(o.graceful_restart);
        CHECK(o.graceful_restart->restart_time == 120);
        CHECK_FALSE(o.graceful_restart->restart_state);
    }
    SECTION("has_capability knows the typed codes") {
        OpenMessage o;
        REQUIRE(decode_optional_parameters(from_hex("02 0e 06 00 40 02 0078 45 04 0001 01 01 46 00"), o));
        for (std::uint8_t code : {kCapExtendedMessage, kCapGracefulRestart, kCapAddPath, kCapEnhancedRouteRefresh}) {
            INFO(int(code));
            CHECK(has_capability(o, code));
            CHECK_FALSE(has_capability(OpenMessage{}, code));
        }
        CHECK(o.other_capabilities.empty());
        // Written back in code order, one parameter: the same octets (they were in code order).
        Bytes out;
        Writer w{out};
        write_optional_parameters(w, o);
        CHECK(hex(out) == hex(from_hex("02 0e 06 00 40 02 0078 45 04 0001 01 01 46 00")));
    }
}

TEST_CASE("RFC 8950 Extended Next Hop Encoding: BIRD's capability, negotiation, IPv4 NLRI with IPv6 next hops",
          "[bgp][codec][rfc8950]") {
    const AfiSafi v4{kAfiIpv4, kSafiUnicast};
    const auto bytes = load_vectors("bird2_enh.hex").at("open");
    auto m = decode_message(bytes, DecodeContext{});
    REQUIRE(m);
    const auto& o = std::get<OpenMessage>(*m);
    CHECK(o.extended_next_hop == std::vector<ExtendedNextHop>{{v4, kAfiIpv6}});
    CHECK(has_capability(o, kCapExtendedNextHop));
    // BIRD writes capabilities in code order, as we do: the same bytes come back.
    CHECK(hex(encode(Message{o})) == hex(bytes));

    OpenMessage ours;
    ours.multiprotocol = {v4};
    ours.extended_next_hop = {{v4, kAfiIpv6}};
    CHECK(negotiate(ours, o).ipv4_with_ipv6_next_hop);
    CHECK(negotiate(ours, o).decode_context(false).ipv4_with_ipv6_next_hop);
    OpenMessage plain = ours;
    plain.extended_next_hop.clear();
    CHECK_FALSE(negotiate(plain, o).ipv4_with_ipv6_next_hop);
    CHECK_FALSE(negotiate(o, plain).ipv4_with_ipv6_next_hop);
    OpenMessage v6_only = ours;
    v6_only.multiprotocol = {AfiSafi{kAfiIpv6, kSafiUnicast}};
    CHECK_FALSE(negotiate(v6_only, o).ipv4_with_ipv6_next_hop);  // no IPv4 unicast on the session

    // A length that is not a multiple of 6 is a malformed OPEN (RFC 5492 §3 practice).
    OpenMessage bad;
    CHECK_FALSE(decode_optional_parameters(from_hex("02 07 05 05 0001000100"), bad));

    // An IPv4 route with an IPv6 global + link-local next hop in MP_REACH_NLRI (RFC 8950 §3, RFC
    // 2545 §3 layout): decoded when negotiated, refused otherwise.
    UpdateMessage u;
    u.attributes.origin = Origin::kIgp;
    u.attributes.as_path = std::vector<AsPathSegment>{};
    u.mp_reach = MpReach{v4, {*IpAddress::parse("fd00::2"), *IpAddress::parse("fe80::2")},
                         {*Prefix::parse("10.244.2.0/24")}};
    const auto wire = encode(Message{u});
    DecodeContext enh{};
    enh.ipv4_with_ipv6_next_hop = true;
    auto back = decode_message(wire, enh);
    REQUIRE(back);
    const auto& bu = std::get<UpdateMessage>(*back);
    REQUIRE(bu.mp_reach);
    CHECK(bu.mp_reach->next_hops == u.mp_reach->next_hops);
    CHECK(bu.mp_reach->nlri == u.mp_reach->nlri);
    CHECK_FALSE(bu.treat_as_withdraw);
    auto refused = decode_message(wire, DecodeContext{});
    CHECK((!refused || std::get<UpdateMessage>(*refused).treat_as_withdraw.has_value()));
}
