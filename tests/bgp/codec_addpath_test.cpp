// ADD-PATH (RFC 7911), EXTENDED COMMUNITIES (RFC 4360) and LARGE_COMMUNITY (RFC 8092) against what
// BIRD 2.0.12 and FRR 8.4.4 sent to a peer that offered ADD-PATH receive (tests/data/bgp/
// bird2_addpath.hex, frr8_addpath.hex; each file's header says how). Every decode is checked field
// by field against values read off the bytes by hand; the re-encode is byte for byte, or against the
// sender's bytes rearranged by hand where our attribute order or flags differ (named in each case).
#include <catch2/catch.hpp>

#include "bgp/capabilities.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;
using kroute::bgp::test::load_vectors;

namespace {

constexpr AfiSafi kV4{kAfiIpv4, kSafiUnicast};
constexpr AfiSafi kV6{kAfiIpv6, kSafiUnicast};

// What the capture peer and BIRD / FRR negotiated: the peer (us) receives path identifiers for both.
const DecodeContext kAddPathEbgp{.four_octet_as = true, .extended_message = true, .ebgp = true, .add_path = {kV4, kV6}};
const EncodeContext kAddPathEncode{.four_octet_as = true, .extended_message = true, .add_path = {kV4, kV6}};
const DecodeContext kPlainEbgp{.four_octet_as = true, .extended_message = false, .ebgp = true};

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }
AsPathSegment seq(std::vector<std::uint32_t> asns) { return AsPathSegment{AsPathSegment::kAsSequence, std::move(asns)}; }

UpdateMessage decode_update(const Bytes& b, const DecodeContext& ctx) {
    auto m = decode_message(b, ctx);
    REQUIRE(m);
    REQUIRE(std::holds_alternative<UpdateMessage>(*m));
    return std::get<UpdateMessage>(*m);
}
OpenMessage decode_open(const Bytes& b) {
    auto m = decode_message(b, kPlainEbgp);
    REQUIRE(m);
    REQUIRE(std::holds_alternative<OpenMessage>(*m));
    return std::get<OpenMessage>(*m);
}

// BIRD's three extended communities: route target 65001:7 (type 0x00 two-octet AS, subtype 0x02),
// route origin 10.0.0.1:5 (type 0x01 IPv4, subtype 0x03), route target 4200000002:9 (type 0x02
// four-octet AS, subtype 0x02).
const std::vector<ExtendedCommunity> kBirdExtended{0x0002fde900000007ull, 0x01030a0000010005ull, 0x0202fa56ea020009ull};

}  // namespace

TEST_CASE("BIRD 2 OPEN: ADD-PATH, extended message, graceful restart per family, enhanced RR", "[bgp][codec]") {
    const auto v = load_vectors("bird2_addpath.hex");
    const OpenMessage o = decode_open(v.at("open"));
    CHECK(o.my_as == 65001);
    CHECK(o.bgp_id == 0x0a000001);
    CHECK(o.extended_message);         // 06 00
    CHECK(o.enhanced_route_refresh);   // 46 00
    // 40 0a 0078 0001 01 00 0002 01 00: no flags, 120 s, IPv4 and IPv6 unicast without F bit.
    CHECK(o.graceful_restart == GracefulRestart{.restart_state = false, .notification = false, .restart_time = 120,
                                                .families = {{kV4, false}, {kV6, false}}});
    // 45 08 0001 01 03 0002 01 02: `add paths on` for IPv4 (both), `add paths tx` for IPv6 (send).
    CHECK(o.add_path == std::vector<AddPathFamily>{{kV4, AddPathMode::kBoth}, {kV6, AddPathMode::kSend}});
    CHECK(o.other_capabilities == std::vector<RawCapability>{{71, {}}});  // long-lived GR, not modelled
    // Our capability order is BIRD's: the OPEN re-encodes byte for byte.
    CHECK(hex(encode(o)) == hex(v.at("open")));
}

TEST_CASE("BIRD 2 OPEN after a graceful restart: R bit and F bits (RFC 4724 §3)", "[bgp][codec]") {
    const auto v = load_vectors("bird2_addpath.hex");
    const OpenMessage o = decode_open(v.at("open_restarting"));
    // 40 0a 8078 0001 01 80 0002 01 80
    CHECK(o.graceful_restart == GracefulRestart{.restart_state = true, .notification = false, .restart_time = 120,
                                                .families = {{kV4, true}, {kV6, true}}});
    CHECK(hex(encode(o)) == hex(v.at("open_restarting")));
}

