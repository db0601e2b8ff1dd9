// BFD on Asio: binds bfd::Fsm (bgp/bfd.hpp) to UDP sockets and steady_timers, the thin shell
// around the pure state machine, like bgp/session around bgp/fsm.
//
// Transport: RFC 5881 for single hop (IPv4 and IPv6): we listen on UDP 3784 (one socket per address
// family), send from a source port of each session's own in 49152-65535 with TTL / Hop Limit 255,
// and accept only packets that arrive with 255 (IP_RECVTTL / IPV6_RECVHOPLIMIT) - the GTSM-like
// proof that the peer is on the link (§5). RFC 5883 for multihop: UDP 4784, no TTL check.
// The source port of received packets is not checked: BIRD, for one, sends from the kernel's
// ephemeral range.
//
// Thread: the io_context thread only; callbacks run on it too.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgp/bfd.hpp"
#include "common/asio.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp::bfd {

struct PeerOptions {
    IpAddress peer;
    std::optional<IpAddress> local;  // source address; nullopt = the kernel's choice
    PeerBfdConfig timers;
    std::uint16_t remote_port = 0;   // 0 = the service's remote port for the kind (3784 or 4784)
    bool passive = false;            // RFC 5880 §6.1
    friend bool operator==(const PeerOptions&, const PeerOptions&) = default;
};

struct StateChange {
    IpAddress peer;
    State from;
    State to;
    Diag diag;  // why: Control Detection Time Expired, Neighbor Signaled Session Down, ...
};

struct SessionSnapshot {
    IpAddress peer;
    State state = State::kAdminDown;
    State remote_state = State::kDown;
    Diag local_diag = Diag::kNone;
    std::uint32_t local_discriminator = 0;
    std::uint32_t remote_discriminator = 0;
    bool multihop = false;
    std::uint16_t source_port = 0;
    microseconds transmit_interval{0};
    microseconds detection_time{0};
    std::uint64_t packets_received = 0;
    std::uint64_t packets_sent = 0;
};

class Service {
public:
    using StateHandler = std::function<void(const StateChange&)>;

    Service(asio::io_context& ioc, ServiceConfig cfg = {});
    ~Service();  // AdminDown to every peer, no callbacks
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    // Adds a session and starts it (or replaces the peer's session if the options differ). The
    // listener of the session's family and kind is bound on first use: an error says which port.
    [[nodiscard]] Expected<void, std::string> add(const PeerOptions& opts);
    // AdminDown (RFC 5880 §6.8.16): the peer is told for a few slow intervals, then it is gone.
    void remove(const IpAddress& peer);
    void on_state_change(StateHandler handler);

    [[nodiscard]] std::optional<State> state(const IpAddress& peer) const;
    [[nodiscard]] std::vector<SessionSnapshot> sessions() const;
    // The port a listener is bound to (useful with port 0 in ServiceConfig), 0 if none yet.
    [[nodiscard]] std::uint16_t listen_port(bool v6, bool multihop) const;

    // Binds the listener of a family and kind now (add() does it on first use).
    [[nodiscard]] Expected<void, std::string> listen(bool v6, bool multihop);

private:
    struct Session;
    struct Listener;

    void read_more(const std::shared_ptr<Listener>& l);
    void on_datagram(const Listener& l, std::span<const std::uint8_t> payload, const IpAddress& from, int ttl);
    void dispatch(const std::shared_ptr<Session>& s, const Event& ev);
    void execute(const std::shared_ptr<Session>& s, const Action& a, std::vector<StateChange>& changes);
    [[nodiscard]] std::uint32_t new_discriminator();

    asio::io_context& ioc_;
    ServiceConfig cfg_;
    StateHandler handler_;
    std::vector<std::shared_ptr<Listener>> listeners_;
    std::map<IpAddress, std::shared_ptr<Session>> sessions_;
    std::map<std::uint32_t, std::weak_ptr<Session>> by_discriminator_;  // also the retiring ones
    std::vector<std::shared_ptr<Session>> retiring_;
    std::uint64_t rng_;
};

}  // namespace kroute::bgp::bfd
