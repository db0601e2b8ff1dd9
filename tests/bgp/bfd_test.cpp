// BFD (RFC 5880): byte-exact Control packets, malformed ones as a table, and the session state
// machine as tables of (state, event) -> (state, diagnostic, actions). No clock, no socket.
#include "bgp/bfd.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "tests/bgp/support/bytes.hpp"

using namespace kroute;
using namespace kroute::bgp::bfd;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;
using kroute::bgp::test::load_vectors;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kLocal = 0x0a0b0c0d;
constexpr std::uint32_t kRemote = 0x11223344;

// RFC 5880 §4.1 layout, field by field: Vers 1, Diag 0, Sta Init, P set, Detect Mult 5, Length 24,
// My Discriminator 1, Your Discriminator 2, Desired Min TX 100 ms, Required Min RX 50 ms, Required
// Min Echo RX 0. Written by hand from the figure, not produced by our encoder.
const Bytes kRfcLayoutInitPoll = from_hex(
    "20"          // Vers 001, Diag 00000
    "a0"          // Sta 10 (Init), P 1, F 0, C 0, A 0, D 0, M 0
    "05"          // Detect Mult 5
    "18"          // Length 24
    "00000001"    // My Discriminator
    "00000002"    // Your Discriminator
    "000186a0"    // Desired Min TX Interval 100000 us
    "0000c350"    // Required Min RX Interval 50000 us
    "00000000");  // Required Min Echo RX Interval
const ControlPacket kRfcLayoutInitPollPacket{.state = State::kInit,
                                             .poll = true,
                                             .detect_mult = 5,
                                             .my_discriminator = 1,
                                             .your_discriminator = 2,
                                             .desired_min_tx = 100ms,
                                             .required_min_rx = 50ms,
                                             .auth = std::nullopt};

// The same layout with every flag we may send and a diagnostic: Diag 1 (Control Detection Time
// Expired), Sta Down, F and C and D set, Detect Mult 1, intervals of 1 s / 0 / 0.
const Bytes kRfcLayoutDownFinal = from_hex("21" "5a" "01" "18" "deadbeef" "00000000" "000f4240" "00000000" "00000000");
const ControlPacket kRfcLayoutDownFinalPacket{.diag = Diag::kControlDetectionTimeExpired,
                                              .state = State::kDown,
                                              .final = true,
                                              .control_plane_independent = true,
                                              .demand = true,
                                              .detect_mult = 1,
                                              .my_discriminator = 0xdeadbeef,
                                              .your_discriminator = 0,
                                              .desired_min_tx = 1s,
                                              .required_min_rx = 0us,
                                              .auth = std::nullopt};

}  // namespace

TEST_CASE("BFD Control packets as RFC 5880 §4.1 lays them out", "[bgp][bfd][codec]") {
    auto [bytes, packet] = GENERATE(table<Bytes, ControlPacket>({
        {kRfcLayoutInitPoll, kRfcLayoutInitPollPacket},
        {kRfcLayoutDownFinal, kRfcLayoutDownFinalPacket},
    }));
    CHECK(hex(encode(packet)) == hex(bytes));
    auto p = decode(bytes);
    REQUIRE(p);
    CHECK(*p == packet);
}

TEST_CASE("BFD Control packets captured from BIRD 2", "[bgp][bfd][codec]") {
    // tests/data/bgp/bird2_bfd.hex names the capture's source and configuration.
    const auto v = load_vectors("bird2_bfd.hex");
    const auto bird = [&](const char* name) { return v.at(name); };

    auto down = decode(bird("bird_down"));
    REQUIRE(down);
    CHECK(down->state == State::kDown);
    CHECK(down->diag == Diag::kNone);
    CHECK(down->detect_mult == 3);
    CHECK(down->my_discriminator == 0x766dea58);
    CHECK(down->your_discriminator == 0);
    CHECK(down->desired_min_tx == 1s);  // the slow rate of RFC 5880 §6.8.3
    CHECK(down->required_min_rx == 200ms);
    CHECK(down->required_min_echo_rx == 0us);
    CHECK_FALSE(down->poll);

    auto up_poll = decode(bird("bird_up_poll"));
    REQUIRE(up_poll);
    CHECK(up_poll->state == State::kUp);
    CHECK(up_poll->poll);
    CHECK_FALSE(up_poll->final);
    CHECK(up_poll->your_discriminator == kRemote);
    CHECK(up_poll->desired_min_tx == 200ms);

    auto final = decode(bird("bird_up_final"));
    REQUIRE(final);
    CHECK(final->final);
    CHECK_FALSE(final->poll);

    // Our encoder writes BIRD's packets back byte for byte.
    for (const char* name : {"bird_down", "bird_up_poll", "bird_up", "bird_up_final"}) {
        INFO(name);
        auto p = decode(bird(name));
        REQUIRE(p);
        CHECK(hex(encode(*p)) == hex(bird(name)));
    }
}