TEST_CASE("FRR 8 OPEN with ADD-PATH both ways and GR with N bit and F bits", "[bgp][codec]") {
    const auto v = load_vectors("frr8_addpath.hex");
    const OpenMessage o = decode_open(v.at("open"));
    CHECK(o.my_as == 65020);
    CHECK(o.extended_message);
    CHECK(o.enhanced_route_refresh);
    // 45 08 0001 01 03 0002 01 03 (addpath-tx-all-paths: FRR offers both directions)
    CHECK(o.add_path == std::vector<AddPathFamily>{{kV4, AddPathMode::kBoth}, {kV6, AddPathMode::kBoth}});
    // 40 0a c078 0001 01 80 0002 01 80: R and N bits, 120 s, forwarding state kept (preserve-fw-state)
    CHECK(o.graceful_restart == GracefulRestart{.restart_state = true, .notification = true, .restart_time = 120,
                                                .families = {{kV4, true}, {kV6, true}}});
    // FRR sends one capability per parameter; ours all in one: same capabilities after a round trip.
    auto again = decode_message(encode(o), kPlainEbgp);
    REQUIRE(again);
    CHECK(std::get<OpenMessage>(*again) == o);
}

TEST_CASE("negotiate(): ADD-PATH per family and direction, GR, N bit, enhanced RR (RFC 7911 §4)", "[bgp][codec]") {
    const OpenMessage bird = decode_open(load_vectors("bird2_addpath.hex").at("open"));  // v4 both, v6 send
    const OpenMessage frr = decode_open(load_vectors("frr8_addpath.hex").at("open"));    // v4 both, v6 both
    OpenMessage ours;
    ours.hold_time = 90;
    ours.multiprotocol = {kV4, kV6};
    ours.four_octet_as = 65002;
    ours.enhanced_route_refresh = true;
    ours.graceful_restart = GracefulRestart{.restart_state = false, .notification = true, .restart_time = 120, .families = {}};
    ours.add_path = {{kV4, AddPathMode::kReceive}, {kV6, AddPathMode::kBoth}};

    const Negotiated b = negotiate(ours, bird);
    CHECK(b.add_path_receive == std::vector<AfiSafi>{kV4, kV6});  // BIRD sends in both families
    CHECK(b.add_path_send.empty());  // v4: we only receive; v6: BIRD does not receive
    CHECK(b.receives_path_ids(kV4));
    CHECK_FALSE(b.sends_path_ids(kV6));
    CHECK(b.enhanced_route_refresh);
    CHECK(b.graceful_restart);
    CHECK_FALSE(b.graceful_notification);  // BIRD 2.0.12 sends no N bit
    CHECK(b.peer_graceful_restart == bird.graceful_restart);
    CHECK(b.decode_context(true).add_path == std::vector<AfiSafi>{kV4, kV6});
    CHECK(b.encode_context().add_path.empty());

    const Negotiated f = negotiate(ours, frr);
    CHECK(f.add_path_receive == std::vector<AfiSafi>{kV4, kV6});
    CHECK(f.add_path_send == std::vector<AfiSafi>{kV6});
    CHECK(f.graceful_notification);  // both sent N (RFC 8538 §2)
    CHECK(f.encode_context().has_path_ids(kV6));
    CHECK_FALSE(f.encode_context().has_path_ids(kV4));

    // Nothing offered by us: no path identifiers either way, whatever the peer offers.
    OpenMessage plain = ours;
    plain.add_path.clear();
    plain.graceful_restart.reset();
    const Negotiated p = negotiate(plain, frr);
    CHECK(p.add_path_receive.empty());
    CHECK(p.add_path_send.empty());
    CHECK_FALSE(p.graceful_restart);
    CHECK(p.peer_graceful_restart.has_value());  // still known: helper mode needs the peer's view
    // ADD-PATH for a family that was not negotiated is ignored (RFC 7911 §4 is per AFI/SAFI).
    OpenMessage v4only = ours;
    v4only.multiprotocol = {kV4};
    CHECK(negotiate(v4only, frr).add_path_receive == std::vector<AfiSafi>{kV4});
}

