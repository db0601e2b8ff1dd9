#include "bgp/bfd_session.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>

#include "bgp/session.hpp"  // to_ip(), to_asio()
#include "common/log.hpp"

namespace kroute::bgp::bfd {
namespace {

using udp = asio::ip::udp;

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// A removed session keeps sending AdminDown this long at least (RFC 5880 §6.8.16: "for a period
// equal to the Detection Time"; the peer's is at least three of our one-second slow intervals).
constexpr std::chrono::seconds kMinRetireTime{3};
// Datagrams read per wake-up before the other handlers get their turn.
constexpr int kReadBurst = 64;

std::string label(const PeerOptions& o) {
    return "bfd " + o.peer.to_string() + (o.timers.multihop ? " (multihop)" : "");
}

Expected<void, std::string> set_int(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
        return unexpected(std::string{what} + ": " + std::strerror(errno));
    }
    return {};
}

std::optional<IpAddress> from_sockaddr(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, &ss, sizeof sin);
        return IpAddress::v4(ntohl(sin.sin_addr.s_addr));
    }
    if (ss.ss_family == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, &ss, sizeof sin6);
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), &sin6.sin6_addr, 16);
        return IpAddress::v6(b);
    }
    return std::nullopt;
}

}  // namespace

struct Service::Listener {
    explicit Listener(asio::io_context& ioc) : socket{ioc} {}
    udp::socket socket;
    bool v6 = false;
    bool multihop = false;
    std::array<std::uint8_t, 512> buf{};  // a Control packet is at most 255 bytes (one-octet Length)
};

struct Service::Session {
    Session(asio::io_context& ioc, PeerOptions o, const SessionConfig& sc)
        : opts{std::move(o)}, fsm{sc}, socket{ioc}, timers{asio::steady_timer{ioc}, asio::steady_timer{ioc}},
          retire{ioc}, log_prefix{label(opts)} {}
    PeerOptions opts;
    Fsm fsm;
    udp::socket socket;  // send only: the peer's packets come to the listener's well-known port
    udp::endpoint remote;
    std::array<asio::steady_timer, 2> timers;
    std::array<std::uint64_t, 2> timer_seq{};
    asio::steady_timer retire;
    std::string log_prefix;
    std::uint16_t source_port = 0;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
};

Service::Service(asio::io_context& ioc, ServiceConfig cfg)
    : ioc_{ioc}, cfg_{cfg}, rng_{std::random_device{}() | 1ULL} {
    rng_ = rng_ << 32 | std::random_device{}();
    if (rng_ == 0) rng_ = 0x9e3779b97f4a7c15ULL;
}

Service::~Service() {
    handler_ = nullptr;
    // Tell every peer we are going (RFC 5880 §6.8.16) with one last packet; nobody is called back.
    std::vector<StateChange> ignored;
    for (auto& [peer, s] : sessions_) {
        for (const auto& a : s->fsm.handle(AdminDown{})) {
            if (std::holds_alternative<SendPacket>(a)) execute(s, a, ignored);
        }
    }
}

void Service::on_state_change(StateHandler handler) { handler_ = std::move(handler); }

std::uint32_t Service::new_discriminator() {
    // §6.3: nonzero and unique per system; random so that a restarted daemon does not reuse them.
    for (;;) {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        const auto d = static_cast<std::uint32_t>(rng_ >> 16);
        if (d == 0) continue;
        auto it = by_discriminator_.find(d);
        if (it == by_discriminator_.end() || it->second.expired()) return d;
    }
}

Expected<void, std::string> Service::listen(bool v6, bool multihop) {
    for (const auto& l : listeners_) {
        if (l->v6 == v6 && l->multihop == multihop) return {};
    }
    auto l = std::make_shared<Listener>(ioc_);
    l->v6 = v6;
    l->multihop = multihop;
    const std::uint16_t port = multihop ? cfg_.multihop_port : cfg_.single_hop_port;
    const std::string where = std::string{v6 ? "[::]:" : "0.0.0.0:"} + std::to_string(port);
    boost::system::error_code ec;
    l->socket.open(v6 ? udp::v6() : udp::v4(), ec);
    if (!ec && v6) l->socket.set_option(asio::ip::v6_only(true), ec);  // IPv4 has its own listener
    if (!ec) l->socket.bind(udp::endpoint{v6 ? udp::v6() : udp::v4(), port}, ec);
    if (ec) return unexpected("BFD listener on UDP " + where + ": " + ec.message());
    l->socket.non_blocking(true, ec);
    const int fd = l->socket.native_handle();
    // RFC 5881 §5: the received TTL / Hop Limit must be checked for single hop, so ask for it.
    auto r = v6 ? set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT")
                : set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
    if (!r) return unexpected("BFD listener on UDP " + where + ": " + r.error());
    log::get("bfd")->debug("listening on UDP {}{}", where, multihop ? " (multihop)" : "");
    listeners_.push_back(l);
    read_more(l);
    return {};
}

std::uint16_t Service::listen_port(bool v6, bool multihop) const {
    for (const auto& l : listeners_) {
        boost::system::error_code ec;
        if (l->v6 == v6 && l->multihop == multihop) return l->socket.local_endpoint(ec).port();
    }
    return 0;
}