TEST_CASE("bytes after Length are UDP padding, not the packet's", "[bgp][bfd][codec]") {
    Bytes padded = kRfcLayoutInitPoll;
    padded.insert(padded.end(), {0xff, 0xff, 0xff});
    auto p = decode(padded);
    REQUIRE(p);
    CHECK(*p == kRfcLayoutInitPollPacket);
}

TEST_CASE("malformed BFD Control packets are discarded with a reason (RFC 5880 §6.8.6)", "[bgp][bfd][codec]") {
    // Each vector is kRfcLayoutInitPoll (or a Down packet) with one thing wrong.
    auto [what, bytes, error] = GENERATE(table<std::string, Bytes, PacketError>({
        {"empty", {}, PacketError::kTruncated},
        {"three bytes", from_hex("20a005"), PacketError::kTruncated},
        {"version 0", from_hex("00a00518 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kBadVersion},
        {"version 2", from_hex("40a00518 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kBadVersion},
        {"Length 23", from_hex("20a00517 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kLengthTooShort},
        {"Length 0", from_hex("20a00500 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kLengthTooShort},
        {"A set, Length 24", from_hex("20a40518 00000001 00000002 000186a0 0000c350 00000000"),
         PacketError::kLengthTooShort},
        {"Length 25, 24 bytes", from_hex("20a00519 00000001 00000002 000186a0 0000c350 00000000"),
         PacketError::kLengthBeyondPayload},
        {"Length 24, 20 bytes", from_hex("20a00518 00000001 00000002 000186a0 0000c350"),
         PacketError::kLengthBeyondPayload},
        {"Detect Mult 0", from_hex("20a00018 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kZeroDetectMult},
        {"M set", from_hex("20a10518 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kMultipoint},
        {"My Discriminator 0", from_hex("20a00518 00000000 00000002 000186a0 0000c350 00000000"),
         PacketError::kZeroMyDiscriminator},
        {"Init, Your Discriminator 0", from_hex("20800518 00000001 00000000 000186a0 0000c350 00000000"),
         PacketError::kZeroYourDiscriminatorNotDown},
        {"Up, Your Discriminator 0", from_hex("20c00518 00000001 00000000 000186a0 0000c350 00000000"),
         PacketError::kZeroYourDiscriminatorNotDown},
        {"P and F", from_hex("20b00518 00000001 00000002 000186a0 0000c350 00000000"), PacketError::kPollAndFinal},
        {"Auth Len 1", from_hex("20a4051a 00000001 00000002 000186a0 0000c350 00000000 0101"),
         PacketError::kBadAuthSection},
        {"Auth Len beyond Length", from_hex("20a4051a 00000001 00000002 000186a0 0000c350 00000000 0105 0102"),
         PacketError::kBadAuthSection},
        {"simple password, Auth Len 3 (no password)", from_hex("20a4051b 00000001 00000002 000186a0 0000c350 00000000 010301"),
         PacketError::kBadAuthSection},
        {"keyed MD5, Auth Len 4", from_hex("20a4051c 00000001 00000002 000186a0 0000c350 00000000 02040100"),
         PacketError::kBadAuthSection},
        // §4.2 simple password "abc", key id 1: well formed, but we use no authentication.
        {"simple password", from_hex("20a4051e 00000001 00000002 000186a0 0000c350 00000000 0106 01 616263"),
         PacketError::kAuthenticationNotSupported},
        // §4.3 keyed MD5: Auth Len 24 (key id, reserved, sequence number, 16-byte digest).
        {"keyed MD5", from_hex("20a40530 00000001 00000002 000186a0 0000c350 00000000 0218 01 00 00000007"
                               "00112233445566778899aabbccddeeff"),
         PacketError::kAuthenticationNotSupported},
    }));
    INFO(what);
    auto p = decode(bytes);
    REQUIRE_FALSE(p);
    CHECK(p.error().error == error);
}

TEST_CASE("the BFD decoder takes any input: every truncation and every single-byte change", "[bgp][bfd][codec]") {
    // A value or an error each time, never a crash (run under KROUTE_SANITIZE to see a bad read).
    const Bytes base = from_hex("20a4051e 00000001 00000002 000186a0 0000c350 00000000 0106 01 616263");
    std::size_t ok = 0;
    for (std::size_t n = 0; n <= base.size(); ++n) {
        if (decode(std::span<const std::uint8_t>{base.data(), n})) ++ok;
    }
    for (std::size_t i = 0; i < base.size(); ++i) {
        for (int v = 0; v < 256; ++v) {
            Bytes m = base;
            m[i] = static_cast<std::uint8_t>(v);
            if (auto p = decode(m)) {
                ++ok;
                CHECK_FALSE(p->auth.has_value());  // whatever gets through is unauthenticated
            }
        }
    }
    CHECK(ok > 0);  // clearing the A bit makes a valid packet
}

// ---- The state machine ----

namespace {

SessionConfig config(std::uint8_t mult = 3) {
    return SessionConfig{.local_discriminator = kLocal,
                         .desired_min_tx = 100ms,
                         .required_min_rx = 100ms,
                         .detect_mult = mult,
                         .passive = false,
                         .jitter_seed = 7};
}

// What the peer sends: 300 ms / 300 ms, Detect Mult 3, addressed to us unless it is still Down.
ControlPacket from_peer(State s, bool poll = false, bool final = false) {
    ControlPacket p;
    p.state = s;
    p.poll = poll;
    p.final = final;
    p.detect_mult = 3;
    p.my_discriminator = kRemote;
    p.your_discriminator = s == State::kDown || s == State::kAdminDown ? 0 : kLocal;
    p.desired_min_tx = 300ms;
    p.required_min_rx = 300ms;
    return p;
}

// An Fsm driven the normal way into `target` (AdminDown: never enabled).
Fsm fsm_in(State target, SessionConfig cfg = config()) {
    Fsm f{cfg};
    if (target == State::kAdminDown) return f;
    (void)f.handle(AdminUp{});
    if (target == State::kDown) return f;
    (void)f.handle(PacketReceived{from_peer(State::kDown)});
    if (target == State::kInit) return f;
    (void)f.handle(PacketReceived{from_peer(State::kUp)});
    return f;
}

template <class A>
std::vector<A> all(const std::vector<Action>& actions) {
    std::vector<A> out;
    for (const auto& a : actions) {
        if (auto* p = std::get_if<A>(&a)) out.push_back(*p);
    }
    return out;
}

std::optional<microseconds> armed(const std::vector<Action>& actions, Timer t) {
    std::optional<microseconds> out;
    for (const auto& a : actions) {
        if (auto* p = std::get_if<ArmTimer>(&a); p && p->timer == t) out = p->after;
    }
    return out;
}

enum class Ev { kAdminUp, kAdminDown, kRxAdminDown, kRxDown, kRxInit, kRxUp, kDetectExpired };

Event make(Ev e) {
    switch (e) {
        case Ev::kAdminUp: return AdminUp{};
        case Ev::kAdminDown: return AdminDown{};
        case Ev::kRxAdminDown: return PacketReceived{from_peer(State::kAdminDown)};
        case Ev::kRxDown: return PacketReceived{from_peer(State::kDown)};
        case Ev::kRxInit: return PacketReceived{from_peer(State::kInit)};
        case Ev::kRxUp: return PacketReceived{from_peer(State::kUp)};
        case Ev::kDetectExpired: return TimerExpired{Timer::kDetect};
    }
    return AdminUp{};
}

}  // namespace

TEST_CASE("BFD session state machine: every (state, event) cell (RFC 5880 §6.2, §6.8.6, §6.8.16)", "[bgp][bfd][fsm]") {
    using S = State;
    using D = Diag;
    auto [from, ev, to, diag] = GENERATE(table<S, Ev, S, D>({
        // A session never enabled is silent and deaf.
        {S::kAdminDown, Ev::kAdminUp, S::kDown, D::kNone},
        {S::kAdminDown, Ev::kAdminDown, S::kAdminDown, D::kNone},
        {S::kAdminDown, Ev::kRxAdminDown, S::kAdminDown, D::kNone},
        {S::kAdminDown, Ev::kRxDown, S::kAdminDown, D::kNone},
        {S::kAdminDown, Ev::kRxInit, S::kAdminDown, D::kNone},
        {S::kAdminDown, Ev::kRxUp, S::kAdminDown, D::kNone},
        {S::kAdminDown, Ev::kDetectExpired, S::kAdminDown, D::kNone},
        // Down: Down -> Init, Init -> Up; Up from the peer is ignored (it must restart).
        {S::kDown, Ev::kAdminUp, S::kDown, D::kNone},
        {S::kDown, Ev::kAdminDown, S::kAdminDown, D::kAdministrativelyDown},
        {S::kDown, Ev::kRxAdminDown, S::kDown, D::kNone},
        {S::kDown, Ev::kRxDown, S::kInit, D::kNone},
        {S::kDown, Ev::kRxInit, S::kUp, D::kNone},
        {S::kDown, Ev::kRxUp, S::kDown, D::kNone},
        {S::kDown, Ev::kDetectExpired, S::kDown, D::kNone},
        // Init: Init or Up -> Up.
        {S::kInit, Ev::kAdminUp, S::kInit, D::kNone},
        {S::kInit, Ev::kAdminDown, S::kAdminDown, D::kAdministrativelyDown},
        {S::kInit, Ev::kRxAdminDown, S::kDown, D::kNeighborSignaledSessionDown},
        {S::kInit, Ev::kRxDown, S::kInit, D::kNone},
        {S::kInit, Ev::kRxInit, S::kUp, D::kNone},
        {S::kInit, Ev::kRxUp, S::kUp, D::kNone},
        {S::kInit, Ev::kDetectExpired, S::kDown, D::kControlDetectionTimeExpired},
        // Up: the peer's Down or AdminDown, or silence, end it.
        {S::kUp, Ev::kAdminUp, S::kUp, D::kNone},
        {S::kUp, Ev::kAdminDown, S::kAdminDown, D::kAdministrativelyDown},
        {S::kUp, Ev::kRxAdminDown, S::kDown, D::kNeighborSignaledSessionDown},
        {S::kUp, Ev::kRxDown, S::kDown, D::kNeighborSignaledSessionDown},
        {S::kUp, Ev::kRxInit, S::kUp, D::kNone},
        {S::kUp, Ev::kRxUp, S::kUp, D::kNone},
        {S::kUp, Ev::kDetectExpired, S::kDown, D::kControlDetectionTimeExpired},
    }));
    CAPTURE(from, ev);
    Fsm fsm = fsm_in(from);
    REQUIRE(fsm.state() == from);
    auto actions = fsm.handle(make(ev));
    CHECK(fsm.state() == to);
    const auto changes = all<StateChanged>(actions);
    const auto sent = all<SendPacket>(actions);
    if (to != from) {
        REQUIRE(changes.size() == 1);
        CHECK(changes[0] == StateChanged{from, to, diag});
        CHECK(actions.front() == Action{changes[0]});  // reported before anything else happens
        // The new state goes out at once, with its diagnostic (§6.8.7: bfd.LocalDiag, SessionState).
        REQUIRE(sent.size() == 1);
        CHECK(sent[0].packet.state == to);
        CHECK(sent[0].packet.diag == diag);
        CHECK(fsm.local_diag() == diag);
    } else {
        CHECK(changes.empty());
    }
    if (from == S::kAdminDown && to == from) CHECK(actions.empty());
}

TEST_CASE("BFD three-way handshake between two state machines (RFC 5880 §6.2)", "[bgp][bfd][fsm]") {
    auto cfg_b = config();
    cfg_b.local_discriminator = kRemote;
    Fsm a{config()};
    Fsm b{cfg_b};
    // Deliver every packet one side sends to the other, until nothing more is sent.
    std::vector<std::pair<Fsm*, ControlPacket>> wire;
    auto send_all = [&](Fsm& from, const std::vector<Action>& actions) {
        for (const auto& s : all<SendPacket>(actions)) wire.emplace_back(&from == &a ? &b : &a, s.packet);
    };
    send_all(a, a.handle(AdminUp{}));
    send_all(b, b.handle(AdminUp{}));
    for (int i = 0; i < 20 && !wire.empty(); ++i) {
        auto [to, packet] = wire.front();
        wire.erase(wire.begin());
        auto bytes = encode(packet);
        auto decoded = decode(bytes);
        REQUIRE(decoded);
        send_all(*to, to->handle(PacketReceived{*decoded}));
    }
    CHECK(a.state() == State::kUp);
    CHECK(b.state() == State::kUp);
    CHECK(a.remote_discriminator() == kRemote);
    CHECK(b.remote_discriminator() == kLocal);
    CHECK_FALSE(a.polling());  // both Poll Sequences of the change to 100 ms got their Final
    CHECK_FALSE(b.polling());
    CHECK(a.transmit_interval() == 100ms);
    CHECK(a.detection_time() == 300ms);
}

TEST_CASE("BFD transmits at one second while not Up (RFC 5880 §6.8.3)", "[bgp][bfd][fsm]") {
    Fsm fsm{config()};
    auto actions = fsm.handle(AdminUp{});
    auto sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.state == State::kDown);
    CHECK(sent[0].packet.desired_min_tx == 1s);      // not the configured 100 ms
    CHECK(sent[0].packet.required_min_rx == 100ms);  // what we can take is not slowed down
    CHECK(sent[0].packet.your_discriminator == 0);
    CHECK(sent[0].packet.my_discriminator == kLocal);
    auto t = armed(actions, Timer::kTransmit);
    REQUIRE(t);
    CHECK(*t >= 750ms);
    CHECK(*t <= 1s);

    // Periodic packets in Init are still slow.
    (void)fsm.handle(PacketReceived{from_peer(State::kDown)});
    REQUIRE(fsm.state() == State::kInit);
    actions = fsm.handle(TimerExpired{Timer::kTransmit});
    sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.state == State::kInit);
    CHECK(sent[0].packet.desired_min_tx == 1s);
    CHECK(sent[0].packet.your_discriminator == kRemote);
    CHECK(fsm.transmit_interval() == 1s);
}

TEST_CASE("BFD Detection Time is the remote Detect Mult times the agreed interval (RFC 5880 §6.8.4)", "[bgp][bfd][fsm]") {
    auto [required_rx, peer_tx, peer_mult, expected] = GENERATE(table<microseconds, microseconds, int, microseconds>({
        {100ms, 300ms, 3, 900ms},   // the peer sends slower than we need
        {500ms, 300ms, 3, 1500ms},  // we cannot take packets faster than 500 ms
        {100ms, 300ms, 5, 1500ms},  // the peer's multiplier, not ours
        {100ms, 50ms, 1, 100ms},
    }));
    auto cfg = config();
    cfg.required_min_rx = required_rx;
    Fsm fsm = fsm_in(State::kUp, cfg);
    auto p = from_peer(State::kUp);
    p.desired_min_tx = peer_tx;
    p.detect_mult = static_cast<std::uint8_t>(peer_mult);
    auto actions = fsm.handle(PacketReceived{p});
    CHECK(fsm.detection_time() == expected);
    CHECK(armed(actions, Timer::kDetect) == expected);  // each packet restarts the Detect timer
}

TEST_CASE("BFD going Up starts a Poll Sequence for the faster rate (RFC 5880 §6.5, §6.8.3)", "[bgp][bfd][fsm]") {
    Fsm fsm = fsm_in(State::kInit);
    auto actions = fsm.handle(PacketReceived{from_peer(State::kUp)});
    REQUIRE(fsm.state() == State::kUp);
    CHECK(fsm.polling());
    auto sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.poll);
    CHECK(sent[0].packet.desired_min_tx == 100ms);
    // A faster rate is safe at once: max(our 100 ms, the peer's Required Min RX 300 ms).
    CHECK(fsm.transmit_interval() == 300ms);
    // Periodic packets carry P until the Final comes.
    actions = fsm.handle(TimerExpired{Timer::kTransmit});
    sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.poll);
    (void)fsm.handle(PacketReceived{from_peer(State::kUp, false, true)});
    CHECK_FALSE(fsm.polling());
    actions = fsm.handle(TimerExpired{Timer::kTransmit});
    sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK_FALSE(sent[0].packet.poll);
}

TEST_CASE("BFD answers a Poll with Final at once, never both bits (RFC 5880 §6.5, §6.8.7)", "[bgp][bfd][fsm]") {
    Fsm fsm = fsm_in(State::kUp);
    (void)fsm.handle(PacketReceived{from_peer(State::kUp, false, true)});  // end our own Poll
    REQUIRE_FALSE(fsm.polling());
    auto actions = fsm.handle(PacketReceived{from_peer(State::kUp, true)});
    auto sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.final);
    CHECK_FALSE(sent[0].packet.poll);
    CHECK(sent[0].packet.state == State::kUp);

    // While our own Poll Sequence is on, the Final answer still leaves P out.
    (void)fsm.handle(ChangeIntervals{200ms, 100ms});
    REQUIRE(fsm.polling());
    actions = fsm.handle(PacketReceived{from_peer(State::kUp, true)});
    sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.final);
    CHECK_FALSE(sent[0].packet.poll);
}

TEST_CASE("BFD interval changes while Up wait for the Poll Sequence where RFC 5880 §6.8.3 says", "[bgp][bfd][fsm]") {
    auto cfg = config();
    cfg.desired_min_tx = 400ms;  // slower than the peer's 300 ms Required Min RX, so it shows
    cfg.required_min_rx = 400ms;
    Fsm fsm = fsm_in(State::kUp, cfg);
    (void)fsm.handle(PacketReceived{from_peer(State::kUp, false, true)});
    REQUIRE_FALSE(fsm.polling());
    REQUIRE(fsm.transmit_interval() == 400ms);
    REQUIRE(fsm.detection_time() == 1200ms);  // 3 x max(400, 300)

    SECTION("a slower transmit rate and a shorter Detection Time only after the Final") {
        auto actions = fsm.handle(ChangeIntervals{600ms, 100ms});
        CHECK(fsm.polling());
        auto sent = all<SendPacket>(actions);
        REQUIRE(sent.size() == 1);
        CHECK(sent[0].packet.poll);
        CHECK(sent[0].packet.desired_min_tx == 600ms);  // the new values are advertised at once
        CHECK(sent[0].packet.required_min_rx == 100ms);
        CHECK(fsm.transmit_interval() == 400ms);  // ... but not used yet
        CHECK(fsm.detection_time() == 1200ms);
        (void)fsm.handle(PacketReceived{from_peer(State::kUp, false, true)});
        CHECK_FALSE(fsm.polling());
        CHECK(fsm.transmit_interval() == 600ms);
        CHECK(fsm.detection_time() == 900ms);  // 3 x max(100, 300)
    }
    SECTION("a faster transmit rate and a longer Detection Time at once") {
        (void)fsm.handle(ChangeIntervals{100ms, 1s});
        CHECK(fsm.polling());
        CHECK(fsm.transmit_interval() == 300ms);  // max(100 ms, the peer's 300 ms)
        CHECK(fsm.detection_time() == 3s);
    }
    SECTION("the same values again start nothing") {
        auto actions = fsm.handle(ChangeIntervals{400ms, 400ms});
        CHECK(actions.empty());
        CHECK_FALSE(fsm.polling());
    }
}

TEST_CASE("BFD transmit jitter (RFC 5880 §6.8.7)", "[bgp][bfd][fsm]") {
    auto [mult, low, high] = GENERATE(table<int, microseconds, microseconds>({
        {3, 750ms, 1000ms},  // 75-100% of the interval
        {1, 750ms, 900ms},   // with Detect Mult 1, at most 90%
    }));
    auto cfg = config(static_cast<std::uint8_t>(mult));
    cfg.desired_min_tx = 1s;
    Fsm fsm{cfg};
    (void)fsm.handle(AdminUp{});
    microseconds lo = 10s;
    microseconds hi = 0s;
    for (int i = 0; i < 2000; ++i) {
        auto t = armed(fsm.handle(TimerExpired{Timer::kTransmit}), Timer::kTransmit);
        REQUIRE(t);
        lo = std::min(lo, *t);
        hi = std::max(hi, *t);
    }
    CHECK(lo >= low);
    CHECK(hi <= high);
    CHECK(lo < low + 20ms);  // the whole range is used, not one fixed value
    CHECK(hi > high - 20ms);
}

TEST_CASE("BFD stops periodic packets when the peer asks for none (RFC 5880 §6.8.7)", "[bgp][bfd][fsm]") {
    SECTION("Required Min RX Interval 0") {
        Fsm fsm = fsm_in(State::kUp);
        auto p = from_peer(State::kUp);
        p.required_min_rx = 0us;
        auto actions = fsm.handle(PacketReceived{p});
        CHECK(all<SendPacket>(actions).empty());
        CHECK(all<SendPacket>(fsm.handle(TimerExpired{Timer::kTransmit})).empty());
        // A Poll is still answered.
        p.poll = true;
        CHECK(all<SendPacket>(fsm.handle(PacketReceived{p})).size() == 1);
    }
    SECTION("Demand mode on the remote system, both Up") {
        Fsm fsm = fsm_in(State::kUp);
        (void)fsm.handle(PacketReceived{from_peer(State::kUp, false, true)});
        auto p = from_peer(State::kUp);
        p.demand = true;
        (void)fsm.handle(PacketReceived{p});
        CHECK(all<SendPacket>(fsm.handle(TimerExpired{Timer::kTransmit})).empty());
    }
}

TEST_CASE("a passive BFD session speaks only after the peer did (RFC 5880 §6.1)", "[bgp][bfd][fsm]") {
    auto cfg = config();
    cfg.passive = true;
    Fsm fsm{cfg};
    auto actions = fsm.handle(AdminUp{});
    CHECK(fsm.state() == State::kDown);
    CHECK(all<SendPacket>(actions).empty());
    CHECK_FALSE(armed(actions, Timer::kTransmit));
    actions = fsm.handle(PacketReceived{from_peer(State::kDown)});
    CHECK(fsm.state() == State::kInit);
    CHECK(all<SendPacket>(actions).size() == 1);
    CHECK(armed(actions, Timer::kTransmit));
}

TEST_CASE("BFD ignores packets for another discriminator (RFC 5880 §6.8.6)", "[bgp][bfd][fsm]") {
    Fsm fsm = fsm_in(State::kInit);
    auto p = from_peer(State::kUp);
    p.your_discriminator = kLocal + 1;
    CHECK(fsm.handle(PacketReceived{p}).empty());
    CHECK(fsm.state() == State::kInit);
}

TEST_CASE("BFD forgets the remote discriminator after a silent Detection Time (RFC 5880 §6.8.1)", "[bgp][bfd][fsm]") {
    Fsm fsm = fsm_in(State::kUp);
    REQUIRE(fsm.remote_discriminator() == kRemote);
    auto actions = fsm.handle(TimerExpired{Timer::kDetect});
    CHECK(fsm.state() == State::kDown);
    CHECK(fsm.remote_discriminator() == 0);
    auto sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.your_discriminator == 0);
    CHECK(sent[0].packet.desired_min_tx == 1s);  // back to the slow rate
    CHECK(fsm.transmit_interval() == 1s);
}

TEST_CASE("an administratively down BFD session keeps telling the peer (RFC 5880 §6.8.16)", "[bgp][bfd][fsm]") {
    Fsm fsm = fsm_in(State::kUp);
    auto actions = fsm.handle(AdminDown{});
    CHECK(fsm.state() == State::kAdminDown);
    CHECK(std::find(actions.begin(), actions.end(), Action{CancelTimer{Timer::kDetect}}) != actions.end());
    actions = fsm.handle(TimerExpired{Timer::kTransmit});
    auto sent = all<SendPacket>(actions);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].packet.state == State::kAdminDown);
    CHECK(sent[0].packet.diag == Diag::kAdministrativelyDown);
    // Back up: Down, then the handshake again.
    actions = fsm.handle(AdminUp{});
    CHECK(fsm.state() == State::kDown);
    CHECK(all<StateChanged>(actions) == std::vector<StateChanged>{{State::kAdminDown, State::kDown, Diag::kNone}});
}
