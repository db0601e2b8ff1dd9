// RFC 4271 §8 FSM: tables of (state, event) -> (state, actions). No clock, no socket.
#include "bgp/fsm.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace kroute;
using namespace kroute::bgp;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kLocalId = 0x0a000001;   // 10.0.0.1
constexpr std::uint32_t kRemoteId = 0x0a000002;  // 10.0.0.2

FsmConfig config(bool passive = false) {
    FsmConfig c;
    c.local_as = 64512;
    c.local_id = kLocalId;
    c.remote_as = 64512;
    c.hold_time = 90s;
    c.keepalive = 30s;
    c.connect_retry = 120s;
    c.passive = passive;
    c.jitter_seed = 42;
    return c;
}

OpenMessage peer_open(std::uint16_t hold = 90, std::uint32_t asn = 64512, std::uint32_t id = kRemoteId) {
    OpenMessage o;
    o.my_as = asn <= 0xffff ? static_cast<std::uint16_t>(asn) : kAsTrans;
    o.hold_time = hold;
    o.bgp_id = id;
    o.four_octet_as = asn;
    o.multiprotocol = {AfiSafi{kAfiIpv4, kSafiUnicast}};
    return o;
}

// An FSM driven through the normal path up to `target`.
Fsm fsm_in(State target, FsmConfig cfg = config()) {
    Fsm f{cfg};
    if (target == State::kIdle) return f;
    (void)f.handle(ManualStart{});
    if (target == State::kConnect || (target == State::kActive && cfg.passive)) return f;
    if (target == State::kActive) {
        (void)f.handle(TcpConnectionFails{});
        return f;
    }
    (void)f.handle(TcpConnected{});
    if (target == State::kOpenSent) return f;
    (void)f.handle(OpenReceived{peer_open()});
    if (target == State::kOpenConfirm) return f;
    (void)f.handle(KeepaliveReceived{});
    return f;
}

template <class A>
bool contains(const std::vector<Action>& actions) {
    return std::any_of(actions.begin(), actions.end(), [](const Action& a) { return std::holds_alternative<A>(a); });
}

template <class A>
std::optional<A> first(const std::vector<Action>& actions) {
    for (const auto& a : actions) {
        if (auto* p = std::get_if<A>(&a)) return *p;
    }
    return std::nullopt;
}

bool arms(const std::vector<Action>& actions, Timer t) {
    return std::any_of(actions.begin(), actions.end(), [t](const Action& a) {
        auto* p = std::get_if<ArmTimer>(&a);
        return p && p->timer == t;
    });
}

std::optional<std::chrono::milliseconds> armed_for(const std::vector<Action>& actions, Timer t) {
    for (const auto& a : actions) {
        if (auto* p = std::get_if<ArmTimer>(&a); p && p->timer == t) return p->after;
    }
    return std::nullopt;
}

// The index of the first action of type A (actions.size() if none).
template <class A>
std::size_t index_of(const std::vector<Action>& actions) {
    for (std::size_t i = 0; i < actions.size(); ++i) {
        if (std::holds_alternative<A>(actions[i])) return i;
    }
    return actions.size();
}

}  // namespace

TEST_CASE("fsm_in reaches every state", "[bgp][fsm]") {
    for (auto s : {State::kIdle, State::kConnect, State::kActive, State::kOpenSent, State::kOpenConfirm,
                   State::kEstablished}) {
        CHECK(fsm_in(s).state() == s);
    }
    CHECK(fsm_in(State::kActive, config(true)).state() == State::kActive);
}

TEST_CASE("state names follow RFC 4271", "[bgp][fsm]") {
    CHECK(to_string(State::kOpenConfirm) == "OpenConfirm");
    CHECK(to_string(State::kEstablished) == "Established");
    CHECK(to_string(State::kIdle) == "Idle");
}

TEST_CASE("ManualStart: active peer dials, passive waits in Active", "[bgp][fsm]") {
    Fsm active{config(false)};
    auto a = active.handle(ManualStart{});
    CHECK(active.state() == State::kConnect);
    CHECK(contains<Connect>(a));
    CHECK(arms(a, Timer::kConnectRetry));

    Fsm passive{config(true)};
    auto p = passive.handle(ManualStart{});
    CHECK(passive.state() == State::kActive);
    CHECK_FALSE(contains<Connect>(p));
    CHECK_FALSE(arms(p, Timer::kConnectRetry));
}

