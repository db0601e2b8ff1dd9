// One BGP connection to one peer on Asio: binds an Fsm to a TCP socket and steady_timers. The thin
// shell around the pure FSM and codec (STYLE.md §1): it frames bytes, decodes them into FSM
// events, executes the FSM's actions, and tells its owner (the Speaker's peer) what happened.
//
// Thread: the io_context thread only. Lifetime: held by shared_ptr; pending operations keep it
// alive, so the owner may let go at any time after detach()/dismiss().
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bgp/fsm.hpp"
#include "bgp/message.hpp"
#include "common/asio.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

class Session;

// What a Session reports to its owner. Called on the io_context thread, from inside the Session:
// the owner may call back into it (send, dismiss), the Session keeps itself alive meanwhile.
class SessionOwner {
public:
    virtual void session_state_changed(Session& s, State from, State to) = 0;
    // The peer's OPEN was accepted (now OpenConfirm): the moment for collision detection (§6.8).
    virtual void session_open_received(Session& s) = 0;
    virtual void session_up(Session& s) = 0;
    // `notification`: a NOTIFICATION was sent or received; without one a peer that negotiated
    // Graceful Restart is restarting (RFC 4724 §4.2).
    virtual void session_down(Session& s, const std::string& reason, bool notification) = 0;
    virtual void session_update(Session& s, UpdateMessage&& update) = 0;
    virtual void session_route_refresh(Session& s, const RouteRefreshMessage& rr) = 0;

protected:
    ~SessionOwner() = default;
};

IpAddress to_ip(const asio::ip::address& a);  // IPv4-mapped IPv6 comes back as IPv4
asio::ip::address to_asio(const IpAddress& a);

// Socket options for the transport security of a session, on a native socket `fd` of family
// AF_INET6 (`v6_socket`) or AF_INET. Errors are the errno, never anything about the key.
// RFC 2385: the TCP MD5 key for segments to and from `peer` (an empty key removes it); on a
// listening socket the kernel then verifies incoming SYNs from `peer` and the accepted socket
// inherits the key. At most 80 bytes (TCP_MD5SIG_MAXKEYLEN).
[[nodiscard]] Expected<void, std::error_code> set_tcp_md5_key(int fd, bool v6_socket, const IpAddress& peer,
                                                              const std::string& key);
// The TTL (hop limit) we send with, and the lowest one we accept (RFC 5082 §3, GTSM); 0 leaves an
// option as it is. `v4_peer`: the traffic is IPv4 (also over an AF_INET6 socket, IPv4-mapped).
[[nodiscard]] Expected<void, std::error_code> set_ttl_options(int fd, bool v6_socket, bool v4_peer, std::uint8_t ttl,
                                                              std::uint8_t min_ttl);

class Session : public std::enable_shared_from_this<Session> {
public:
    struct Options {
        FsmConfig fsm;
        IpAddress remote;
        std::uint16_t remote_port = 179;
        std::optional<IpAddress> local_bind;
        std::string log_prefix;  // "peer 10.0.0.2 AS64512 (node2)"
        // Transport security, applied to every connection (dialled and accepted). Never logged.
        std::string md5_password;     // RFC 2385 TCP MD5 key for the remote address; empty = none
        std::uint8_t ttl = 0;         // IP_TTL / IPV6_UNICAST_HOPS to send with; 0 = the kernel's
        std::uint8_t min_ttl = 0;     // IP_MINTTL / IPV6_MINHOPCOUNT (RFC 5082 GTSM); 0 = off
    };

    Session(asio::io_context& ioc, Options opts, SessionOwner* owner);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start();                                // ManualStart: dial (or wait, if passive)
    void accept(asio::ip::tcp::socket socket);   // use this accepted connection now
    void stop(std::uint8_t cease_subcode);       // ManualStop
    // The path is gone though TCP has not noticed (BFD, RFC 5882 §3.2): a TCP failure, at once.
    void transport_failed(std::string reason);
    // Forget the owner, then handle `event` (ManualStop, CollisionDump): the NOTIFICATION still
    // goes out and the socket closes after it, but nothing is reported any more.
    void dismiss(const Event& event);

    // Queue pre-encoded messages (UPDATEs) on the current connection; dropped when not Established.
    void send(std::vector<Bytes> messages);

    [[nodiscard]] State state() const noexcept { return fsm_.state(); }
    [[nodiscard]] const Fsm& fsm() const noexcept { return fsm_; }
    // The connection in use was dialled by us (for collision resolution).
    [[nodiscard]] bool outgoing() const noexcept { return outgoing_; }
    [[nodiscard]] std::optional<IpAddress> local_address() const;
    [[nodiscard]] EncodeContext encode_context() const;
    [[nodiscard]] std::uint64_t messages_received() const noexcept { return messages_in_; }
    [[nodiscard]] std::uint64_t messages_sent() const noexcept { return messages_out_; }
    [[nodiscard]] std::uint64_t updates_received() const noexcept { return updates_in_; }
    [[nodiscard]] std::uint64_t updates_sent() const noexcept { return updates_out_; }
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
    [[nodiscard]] const std::optional<NotificationRecord>& last_notification_sent() const noexcept { return notification_sent_; }
    [[nodiscard]] const std::optional<NotificationRecord>& last_notification_received() const noexcept {
        return notification_received_;
    }
    // Nothing left to write and no socket open (stop() waits for this).
    [[nodiscard]] bool drained() const noexcept;

private:
    struct Connection;

    void dispatch(const Event& event);
    void execute(const Action& action);
    void do_connect();
    // MD5 key, TTL and GTSM minimum TTL on a socket of this session (RFC 2385, RFC 5082).
    [[nodiscard]] Expected<void, std::string> secure(asio::ip::tcp::socket& socket);
    void begin(std::shared_ptr<Connection> conn, bool outgoing);
    void read_more(const std::shared_ptr<Connection>& conn);
    void on_bytes(const std::shared_ptr<Connection>& conn);
    void handle_message(Message&& msg);
    void send_raw(Bytes bytes);
    void close_connection();

    asio::io_context& ioc_;
    Options opts_;
    SessionOwner* owner_;
    Fsm fsm_;
    std::shared_ptr<Connection> conn_;     // the connection the FSM talks about
    std::vector<std::weak_ptr<Connection>> closing_;  // flushing their last NOTIFICATION
    std::array<std::unique_ptr<asio::steady_timer>, 4> timers_;
    std::array<std::uint64_t, 4> timer_seq_{};
    bool outgoing_ = true;
    std::uint64_t messages_in_ = 0;
    std::uint64_t messages_out_ = 0;
    std::uint64_t updates_in_ = 0;   // UPDATE messages, End-of-RIB included
    std::uint64_t updates_out_ = 0;
    std::string last_error_;
    std::optional<NotificationRecord> notification_sent_;
    std::optional<NotificationRecord> notification_received_;
};

}  // namespace kroute::bgp