TEST_CASE("BIRD 2 ADD-PATH UPDATEs: path identifiers, extended and large communities", "[bgp][codec]") {
    const auto v = load_vectors("bird2_addpath.hex");
    SECTION("IPv4 NLRI with path id 2 (protocol s4a): extended + large communities, byte for byte") {
        const auto& b = v.at("update_addpath_ext_large");
        auto u = decode_update(b, kAddPathEbgp);
        CHECK(u.nlri == std::vector<Prefix>{pfx("10.244.1.0/24")});
        CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{2});  // 00000002 180af401
        CHECK(u.attributes.origin == Origin::kIgp);
        CHECK(u.attributes.as_path == std::vector<AsPathSegment>{seq({65001})});
        CHECK(u.attributes.next_hop == ip("127.0.0.2"));
        CHECK(u.attributes.extended_communities == kBirdExtended);
        CHECK(u.attributes.large_communities == std::vector<LargeCommunity>{{65001, 1, 2}, {4200000002u, 3, 4}});
        CHECK(u.attributes.unknown.empty());
        CHECK(!u.treat_as_withdraw);
        CHECK(hex(encode(u, kAddPathEncode)) == hex(b));
    }
    SECTION("the same prefix again with path id 3 (protocol s4b), MED, a non-transitive generic community") {
        const auto& b = v.at("update_addpath_med_generic_ext");
        auto u = decode_update(b, kAddPathEbgp);
        // 00000003 180af401 00000003 19c0000200
        CHECK(u.nlri == std::vector<Prefix>{pfx("10.244.1.0/24"), pfx("192.0.2.0/25")});
        CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{3, 3});
        CHECK(u.attributes.med == 20u);
        // (generic, 0x80060000, 0): type 0x80 has the Transitive bit (0x40) clear (RFC 4360 §2);
        // not an error (RFC 7606 §7.14), kept as it is.
        CHECK(u.attributes.extended_communities == std::vector<ExtendedCommunity>{0x8006000000000000ull});
        CHECK(hex(encode(u, kAddPathEncode)) == hex(b));
    }
    SECTION("three large communities (RFC 8092 §3), in BIRD's sorted order") {
        const auto& b = v.at("update_addpath_three_large");
        auto u = decode_update(b, kAddPathEbgp);
        CHECK(u.nlri == std::vector<Prefix>{pfx("10.0.0.0/8")});
        CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{2});
        CHECK(u.attributes.large_communities ==
              std::vector<LargeCommunity>{{65001, 1, 2}, {65001, 100, 200}, {4200000002u, 3, 4}});
        CHECK(hex(encode(u, kAddPathEncode)) == hex(b));
    }
    SECTION("IPv6 MP_REACH_NLRI with path ids 4 and 5 for one prefix") {
        auto a = decode_update(v.at("update_mp_reach_addpath_ipv6"), kAddPathEbgp);
        auto m = decode_update(v.at("update_mp_reach_addpath_ipv6_med"), kAddPathEbgp);
        REQUIRE(a.mp_reach);
        REQUIRE(m.mp_reach);
        CHECK(a.mp_reach->next_hops == std::vector<IpAddress>{ip("2001:db8::2")});
        CHECK(a.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:1::/48")});
        CHECK(a.mp_reach->path_ids == std::vector<std::uint32_t>{4});
        CHECK(m.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:1::/48")});
        CHECK(m.mp_reach->path_ids == std::vector<std::uint32_t>{5});
        CHECK(a.attributes.extended_communities == kBirdExtended);
        CHECK(m.attributes.med == 20u);
        // BIRD sets the extended-length flag on the short MP_REACH_NLRI (90 0e 0020); we do not (80 0e 20).
        CHECK(hex(encode(a, kAddPathEncode)) ==
              hex(from_hex("ffffffffffffffffffffffffffffffff007d0200000066"
                           "800e200002011020010db80000000000000000000000020000000004 3020010db80001"
                           "40010100" "40020602010000fde9"
                           "c010180002fde90000000701030a00000100050202fa56ea020009"
                           "c020180000fde90000000100000002fa56ea020000000300000004")));
    }
    SECTION("withdrawals with path ids: IPv4 Withdrawn Routes and MP_UNREACH_NLRI") {
        const auto& b4 = v.at("withdraw_addpath_ipv4");
        auto w4 = decode_update(b4, kAddPathEbgp);
        CHECK(w4.withdrawn == std::vector<Prefix>{pfx("10.244.1.0/24"), pfx("192.0.2.0/25")});
        CHECK(w4.withdrawn_path_ids == std::vector<std::uint32_t>{3, 3});  // only s4b's paths go
        CHECK(hex(encode(w4, kAddPathEncode)) == hex(b4));
        auto w6 = decode_update(v.at("withdraw_mp_unreach_addpath_ipv6"), kAddPathEbgp);
        REQUIRE(w6.mp_unreach);
        CHECK(w6.mp_unreach->withdrawn == std::vector<Prefix>{pfx("2001:db8:1::/48")});
        CHECK(w6.mp_unreach->path_ids == std::vector<std::uint32_t>{5});
        CHECK(!w6.end_of_rib_family());
        // BIRD: 90 0f 000e ...; ours without the extended-length flag.
        CHECK(hex(encode(w6, kAddPathEncode)) ==
              hex(from_hex("ffffffffffffffffffffffffffffffff0028020000001180 0f 0e 000201 00000005 3020010db80001")));
    }
    SECTION("End-of-RIB markers carry no path identifier and look the same with ADD-PATH") {
        CHECK(decode_update(v.at("eor_ipv4"), kAddPathEbgp).is_end_of_rib());
        CHECK(decode_update(v.at("eor_ipv6"), kAddPathEbgp).end_of_rib_family() == kV6);
        CHECK(hex(encode_end_of_rib(kV6, kAddPathEncode)) == hex(v.at("eor_ipv6")));
    }
    SECTION("the same bytes without ADD-PATH in the context do not mean the same thing") {
        // 00000002 180af401 read as prefixes: 0.0.0.0/0 three times, then a /2 ... - the context decides.
        auto m = decode_message(v.at("update_addpath_ext_large"), kPlainEbgp);
        if (m) {
            const auto& u = std::get<UpdateMessage>(*m);
            CHECK(u.nlri != std::vector<Prefix>{pfx("10.244.1.0/24")});
            CHECK(u.nlri_path_ids.empty());
        } else {
            CHECK(m.error().subcode == kInvalidNetworkField);
        }
        // And plain NLRI read with ADD-PATH on runs out in the middle of a path identifier: reset.
        auto p = decode_message(load_vectors("bird2_ebgp.hex").at("update_communities_med"), kAddPathEbgp);
        REQUIRE_FALSE(p);
        CHECK(p.error().subcode == kInvalidNetworkField);
        CHECK(p.error().action == ErrorAction::kSessionReset);
    }
}

TEST_CASE("FRR 8 ADD-PATH UPDATEs", "[bgp][codec]") {
    const auto v = load_vectors("frr8_addpath.hex");
    SECTION("IPv4 with path id 2; FRR sets the extended-length flag on AS_PATH, we do not") {
        auto u = decode_update(v.at("update_addpath_ipv4"), kAddPathEbgp);
        CHECK(u.nlri == std::vector<Prefix>{pfx("10.21.0.0/24")});
        CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{2});
        CHECK(u.attributes.med == 0u);
        CHECK(hex(encode(u, kAddPathEncode)) ==
              hex(from_hex("ffffffffffffffffffffffffffffffff003a020000001b"
                           "40010100" "4002060201 0000fdfc" "4003047f000006" "80040400000000" "00000002 180a1500")));
    }
    SECTION("extended communities (two-octet AS RT, four-octet AS RT, IPv4 SoO) and large communities") {
        auto u = decode_update(v.at("update_addpath_ext_large"), kAddPathEbgp);
        CHECK(u.nlri == std::vector<Prefix>{pfx("10.20.0.0/24")});
        CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{3});
        // rt 65020:7 (0002 fdfc 00000007), rt 4200000020:8 (0202 fa56ea14 0008),
        // soo 10.0.0.20:9 (0103 0a000014 0009: type 0x01 IPv4 specific, subtype 0x03 route origin)
        CHECK(u.attributes.extended_communities ==
              std::vector<ExtendedCommunity>{0x0002fdfc00000007ull, 0x0202fa56ea140008ull, 0x01030a0000140009ull});
        CHECK(u.attributes.large_communities == std::vector<LargeCommunity>{{65020, 1, 2}, {65020, 3, 4}});
        // FRR writes LARGE_COMMUNITY (32) before EXTENDED COMMUNITIES (16) and AS_PATH with the
        // extended-length flag; ours: type-code order, one-octet lengths. Otherwise FRR's bytes.
        CHECK(hex(encode(u, kAddPathEncode)) ==
              hex(from_hex("ffffffffffffffffffffffffffffffff0070020000005140010100" "40020602010000fdfc"
                           "4003047f000006" "80040400000000"
                           "c010180002fdfc000000070202fa56ea14000801030a0000140009"
                           "c020180000fdfc00000001000000020000fdfc0000000300000004" "00000003180a1400")));
    }
    SECTION("IPv6 MP_REACH_NLRI with path id 2 and an IPv4 withdrawal with its path id") {
        auto u = decode_update(v.at("update_mp_reach_addpath_ipv6"), kAddPathEbgp);
        REQUIRE(u.mp_reach);
        CHECK(u.mp_reach->next_hops == std::vector<IpAddress>{ip("2001:db8::20")});
        CHECK(u.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:20::/48")});
        CHECK(u.mp_reach->path_ids == std::vector<std::uint32_t>{2});
        const auto& b = v.at("withdraw_addpath_ipv4");
        auto w = decode_update(b, kAddPathEbgp);
        CHECK(w.withdrawn == std::vector<Prefix>{pfx("10.21.0.0/24")});
        CHECK(w.withdrawn_path_ids == std::vector<std::uint32_t>{2});
        CHECK(hex(encode(w, kAddPathEncode)) == hex(b));
    }
}

