// Bidirectional Forwarding Detection (RFC 5880), sans I/O: the Control packet codec (§4.1) and the
// state machine of one session (§6.2, §6.8), in asynchronous mode. Events in, actions out, like
// bgp/fsm.hpp: no socket, no timer, no clock. Time enters only as TimerExpired events for the timers
// the Fsm armed itself, and the jitter of §6.8.7 is drawn from a seed the owner injects, so every
// (state, event) pair is a table test.
//
// What is left out, on purpose: Demand mode and the Echo function (we never ask for either; a
// peer's Demand bit is honoured as §6.8.7 requires), and authentication (§6.7: the section is
// parsed, but only "no authentication" is accepted, so an authenticated peer stays Down).
// The transport (RFC 5881 single hop, RFC 5883 multihop) is bgp/bfd_session's business.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/expected.hpp"

namespace kroute::bgp::bfd {

using Bytes = std::vector<std::uint8_t>;
using std::chrono::microseconds;

// RFC 5881 §4 / RFC 5883 §5: the destination ports, and the source port range of RFC 5881 §4.
inline constexpr std::uint16_t kSingleHopPort = 3784;
inline constexpr std::uint16_t kMultihopPort = 4784;
inline constexpr std::uint16_t kSourcePortFirst = 49152;
inline constexpr std::uint16_t kSourcePortLast = 65535;
// RFC 5881 §5: single-hop packets are sent with TTL / Hop Limit 255, and only 255 is accepted.
inline constexpr std::uint8_t kSingleHopTtl = 255;

inline constexpr std::uint8_t kVersion = 1;  // RFC 5880 §4.1
inline constexpr std::size_t kMinLength = 24;          // §6.8.6: A bit clear
inline constexpr std::size_t kMinLengthWithAuth = 26;  // §6.8.6: A bit set
// §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second.
inline constexpr microseconds kSlowTxInterval{1'000'000};

enum class State : std::uint8_t { kAdminDown = 0, kDown = 1, kInit = 2, kUp = 3 };  // §4.1 "Sta"
[[nodiscard]] std::string_view to_string(State s) noexcept;

// §4.1 "Diag".
enum class Diag : std::uint8_t {
    kNone = 0,
    kControlDetectionTimeExpired = 1,
    kEchoFunctionFailed = 2,
    kNeighborSignaledSessionDown = 3,
    kForwardingPlaneReset = 4,
    kPathDown = 5,
    kConcatenatedPathDown = 6,
    kAdministrativelyDown = 7,
    kReverseConcatenatedPathDown = 8,
};
[[nodiscard]] std::string to_string(Diag d);  // "Control Detection Time Expired", "diag 17" beyond §4.1

// §4.1 Auth Type.
enum class AuthType : std::uint8_t {
    kReserved = 0,
    kSimplePassword = 1,
    kKeyedMd5 = 2,
    kMeticulousKeyedMd5 = 3,
    kKeyedSha1 = 4,
    kMeticulousKeyedSha1 = 5,
};

// §4.1: the optional Authentication Section, kept as it came (type, and everything after Auth Len).
struct AuthSection {
    std::uint8_t type = 0;
    Bytes data;  // Auth Len - 2 bytes: key id, password or sequence number and digest
    friend bool operator==(const AuthSection&, const AuthSection&) = default;
};

// §4.1, every field. Intervals are in microseconds on the wire and here.
struct ControlPacket {
    std::uint8_t version = kVersion;
    Diag diag = Diag::kNone;
    State state = State::kDown;
    bool poll = false;
    bool final = false;
    bool control_plane_independent = false;
    bool demand = false;
    bool multipoint = false;  // reserved for point-to-multipoint: always 0 from us
    std::uint8_t detect_mult = 3;
    std::uint32_t my_discriminator = 0;
    std::uint32_t your_discriminator = 0;
    microseconds desired_min_tx{0};
    microseconds required_min_rx{0};
    microseconds required_min_echo_rx{0};
    std::optional<AuthSection> auth;  // the A bit is auth.has_value()
    friend bool operator==(const ControlPacket&, const ControlPacket&) = default;
};

// Why a received packet was discarded (§6.8.6, in the order the checks are made there).
enum class PacketError : std::uint8_t {
    kTruncated,                 // fewer bytes than the fixed part, or than Auth Len says
    kBadVersion,                // Vers != 1
    kLengthTooShort,            // Length < 24 (A clear) or < 26 (A set)
    kLengthBeyondPayload,       // Length > what the UDP payload holds
    kZeroDetectMult,
    kMultipoint,                // M set
    kZeroMyDiscriminator,
    kZeroYourDiscriminatorNotDown,  // Your Discriminator 0 while State is Init or Up
    kPollAndFinal,              // §6.5: P and F never both set
    kBadAuthSection,            // Auth Len < 2 or beyond Length, or the wrong length for the type
    kAuthenticationNotSupported,    // A set: §6.8.6, bfd.AuthType is 0 for us
};
[[nodiscard]] std::string_view to_string(PacketError e) noexcept;

struct PacketDecodeError {
    PacketError error;
    std::string detail;  // for the log line
    friend bool operator==(const PacketDecodeError& a, const PacketDecodeError& b) { return a.error == b.error; }
};

[[nodiscard]] Bytes encode(const ControlPacket& p);
// The checks of §6.8.6 that need nothing but the packet; the owner then finds the session (by Your
// Discriminator, or by addresses when it is 0) and the Fsm does the rest. Never throws, never
// reads past `payload`: any input is a packet or an error value.
[[nodiscard]] Expected<ControlPacket, PacketDecodeError> decode(std::span<const std::uint8_t> payload);

// ---- Configuration, as the speaker and the shell (bgp/bfd_session) take it ----

// What a BGP peer asks of its BFD session (bgp::PeerConfig::bfd). kube-router's defaults: 1000 ms,
// 1000 ms, 3.
struct PeerBfdConfig {
    microseconds desired_min_tx{1'000'000};
    microseconds required_min_rx{1'000'000};
    std::uint8_t detect_mult = 3;
    bool multihop = false;  // RFC 5883 (UDP 4784, no TTL check) instead of RFC 5881
    friend bool operator==(const PeerBfdConfig&, const PeerBfdConfig&) = default;
};

// The UDP ports of one BFD service: configurable so that tests run several on one machine.
struct ServiceConfig {
    std::uint16_t single_hop_port = kSingleHopPort;  // we listen here (0: an ephemeral port)
    std::uint16_t multihop_port = kMultihopPort;
    std::uint16_t remote_single_hop_port = 0;  // where peers listen; 0 = single_hop_port
    std::uint16_t remote_multihop_port = 0;    // 0 = multihop_port
    std::uint16_t source_port_first = kSourcePortFirst;  // per-session source ports (RFC 5881 §4)
    std::uint16_t source_port_last = kSourcePortLast;
    friend bool operator==(const ServiceConfig&, const ServiceConfig&) = default;
};

// ---- The session state machine ----

struct SessionConfig {
    std::uint32_t local_discriminator = 1;  // nonzero, unique among the owner's sessions (§6.3)
    microseconds desired_min_tx{1'000'000};  // bfd.DesiredMinTxInterval once Up (nonzero)
    microseconds required_min_rx{1'000'000}; // bfd.RequiredMinRxInterval (0: "don't send to me")
    std::uint8_t detect_mult = 3;            // bfd.DetectMult (nonzero)
    bool passive = false;                    // §6.1: send nothing until the peer has spoken
    std::uint64_t jitter_seed = 1;
    friend bool operator==(const SessionConfig&, const SessionConfig&) = default;
};

enum class Timer : std::uint8_t { kTransmit, kDetect };
[[nodiscard]] std::string_view to_string(Timer t) noexcept;

// Events.
struct AdminUp {};    // §6.8.16: leave AdminDown (a new Fsm starts in AdminDown and sends nothing)
struct AdminDown {};  // §6.8.16: Diag 7, tell the peer, stop detecting
struct PacketReceived {
    ControlPacket packet;  // decoded and checked by decode(), addressed to this session
};
struct TimerExpired {
    Timer timer;
};
// New intervals from the configuration: a Poll Sequence if Up (§6.8.3).
struct ChangeIntervals {
    microseconds desired_min_tx;
    microseconds required_min_rx;
};
using Event = std::variant<AdminUp, AdminDown, PacketReceived, TimerExpired, ChangeIntervals>;

// Actions, to be executed in order.
struct SendPacket {
    ControlPacket packet;
    friend bool operator==(const SendPacket&, const SendPacket&) = default;
};
struct ArmTimer {  // (re)arm: a timer armed again replaces its pending expiry
    Timer timer;
    microseconds after{0};
    friend bool operator==(const ArmTimer&, const ArmTimer&) = default;
};
struct CancelTimer {
    Timer timer;
    friend bool operator==(const CancelTimer&, const CancelTimer&) = default;
};
struct StateChanged {
    State from;
    State to;
    Diag diag;  // bfd.LocalDiag after the change: why we left Up, for instance
    friend bool operator==(const StateChanged&, const StateChanged&) = default;
};
using Action = std::variant<SendPacket, ArmTimer, CancelTimer, StateChanged>;

class Fsm {
public:
    explicit Fsm(SessionConfig cfg);