void Service::read_more(const std::shared_ptr<Listener>& l) {
    l->socket.async_wait(udp::socket::wait_read, [this, weak = std::weak_ptr<Listener>(l)](boost::system::error_code ec) {
        auto self = weak.lock();  // gone with the Service: then `this` is too
        if (!self || ec) return;
        const int fd = self->socket.native_handle();
        for (int i = 0; i < kReadBurst; ++i) {
            sockaddr_storage from{};
            iovec iov{self->buf.data(), self->buf.size()};
            alignas(cmsghdr) std::array<char, 2 * CMSG_SPACE(sizeof(int))> control{};
            msghdr m{};
            m.msg_name = &from;
            m.msg_namelen = sizeof from;
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control.data();
            m.msg_controllen = control.size();
            const ssize_t n = ::recvmsg(fd, &m, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                break;  // EAGAIN: drained (other errors: the next wait tells)
            }
            int ttl = -1;
            for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
                if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
                    std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
                }
            }
            if ((m.msg_flags & MSG_TRUNC) != 0) continue;  // longer than any Control packet
            auto src = from_sockaddr(from);
            if (!src) continue;
            on_datagram(*self, std::span<const std::uint8_t>{self->buf.data(), static_cast<std::size_t>(n)}, *src,
                        ttl);
        }
        read_more(self);
    });
}

void Service::on_datagram(const Listener& l, std::span<const std::uint8_t> payload, const IpAddress& from, int ttl) {
    auto p = decode(payload);
    if (!p) {
        if (log::enabled(spdlog::level::debug)) {
            log::get("bfd")->debug("discarded a packet from {}: {} {}", from.to_string(), to_string(p.error().error),
                                   p.error().detail);
        }
        return;
    }
    // §6.8.6: by Your Discriminator if set, else by the source address (RFC 5881 §3).
    std::shared_ptr<Session> s;
    if (p->your_discriminator != 0) {
        if (auto it = by_discriminator_.find(p->your_discriminator); it != by_discriminator_.end()) {
            s = it->second.lock();
        }
    } else if (auto it = sessions_.find(from); it != sessions_.end()) {
        s = it->second;
    }
    if (!s || s->opts.peer != from || s->opts.timers.multihop != l.multihop) {
        log::get("bfd")->debug("discarded a packet from {}: no such session", from.to_string());
        return;
    }
    if (!l.multihop && ttl != kSingleHopTtl) {
        // RFC 5881 §5: not from the link (or forged from further away).
        log::get("bfd")->debug("{}: discarded a packet with TTL {}", s->log_prefix, ttl);
        return;
    }
    ++s->received;
    dispatch(s, PacketReceived{*std::move(p)});
}

Expected<void, std::string> Service::add(const PeerOptions& opts) {
    if (auto it = sessions_.find(opts.peer); it != sessions_.end()) {
        if (it->second->opts == opts) return {};
        remove(opts.peer);
    }
    const bool v6 = opts.peer.is_v6();
    if (opts.local && opts.local->family() != opts.peer.family()) {
        return unexpected(label(opts) + ": local address " + opts.local->to_string() + " is of another family");
    }
    if (auto r = listen(v6, opts.timers.multihop); !r) return r;

    SessionConfig sc;
    sc.local_discriminator = new_discriminator();
    sc.desired_min_tx = opts.timers.desired_min_tx;
    sc.required_min_rx = opts.timers.required_min_rx;
    sc.detect_mult = opts.timers.detect_mult;
    sc.passive = opts.passive;
    sc.jitter_seed = rng_ ^ sc.local_discriminator;
    auto s = std::make_shared<Session>(ioc_, opts, sc);

    boost::system::error_code ec;
    s->socket.open(v6 ? udp::v6() : udp::v4(), ec);
    if (ec) return unexpected(s->log_prefix + ": socket: " + ec.message());
    const int fd = s->socket.native_handle();
    // RFC 5881 §5 (and RFC 5883 §5 for multihop, "SHOULD"): sent with TTL / Hop Limit 255.
    auto r = v6 ? set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kSingleHopTtl, "IPV6_UNICAST_HOPS")
                : set_int(fd, IPPROTO_IP, IP_TTL, kSingleHopTtl, "IP_TTL");
    if (!r) return unexpected(s->log_prefix + ": " + r.error());
    if (v6) s->socket.set_option(asio::ip::v6_only(true), ec);
    // RFC 5881 §4: a source port of 49152-65535, unique per session; start at a random one.
    const auto local = opts.local ? to_asio(*opts.local) : (v6 ? asio::ip::address{asio::ip::address_v6::any()}
                                                               : asio::ip::address{asio::ip::address_v4::any()});
    const unsigned first = std::min(cfg_.source_port_first, cfg_.source_port_last);
    const unsigned range = std::max(cfg_.source_port_first, cfg_.source_port_last) - first + 1;
    const unsigned start = static_cast<unsigned>(sc.local_discriminator % range);
    ec = asio::error::address_in_use;
    for (unsigned i = 0; i < range && ec == asio::error::address_in_use; ++i) {
        const auto port = static_cast<std::uint16_t>(first + (start + i) % range);
        ec = {};
        s->socket.bind(udp::endpoint{local, port}, ec);
        if (!ec) s->source_port = port;
    }
    if (ec) return unexpected(s->log_prefix + ": no source port in " + std::to_string(first) + "-" +
                              std::to_string(first + range - 1) + ": " + ec.message());
    s->socket.non_blocking(true, ec);
    std::uint16_t port = opts.remote_port;
    if (port == 0 && opts.timers.multihop) port = cfg_.remote_multihop_port ? cfg_.remote_multihop_port : cfg_.multihop_port;
    if (port == 0) port = cfg_.remote_single_hop_port ? cfg_.remote_single_hop_port : cfg_.single_hop_port;
    s->remote = udp::endpoint{to_asio(opts.peer), port};

    sessions_[opts.peer] = s;
    by_discriminator_[sc.local_discriminator] = s;
    log::get("bfd")->info("{}: added (tx {} ms, rx {} ms, multiplier {}, discriminator {:#010x}, source port {})",
                          s->log_prefix, opts.timers.desired_min_tx.count() / 1000,
                          opts.timers.required_min_rx.count() / 1000, opts.timers.detect_mult,
                          sc.local_discriminator, s->source_port);
    dispatch(s, AdminUp{});
    return {};
}

