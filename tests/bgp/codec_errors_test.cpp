// Malformed input: a table of (bytes, expected NOTIFICATION code/subcode/data, RFC 7606 action).
// Every row is a mutation of a message captured from a real implementation (tests/data/bgp/*.hex,
// sources in each file's header), or of attribute bytes cut out of one; the comment on each row
// names the rule (RFC 4271 §6, RFC 7606, RFC 6793, RFC 7607, RFC 7313). Also notification_to_string().
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "bgp/message.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp;
using kroute::bgp::test::cat;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;
using kroute::bgp::test::load_vectors;

namespace {

const DecodeContext kEbgp{.four_octet_as = true, .extended_message = false, .ebgp = true};
const DecodeContext kIbgp{.four_octet_as = true, .extended_message = false, .ebgp = false};
const DecodeContext kEbgp2{.four_octet_as = false, .extended_message = false, .ebgp = true};
// ADD-PATH receive for IPv4 and IPv6 unicast (RFC 7911), as negotiated with BIRD in bird2_addpath.hex.
const DecodeContext kAddPath{.four_octet_as = true, .extended_message = false, .ebgp = true,
                             .add_path = {AfiSafi{kAfiIpv4, kSafiUnicast}, AfiSafi{kAfiIpv6, kSafiUnicast}}};

// Attributes cut out of BIRD 2.0.12's eBGP UPDATE "update_communities_med" (bird2_ebgp.hex).
const Bytes kOrigin = from_hex("40 01 01 00");
const Bytes kAsPath = from_hex("40 02 06 02 01 0000fde9");
const Bytes kNextHop = from_hex("40 03 04 7f000002");
const Bytes kMed = from_hex("80 04 04 00000032");
const Bytes kCommunities = from_hex("c0 08 08 fde90064 fde900c8");
const Bytes kNlri = from_hex("18 0af401");  // 10.244.1.0/24
// MP_REACH_NLRI cut out of GoBGP 3.10.0's "update_mp_reach_ipv6" (gobgp_ebgp.hex).
const Bytes kMpReach = from_hex("80 0e 1c 0002 01 10 20010db8000000000000000000000005 00 30 20010db80010");
// MP_UNREACH_NLRI cut out of GoBGP 3.10.0's "withdraw_ipv6" (gobgp_ebgp.hex).
const Bytes kMpUnreach = from_hex("80 0f 0c 0002 01 40 fd00001000000000");
// EXTENDED COMMUNITIES and LARGE_COMMUNITY cut out of GoBGP 3.10.0's "update_ext_community" and
// "update_large_community" (gobgp_ebgp.hex); ORIGINATOR_ID and CLUSTER_LIST out of BIRD 2.0.12's
// "update_originator_cluster" (bird2_ibgp.hex); the 32-octet IPv6 next hop MP_REACH_NLRI out of FRR
// 8.4.4's "update_mp_reach_ipv6_global_and_link_local" (frr8_ebgp.hex).
const Bytes kExtCommunity = from_hex("c0 10 08 0002fdf2 00000007");
const Bytes kLargeCommunity = from_hex("c0 20 0c 0000fdf2 00000001 00000002");
const Bytes kOriginatorId = from_hex("80 09 04 0a090909");
const Bytes kClusterList = from_hex("80 0a 04 01020304");
const Bytes kMpReachGlobalLinkLocal = from_hex(
    "90 0e 002c 0002 01 20 20010db8000000000000000000000020 fe800000000000000000000000000020 00 30 20010db80020");
// BIRD 2.0.12's ADD-PATH NLRI: path id 2, 10.244.1.0/24 (bird2_addpath.hex "update_addpath_ext_large").
const Bytes kNlriPathId = from_hex("00000002 18 0af401");

Bytes update(const Bytes& attrs, const Bytes& nlri = kNlri, const Bytes& withdrawn = {}) {
    Bytes body = cat({{static_cast<std::uint8_t>(withdrawn.size() >> 8), static_cast<std::uint8_t>(withdrawn.size())},
                      withdrawn,
                      {static_cast<std::uint8_t>(attrs.size() >> 8), static_cast<std::uint8_t>(attrs.size())},
                      attrs,
                      nlri});
    const std::size_t len = 19 + body.size();
    return cat({kroute::bgp::test::kMarker, {static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 2}, body});
}
Bytes good_attrs() { return cat({kOrigin, kAsPath, kNextHop, kMed, kCommunities}); }

Bytes with(Bytes b, std::size_t at, std::uint8_t v) {
    b.at(at) = v;
    return b;
}
Bytes with_length(Bytes b, std::size_t len) {  // rewrite the header's Length field
    b.at(16) = static_cast<std::uint8_t>(len >> 8);
    b.at(17) = static_cast<std::uint8_t>(len);
    return b;
}
Bytes truncated(Bytes b, std::size_t n) {
    b.resize(n);
    return with_length(std::move(b), n);
}

enum class Expect { kReset, kWithdraw, kDiscard, kAccept };

struct Row {
    const char* what;
    Bytes bytes;
    DecodeContext ctx;
    Expect expect;
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    std::optional<Bytes> data = std::nullopt;          // checked when set
    std::vector<std::uint8_t> discarded = {};          // for kDiscard
};

}  // namespace

TEST_CASE("the helper rebuilds BIRD's UPDATE exactly", "[bgp][codec]") {
    // Guards the table below: its rows are mutations of a real message, not of our own encoding.
    CHECK(hex(update(good_attrs())) == hex(load_vectors("bird2_ebgp.hex").at("update_communities_med")));
}