TEST_CASE("ConnectRetry is jittered into [0.75, 1.0] of the configured value", "[bgp][fsm]") {
    // RFC 4271 §10.
    std::set<long> seen;
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        auto c = config();
        c.jitter_seed = seed;
        Fsm f{c};
        auto a = f.handle(ManualStart{});
        auto d = armed_for(a, Timer::kConnectRetry);
        REQUIRE(d);
        CHECK(*d >= 90s);
        CHECK(*d <= 120s);
        seen.insert(static_cast<long>(d->count()));
    }
    CHECK(seen.size() > 10);  // actually random, not a constant factor
}

TEST_CASE("Connect/Active transitions", "[bgp][fsm]") {
    SECTION("connection up in Connect sends OPEN and goes OpenSent with a 4 minute hold timer") {
        Fsm f = fsm_in(State::kConnect);
        auto a = f.handle(TcpConnected{});
        CHECK(f.state() == State::kOpenSent);
        auto open = first<SendOpen>(a);
        REQUIRE(open);
        CHECK(open->open.my_as == 64512);
        CHECK(open->open.hold_time == 90);
        CHECK(open->open.bgp_id == kLocalId);
        CHECK(open->open.four_octet_as == 64512U);
        CHECK(open->open.route_refresh);
        CHECK(open->open.multiprotocol ==
              std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}});
        CHECK(armed_for(a, Timer::kHold) == std::chrono::milliseconds{kOpenSentHoldTime});
        CHECK(contains<CancelTimer>(a));
    }
    SECTION("incoming connection in Active (passive peer) goes OpenSent") {
        Fsm f = fsm_in(State::kActive, config(true));
        auto a = f.handle(TcpConnected{});
        CHECK(f.state() == State::kOpenSent);
        CHECK(contains<SendOpen>(a));
    }
    SECTION("connect failure goes Active and waits ConnectRetry, then redials") {
        Fsm f = fsm_in(State::kConnect);
        auto a = f.handle(TcpConnectionFails{});
        CHECK(f.state() == State::kActive);
        CHECK(arms(a, Timer::kConnectRetry));
        CHECK_FALSE(contains<Connect>(a));
        auto b = f.handle(TimerExpired{Timer::kConnectRetry});
        CHECK(f.state() == State::kConnect);
        CHECK(contains<Connect>(b));
        CHECK(arms(b, Timer::kConnectRetry));
    }
    SECTION("ConnectRetry in Connect abandons the attempt and redials") {
        Fsm f = fsm_in(State::kConnect);
        auto a = f.handle(TimerExpired{Timer::kConnectRetry});
        CHECK(f.state() == State::kConnect);
        CHECK(index_of<CloseTcp>(a) < index_of<Connect>(a));
    }
    SECTION("a passive peer never dials") {
        Fsm f = fsm_in(State::kActive, config(true));
        auto a = f.handle(TimerExpired{Timer::kConnectRetry});
        CHECK(f.state() == State::kActive);
        CHECK(a.empty());
    }
    SECTION("Idle refuses connections") {
        Fsm f{config()};
        auto a = f.handle(TcpConnected{});
        CHECK(f.state() == State::kIdle);
        CHECK(contains<CloseTcp>(a));
    }
}

TEST_CASE("OPEN accepted: hold time and keepalive negotiation", "[bgp][fsm]") {
    auto [ours, theirs, keepalive, want_hold, want_keepalive] =
        GENERATE(table<int, int, int, int, int>({
            {90, 90, 30, 90, 30},   // plain
            {90, 9, 30, 9, 3},      // theirs lower: min, keepalive = hold / 3
            {9, 90, 30, 9, 3},      // ours lower
            {90, 90, 10, 90, 10},   // configured keepalive below hold / 3 wins
            {90, 0, 30, 0, 0},      // 0 = no hold timer, no keepalives (RFC 4271 §4.4)
            {0, 90, 30, 0, 0},
            {3, 90, 30, 3, 1},
        }));
    auto c = config();
    c.hold_time = std::chrono::seconds{ours};
    c.keepalive = std::chrono::seconds{keepalive};
    Fsm f = fsm_in(State::kOpenSent, c);
    auto a = f.handle(OpenReceived{peer_open(static_cast<std::uint16_t>(theirs))});
    CHECK(f.state() == State::kOpenConfirm);
    CHECK(f.negotiated_hold_time() == std::chrono::seconds{want_hold});
    CHECK(f.keepalive_interval() == std::chrono::seconds{want_keepalive});
    CHECK(index_of<SendKeepalive>(a) == 0);
    if (want_hold == 0) {
        CHECK_FALSE(arms(a, Timer::kHold));
        CHECK_FALSE(arms(a, Timer::kKeepalive));
        CHECK(contains<CancelTimer>(a));
    } else {
        CHECK(armed_for(a, Timer::kHold) == std::chrono::seconds{want_hold});
        CHECK(armed_for(a, Timer::kKeepalive) == std::chrono::seconds{want_keepalive});
    }
    REQUIRE(f.peer_open());
    CHECK(f.peer_open()->bgp_id == kRemoteId);
    CHECK(f.four_octet_as());
}