TEST_CASE("encoding with ADD-PATH: missing path ids are 0, and packing counts the 4 octets", "[bgp][codec]") {
    // The layout follows the context, not the struct (message.hpp): FRR's withdrawal re-encoded
    // without its path id vector carries Path Identifier 0.
    UpdateMessage w;
    w.withdrawn = {pfx("10.21.0.0/24")};
    CHECK(hex(encode(w, kAddPathEncode)) == hex(from_hex("ffffffffffffffffffffffffffffffff001f02 0008 00000000 180a1500 0000")));
    // Without ADD-PATH in the context the path ids are not written.
    w.withdrawn_path_ids = {2};
    CHECK(hex(encode(w)) == hex(from_hex("ffffffffffffffffffffffffffffffff001b02 0004 180a1500 0000")));
    // 1000 /24s: 4 octets each without ADD-PATH, 8 with: a 4096-octet UPDATE holds (4096-23)/4 =
    // 1018 plain withdrawals but only (4096-23)/8 = 509 with path identifiers.
    std::vector<Prefix> many;
    for (std::uint32_t i = 0; i < 1000; ++i) many.emplace_back(IpAddress::v4(0x0a000000u + (i << 8)), 24);
    CHECK(encode_withdrawals(many).size() == 1);
    const EncodeContext v4_ids{.four_octet_as = true, .extended_message = false, .add_path = {kV4}};
    const auto out = encode_withdrawals(many, v4_ids);
    REQUIRE(out.size() == 2);
    CHECK(out[0].size() == 23 + 509 * 8);
    const DecodeContext v4_in{.four_octet_as = true, .extended_message = false, .ebgp = true, .add_path = {kV4}};
    auto first = decode_message(out[0], v4_in);
    REQUIRE(first);
    CHECK(std::get<UpdateMessage>(*first).withdrawn_path_ids == std::vector<std::uint32_t>(509, 0));
}