void Service::remove(const IpAddress& peer) {
    auto it = sessions_.find(peer);
    if (it == sessions_.end()) return;
    auto s = it->second;
    sessions_.erase(it);
    log::get("bfd")->info("{}: removed", s->log_prefix);
    dispatch(s, AdminDown{});
    retiring_.push_back(s);
    s->retire.expires_after(std::max<std::chrono::steady_clock::duration>(kMinRetireTime, s->fsm.detection_time()));
    s->retire.async_wait([this, weak = std::weak_ptr<Session>(s)](boost::system::error_code ec) {
        auto gone = weak.lock();
        if (!gone || ec) return;
        std::erase(retiring_, gone);
        by_discriminator_.erase(gone->fsm.local_discriminator());
    });
}

std::optional<State> Service::state(const IpAddress& peer) const {
    auto it = sessions_.find(peer);
    if (it == sessions_.end()) return std::nullopt;
    return it->second->fsm.state();
}

std::vector<SessionSnapshot> Service::sessions() const {
    std::vector<SessionSnapshot> out;
    for (const auto& [peer, s] : sessions_) {
        const Fsm& f = s->fsm;
        out.push_back(SessionSnapshot{peer, f.state(), f.remote_state(), f.local_diag(), f.local_discriminator(),
                                      f.remote_discriminator(), s->opts.timers.multihop, s->source_port,
                                      f.transmit_interval(), f.detection_time(), s->received, s->sent});
    }
    return out;
}

void Service::dispatch(const std::shared_ptr<Session>& s, const Event& ev) {
    std::vector<StateChange> changes;
    for (const auto& a : s->fsm.handle(ev)) execute(s, a, changes);
    // Callbacks after all actions ran: the handler may remove this very session.
    for (const auto& c : changes) {
        auto it = sessions_.find(c.peer);
        if (handler_ && it != sessions_.end() && it->second == s) handler_(c);
    }
}

void Service::execute(const std::shared_ptr<Session>& s, const Action& action, std::vector<StateChange>& changes) {
    std::visit(Overloaded{
                   [&](const SendPacket& a) {
                       const Bytes bytes = encode(a.packet);
                       boost::system::error_code ec;
                       s->socket.send_to(asio::buffer(bytes), s->remote, 0, ec);
                       if (ec) {
                           // A lost packet is what BFD is made to survive; no retry.
                           log::get("bfd")->debug("{}: send: {}", s->log_prefix, ec.message());
                           return;
                       }
                       ++s->sent;
                   },
                   [&](const ArmTimer& a) {
                       const auto i = static_cast<std::size_t>(a.timer);
                       const auto seq = ++s->timer_seq[i];
                       s->timers[i].expires_after(a.after);
                       s->timers[i].async_wait([this, weak = std::weak_ptr<Session>(s), t = a.timer, i,
                                                seq](boost::system::error_code ec) {
                           auto self = weak.lock();  // alive only while the Service holds it
                           if (!self || ec || self->timer_seq[i] != seq) return;
                           dispatch(self, TimerExpired{t});
                       });
                   },
                   [&](const CancelTimer& a) {
                       const auto i = static_cast<std::size_t>(a.timer);
                       ++s->timer_seq[i];
                       s->timers[i].cancel();
                   },
                   [&](const StateChanged& a) {
                       const auto level = a.from == State::kUp ? spdlog::level::warn : spdlog::level::info;
                       log::get("bfd")->log(level, "{}: {} -> {} ({})", s->log_prefix, to_string(a.from),
                                            to_string(a.to), to_string(a.diag));
                       changes.push_back(StateChange{s->opts.peer, a.from, a.to, a.diag});
                   },
               },
               action);
}

}  // namespace kroute::bgp::bfd