TEST_CASE("OPEN checks send the RFC 4271 §6.2 NOTIFICATION and go Idle", "[bgp][fsm]") {
    OpenMessage bad_version = peer_open();
    bad_version.version = 3;
    OpenMessage trans_mismatch = peer_open();
    trans_mismatch.my_as = 64513;  // 2-octet field disagrees with the capability
    auto [open, code, subcode] = GENERATE_COPY(table<OpenMessage, int, int>({
        {peer_open(90, 65001), kOpenMessageError, kBadPeerAs},
        {trans_mismatch, kOpenMessageError, kBadPeerAs},
        {peer_open(90, 64512, 0), kOpenMessageError, kBadBgpIdentifier},
        {peer_open(90, 64512, kLocalId), kOpenMessageError, kBadBgpIdentifier},
        {peer_open(1), kOpenMessageError, kUnacceptableHoldTime},
        {peer_open(2), kOpenMessageError, kUnacceptableHoldTime},
        {bad_version, kOpenMessageError, kUnsupportedVersionNumber},
    }));
    Fsm f = fsm_in(State::kOpenSent);
    auto a = f.handle(OpenReceived{open});
    CHECK(f.state() == State::kIdle);
    auto n = first<SendNotification>(a);
    REQUIRE(n);
    CHECK(n->code == code);
    CHECK(n->subcode == subcode);
    CHECK(index_of<SendNotification>(a) < index_of<CloseTcp>(a));
    CHECK(arms(a, Timer::kIdleHold));  // back-off, no tight redial loop
    CHECK_FALSE(contains<SessionDown>(a));
    CHECK_FALSE(f.peer_open());
}

TEST_CASE("4-octet AS peer via AS_TRANS is accepted", "[bgp][fsm]") {
    auto c = config();
    c.remote_as = 4200000001;
    Fsm f = fsm_in(State::kOpenSent, c);
    (void)f.handle(OpenReceived{peer_open(90, 4200000001)});
    CHECK(f.state() == State::kOpenConfirm);

    auto c2 = config();
    c2.local_as = 4200000002;
    Fsm g{c2};
    CHECK(g.local_open().my_as == kAsTrans);
    CHECK(g.local_open().four_octet_as == 4200000002U);
}

TEST_CASE("KEEPALIVE in OpenConfirm establishes the session", "[bgp][fsm]") {
    Fsm f = fsm_in(State::kOpenConfirm);
    auto a = f.handle(KeepaliveReceived{});
    CHECK(f.state() == State::kEstablished);
    CHECK(contains<SessionUp>(a));
    CHECK(armed_for(a, Timer::kHold) == 90s);
}

TEST_CASE("hold timer expiry sends NOTIFICATION 4/0 and goes Idle", "[bgp][fsm]") {
    auto [from, was_up] = GENERATE(table<State, bool>(
        {{State::kOpenSent, false}, {State::kOpenConfirm, false}, {State::kEstablished, true}}));
    Fsm f = fsm_in(from);
    auto a = f.handle(TimerExpired{Timer::kHold});
    CHECK(f.state() == State::kIdle);
    REQUIRE_FALSE(a.empty());
    CHECK(std::get<SendNotification>(a.front()) == SendNotification{kHoldTimerExpired, 0, {}});
    CHECK(index_of<SendNotification>(a) < index_of<CloseTcp>(a));
    CHECK(contains<SessionDown>(a) == was_up);
    CHECK(arms(a, Timer::kIdleHold));
    CHECK(f.last_error().find("4/0") != std::string::npos);
}

TEST_CASE("keepalive timer sends KEEPALIVE and rearms", "[bgp][fsm]") {
    auto from = GENERATE(State::kOpenConfirm, State::kEstablished);
    Fsm f = fsm_in(from);
    auto a = f.handle(TimerExpired{Timer::kKeepalive});
    CHECK(f.state() == from);
    CHECK(index_of<SendKeepalive>(a) == 0);
    CHECK(armed_for(a, Timer::kKeepalive) == 30s);
}

