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