TEST_CASE("GoBGP 3 ADD-PATH session: OPEN, two paths for one prefix, withdrawal by path id", "[bgp][codec]") {
    const auto v = load_vectors("gobgp_addpath.hex");
    SECTION("OPEN: GR with the N bit per family, ADD-PATH both ways, extended next hop, FQDN raw") {
        const OpenMessage o = decode_open(v.at("open"));
        CHECK(o.my_as == 65010);
        CHECK(o.hold_time == 90);
        CHECK(o.four_octet_as == 65010u);
        // 40 0a 4078 0001 01 00 0002 01 00
        CHECK(o.graceful_restart == GracefulRestart{.restart_state = false, .notification = true, .restart_time = 120,
                                                    .families = {{kV4, false}, {kV6, false}}});
        // 45 08 0001 01 03 0002 01 03
        CHECK(o.add_path == std::vector<AddPathFamily>{{kV4, AddPathMode::kBoth}, {kV6, AddPathMode::kBoth}});
        CHECK_FALSE(o.extended_message);
        CHECK_FALSE(o.enhanced_route_refresh);
        CHECK(o.other_capabilities == std::vector<RawCapability>{{73, from_hex("02 766d 00")}});
        // 05 06 0001 0001 0002: IPv4 unicast NLRI with IPv6 next hops (RFC 8950 §3)
        CHECK(o.extended_next_hop == std::vector<ExtendedNextHop>{{kV4, kAfiIpv6}});
        // GoBGP writes FQDN first and 4-octet AS before GR; ours is in code order. Same OPEN after a
        // round trip.
        auto again = decode_message(encode(o), kPlainEbgp);
        REQUIRE(again);
        CHECK(std::get<OpenMessage>(*again) == o);
        // Against an OPEN offering ADD-PATH receive and GR with N, as the capture peer did.
        OpenMessage ours;
        ours.multiprotocol = {kV4, kV6};
        ours.four_octet_as = 65011;
        ours.add_path = {{kV4, AddPathMode::kReceive}, {kV6, AddPathMode::kReceive}};
        ours.graceful_restart = GracefulRestart{.restart_state = false, .notification = true, .restart_time = 120, .families = {}};
        const Negotiated n = negotiate(ours, o);
        CHECK(n.add_path_receive == std::vector<AfiSafi>{kV4, kV6});
        CHECK(n.add_path_send.empty());
        CHECK(n.graceful_notification);
    }
    SECTION("path 1 with an extended and a large community, path 2 with MED: byte for byte") {
        const auto& b1 = v.at("update_addpath_ext_large");
        auto p1 = decode_update(b1, kAddPathEbgp);
        CHECK(p1.nlri == std::vector<Prefix>{pfx("10.3.0.0/24")});
        CHECK(p1.nlri_path_ids == std::vector<std::uint32_t>{1});  // GoBGP's own id, not the CLI's 10
        CHECK(p1.attributes.origin == Origin::kIncomplete);
        CHECK(p1.attributes.next_hop == ip("127.0.0.5"));
        CHECK(p1.attributes.extended_communities == std::vector<ExtendedCommunity>{0x0002fdf200000007ull});
        CHECK(p1.attributes.large_communities == std::vector<LargeCommunity>{{65010, 1, 2}});
        CHECK(hex(encode(p1, kAddPathEncode)) == hex(b1));
        const auto& b2 = v.at("update_addpath_med");
        auto p2 = decode_update(b2, kAddPathEbgp);
        CHECK(p2.nlri == std::vector<Prefix>{pfx("10.3.0.0/24")});
        CHECK(p2.nlri_path_ids == std::vector<std::uint32_t>{2});
        CHECK(p2.attributes.med == 5u);
        CHECK(p2.attributes.extended_communities.empty());
        CHECK(hex(encode(p2, kAddPathEncode)) == hex(b2));
    }
    SECTION("IPv6 MP_REACH_NLRI with path id 1; GoBGP puts it last, we first (RFC 7606 §5.1)") {
        auto u = decode_update(v.at("update_mp_reach_addpath_ipv6"), kAddPathEbgp);
        REQUIRE(u.mp_reach);
        CHECK(u.mp_reach->nlri == std::vector<Prefix>{pfx("2001:db8:30::/48")});
        CHECK(u.mp_reach->path_ids == std::vector<std::uint32_t>{1});
        CHECK(u.mp_reach->next_hops == std::vector<IpAddress>{ip("2001:db8::5")});
        CHECK(hex(encode(u, kAddPathEncode)) ==
              hex(from_hex("ffffffffffffffffffffffffffffffff0047020000 0030"
                           "800e200002011020010db80000000000000000000000050000000001 3020010db80030"
                           "40010102" "40020602010000fdf2")));
    }
    SECTION("withdrawal of path 2 only; the answer to our ROUTE-REFRESH re-sends path 1") {
        const auto& b = v.at("withdraw_addpath_ipv4");
        auto w = decode_update(b, kAddPathEbgp);
        CHECK(w.withdrawn == std::vector<Prefix>{pfx("10.3.0.0/24")});
        CHECK(w.withdrawn_path_ids == std::vector<std::uint32_t>{2});
        CHECK(hex(encode(w, kAddPathEncode)) == hex(b));
        CHECK(v.at("refresh_update_addpath_ext_large") == v.at("update_addpath_ext_large"));
        CHECK(decode_update(v.at("refresh_eor_ipv4"), kAddPathEbgp).is_end_of_rib());
    }
    SECTION("RFC 9003 shutdown communication: the same octets as BIRD's for the same text") {
        CHECK(v.at("notification_shutdown") == load_vectors("bird2_addpath.hex").at("notification_shutdown"));
        auto m = decode_message(v.at("notification_shutdown"), kAddPathEbgp);
        REQUIRE(m);
        const auto& n = std::get<NotificationMessage>(*m);
        CHECK(decode_shutdown_communication(n.data).value_or("?") == "maintenance window");
    }
}
