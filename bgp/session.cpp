#include "bgp/session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "common/log.hpp"

namespace kroute::bgp {
namespace {

// "Cease / Administrative Shutdown (6/2)", and what the data says where it is text (RFC 9003's
// shutdown communication, escaped): "Cease / Administrative Shutdown (6/2): \"maintenance\"".
std::string describe_notification(std::uint8_t code, std::uint8_t subcode, std::span<const std::uint8_t> data) {
    const std::string plain = notification_to_string(code, subcode);
    const std::string full = notification_to_string(code, subcode, data);
    std::string out = plain + " (" + std::to_string(code) + "/" + std::to_string(subcode) + ")";
    if (full.size() > plain.size() && full.starts_with(plain)) out += full.substr(plain.size());
    return out;
}

using tcp = asio::ip::tcp;

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::size_t index(Timer t) { return static_cast<std::size_t>(t); }

const char* message_name(const Message& m) {
    switch (m.index()) {
        case 0: return "OPEN";
        case 1: return "UPDATE";
        case 2: return "NOTIFICATION";
        case 3: return "KEEPALIVE";
        default: return "ROUTE-REFRESH";
    }
}

}  // namespace

IpAddress to_ip(const asio::ip::address& a) {
    if (a.is_v4()) return IpAddress::v4(a.to_v4().to_uint());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return IpAddress::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
    const auto b = v6.to_bytes();
    std::array<std::uint8_t, 16> bytes{};
    std::copy(b.begin(), b.end(), bytes.begin());
    return IpAddress::v6(bytes);
}

asio::ip::address to_asio(const IpAddress& a) {
    if (a.is_v4()) return asio::ip::address_v4(a.v4_host_order());
    asio::ip::address_v6::bytes_type b{};
    std::memcpy(b.data(), a.data(), 16);
    return asio::ip::address_v6(b);
}

namespace {

Expected<void, std::error_code> set_int_option(int fd, int level, int name, int value) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
        return unexpected(std::error_code{errno, std::generic_category()});
    }
    return {};
}

}  // namespace

Expected<void, std::error_code> set_tcp_md5_key(int fd, bool v6_socket, const IpAddress& peer,
                                                const std::string& key) {
    if (key.size() > TCP_MD5SIG_MAXKEYLEN) return unexpected(std::make_error_code(std::errc::invalid_argument));
    tcp_md5sig sig{};
    if (v6_socket) {
        // An AF_INET6 socket takes IPv4 peers as IPv4-mapped addresses (the kernel files the key
        // under AF_INET then), and refuses a sockaddr_in.
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        if (peer.is_v4()) {
            const std::uint32_t v4 = htonl(peer.v4_host_order());
            sin6.sin6_addr.s6_addr[10] = 0xff;
            sin6.sin6_addr.s6_addr[11] = 0xff;
            std::memcpy(&sin6.sin6_addr.s6_addr[12], &v4, 4);
        } else {
            std::memcpy(&sin6.sin6_addr, peer.data(), 16);
        }
        std::memcpy(&sig.tcpm_addr, &sin6, sizeof sin6);
    } else {
        if (!peer.is_v4()) return unexpected(std::make_error_code(std::errc::address_family_not_supported));
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(peer.v4_host_order());
        std::memcpy(&sig.tcpm_addr, &sin, sizeof sin);
    }
    sig.tcpm_keylen = static_cast<std::uint16_t>(key.size());  // 0 deletes the key
    std::memcpy(sig.tcpm_key, key.data(), key.size());
    const int rc = ::setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
    const int err = errno;
    ::explicit_bzero(sig.tcpm_key, sizeof sig.tcpm_key);
    // Deleting a key that is not there is not an error for us.
    if (rc != 0 && !(key.empty() && err == ENOENT)) return unexpected(std::error_code{err, std::generic_category()});
    return {};
}

