// The BGP finite state machine of one connection to one peer (RFC 4271 §8), sans I/O: events in,
// actions out. It owns no socket, no timer and no clock: timers are ArmTimer/CancelTimer actions and
// their expiry comes back as a TimerExpired event, so every (state, event) pair is a table test.
//
// Deviations from RFC 4271 §8.2.2, each on purpose:
// - Automatic restart with damping (§8.1.1 DampPeerOscillations): after an error the FSM goes to
//   Idle and arms the IdleHold timer with an exponential back-off; its expiry restarts the FSM, so
//   a flapping peer is never redialled in a tight loop.
// - Connection collisions (§6.8) need two connections, so they are the owner's business: the owner
//   runs one Fsm per connection and sends CollisionDump to the loser.
// - No DelayOpen, no optional session attributes beyond what kroute uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bgp/errors.hpp"
#include "bgp/capabilities.hpp"
#include "bgp/message.hpp"

namespace kroute::bgp {

enum class State : std::uint8_t { kIdle, kConnect, kActive, kOpenSent, kOpenConfirm, kEstablished };
// RFC 4271 spelling, as kroutectl and the logs show it.
[[nodiscard]] std::string_view to_string(State s) noexcept;

enum class Timer : std::uint8_t { kConnectRetry, kHold, kKeepalive, kIdleHold };
[[nodiscard]] std::string_view to_string(Timer t) noexcept;

// RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN ("a large value, 4 minutes").
inline constexpr std::chrono::seconds kOpenSentHoldTime{240};
// Cap of the IdleHold back-off.
inline constexpr std::chrono::seconds kMaxIdleHold{120};
inline constexpr std::chrono::seconds kFirstIdleHold{1};

struct FsmConfig {
    std::uint32_t local_as = 0;
    std::uint32_t local_id = 0;   // our BGP Identifier, host order
    std::uint32_t remote_as = 0;  // the peer's OPEN must carry this AS (else 2/2 Bad Peer AS)
    std::chrono::seconds hold_time{90};
    std::chrono::seconds keepalive{30};
    std::chrono::seconds connect_retry{120};
    bool passive = false;        // never connect, only wait in Active
    bool ipv6_unicast = true;    // advertise the IPv6 unicast multiprotocol capability too
    bool extended_message = true;        // RFC 8654 capability
    bool enhanced_route_refresh = true;  // RFC 7313 capability
    // RFC 4724 capability, as the speaker wants it sent (families filled by the owner).
    std::optional<GracefulRestart> graceful_restart;
    // RFC 7911 capability: the families (and directions) we offer ADD-PATH for.
    std::vector<AddPathFamily> add_path;
    std::vector<ExtendedNextHop> extended_next_hop;  // RFC 8950 capability
    std::uint64_t jitter_seed = 1;  // the jitter of RFC 4271 §10 is drawn from this (tests fix it)
};

// Events (RFC 4271 §8.1, grouped: one type per event kroute distinguishes).
// RFC 4271 §8.1.2 events 1 and 4: with `passive_tcp` the first start waits in Active for the
// connection the owner is about to hand over (an accepted one) instead of dialling.
struct ManualStart {
    bool passive_tcp = false;
};
struct ManualStop {  // Cease with this subcode if a connection is up (RFC 4486)
    std::uint8_t subcode = kCeaseAdministrativeShutdown;
    Bytes data = {};          // e.g. RFC 4486 §4's AFI, SAFI and limit for Maximum Number of Prefixes
    bool silent = false;      // close without a NOTIFICATION (RFC 4724 §4.1: we are restarting)
};
struct TcpConnected {};        // Tcp_CR_Acked / TcpConnectionConfirmed: the connection is usable
struct TcpConnectionFails {};  // connect failed, or the peer closed / reset the connection
struct TimerExpired {
    Timer timer;
};
struct OpenReceived {
    OpenMessage open;
};
struct KeepaliveReceived {};
struct UpdateReceived {};
struct RouteRefreshReceived {};
struct NotificationReceived {
    NotificationMessage notification;
};
struct MessageDecodeFailed {  // BGPHeaderErr / BGPOpenMsgErr / UpdateMsgErr
    DecodeError error;
};
struct CollisionDump {};  // RFC 4271 §6.8: this connection lost the collision resolution
using Event = std::variant<ManualStart, ManualStop, TcpConnected, TcpConnectionFails, TimerExpired, OpenReceived,
                           KeepaliveReceived, UpdateReceived, RouteRefreshReceived, NotificationReceived,
                           MessageDecodeFailed, CollisionDump>;

// Actions, to be executed in order.
struct Connect {
    friend bool operator==(const Connect&, const Connect&) = default;
};
struct CloseTcp {  // after the queued messages were written
    friend bool operator==(const CloseTcp&, const CloseTcp&) = default;
};
struct SendOpen {
    OpenMessage open;
    friend bool operator==(const SendOpen&, const SendOpen&) = default;
};
struct SendKeepalive {
    friend bool operator==(const SendKeepalive&, const SendKeepalive&) = default;
};
struct SendNotification {
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    Bytes data;
    friend bool operator==(const SendNotification&, const SendNotification&) = default;
};
struct ArmTimer {
    Timer timer;
    std::chrono::milliseconds after{0};
    friend bool operator==(const ArmTimer&, const ArmTimer&) = default;
};
struct CancelTimer {
    Timer timer;
    friend bool operator==(const CancelTimer&, const CancelTimer&) = default;
};
struct SessionUp {  // entered Established
    friend bool operator==(const SessionUp&, const SessionUp&) = default;
};
struct SessionDown {  // left Established: the peer's routes must go (or become stale, RFC 4724)
    std::string reason;
    bool notification = false;  // a NOTIFICATION was sent or received (RFC 4724 §4.2 then does not apply)
    friend bool operator==(const SessionDown&, const SessionDown&) = default;
};
using Action = std::variant<Connect, CloseTcp, SendOpen, SendKeepalive, SendNotification, ArmTimer, CancelTimer,
                            SessionUp, SessionDown>;

class Fsm {
public:
    explicit Fsm(FsmConfig cfg);