TEST_CASE("messages restart the hold timer in Established", "[bgp][fsm]") {
    Fsm f = fsm_in(State::kEstablished);
    for (Event e : {Event{KeepaliveReceived{}}, Event{UpdateReceived{}}, Event{RouteRefreshReceived{}}}) {
        auto a = f.handle(e);
        CHECK(f.state() == State::kEstablished);
        CHECK(armed_for(a, Timer::kHold) == 90s);
    }
}

TEST_CASE("unexpected messages are FSM errors 5/x (RFC 6608)", "[bgp][fsm]") {
    auto [from, event, subcode, was_up] = GENERATE(table<State, int, int, bool>({
        {State::kOpenSent, 0, 1, false},     // KEEPALIVE in OpenSent
        {State::kOpenSent, 1, 1, false},     // UPDATE in OpenSent
        {State::kOpenConfirm, 1, 2, false},  // UPDATE in OpenConfirm
        {State::kOpenConfirm, 2, 2, false},  // OPEN in OpenConfirm
        {State::kEstablished, 2, 3, true},   // OPEN in Established
    }));
    Fsm f = fsm_in(from);
    Event e = event == 0 ? Event{KeepaliveReceived{}} : event == 1 ? Event{UpdateReceived{}}
                                                                  : Event{OpenReceived{peer_open()}};
    auto a = f.handle(e);
    CHECK(f.state() == State::kIdle);
    auto n = first<SendNotification>(a);
    REQUIRE(n);
    CHECK(n->code == kFsmError);
    CHECK(n->subcode == subcode);
    CHECK(contains<SessionDown>(a) == was_up);
}

TEST_CASE("NOTIFICATION received closes without answering", "[bgp][fsm]") {
    auto [from, was_up] = GENERATE(table<State, bool>(
        {{State::kOpenSent, false}, {State::kOpenConfirm, false}, {State::kEstablished, true}}));
    Fsm f = fsm_in(from);
    auto a = f.handle(NotificationReceived{NotificationMessage{kCease, kCeaseAdministrativeShutdown, {}}});
    CHECK(f.state() == State::kIdle);
    CHECK_FALSE(contains<SendNotification>(a));
    CHECK(contains<CloseTcp>(a));
    CHECK(contains<SessionDown>(a) == was_up);
    CHECK(arms(a, Timer::kIdleHold));
}

TEST_CASE("decode errors send their NOTIFICATION", "[bgp][fsm]") {
    Fsm f = fsm_in(State::kEstablished);
    DecodeError err{kUpdateMessageError, kMalformedAsPath, ErrorAction::kSessionReset, {}, "bad"};
    auto a = f.handle(MessageDecodeFailed{err});
    CHECK(f.state() == State::kIdle);
    CHECK(first<SendNotification>(a) == SendNotification{kUpdateMessageError, kMalformedAsPath, {}});
    CHECK(contains<SessionDown>(a));
}

TEST_CASE("connection loss after OPEN goes Idle with back-off", "[bgp][fsm]") {
    auto [from, was_up] = GENERATE(table<State, bool>(
        {{State::kOpenSent, false}, {State::kOpenConfirm, false}, {State::kEstablished, true}}));
    Fsm f = fsm_in(from);
    auto a = f.handle(TcpConnectionFails{});
    CHECK(f.state() == State::kIdle);
    CHECK_FALSE(contains<SendNotification>(a));
    CHECK(contains<SessionDown>(a) == was_up);
    CHECK(arms(a, Timer::kIdleHold));
}

TEST_CASE("ManualStop sends Cease with the given subcode and stays Idle", "[bgp][fsm]") {
    auto [from, notifies, was_up] = GENERATE(table<State, bool, bool>({
        {State::kConnect, false, false},
        {State::kActive, false, false},
        {State::kOpenSent, true, false},
        {State::kOpenConfirm, true, false},
        {State::kEstablished, true, true},
    }));
    Fsm f = fsm_in(from);
    auto a = f.handle(ManualStop{kCeasePeerDeconfigured});
    CHECK(f.state() == State::kIdle);
    CHECK(contains<SendNotification>(a) == notifies);
    if (notifies) CHECK(first<SendNotification>(a) == SendNotification{kCease, kCeasePeerDeconfigured, {}});
    CHECK(contains<SessionDown>(a) == was_up);
    CHECK_FALSE(arms(a, Timer::kIdleHold));  // stopped means stopped
    CHECK(f.handle(TimerExpired{Timer::kIdleHold}).empty());
    CHECK(f.state() == State::kIdle);
}