Expected<void, std::error_code> set_ttl_options(int fd, bool v6_socket, bool v4_peer, std::uint8_t ttl,
                                                std::uint8_t min_ttl) {
    // IPv4 traffic (also IPv4-mapped over an AF_INET6 socket) follows the IP_* options, IPv6
    // traffic the IPV6_* ones.
    if (v4_peer) {
        if (ttl != 0) {
            if (auto r = set_int_option(fd, IPPROTO_IP, IP_TTL, ttl); !r) return r;
        }
        if (min_ttl != 0) {
            if (auto r = set_int_option(fd, IPPROTO_IP, IP_MINTTL, min_ttl); !r) return r;
        }
    }
    if (v6_socket && !v4_peer) {
        if (ttl != 0) {
            if (auto r = set_int_option(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl); !r) return r;
        }
        if (min_ttl != 0) {
            if (auto r = set_int_option(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl); !r) return r;
        }
    }
    return {};
}

constexpr std::size_t kInitialReadBuffer = 16 * 1024;
constexpr std::size_t kMaxReadBuffer = 2 * kMaxExtendedMessageLength;

// One TCP connection: the socket, its read buffer and its write queue (one async_write in flight).
// Shared with the pending operations, so a connection being closed can still flush its last
// NOTIFICATION after the Session moved on to another one.
struct Session::Connection : std::enable_shared_from_this<Session::Connection> {
    explicit Connection(asio::io_context& ioc) : socket{ioc} {}

    void send(Bytes b) {
        if (!socket.is_open() || close_after_flush) return;
        queue.push_back(std::move(b));
        pump();
    }
    void pump() {
        if (writing || queue.empty()) return;
        writing = true;
        asio::async_write(socket, asio::buffer(queue.front()),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->writing = false;
                              if (ec) {
                                  self->queue.clear();
                                  self->close_now();
                                  return;
                              }
                              self->queue.pop_front();
                              if (!self->queue.empty()) {
                                  self->pump();
                              } else if (self->close_after_flush) {
                                  self->close_now();
                              }
                          });
    }
    void close() {
        close_after_flush = true;
        if (!writing && queue.empty()) close_now();
    }
    void close_now() {
        boost::system::error_code ec;
        if (!socket.is_open()) return;
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
    }

    tcp::socket socket;
    std::deque<Bytes> queue;
    bool writing = false;
    bool close_after_flush = false;
    // Starts small: a node holds a session to every other node, and most of them carry a few
    // UPDATEs a day. Grows (to kMaxReadBuffer) while reads fill it, as during a table transfer, and
    // to whatever one message needs (RFC 8654 extended messages).
    std::vector<std::uint8_t> rbuf = std::vector<std::uint8_t>(kInitialReadBuffer);
    std::size_t rlen = 0;
};

Session::Session(asio::io_context& ioc, Options opts, SessionOwner* owner)
    : ioc_{ioc}, opts_{std::move(opts)}, owner_{owner}, fsm_{opts_.fsm} {
    for (auto& t : timers_) t = std::make_unique<asio::steady_timer>(ioc_);
}

Session::~Session() {
    for (auto& t : timers_) t->cancel();
    if (conn_) conn_->close_now();
}

void Session::start() { dispatch(ManualStart{}); }

void Session::stop(std::uint8_t cease_subcode) { dispatch(ManualStop{cease_subcode}); }

void Session::transport_failed(std::string reason) {
    last_error_ = std::move(reason);
    if (conn_) conn_->close_now();  // nothing queued can get through any more
    dispatch(TcpConnectionFails{});
}

void Session::dismiss(const Event& event) {
    owner_ = nullptr;
    dispatch(event);
    for (std::size_t i = 0; i < timers_.size(); ++i) {
        ++timer_seq_[i];
        timers_[i]->cancel();
    }
}