    [[nodiscard]] std::vector<Action> handle(const Event& event);

    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] State remote_state() const noexcept { return remote_state_; }
    [[nodiscard]] Diag local_diag() const noexcept { return local_diag_; }
    [[nodiscard]] std::uint32_t local_discriminator() const noexcept { return cfg_.local_discriminator; }
    [[nodiscard]] std::uint32_t remote_discriminator() const noexcept { return remote_discr_; }
    [[nodiscard]] bool polling() const noexcept { return polling_; }
    [[nodiscard]] const SessionConfig& config() const noexcept { return cfg_; }
    // §6.8.4: bfd.RemoteDetectMult x max(bfd.RequiredMinRxInterval, last received Desired Min TX).
    [[nodiscard]] microseconds detection_time() const noexcept;
    // §6.8.7: max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval), before jitter.
    [[nodiscard]] microseconds transmit_interval() const noexcept;
    // The packet we would send now (§6.8.7), without Poll or Final.
    [[nodiscard]] ControlPacket make_packet() const;

private:
    void receive(const ControlPacket& p, std::vector<Action>& out);
    void set_state(State to, Diag diag, std::vector<Action>& out);
    void send_now(std::vector<Action>& out, bool final = false);
    void arm_transmit(std::vector<Action>& out);
    void start_poll(std::vector<Action>& out);
    [[nodiscard]] microseconds advertised_min_tx() const noexcept;
    [[nodiscard]] bool may_transmit() const noexcept;
    [[nodiscard]] microseconds jittered(microseconds d);

    SessionConfig cfg_;
    State state_ = State::kAdminDown;
    State remote_state_ = State::kDown;
    Diag local_diag_ = Diag::kNone;
    std::uint32_t remote_discr_ = 0;
    microseconds remote_min_rx_{1};      // §6.8.1: initialised to 1
    microseconds remote_desired_tx_{0};  // last received Desired Min TX Interval
    std::uint8_t remote_detect_mult_ = 0;
    bool remote_demand_ = false;
    bool heard_from_peer_ = false;       // a packet since AdminUp (the passive role, §6.1)
    bool started_ = false;               // AdminUp seen: in AdminDown we then still tell the peer
    bool tx_armed_ = false;              // the Transmit timer is pending
    // §6.8.3: the intervals actually in use may lag the advertised ones until a Poll Sequence ends.
    microseconds tx_in_use_{0};          // our DesiredMinTxInterval as it paces our transmissions
    microseconds rx_in_use_{0};          // our RequiredMinRxInterval as it enters the Detection Time
    bool polling_ = false;
    std::uint64_t rng_;
};

}  // namespace kroute::bgp::bfd