TEST_CASE("collision loser sends Cease/7 and does not restart", "[bgp][fsm]") {
    auto from = GENERATE(State::kOpenSent, State::kOpenConfirm);
    Fsm f = fsm_in(from);
    auto a = f.handle(CollisionDump{});
    CHECK(f.state() == State::kIdle);
    CHECK(first<SendNotification>(a) == SendNotification{kCease, kCeaseConnectionCollisionResolution, {}});
    CHECK_FALSE(arms(a, Timer::kIdleHold));
}

TEST_CASE("IdleHold back-off grows, is capped, restarts the FSM and resets once Established", "[bgp][fsm]") {
    Fsm f = fsm_in(State::kOpenSent);
    std::vector<std::chrono::milliseconds> delays;
    for (int i = 0; i < 12; ++i) {
        auto a = f.handle(TimerExpired{Timer::kHold});
        REQUIRE(f.state() == State::kIdle);
        auto d = armed_for(a, Timer::kIdleHold);
        REQUIRE(d);
        delays.push_back(*d);
        auto b = f.handle(TimerExpired{Timer::kIdleHold});
        CHECK(f.state() == State::kConnect);
        CHECK(contains<Connect>(b));
        (void)f.handle(TcpConnected{});
    }
    CHECK(delays.front() >= 750ms);
    CHECK(delays.front() <= 1000ms);
    CHECK(delays[3] >= 6000ms);  // 8 s jittered
    CHECK(delays.back() <= std::chrono::milliseconds{kMaxIdleHold});
    CHECK(delays.back() >= std::chrono::milliseconds{kMaxIdleHold} * 3 / 4);
    CHECK(f.consecutive_failures() == 12);

    (void)f.handle(OpenReceived{peer_open()});
    (void)f.handle(KeepaliveReceived{});
    CHECK(f.state() == State::kEstablished);
    CHECK(f.consecutive_failures() == 0);
    auto a = f.handle(TcpConnectionFails{});
    auto d = armed_for(a, Timer::kIdleHold);
    REQUIRE(d);
    CHECK(*d <= 1000ms);
}

TEST_CASE("stray timers and messages in Idle do nothing", "[bgp][fsm]") {
    Fsm f{config()};
    for (Event e : {Event{TimerExpired{Timer::kHold}}, Event{TimerExpired{Timer::kKeepalive}},
                    Event{TimerExpired{Timer::kConnectRetry}}, Event{TimerExpired{Timer::kIdleHold}},
                    Event{KeepaliveReceived{}}, Event{UpdateReceived{}}, Event{TcpConnectionFails{}},
                    Event{NotificationReceived{}}, Event{CollisionDump{}}}) {
        CHECK(f.handle(e).empty());
        CHECK(f.state() == State::kIdle);
    }
}

TEST_CASE("ManualStart with passive TCP waits once, later restarts dial", "[bgp][fsm]") {
    Fsm f{config(false)};
    auto a = f.handle(ManualStart{.passive_tcp = true});
    CHECK(f.state() == State::kActive);
    CHECK_FALSE(contains<Connect>(a));
    (void)f.handle(TcpConnected{});
    CHECK(f.state() == State::kOpenSent);
    (void)f.handle(TcpConnectionFails{});
    CHECK(f.state() == State::kIdle);
    auto b = f.handle(TimerExpired{Timer::kIdleHold});
    CHECK(f.state() == State::kConnect);
    CHECK(contains<Connect>(b));
}

TEST_CASE("an accepted connection during back-off restarts the FSM but keeps the damping", "[bgp][fsm]") {
    Fsm f = fsm_in(State::kOpenSent);
    (void)f.handle(TimerExpired{Timer::kHold});
    (void)f.handle(TimerExpired{Timer::kIdleHold});
    (void)f.handle(TcpConnected{});
    (void)f.handle(TimerExpired{Timer::kHold});
    REQUIRE(f.state() == State::kIdle);
    REQUIRE(f.consecutive_failures() == 2);
    auto a = f.handle(ManualStart{.passive_tcp = true});  // what Session::accept does in Idle
    CHECK(f.state() == State::kActive);
    CHECK(std::find(a.begin(), a.end(), Action{CancelTimer{Timer::kIdleHold}}) != a.end());
    CHECK(f.consecutive_failures() == 2);
    (void)f.handle(TcpConnected{});
    auto b = f.handle(TcpConnectionFails{});
    auto d = armed_for(b, Timer::kIdleHold);
    REQUIRE(d);
    CHECK(*d >= 3000ms);  // third failure: 4 s jittered, not back to 1 s
}