Expected<void, std::string> Session::secure(tcp::socket& socket) {
    const int fd = socket.native_handle();
    boost::system::error_code ec;
    const bool v6_socket = socket.local_endpoint(ec).protocol() == tcp::v6();
    if (ec) return unexpected("socket: " + ec.message());
    if (!opts_.md5_password.empty()) {
        if (auto r = set_tcp_md5_key(fd, v6_socket, opts_.remote, opts_.md5_password); !r) {
            return unexpected("TCP MD5 signature (RFC 2385): " + r.error().message());
        }
    }
    if (auto r = set_ttl_options(fd, v6_socket, opts_.remote.is_v4(), opts_.ttl, opts_.min_ttl); !r) {
        return unexpected("TTL/GTSM (RFC 5082): " + r.error().message());
    }
    return {};
}

void Session::accept(tcp::socket socket) {
    // The listener's key for this address already made the kernel check the SYN (RFC 2385); the
    // accepted socket inherits it, and is given the TTL and GTSM limit before the first OPEN.
    if (auto r = secure(socket); !r) {
        log::get("bgp")->warn("{}: refusing an incoming connection: {}", opts_.log_prefix, r.error());
        last_error_ = r.error();
        boost::system::error_code ec;
        socket.close(ec);
        return;
    }
    auto conn = std::make_shared<Connection>(ioc_);
    conn->socket = std::move(socket);
    if (fsm_.state() == State::kIdle) dispatch(ManualStart{.passive_tcp = true});
    if (conn_) {  // a dial in flight: the accepted connection replaces it (RFC 4271 §8.2.2 Connect)
        conn_->close_now();
        conn_.reset();
    }
    begin(std::move(conn), false);
}

void Session::send(std::vector<Bytes> messages) {
    if (fsm_.state() != State::kEstablished || !conn_) return;
    updates_out_ += messages.size();
    for (auto& m : messages) send_raw(std::move(m));
}

std::optional<IpAddress> Session::local_address() const {
    if (!conn_ || !conn_->socket.is_open()) return std::nullopt;
    boost::system::error_code ec;
    auto ep = conn_->socket.local_endpoint(ec);
    if (ec) return std::nullopt;
    return to_ip(ep.address());
}

EncodeContext Session::encode_context() const { return fsm_.negotiated().encode_context(); }

bool Session::drained() const noexcept {
    if (conn_ && conn_->socket.is_open()) return false;
    for (const auto& w : closing_) {
        if (auto c = w.lock(); c && c->socket.is_open()) return false;
    }
    return true;
}

void Session::dispatch(const Event& event) {
    auto self = shared_from_this();  // an owner callback may let go of us
    const State before = fsm_.state();
    auto actions = fsm_.handle(event);
    for (const auto& a : actions) execute(a);
    const State after = fsm_.state();
    if (before != after) {
        log::get("bgp")->info("{}: {} -> {}", opts_.log_prefix, to_string(before), to_string(after));
        if (owner_) owner_->session_state_changed(*this, before, after);
    }
}

void Session::execute(const Action& action) {
    std::visit(Overloaded{
                   [&](const Connect&) { do_connect(); },
                   [&](const CloseTcp&) { close_connection(); },
                   [&](const SendOpen& a) {
                       log::get("bgp")->debug("{}: send OPEN as {} hold {} id {}", opts_.log_prefix,
                                              opts_.fsm.local_as, a.open.hold_time, a.open.bgp_id);
                       send_raw(encode(Message{a.open}));
                   },
                   [&](const SendKeepalive&) {
                       log::get("bgp")->trace("{}: send KEEPALIVE", opts_.log_prefix);
                       send_raw(encode(Message{KeepaliveMessage{}}));
                   },
                   [&](const SendNotification& a) {
                       last_error_ = "sent " + describe_notification(a.code, a.subcode, a.data);
                       notification_sent_ = NotificationRecord{{a.code, a.subcode, a.data}, std::chrono::system_clock::now()};
                       log::get("bgp")->info("{}: NOTIFICATION {}", opts_.log_prefix, last_error_);
                       send_raw(encode(Message{NotificationMessage{a.code, a.subcode, a.data}}));
                   },
                   [&](const ArmTimer& a) {
                       const auto i = index(a.timer);
                       const auto seq = ++timer_seq_[i];
                       timers_[i]->expires_after(a.after);
                       timers_[i]->async_wait(
                           [weak = weak_from_this(), t = a.timer, i, seq](boost::system::error_code ec) {
                               auto s = weak.lock();
                               if (!s || ec || s->timer_seq_[i] != seq) return;
                               s->dispatch(TimerExpired{t});
                           });
                   },
                   [&](const CancelTimer& a) {
                       const auto i = index(a.timer);
                       ++timer_seq_[i];
                       timers_[i]->cancel();
                   },
                   [&](const SessionUp&) {
                       last_error_.clear();  // a failed dial before this one is history now
                       if (owner_) owner_->session_up(*this);
                   },
                   [&](const SessionDown& a) {
                       if (owner_) owner_->session_down(*this, a.reason, a.notification);
                   },
               },
               action);
}