TEST_CASE("malformed messages map to RFC 4271 §6 / RFC 7606 errors", "[bgp][codec][errors]") {
    const auto bird = load_vectors("bird2_ebgp.hex");
    const Bytes ka = bird.at("keepalive");
    const Bytes open = bird.at("open");  // OPEN layout: 19 version, 20-21 AS, 22-23 hold, 24-27 id, 28 opt len
    const Bytes upd = bird.at("update_communities_med");
    const Bytes rr = from_hex("ffffffffffffffffffffffffffffffff 0017 05 0001 00 01");  // RFC 2918 §3 layout

    const std::vector<Row> rows = {
        // --- Message header, RFC 4271 §6.1 ---
        {"marker not all ones", with(ka, 3, 0xfe), kEbgp, Expect::kReset, 1, 1, Bytes{}},
        {"length below 19", with_length(ka, 18), kEbgp, Expect::kReset, 1, 2, from_hex("0012")},
        {"length above 4096", with_length(ka, 4097), kEbgp, Expect::kReset, 1, 2, from_hex("1001")},
        {"length above 4096 is fine with extended messages but not for KEEPALIVE (RFC 8654 §4)",
         truncated(cat({ka, Bytes(5000, 0)}), 5019), {.four_octet_as = true, .extended_message = true, .ebgp = true},
         Expect::kReset, 1, 2, from_hex("139b")},
        {"type 6", with(ka, 18, 6), kEbgp, Expect::kReset, 1, 3, from_hex("06")},
        {"type 0", with(ka, 18, 0), kEbgp, Expect::kReset, 1, 3, from_hex("00")},
        {"KEEPALIVE with a body", truncated(cat({ka, {0}}), 20), kEbgp, Expect::kReset, 1, 2, from_hex("0014")},
        {"OPEN under 29 octets", truncated(open, 28), kEbgp, Expect::kReset, 1, 2, from_hex("001c")},
        {"UPDATE under 23 octets", truncated(upd, 22), kEbgp, Expect::kReset, 1, 2, from_hex("0016")},
        {"NOTIFICATION under 21 octets", truncated(bird.at("notification_cease"), 20), kEbgp, Expect::kReset, 1, 2,
         from_hex("0014")},
        {"frame shorter than its length field", Bytes(upd.begin(), upd.begin() + 40), kEbgp, Expect::kReset, 1, 2,
         from_hex("0041")},
        {"frame longer than its length field", cat({upd, {0}}), kEbgp, Expect::kReset, 1, 2, from_hex("0041")},
        {"shorter than a header", Bytes(ka.begin(), ka.begin() + 10), kEbgp, Expect::kReset, 1, 2, Bytes{}},
        {"ROUTE-REFRESH of 24 octets (RFC 7313 §5: data = the message)", truncated(cat({rr, {0}}), 24), kEbgp,
         Expect::kReset, 7, 1, truncated(cat({rr, {0}}), 24)},
        {"ROUTE-REFRESH of 22 octets (RFC 7313 §5)", truncated(rr, 22), kEbgp, Expect::kReset, 7, 1, truncated(rr, 22)},
        {"ROUTE-REFRESH of 19 octets (RFC 7313 §5)", truncated(rr, 19), kEbgp, Expect::kReset, 7, 1, truncated(rr, 19)},
        {"ROUTE-REFRESH with unknown subtype 3 decodes (RFC 7313 §5: the receiver ignores it)", with(rr, 21, 3), kEbgp,
         Expect::kAccept},

        // --- OPEN, RFC 4271 §6.2 ---
        {"version 3 (data: our version)", with(open, 19, 3), kEbgp, Expect::kReset, 2, 1, from_hex("0004")},
        {"AS 0 (RFC 7607)", with(with(open, 20, 0), 21, 0), kEbgp, Expect::kReset, 2, 2},
        {"hold time 1", with(with(open, 22, 0), 23, 1), kEbgp, Expect::kReset, 2, 6},
        {"hold time 2", with(with(open, 22, 0), 23, 2), kEbgp, Expect::kReset, 2, 6},
        {"hold time 0 is valid", with(with(open, 22, 0), 23, 0), kEbgp, Expect::kAccept},
        {"hold time 3 is valid", with(with(open, 22, 0), 23, 3), kEbgp, Expect::kAccept},
        {"BGP identifier 0", with(with(with(open, 24, 0), 25, 0), 27, 0), kEbgp, Expect::kReset, 2, 3},
        {"optional parameter type 1 (authentication)", with(open, 29, 1), kEbgp, Expect::kReset, 2, 4},
        {"optional parameters length past the message", with(open, 28, 0x1f), kEbgp, Expect::kReset, 1, 2,
         from_hex("003b")},
        {"parameter length past the parameters", with(open, 30, 0x1d), kEbgp, Expect::kReset, 2, 0},
        {"capability length past its parameter", with(open, 58, 1), kEbgp, Expect::kReset, 2, 0},
        {"multiprotocol capability of 3 octets", with(open, 32, 3), kEbgp, Expect::kReset, 2, 0},
        {"4-octet AS capability carrying AS 0 (RFC 7607)", with(with(open, 53, 0), 54, 0), kEbgp, Expect::kReset, 2, 2},

        // --- UPDATE framing: session reset, RFC 7606 §3 (a), §5.3 ---
        {"withdrawn routes length past the message", with(with(upd, 19, 0xff), 20, 0xff), kEbgp, Expect::kReset, 3, 1},
        {"total attribute length past the message", with(upd, 21, 0x01), kEbgp, Expect::kReset, 3, 1},
        {"NLRI prefix length 33", update(good_attrs(), from_hex("21 0af40100 00")), kEbgp, Expect::kReset, 3, 10},
        {"NLRI prefix cut short", update(good_attrs(), from_hex("18 0af4")), kEbgp, Expect::kReset, 3, 10},
        {"withdrawn prefix length 40", update({}, {}, from_hex("28 0a000000 00")), kEbgp, Expect::kReset, 3, 10},
        {"MP_REACH_NLRI twice (RFC 7606 §3 g)", update(cat({kOrigin, kAsPath, kMpReach, kMpReach}), {}), kEbgp,
         Expect::kReset, 3, 1},
        {"MP_UNREACH_NLRI twice", update(cat({kMpUnreach, kMpUnreach}), {}), kEbgp, Expect::kReset, 3, 1},
        {"MP_REACH_NLRI IPv6 next hop of 8 octets (RFC 7606 §7.11)",
         update(cat({kOrigin, kAsPath, from_hex("80 0e 14 0002 01 08 20010db800000000 00 30 20010db80010")}), {}),
         kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI next hop past the attribute", update(cat({kOrigin, kAsPath, from_hex("80 0e 05 0002 01 10 20")}), {}),
         kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI prefix length 129", update(cat({kOrigin, kAsPath, with(kMpReach, 24, 129)}), {}), kEbgp,
         Expect::kReset, 3, 10},
        {"MP_UNREACH_NLRI of 2 octets", update(from_hex("80 0f 02 0002"), {}), kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI with the Transitive flag", update(cat({kOrigin, kAsPath, with(kMpReach, 0, 0xc0)}), {}), kEbgp,
         Expect::kReset, 3, 4},
        {"unrecognised well-known attribute", update(cat({good_attrs(), from_hex("40 63 01 00")})), kEbgp,
         Expect::kReset, 3, 2, from_hex("40 63 01 00")},
        {"MP_REACH_NLRI of 3 octets (§5.3: shorter than 5)", update(cat({kOrigin, kAsPath, from_hex("80 0e 03 0002 01")}), {}),
         kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI IPv4 next hop of 16 octets (§7.11; no RFC 8950 extended next hop)",
         update(cat({kOrigin, kAsPath, from_hex("80 0e 19 0001 01 10 20010db8000000000000000000000005 00 18 0af401")}), {}),
         kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI IPv6 next hop of 24 octets (§7.11)",
         update(cat({kOrigin, kAsPath, from_hex("80 0e 24 0002 01 18 20010db8000000000000000000000020 fe80000000000000 00 30 20010db80020")}), {}),
         kEbgp, Expect::kReset, 3, 9},
        {"MP_REACH_NLRI IPv6 next hop of 32 octets, global + link-local (§7.11, RFC 2545 §3)",
         update(cat({kOrigin, kAsPath, kMpReachGlobalLinkLocal}), {}), kEbgp, Expect::kAccept},
        {"MP_UNREACH_NLRI with the Transitive flag (§5.3: flags inconsistent with RFC 4760)",
         update(with(kMpUnreach, 0, 0xc0), {}), kEbgp, Expect::kReset, 3, 4},
        {"MP_UNREACH_NLRI prefix past its end (§5.3)", update(from_hex("80 0f 05 0002 01 40 fd"), {}), kEbgp,
         Expect::kReset, 3, 10},
        // RFC 7606 §5.2: path attributes but no NLRI to withdraw: only attribute discard is survivable.
        {"ORIGIN 3 in an UPDATE that only withdraws (§5.2)", update(cat({from_hex("40 01 01 03"), kAsPath}), {}, kNlri),
         kEbgp, Expect::kReset, 3, 6, from_hex("40 01 01 03")},
        {"COMMUNITIES of 6 octets beside MP_UNREACH_NLRI only (§5.2)",
         update(cat({kMpUnreach, from_hex("c0 08 06 fde90064 fde9")}), {}), kEbgp, Expect::kReset, 3, 9},
        {"attribute header cut short with nothing to withdraw (§5.2, §4)", update(from_hex("40 01 01 00 c0"), {}),
         kEbgp, Expect::kReset, 3, 1},
        // RFC 7911 §3 + RFC 7606 §5.3: a Path Identifier belongs to the NLRI encoding; a cut one means
        // the field cannot be parsed.
        {"ADD-PATH: NLRI path identifier cut short", update(good_attrs(), from_hex("000000")), kAddPath, Expect::kReset,
         3, 10},
        {"ADD-PATH: NLRI path identifier without a prefix", update(good_attrs(), from_hex("00000002")), kAddPath,
         Expect::kReset, 3, 10},
        {"ADD-PATH: withdrawn path identifier cut short (§3 i)", update({}, {}, from_hex("000000")), kAddPath,
         Expect::kReset, 3, 10},
        {"ADD-PATH: GoBGP's MP_REACH_NLRI without path ids (path id 3020010d, then a /184)",
         update(cat({kOrigin, kAsPath, kMpReach}), {}), kAddPath, Expect::kReset, 3, 10},
        {"ADD-PATH: GoBGP's MP_UNREACH_NLRI without path ids", update(kMpUnreach, {}), kAddPath, Expect::kReset, 3, 10},

        // --- treat-as-withdraw, RFC 7606 §7 ---
        {"ORIGIN 3 (§7.1)", update(cat({from_hex("40 01 01 03"), kAsPath, kNextHop})), kEbgp, Expect::kWithdraw, 3, 6,
         from_hex("40 01 01 03")},
        {"ORIGIN of 2 octets (§7.1)", update(cat({from_hex("40 01 02 00 00"), kAsPath, kNextHop})), kEbgp,
         Expect::kWithdraw, 3, 5, from_hex("40 01 02 00 00")},
        {"AS_PATH segment type 5 (§7.2)", update(cat({kOrigin, with(kAsPath, 3, 5), kNextHop})), kEbgp,
         Expect::kWithdraw, 3, 11},
        {"AS_PATH segment count past the attribute (§7.2)", update(cat({kOrigin, with(kAsPath, 4, 2), kNextHop})),
         kEbgp, Expect::kWithdraw, 3, 11},
        {"AS_PATH empty segment (§7.2)", update(cat({kOrigin, from_hex("40 02 02 02 00"), kNextHop})), kEbgp,
         Expect::kWithdraw, 3, 11},
        {"AS_PATH with AS_CONFED_SEQUENCE from an eBGP peer (§7.2)", update(cat({kOrigin, with(kAsPath, 3, 3), kNextHop})),
         kEbgp, Expect::kWithdraw, 3, 11},
        {"AS_PATH with AS_CONFED_SEQUENCE from an iBGP peer is kept", update(cat({kOrigin, with(kAsPath, 3, 3), kNextHop})),
         kIbgp, Expect::kAccept},
        {"a 4-octet AS_PATH read on a 2-octet session is malformed (§7.2)", upd, kEbgp2, Expect::kWithdraw, 3, 11},
        {"NEXT_HOP 0.0.0.0 (§7.3)", update(cat({kOrigin, kAsPath, from_hex("40 03 04 00000000")})), kEbgp,
         Expect::kWithdraw, 3, 8},
        {"NEXT_HOP 224.0.0.1 (§7.3)", update(cat({kOrigin, kAsPath, from_hex("40 03 04 e0000001")})), kEbgp,
         Expect::kWithdraw, 3, 8},
        {"NEXT_HOP of 5 octets (§7.3)", update(cat({kOrigin, kAsPath, from_hex("40 03 05 7f00000200")})), kEbgp,
         Expect::kWithdraw, 3, 5},
        {"MED of 3 octets (§7.4)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 04 03 000032")})), kEbgp,
         Expect::kWithdraw, 3, 5},
        {"LOCAL_PREF of 2 octets (§7.5)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("40 05 02 0064")})), kIbgp,
         Expect::kWithdraw, 3, 5},
        {"COMMUNITIES of 6 octets (§7.8)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("c0 08 06 fde90064 fde9")})),
         kEbgp, Expect::kWithdraw, 3, 9},
        {"COMMUNITIES empty (§7.8)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("c0 08 00")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"ORIGINATOR_ID of 5 octets (§7.9)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 09 05 0a09090900")})),
         kIbgp, Expect::kWithdraw, 3, 5},
        {"CLUSTER_LIST of 3 octets (§7.10)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 0a 03 010203")})),
         kIbgp, Expect::kWithdraw, 3, 5},
        {"ORIGIN with the Optional flag (§3 c)", update(cat({with(kOrigin, 0, 0xc0), kAsPath, kNextHop})), kEbgp,
         Expect::kWithdraw, 3, 4, from_hex("c0 01 01 00")},
        {"MED with the Transitive flag (§3 c)", update(cat({kOrigin, kAsPath, kNextHop, with(kMed, 0, 0xc0)})), kEbgp,
         Expect::kWithdraw, 3, 4},
        {"missing ORIGIN (§3 d; data: the type code)", update(cat({kAsPath, kNextHop})), kEbgp, Expect::kWithdraw, 3,
         3, from_hex("01")},
        {"missing AS_PATH", update(cat({kOrigin, kNextHop})), kEbgp, Expect::kWithdraw, 3, 3, from_hex("02")},
        {"missing NEXT_HOP with IPv4 NLRI", update(cat({kOrigin, kAsPath})), kEbgp, Expect::kWithdraw, 3, 3,
         from_hex("03")},
        {"missing ORIGIN with only MP_REACH_NLRI", update(cat({kAsPath, kMpReach}), {}), kEbgp, Expect::kWithdraw, 3, 3,
         from_hex("01")},
        {"no NEXT_HOP needed with only MP_REACH_NLRI", update(cat({kOrigin, kAsPath, kMpReach}), {}), kEbgp,
         Expect::kAccept},
        {"no attributes needed to withdraw", update({}, {}, kNlri), kEbgp, Expect::kAccept},
        {"attribute header cut short (§4)", update(cat({good_attrs(), from_hex("c0 08")})), kEbgp, Expect::kWithdraw, 3,
         1},
        {"extended-length attribute header cut short (§4)", update(cat({good_attrs(), from_hex("d0 08 00")})), kEbgp,
         Expect::kWithdraw, 3, 1},
        {"last attribute past the attribute field (§4)", update(cat({kOrigin, kAsPath, kNextHop, with(kCommunities, 2, 9)})),
         kEbgp, Expect::kWithdraw, 3, 5},
        {"NEXT_HOP of 3 octets (§7.3)", update(cat({kOrigin, kAsPath, from_hex("40 03 03 7f0000")})), kEbgp,
         Expect::kWithdraw, 3, 5},
        {"MED of 0 octets (§4: zero length only for AS_PATH and ATOMIC_AGGREGATE; §7.4)",
         update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 04 00")})), kEbgp, Expect::kWithdraw, 3, 5},
        {"AS 0 in AS_PATH (RFC 7607 §2, §7.2)", update(cat({kOrigin, from_hex("40 02 0a 02 02 0000fde9 00000000"), kNextHop})),
         kEbgp, Expect::kWithdraw, 3, 11},
        {"CLUSTER_LIST empty from an iBGP peer (§7.10)", update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 0a 00")})),
         kIbgp, Expect::kWithdraw, 3, 5},
        {"EXTENDED COMMUNITIES of 7 octets (§7.14)", update(cat({good_attrs(), from_hex("c0 10 07 0002fdf2 000000")})), kEbgp,
         Expect::kWithdraw, 3, 9, from_hex("c0 10 07 0002fdf2 000000")},
        {"EXTENDED COMMUNITIES empty (§7.14)", update(cat({good_attrs(), from_hex("c0 10 00")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"EXTENDED COMMUNITIES of 12 octets (§7.14)", update(cat({good_attrs(), from_hex("c0 10 0c 0002fdf2 00000007 00000000")})),
         kEbgp, Expect::kWithdraw, 3, 9},
        {"EXTENDED COMMUNITIES without the Transitive flag (§3 c; RFC 4360 §2: optional transitive)",
         update(cat({good_attrs(), with(kExtCommunity, 0, 0x80)})), kEbgp, Expect::kWithdraw, 3, 4},
        {"LARGE_COMMUNITY of 11 octets (RFC 8092 §6)", update(cat({good_attrs(), from_hex("c0 20 0b 0000fdf2 00000001 000000")})),
         kEbgp, Expect::kWithdraw, 3, 9},
        {"LARGE_COMMUNITY empty (RFC 8092 §6)", update(cat({good_attrs(), from_hex("c0 20 00")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"LARGE_COMMUNITY of 13 octets (RFC 8092 §6)", update(cat({good_attrs(), from_hex("c0 20 0d 0000fdf2 00000001 00000002 00")})),
         kEbgp, Expect::kWithdraw, 3, 9},
        {"LARGE_COMMUNITY with well-known flags (§3 c)", update(cat({good_attrs(), with(kLargeCommunity, 0, 0x40)})), kEbgp,
         Expect::kWithdraw, 3, 4},
        {"IPv6 Address Specific Extended Community of 19 octets (RFC 5701 as updated by RFC 7606)",
         update(cat({good_attrs(), from_hex("c0 19 13 0002 20010db8000000000000000000000001 00")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"IPv6 Address Specific Extended Community empty", update(cat({good_attrs(), from_hex("c0 19 00")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"attribute discard and treat-as-withdraw together: the stronger wins (§3 h)",
         update(cat({good_attrs(), from_hex("40 06 01 00"), from_hex("c0 10 07 0002fdf2 000000")})), kEbgp,
         Expect::kWithdraw, 3, 9},
        {"ADD-PATH: ORIGIN 3 with path-id NLRI is treat-as-withdraw (§7.1)",
         update(cat({from_hex("40 01 01 03"), kAsPath, kNextHop}), kNlriPathId), kAddPath, Expect::kWithdraw, 3, 6},

        // --- attribute discard, RFC 7606 §7.6, §7.7; RFC 6793 §6; RFC 7606 §3 (g) ---
        {"ATOMIC_AGGREGATE of 1 octet", update(cat({good_attrs(), from_hex("40 06 01 00")})), kEbgp, Expect::kDiscard,
         0, 0, std::nullopt, {6}},
        {"AGGREGATOR of 6 octets on a 4-octet session", update(cat({good_attrs(), from_hex("c0 07 06 fdfc 0a000014")})),
         kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {7}},
        {"AGGREGATOR with well-known flags", update(cat({good_attrs(), from_hex("40 07 08 0000fdfc 0a000014")})), kEbgp,
         Expect::kDiscard, 0, 0, std::nullopt, {7}},
        {"AS4_PATH with an empty segment on a 2-octet session",
         update(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 11 02 02 00")})), kEbgp2,
         Expect::kDiscard, 0, 0, std::nullopt, {17}},
        {"AS4_AGGREGATOR of 6 octets on a 2-octet session",
         update(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 12 06 fdfc 0a000014")})), kEbgp2,
         Expect::kDiscard, 0, 0, std::nullopt, {18}},
        {"MED twice: the second is dropped", update(cat({kOrigin, kAsPath, kNextHop, kMed, with(kMed, 6, 0x99)})), kEbgp,
         Expect::kDiscard, 0, 0, std::nullopt, {4}},
        {"LOCAL_PREF from an eBGP peer is ignored (RFC 4271 §5.1.5)",
         update(cat({kOrigin, kAsPath, kNextHop, from_hex("40 05 04 00000064")})), kEbgp, Expect::kDiscard, 0, 0,
         std::nullopt, {5}},
        {"LOCAL_PREF of 2 octets from an eBGP peer: discarded, not withdrawn (§7.5)",
         update(cat({kOrigin, kAsPath, kNextHop, from_hex("40 05 02 0064")})), kEbgp, Expect::kDiscard, 0, 0,
         std::nullopt, {5}},
        {"LOCAL_PREF with optional flags from an eBGP peer: discarded (§7.5 before §3 c)",
         update(cat({kOrigin, kAsPath, kNextHop, from_hex("80 05 04 00000064")})), kEbgp, Expect::kDiscard, 0, 0,
         std::nullopt, {5}},
        {"ORIGINATOR_ID from an eBGP peer (§7.9)", update(cat({good_attrs(), kOriginatorId})), kEbgp, Expect::kDiscard, 0,
         0, std::nullopt, {9}},
        {"ORIGINATOR_ID of 5 octets from an eBGP peer: discarded (§7.9)",
         update(cat({good_attrs(), from_hex("80 09 05 0a09090900")})), kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {9}},
        {"CLUSTER_LIST from an eBGP peer (§7.10)", update(cat({good_attrs(), kClusterList})), kEbgp, Expect::kDiscard, 0, 0,
         std::nullopt, {10}},
        {"CLUSTER_LIST of 3 octets from an eBGP peer: discarded (§7.10)",
         update(cat({good_attrs(), from_hex("80 0a 03 010203")})), kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {10}},
        {"AGGREGATOR with AS 0 (RFC 7607 §2, §7.7)", update(cat({good_attrs(), from_hex("c0 07 08 00000000 0a000014")})),
         kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {7}},
        {"AGGREGATOR of 0 octets (§4, §7.7)", update(cat({good_attrs(), from_hex("c0 07 00")})), kEbgp, Expect::kDiscard,
         0, 0, std::nullopt, {7}},
        {"ATOMIC_AGGREGATE with optional flags (§3 c overridden by §7.6)", update(cat({good_attrs(), from_hex("c0 06 00")})),
         kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {6}},
        {"AS4_PATH with AS 0 on a 2-octet session (RFC 7607 §2, RFC 6793 §6)",
         update(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 11 06 02 01 00000000")})), kEbgp2,
         Expect::kDiscard, 0, 0, std::nullopt, {17}},
        {"AS4_AGGREGATOR with AS 0 on a 2-octet session (RFC 7607 §2)",
         update(cat({kOrigin, from_hex("40 02 04 02 01 5ba0"), kNextHop, from_hex("c0 12 08 00000000 0a000014")})), kEbgp2,
         Expect::kDiscard, 0, 0, std::nullopt, {18}},
        {"EXTENDED COMMUNITIES twice: the second is dropped (§3 g)",
         update(cat({good_attrs(), kExtCommunity, with(kExtCommunity, 10, 9)})), kEbgp, Expect::kDiscard, 0, 0,
         std::nullopt, {16}},
        {"LARGE_COMMUNITY twice: the second is dropped (§3 g)",
         update(cat({good_attrs(), kLargeCommunity, kLargeCommunity})), kEbgp, Expect::kDiscard, 0, 0, std::nullopt, {32}},
        {"a malformed duplicate is dropped unread (§3 g)", update(cat({good_attrs(), from_hex("40 01 01 07")})), kEbgp,
         Expect::kDiscard, 0, 0, std::nullopt, {1}},

        // --- accepted as they are ---
        {"empty AS_PATH and ATOMIC_AGGREGATE of 0 octets (§4)",
         update(cat({kOrigin, from_hex("40 02 00"), kNextHop, from_hex("40 06 00")})), kIbgp, Expect::kAccept},
        {"an unrecognised extended community type is no error (§7.14)",
         update(cat({good_attrs(), from_hex("c0 10 08 ff ee 000000000001")})), kEbgp, Expect::kAccept},
        {"the same large community twice in one attribute is no error (RFC 8092 §6)",
         update(cat({good_attrs(), from_hex("c0 20 18 0000fdf2 00000001 00000002 0000fdf2 00000001 00000002")})), kEbgp,
         Expect::kAccept},
        {"EXTENDED COMMUNITIES with the Partial bit (RFC 4271 §5: set by a router that did not know it)",
         update(cat({good_attrs(), with(kExtCommunity, 0, 0xe0)})), kEbgp, Expect::kAccept},
        {"ORIGINATOR_ID and CLUSTER_LIST from an iBGP peer", update(cat({good_attrs(), kOriginatorId, kClusterList})), kIbgp,
         Expect::kAccept},
        {"IPv6 Address Specific Extended Community of 20 octets: carried raw",
         update(cat({good_attrs(), from_hex("c0 19 14 0002 20010db8000000000000000000000001 0007")})), kEbgp,
         Expect::kAccept},
        {"ADD-PATH: BIRD's path-id NLRI", update(good_attrs(), kNlriPathId), kAddPath, Expect::kAccept},
        {"ADD-PATH: withdrawal with path ids and no attributes", update({}, {}, kNlriPathId), kAddPath, Expect::kAccept},
        {"ADD-PATH for IPv6 only leaves the IPv4 NLRI field alone", update(good_attrs()),
         {.four_octet_as = true, .extended_message = false, .ebgp = true, .add_path = {AfiSafi{kAfiIpv6, kSafiUnicast}}},
         Expect::kAccept},
    };

    for (const auto& row : rows) {
        INFO(row.what << "\n  bytes " << hex(row.bytes));
        auto m = decode_message(row.bytes, row.ctx);
        switch (row.expect) {
            case Expect::kReset: {
                REQUIRE_FALSE(m);
                CHECK(int(m.error().code) == int(row.code));
                CHECK(int(m.error().subcode) == int(row.subcode));
                CHECK(m.error().action == ErrorAction::kSessionReset);
                if (row.data) CHECK(hex(m.error().data) == hex(*row.data));
                break;
            }
            case Expect::kWithdraw: {
                REQUIRE(m);
                const auto& u = std::get<UpdateMessage>(*m);
                REQUIRE(u.treat_as_withdraw);
                CHECK(int(u.treat_as_withdraw->code) == int(row.code));
                CHECK(int(u.treat_as_withdraw->subcode) == int(row.subcode));
                CHECK(u.treat_as_withdraw->action == ErrorAction::kTreatAsWithdraw);
                if (row.data) CHECK(hex(u.treat_as_withdraw->data) == hex(*row.data));
                // The prefixes stay visible so that the RIB can withdraw them (RFC 7606 §2).
                CHECK((!u.nlri.empty() || (u.mp_reach && !u.mp_reach->nlri.empty())));
                break;
            }
            case Expect::kDiscard: {
                REQUIRE(m);
                const auto& u = std::get<UpdateMessage>(*m);
                CHECK_FALSE(u.treat_as_withdraw);
                CHECK(u.discarded_attributes == row.discarded);
                CHECK(u.nlri == std::vector<Prefix>{*Prefix::parse("10.244.1.0/24")});
                // The discarded attribute is gone from the set; the rest is as sent.
                for (auto code : row.discarded) {
                    if (code == 5) CHECK_FALSE(u.attributes.local_pref);
                    if (code == 7) CHECK_FALSE(u.attributes.aggregator);
                    if (code == 9) CHECK_FALSE(u.attributes.originator_id);
                    if (code == 10) CHECK(u.attributes.cluster_list.empty());
                }
                break;
            }
            case Expect::kAccept: {
                REQUIRE(m);
                if (auto* u = std::get_if<UpdateMessage>(&*m)) {
                    CHECK_FALSE(u->treat_as_withdraw);
                    CHECK(u->discarded_attributes.empty());
                }
                break;
            }
        }
    }
}

TEST_CASE("attribute discard keeps the rest: a second MED does not replace the first", "[bgp][codec][errors]") {
    auto m = decode_message(update(cat({kOrigin, kAsPath, kNextHop, kMed, with(kMed, 6, 0x99)})), kEbgp);
    REQUIRE(m);
    CHECK(std::get<UpdateMessage>(*m).attributes.med == 0x32u);
}

TEST_CASE("a treat-as-withdraw error does not hide a later session-reset error", "[bgp][codec][errors]") {
    // RFC 7606 §4: treat-as-withdraw "unless some other, more severe error is encountered".
    auto m = decode_message(update(cat({from_hex("40 01 01 03"), kAsPath, kMpReach, kMpReach}), {}), kEbgp);
    REQUIRE_FALSE(m);
    CHECK(m.error().action == ErrorAction::kSessionReset);
}

TEST_CASE("unknown optional attributes: transitive kept with Partial, non-transitive dropped", "[bgp][codec]") {
    auto m = decode_message(update(cat({good_attrs(), from_hex("80 63 01 aa"), from_hex("c0 64 01 bb")})), kEbgp);
    REQUIRE(m);
    const auto& u = std::get<UpdateMessage>(*m);
    CHECK(u.attributes.unknown == std::vector<RawAttribute>{{0xe0, 100, {0xbb}}});
    CHECK_FALSE(u.treat_as_withdraw);
}

TEST_CASE("notification_to_string names codes and subcodes", "[bgp][codec]") {
    CHECK(notification_to_string(kHoldTimerExpired, 0) == "Hold Timer Expired");
    CHECK(notification_to_string(kUpdateMessageError, kMalformedAsPath) == "UPDATE Message Error / Malformed AS_PATH");
    CHECK(notification_to_string(kOpenMessageError, kUnacceptableHoldTime) == "OPEN Message Error / Unacceptable Hold Time");
    CHECK(notification_to_string(kMessageHeaderError, kBadMessageType) == "Message Header Error / Bad Message Type");
    CHECK(notification_to_string(kCease, kCeaseAdministrativeShutdown) == "Cease / Administrative Shutdown");
    CHECK(notification_to_string(kRouteRefreshMessageError, 1) == "ROUTE-REFRESH Message Error / Invalid Message Length");
    CHECK(notification_to_string(kCease, 99) == "Cease / subcode 99");
    CHECK(notification_to_string(42, 1) == "Unknown error code 42 / subcode 1");
}

TEST_CASE("attribute discard with no NLRI is survivable (RFC 7606 §5.2 names only stronger errors)", "[bgp][codec][errors]") {
    auto m = decode_message(update(cat({kMpUnreach, from_hex("40 06 01 00")}), {}), kEbgp);
    REQUIRE(m);
    const auto& u = std::get<UpdateMessage>(*m);
    CHECK_FALSE(u.treat_as_withdraw);
    CHECK(u.discarded_attributes == std::vector<std::uint8_t>{6});
    REQUIRE(u.mp_unreach);
    CHECK(u.mp_unreach->withdrawn == std::vector<Prefix>{*Prefix::parse("fd00:10::/64")});
}

TEST_CASE("ADD-PATH treat-as-withdraw keeps prefixes and path ids for the RIB", "[bgp][codec][errors]") {
    // RFC 7606 §2 with RFC 7911: the withdrawal is of (prefix, path id), so the id must survive.
    auto m = decode_message(update(cat({from_hex("40 01 01 03"), kAsPath, kNextHop}), kNlriPathId), kAddPath);
    REQUIRE(m);
    const auto& u = std::get<UpdateMessage>(*m);
    REQUIRE(u.treat_as_withdraw);
    CHECK(u.nlri == std::vector<Prefix>{*Prefix::parse("10.244.1.0/24")});
    CHECK(u.nlri_path_ids == std::vector<std::uint32_t>{2});
}

TEST_CASE("ROUTE-REFRESH subtypes (RFC 7313 §3.2): BIRD's normal, BoRR and EoRR, FRR's requests", "[bgp][codec]") {
    const auto bird = load_vectors("bird2_addpath.hex");
    const auto frr = load_vectors("frr8_addpath.hex");
    const auto expect = [](const Bytes& b, AfiSafi family, std::uint8_t subtype) {
        INFO(hex(b));
        auto m = decode_message(b, kEbgp);
        REQUIRE(m);
        const auto& rr = std::get<RouteRefreshMessage>(*m);
        CHECK(rr == RouteRefreshMessage{family, subtype});
        CHECK(rr.is_known_subtype());
        CHECK(hex(encode(*m)) == hex(b));
    };
    expect(bird.at("route_refresh_ipv4"), AfiSafi{kAfiIpv4, kSafiUnicast}, kRouteRefreshNormal);  // `reload in`
    expect(bird.at("route_refresh_ipv6"), AfiSafi{kAfiIpv6, kSafiUnicast}, kRouteRefreshNormal);
    expect(bird.at("borr_ipv4"), AfiSafi{kAfiIpv4, kSafiUnicast}, kRouteRefreshBorr);  // answering our request
    expect(bird.at("eorr_ipv4"), AfiSafi{kAfiIpv4, kSafiUnicast}, kRouteRefreshEorr);
    expect(frr.at("route_refresh_ipv4"), AfiSafi{kAfiIpv4, kSafiUnicast}, kRouteRefreshNormal);  // `soft in`
    expect(frr.at("route_refresh_ipv6"), AfiSafi{kAfiIpv6, kSafiUnicast}, kRouteRefreshNormal);
    // RFC 7313 §5: an unknown subtype is no error; it decodes, and the receiver ignores it.
    for (std::uint8_t subtype : {3, 127, 255}) {
        auto m = decode_message(with(bird.at("borr_ipv4"), 21, subtype), kEbgp);
        REQUIRE(m);
        CHECK(std::get<RouteRefreshMessage>(*m).subtype == subtype);
        CHECK_FALSE(std::get<RouteRefreshMessage>(*m).is_known_subtype());
    }
    // Between BoRR and EoRR BIRD re-sent exactly the routes it had sent before (RFC 7313 §4).
    CHECK(bird.at("refresh_update_addpath_ext_large") == bird.at("update_addpath_ext_large"));
    CHECK(bird.at("refresh_update_addpath_three_large") == bird.at("update_addpath_three_large"));
}

TEST_CASE("RFC 9003 shutdown communication: BIRD's and FRR's, both ways", "[bgp][codec]") {
    const auto bird = load_vectors("bird2_addpath.hex");
    const auto frr = load_vectors("frr8_addpath.hex");
    const auto notification = [](const Bytes& b) {
        auto m = decode_message(b, kEbgp);
        REQUIRE(m);
        return std::get<NotificationMessage>(*m);
    };
    SECTION("Administrative Shutdown, ASCII (`birdc disable peer1 \"maintenance window\"`)") {
        const auto n = notification(bird.at("notification_shutdown"));
        CHECK(n.code == kCease);
        CHECK(n.subcode == kCeaseAdministrativeShutdown);
        auto text = decode_shutdown_communication(n.data);
        REQUIRE(text);
        CHECK(*text == "maintenance window");
        auto data = encode_shutdown_communication("maintenance window");
        REQUIRE(data);
        CHECK(hex(*data) == hex(n.data));  // 12 6d61696e74656e616e63652077696e646f77
        CHECK(notification_to_string(n.code, n.subcode, n.data) == "Cease / Administrative Shutdown: \"maintenance window\"");
    }
    SECTION("Administrative Reset, UTF-8 (`birdc restart peer1 \"neustart für wartung\"`)") {
        const auto n = notification(bird.at("notification_admin_reset_utf8"));
        CHECK(n.subcode == kCeaseAdministrativeReset);
        const std::string expected = "neustart f\xc3\xbcr wartung";  // 20 characters, 21 octets (ü = c3 bc)
        auto text = decode_shutdown_communication(n.data);
        REQUIRE(text);
        CHECK(*text == expected);
        CHECK(hex(*encode_shutdown_communication(expected)) == hex(n.data));
        CHECK(notification_to_string(n.code, n.subcode, n.data) == "Cease / Administrative Reset: \"" + expected + "\"");
    }
    SECTION("RFC 8203's form from BIRD's iBGP capture, and no data at all") {
        const auto n = notification(load_vectors("bird2_ibgp.hex").at("notification_shutdown"));
        CHECK(decode_shutdown_communication(n.data).value_or("?") == "maintenance");
        const auto bare = notification(load_vectors("bird2_ebgp.hex").at("notification_cease"));  // 0306 02, no data
        CHECK(decode_shutdown_communication(bare.data).value_or("?").empty());
        CHECK(notification_to_string(bare.code, bare.subcode, bare.data) == "Cease / Administrative Shutdown");
        CHECK(notification_to_string(kCease, kCeaseAdministrativeShutdown, Bytes{0}) == "Cease / Administrative Shutdown");
    }
    SECTION("FRR's Hard Reset (RFC 8538 §3) wraps the Cease it replaces") {
        const auto r = notification(frr.at("notification_hard_reset"));  // 0306 09 | 06 04
        CHECK(r.subcode == kCeaseHardReset);
        CHECK(notification_to_string(r.code, r.subcode, r.data) == "Cease / Hard Reset (Cease / Administrative Reset)");
        const auto s = notification(frr.at("notification_hard_reset_shutdown"));  // 0306 09 | 06 02 12 ...
        CHECK(notification_to_string(s.code, s.subcode, s.data) ==
              "Cease / Hard Reset (Cease / Administrative Shutdown: \"maintenance window\")");
        CHECK(decode_shutdown_communication(std::span(s.data).subspan(2)).value_or("?") == "maintenance window");
        // Unwrapped and wrapped again: FRR's octets both ways.
        const auto inner = decode_hard_reset_data(s.data);
        REQUIRE(inner);
        CHECK(inner->code == kCease);
        CHECK(inner->subcode == kCeaseAdministrativeShutdown);
        CHECK(hex(inner->data) == hex(*encode_shutdown_communication("maintenance window")));
        CHECK(hex(encode_hard_reset_data(*inner)) == hex(s.data));
        CHECK(hex(encode_hard_reset_data(WrappedNotification{kCease, kCeaseAdministrativeReset, {}})) == hex(r.data));
        // Too short to wrap anything; a Hard Reset in a Hard Reset is named but not followed.
        CHECK_FALSE(decode_hard_reset_data(from_hex("06")));
        CHECK(notification_to_string(kCease, kCeaseHardReset, from_hex("06")) == "Cease / Hard Reset");
        CHECK(notification_to_string(kCease, kCeaseHardReset, from_hex("0609 0609 0602")) == "Cease / Hard Reset");
    }
}

TEST_CASE("RFC 9003: invalid shutdown communications are reported, never fatal", "[bgp][codec][errors]") {
    // Mutations of BIRD's communication "12 6d61696e74656e616e63652077696e646f77" ("maintenance
    // window") and of "15 ... 66 c3bc 72 ..." ("... für ..."), bird2_addpath.hex.
    const Bytes good = from_hex("12 6d61696e74656e616e63652077696e646f77");
    struct Case {
        const char* what;
        Bytes data;
        ShutdownCommunicationError error;
    };
    const std::vector<Case> cases = {
        {"length octet one too high", with(good, 0, 0x13), ShutdownCommunicationError::kLengthMismatch},
        {"length octet one too low (a trailing octet)", with(good, 0, 0x11), ShutdownCommunicationError::kLengthMismatch},
        {"length 255 with 18 octets", with(good, 0, 0xff), ShutdownCommunicationError::kLengthMismatch},
        {"ü cut after its first octet (c3 28)", from_hex("05 66 c3 28 72 20"), ShutdownCommunicationError::kInvalidUtf8},
        {"ü cut at the end (c3)", from_hex("02 66 c3"), ShutdownCommunicationError::kInvalidUtf8},
        {"a lone continuation octet", from_hex("01 bc"), ShutdownCommunicationError::kInvalidUtf8},
        {"overlong '/' (c0 af, RFC 3629 §10)", from_hex("02 c0 af"), ShutdownCommunicationError::kInvalidUtf8},
        {"overlong three-octet form (e0 80 af)", from_hex("03 e0 80 af"), ShutdownCommunicationError::kInvalidUtf8},
        {"UTF-16 surrogate U+D800 (ed a0 80)", from_hex("03 ed a0 80"), ShutdownCommunicationError::kInvalidUtf8},
        {"past U+10FFFF (f4 90 80 80)", from_hex("04 f4 90 80 80"), ShutdownCommunicationError::kInvalidUtf8},
        {"octet ff", from_hex("01 ff"), ShutdownCommunicationError::kInvalidUtf8},
    };
    for (const auto& c : cases) {
        INFO(c.what << ": " << hex(c.data));
        auto r = decode_shutdown_communication(c.data);
        REQUIRE_FALSE(r);
        CHECK(r.error() == c.error);
        // Logged with the reason and the data in hex (RFC 9003 §2: "SHOULD be logged").
        const std::string line = notification_to_string(kCease, kCeaseAdministrativeShutdown, c.data);
        CHECK(line == "Cease / Administrative Shutdown (invalid shutdown communication: " + std::string(to_string(c.error)) +
                          ", data " + hex(c.data) + ")");
    }
    // Valid edge cases: a four-octet character (U+1F600), the largest code point, U+FFFD.
    CHECK(decode_shutdown_communication(from_hex("04 f09f9880")).value_or("?") == "\xf0\x9f\x98\x80");
    CHECK(decode_shutdown_communication(from_hex("04 f48fbfbf")));
    CHECK(decode_shutdown_communication(from_hex("03 efbfbd")));
    // Control characters, quote and backslash are escaped in the log line: no forged lines.
    CHECK(notification_to_string(kCease, kCeaseAdministrativeReset, from_hex("05 61 0a 22 5c 62")) ==
          "Cease / Administrative Reset: \"a\\x0a\\\"\\\\b\"");
}

TEST_CASE("RFC 9003: building a shutdown communication", "[bgp][codec]") {
    const std::string max(255, 'a');
    auto ok = encode_shutdown_communication(max);
    REQUIRE(ok);
    CHECK(ok->size() == 256);
    CHECK(ok->front() == 255);
    CHECK(encode_shutdown_communication(max + "a").error() == ShutdownCommunicationError::kTooLong);
    CHECK(encode_shutdown_communication("f\xc3").error() == ShutdownCommunicationError::kInvalidUtf8);
    CHECK(hex(*encode_shutdown_communication("")) == "00");
    // truncate_utf8 keeps whole characters: 254 'a' + "ü" (2 octets) cut to 255 drops the ü.
    const std::string long_text = std::string(254, 'a') + "\xc3\xbc";
    CHECK(truncate_utf8(long_text, 255) == std::string(254, 'a'));
    CHECK(truncate_utf8(long_text, 256) == long_text);
    CHECK(encode_shutdown_communication(truncate_utf8(long_text, kMaxShutdownCommunicationLength)));
    CHECK(truncate_utf8("\xf0\x9f\x98\x80", 3).empty());
}

TEST_CASE("every Cease subcode has its name (RFC 4486 §4, RFC 8538 §3, RFC 9384)", "[bgp][codec]") {
    const std::vector<std::pair<std::uint8_t, std::string>> names = {
        {kCeaseMaxPrefixes, "Maximum Number of Prefixes Reached"},
        {kCeaseAdministrativeShutdown, "Administrative Shutdown"},
        {kCeasePeerDeconfigured, "Peer De-configured"},
        {kCeaseAdministrativeReset, "Administrative Reset"},
        {kCeaseConnectionRejected, "Connection Rejected"},
        {kCeaseOtherConfigurationChange, "Other Configuration Change"},
        {kCeaseConnectionCollisionResolution, "Connection Collision Resolution"},
        {kCeaseOutOfResources, "Out of Resources"},
        {kCeaseHardReset, "Hard Reset"},
        {kCeaseBfdDown, "BFD Down"},
    };
    for (std::size_t i = 0; i < names.size(); ++i) {
        CHECK(names[i].first == i + 1);  // 1..10, none missing
        CHECK(notification_to_string(kCease, names[i].first) == "Cease / " + names[i].second);
    }
    // Other Cease subcodes carry no text: their data is not interpreted.
    CHECK(notification_to_string(kCease, kCeasePeerDeconfigured, from_hex("02 6869")) == "Cease / Peer De-configured");
}