    [[nodiscard]] std::vector<Action> handle(const Event& event);

    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] const FsmConfig& config() const noexcept { return cfg_; }
    // The peer's OPEN, once accepted (OpenConfirm and Established); reset when the FSM goes Idle.
    [[nodiscard]] const std::optional<OpenMessage>& peer_open() const noexcept { return peer_open_; }
    // min(ours, theirs) (RFC 4271 §4.2); 0 = no hold timer and no keepalives.
    [[nodiscard]] std::chrono::seconds negotiated_hold_time() const noexcept { return hold_; }
    [[nodiscard]] std::chrono::seconds keepalive_interval() const noexcept { return keepalive_; }
    // Both sides sent the 4-octet AS capability (RFC 6793): the codec must use 4-byte AS numbers.
    [[nodiscard]] bool four_octet_as() const noexcept;
    // What the two OPENs negotiated (capabilities.hpp): valid from OpenConfirm until the next
    // start, so also while SessionDown is handled; all off before an OPEN was accepted.
    [[nodiscard]] const Negotiated& negotiated() const noexcept { return negotiated_; }
    // Errors since the session was last Established: the back-off exponent.
    [[nodiscard]] unsigned consecutive_failures() const noexcept { return failures_; }
    // Why the last connection ended ("Hold Timer Expired sent", ...): for the snapshot.
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

    // The OPEN we send (RFC 4271 §4.2, capabilities RFC 5492/4760/2918/6793).
    [[nodiscard]] OpenMessage local_open() const;
    // Checks of a received OPEN (RFC 4271 §6.2); nullopt = acceptable.
    [[nodiscard]] std::optional<SendNotification> check_open(const OpenMessage& open) const;

private:
    void start(std::vector<Action>& out, bool passive);
    void connected(std::vector<Action>& out);
    void open_received(const OpenMessage& open, std::vector<Action>& out);
    // Ends the connection: NOTIFICATION (if any) before CloseTcp, SessionDown if Established,
    // then Idle; with `backoff` the IdleHold timer restarts the FSM later.
    void drop(std::vector<Action>& out, std::optional<SendNotification> notify, std::string reason, bool backoff,
              bool notification_received = false);
    void fsm_error(std::vector<Action>& out);
    void restart_hold(std::vector<Action>& out) const;
    [[nodiscard]] std::chrono::milliseconds jittered(std::chrono::milliseconds d);
    [[nodiscard]] std::chrono::milliseconds idle_hold_delay();

    FsmConfig cfg_;
    State state_ = State::kIdle;
    bool started_ = false;  // ManualStart seen, no ManualStop since: Idle is a pause, not the end
    unsigned failures_ = 0;
    std::chrono::seconds hold_{0};
    std::chrono::seconds keepalive_{0};
    std::optional<OpenMessage> peer_open_;
    Negotiated negotiated_;
    std::string last_error_;
    std::uint64_t rng_;
};

}  // namespace kroute::bgp