void Session::do_connect() {
    auto conn = std::make_shared<Connection>(ioc_);
    if (conn_) conn_->close_now();
    conn_ = conn;
    outgoing_ = true;
    const tcp::endpoint remote{to_asio(opts_.remote), opts_.remote_port};
    boost::system::error_code ec;
    conn->socket.open(remote.protocol(), ec);
    if (!ec && opts_.local_bind) {
        conn->socket.set_option(tcp::socket::reuse_address(true), ec);
        if (!ec) conn->socket.bind(tcp::endpoint{to_asio(*opts_.local_bind), 0}, ec);
    }
    std::string error;
    if (ec) {
        error = "connect: " + ec.message();
    } else if (auto r = secure(conn->socket); !r) {
        // Before connect: the SYN itself carries the MD5 signature and the TTL (RFC 2385, 5082).
        error = r.error();
        log::get("bgp")->warn("{}: cannot connect: {}", opts_.log_prefix, error);
    }
    if (!error.empty()) {
        last_error_ = std::move(error);
        // Not from inside the action list being executed: the failure is a later event.
        asio::post(ioc_, [weak = weak_from_this(), conn] {
            auto s = weak.lock();
            if (s && s->conn_ == conn) s->dispatch(TcpConnectionFails{});
        });
        return;
    }
    log::get("bgp")->debug("{}: connecting to {} port {}", opts_.log_prefix, opts_.remote.to_string(),
                           opts_.remote_port);
    conn->socket.async_connect(remote, [weak = weak_from_this(), conn](boost::system::error_code cec) {
        auto s = weak.lock();
        if (!s || s->conn_ != conn) return;
        if (cec) {
            s->last_error_ = "connect: " + cec.message();
            log::get("bgp")->debug("{}: {}", s->opts_.log_prefix, s->last_error_);
            s->dispatch(TcpConnectionFails{});
            return;
        }
        s->begin(conn, true);
    });
}

void Session::begin(std::shared_ptr<Connection> conn, bool outgoing) {
    boost::system::error_code ec;
    conn->socket.set_option(tcp::no_delay(true), ec);
    conn_ = conn;
    outgoing_ = outgoing;
    dispatch(TcpConnected{});
    if (conn_ == conn && fsm_.state() == State::kOpenSent) read_more(conn);
}

void Session::read_more(const std::shared_ptr<Connection>& conn) {
    auto* data = conn->rbuf.data() + conn->rlen;
    const auto room = conn->rbuf.size() - conn->rlen;
    conn->socket.async_read_some(asio::buffer(data, room), [weak = weak_from_this(), conn](
                                                               boost::system::error_code ec, std::size_t n) {
        auto s = weak.lock();
        if (!s || s->conn_ != conn) return;
        if (ec) {
            s->last_error_ = ec == asio::error::eof ? std::string{"connection closed by peer"} : ec.message();
            log::get("bgp")->debug("{}: read: {}", s->opts_.log_prefix, s->last_error_);
            s->dispatch(TcpConnectionFails{});
            return;
        }
        // A full buffer means more is waiting: read bigger chunks while the peer sends a table.
        if (n == conn->rbuf.size() - conn->rlen && conn->rbuf.size() < kMaxReadBuffer)
            conn->rbuf.resize(std::min(kMaxReadBuffer, conn->rbuf.size() * 2));
        conn->rlen += n;
        s->on_bytes(conn);
    });
}

void Session::on_bytes(const std::shared_ptr<Connection>& conn) {
    auto self = shared_from_this();
    std::size_t used = 0;  // bytes of rbuf consumed by whole messages; moved out once per read
    while (conn_ == conn) {
        std::span<const std::uint8_t> buf{conn->rbuf.data() + used, conn->rlen - used};
        // RFC 8654 §4: OPEN and KEEPALIVE stay within 4096 octets; only what follows may be longer.
        auto framed = frame_length(buf, fsm_.negotiated().extended_message);
        if (!framed) {
            log::get("bgp")->warn("{}: bad message header: {}", opts_.log_prefix, framed.error().detail);
            dispatch(MessageDecodeFailed{framed.error()});
            return;
        }
        if (!*framed) break;
        if (**framed > buf.size()) {
            if (**framed > conn->rbuf.size()) conn->rbuf.resize(std::min(kMaxReadBuffer, 2 * **framed));
            break;
        }
        const std::size_t n = **framed;
        const DecodeContext ctx = fsm_.negotiated().decode_context(opts_.fsm.remote_as != opts_.fsm.local_as);
        auto msg = decode_message(buf.first(n), ctx);
        used += n;
        ++messages_in_;
        if (!msg) {
            log::get("bgp")->warn("{}: bad message: {} ({})", opts_.log_prefix,
                                  notification_to_string(msg.error().code, msg.error().subcode), msg.error().detail);
            dispatch(MessageDecodeFailed{msg.error()});
            return;
        }
        handle_message(std::move(*msg));
    }
    if (conn_ != conn) return;
    std::memmove(conn->rbuf.data(), conn->rbuf.data() + used, conn->rlen - used);
    conn->rlen -= used;
    if (conn->socket.is_open()) read_more(conn);
}

void Session::handle_message(Message&& msg) {
    if (log::enabled(spdlog::level::debug)) log::get("bgp")->debug("{}: received {}", opts_.log_prefix, message_name(msg));
    std::visit(Overloaded{
                   [&](OpenMessage& m) {
                       dispatch(OpenReceived{m});
                       if (fsm_.state() == State::kOpenConfirm && owner_) owner_->session_open_received(*this);
                   },
                   [&](UpdateMessage& m) {
                       ++updates_in_;
                       const bool was_up = fsm_.state() == State::kEstablished;
                       dispatch(UpdateReceived{});
                       if (was_up && fsm_.state() == State::kEstablished && owner_) {
                           owner_->session_update(*this, std::move(m));
                       }
                   },
                   [&](NotificationMessage& m) {
                       last_error_ = "received " + describe_notification(m.code, m.subcode, m.data);
                       notification_received_ = NotificationRecord{m, std::chrono::system_clock::now()};
                       log::get("bgp")->warn("{}: NOTIFICATION {}", opts_.log_prefix, last_error_);
                       dispatch(NotificationReceived{m});
                   },
                   [&](KeepaliveMessage&) { dispatch(KeepaliveReceived{}); },
                   [&](RouteRefreshMessage& m) {
                       const bool was_up = fsm_.state() == State::kEstablished;
                       dispatch(RouteRefreshReceived{});
                       if (was_up && fsm_.state() == State::kEstablished && owner_) {
                           owner_->session_route_refresh(*this, m);
                       }
                   },
               },
               msg);
}

void Session::send_raw(Bytes bytes) {
    if (!conn_) return;
    ++messages_out_;
    conn_->send(std::move(bytes));
}

void Session::close_connection() {
    if (!conn_) return;
    conn_->close();
    std::erase_if(closing_, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
    if (conn_->socket.is_open()) closing_.push_back(conn_);
    conn_.reset();
}

}  // namespace kroute::bgp
