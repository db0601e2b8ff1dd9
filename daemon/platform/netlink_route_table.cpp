#include "daemon/platform/netlink_route_table.hpp"

#include <net/if.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/rtnl.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "daemon/platform/nl_ptr.hpp"

namespace kroute::daemon {
namespace {

class NlCategory final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "libnl"; }
    [[nodiscard]] std::string message(int code) const override { return nl_geterror(code); }
};

std::error_code nl_error(int negative_nle) { return {negative_nle < 0 ? -negative_nle : negative_nle, nl_category()}; }
std::error_code sys_error(int errno_value) { return {errno_value, std::system_category()}; }

// Requests per sendmsg and per ack collection: the acks of one batch must fit the socket's receive
// buffer (each queued ack costs a few hundred bytes of skb), and one batch's requests must stay
// below the send buffer.
constexpr std::size_t kBatchOps = 128;
constexpr std::size_t kBatchBytes = 24 * 1024;
constexpr int kWriteRcvBuf = 1 << 20;
constexpr int kEventRcvBuf = 8 << 20;
constexpr int kDumpAttempts = 3;
constexpr int kMaxReadsPerDump = 1 << 20;  // a bound, far above any real table (~1 KB..8 KB per read)

struct FreeBuf {
    void operator()(unsigned char* p) const noexcept { std::free(p); }
};

// One nl_recv(): the buffer, its length, or 0 when nothing came before the socket's timeout (or
// EAGAIN on a non-blocking socket), or a negative NLE code.
struct Received {
    std::unique_ptr<unsigned char, FreeBuf> buf;
    int len = 0;
};
Received receive(nl_sock* sk) {
    sockaddr_nl peer{};
    unsigned char* raw = nullptr;
    int n = nl_recv(sk, &peer, &raw, nullptr);
    Received r{std::unique_ptr<unsigned char, FreeBuf>(raw), n};
    if (n == -NLE_AGAIN) r.len = 0;
    return r;
}

IpAddress address_from(const nl_addr* a, int family) {
    const auto len = static_cast<std::size_t>(nl_addr_get_len(a));
    const auto* bytes = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
    if (family == AF_INET) {
        std::array<std::uint8_t, 4> b{};
        if (bytes != nullptr) std::memcpy(b.data(), bytes, std::min(len, b.size()));
        return IpAddress::v4(b);
    }
    std::array<std::uint8_t, 16> b{};
    if (bytes != nullptr) std::memcpy(b.data(), bytes, std::min(len, b.size()));
    return IpAddress::v6(b);
}

std::optional<KernelRoute> kernel_route_from(rtnl_route* r) {
    const int family = rtnl_route_get_family(r);
    if (family != AF_INET && family != AF_INET6) return std::nullopt;
    if ((rtnl_route_get_flags(r) & RTM_F_CLONED) != 0) return std::nullopt;  // IPv6 exceptions
    nl_addr* dst = rtnl_route_get_dst(r);
    if (dst == nullptr) return std::nullopt;
    KernelRoute kr;
    kr.route.prefix = Prefix(address_from(dst, family), static_cast<int>(nl_addr_get_prefixlen(dst)));
    kr.protocol = rtnl_route_get_protocol(r);
    kr.table = rtnl_route_get_table(r);
    const int n = rtnl_route_get_nnexthops(r);
    for (int i = 0; i < n; ++i) {
        rtnl_nexthop* nh = rtnl_route_nexthop_n(r, i);
        if (nh == nullptr) continue;
        nl_addr* gw = rtnl_route_nh_get_gateway(nh);
        if (gw == nullptr || nl_addr_get_family(gw) != family) continue;  // device routes, RTA_VIA
        const IpAddress hop = address_from(gw, family);
        kr.route.next_hops.push_back(hop);
        // The device matters only for on-link routes (ours through the overlay) and link-local
        // gateways (meaningless without it); for the others it is whatever the kernel resolved
        // the gateway to.
        const bool onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
        if (onlink) kr.route.onlink = true;
        if (onlink || hop.is_link_local()) {
            char name[IF_NAMESIZE] = {};
            if (if_indextoname(static_cast<unsigned>(rtnl_route_nh_get_ifindex(nh)), name) != nullptr) kr.route.dev = name;
        }
    }
    return kr;
}

std::optional<KernelRoute> parse_route(nlmsghdr* hdr) {
    rtnl_route* raw = nullptr;
    if (rtnl_route_parse(hdr, &raw) < 0 || raw == nullptr) return std::nullopt;
    NlPtr<rtnl_route> route(raw);
    return kernel_route_from(route.get());
}

NlPtr<nl_addr> nl_address(const IpAddress& a, int prefix_length) {
    NlPtr<nl_addr> out(nl_addr_build(a.is_v4() ? AF_INET : AF_INET6, a.data(), a.size()));
    if (out) nl_addr_set_prefixlen(out.get(), prefix_length);
    return out;
}

}  // namespace

const std::error_category& nl_category() noexcept {
    static const NlCategory category;
    return category;
}

// ---------------------------------------------------------------------------------------------
// NetlinkRouteTable

struct NetlinkRouteTable::Sock {
    NlPtr<nl_sock> sk;
    std::uint8_t protocol = 0;
    std::uint32_t table = 0;

    // Builds RTM_NEWROUTE (create|replace) or RTM_DELROUTE for one op, sequence number `seq`.
    Expected<NlPtr<nl_msg>, std::error_code> build(const RouteOp& op, std::uint32_t seq) const {
        const Prefix& p = op.route.prefix;
        NlPtr<rtnl_route> route(rtnl_route_alloc());
        NlPtr<nl_addr> dst = nl_address(p.address(), p.length());
        if (!route || !dst) return unexpected(sys_error(ENOMEM));
        rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(p.family() == Family::kIpv4 ? AF_INET : AF_INET6));
        if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0) return unexpected(nl_error(err));
        rtnl_route_set_table(route.get(), table);
        rtnl_route_set_protocol(route.get(), protocol);
        // Explicit, or libnl guesses "link" for a gateway-less delete and the kernel finds no match.
        rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
        rtnl_route_set_type(route.get(), RTN_UNICAST);
        nl_msg* raw = nullptr;
        int err = 0;
        if (op.kind == RouteOpKind::kReplace) {
            int ifindex = 0;
            if (!op.route.dev.empty()) {
                ifindex = static_cast<int>(if_nametoindex(op.route.dev.c_str()));
                if (ifindex == 0) return unexpected(sys_error(ENODEV));
            }
            for (const auto& hop : op.route.next_hops) {
                NlPtr<rtnl_nexthop> nh(rtnl_route_nh_alloc());
                NlPtr<nl_addr> gw = nl_address(hop, hop.max_prefix_length());
                if (!nh || !gw) return unexpected(sys_error(ENOMEM));
                if (ifindex != 0) rtnl_route_nh_set_ifindex(nh.get(), ifindex);
                if (op.route.onlink) rtnl_route_nh_set_flags(nh.get(), RTNH_F_ONLINK);
                rtnl_route_nh_set_gateway(nh.get(), gw.get());  // takes its own reference
                rtnl_route_add_nexthop(route.get(), nh.release());  // the route owns the next hop
            }
            err = rtnl_route_build_add_request(route.get(), NLM_F_CREATE | NLM_F_REPLACE, &raw);
        } else {
            // No next hops: the kernel deletes the route (all hops of a multipath one) whose
            // prefix, table and protocol match; rtm_protocol keeps other protocols' routes safe.
            err = rtnl_route_build_del_request(route.get(), 0, &raw);
        }
        if (err < 0) return unexpected(nl_error(err));
        NlPtr<nl_msg> msg(raw);
        nlmsghdr* hdr = nlmsg_hdr(msg.get());
        hdr->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        hdr->nlmsg_seq = seq;
        hdr->nlmsg_pid = nl_socket_get_local_port(sk.get());
        return msg;
    }

    // Sends one batch of already-built requests in a single sendmsg and collects one ack each.
    void send_and_collect(const std::vector<unsigned char>& buf,
                          std::unordered_map<std::uint32_t, std::size_t>& pending,
                          std::vector<std::error_code>& results) {
        int sent = nl_sendto(sk.get(), const_cast<unsigned char*>(buf.data()), buf.size());
        if (sent < 0) {
            for (const auto& [seq, index] : pending) results[index] = nl_error(sent);
            pending.clear();
            return;
        }
        // Bounded: each read yields at least one ack, or times out (SO_RCVTIMEO), or fails.
        for (std::size_t reads = 0; !pending.empty() && reads <= results.size() + 8; ++reads) {
            Received r = receive(sk.get());
            if (r.len <= 0) {
                const std::error_code ec = r.len == 0 ? sys_error(ETIMEDOUT) : nl_error(r.len);
                for (const auto& [seq, index] : pending) results[index] = ec;
                pending.clear();
                return;
            }
            int remaining = r.len;
            for (auto* hdr = reinterpret_cast<nlmsghdr*>(r.buf.get()); nlmsg_ok(hdr, remaining);
                 hdr = nlmsg_next(hdr, &remaining)) {
                if (hdr->nlmsg_type != NLMSG_ERROR) continue;
                auto it = pending.find(hdr->nlmsg_seq);
                if (it == pending.end()) continue;  // a late ack of an earlier, timed-out batch
                if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
                    results[it->second] = nl_error(-NLE_MSG_TRUNC);
                } else {
                    const auto* e = static_cast<const nlmsgerr*>(nlmsg_data(hdr));
                    if (e->error != 0) results[it->second] = sys_error(-e->error);
                }
                pending.erase(it);
            }
        }
        for (const auto& [seq, index] : pending) results[index] = sys_error(ETIMEDOUT);
        pending.clear();
    }
};

NetlinkRouteTable::NetlinkRouteTable(std::unique_ptr<Sock> sock) : sock_{std::move(sock)} {}
NetlinkRouteTable::NetlinkRouteTable(NetlinkRouteTable&&) noexcept = default;
NetlinkRouteTable& NetlinkRouteTable::operator=(NetlinkRouteTable&&) noexcept = default;
NetlinkRouteTable::~NetlinkRouteTable() = default;

Expected<NetlinkRouteTable, std::error_code> NetlinkRouteTable::open(std::uint8_t protocol, std::uint32_t table) {
    auto s = std::make_unique<Sock>();
    s->sk.reset(nl_socket_alloc());
    if (!s->sk) return unexpected(sys_error(ENOMEM));
    s->protocol = protocol;
    s->table = table;
    nl_socket_disable_auto_ack(s->sk.get());  // we ask for acks ourselves, per request
    if (int err = nl_connect(s->sk.get(), NETLINK_ROUTE); err < 0) return unexpected(nl_error(err));
    if (int err = nl_socket_set_buffer_size(s->sk.get(), kWriteRcvBuf, 0); err < 0) return unexpected(nl_error(err));
    const int fd = nl_socket_get_fd(s->sk.get());
    int one = 1;
    // Error acks without a copy of the request (Linux >= 4.3); harmless when unsupported.
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    timeval timeout{5, 0};  // every read below is bounded by this
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) return unexpected(sys_error(errno));
    return NetlinkRouteTable(std::move(s));
}

Expected<std::vector<KernelRoute>, std::error_code> NetlinkRouteTable::dump() {
    nl_sock* sk = sock_->sk.get();
    std::error_code last;
    for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
        NlPtr<nl_msg> req(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP));
        if (!req) return unexpected(sys_error(ENOMEM));
        rtmsg rtm{};
        rtm.rtm_family = AF_UNSPEC;
        if (int err = nlmsg_append(req.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO); err < 0) return unexpected(nl_error(err));
        nlmsghdr* h = nlmsg_hdr(req.get());
        const std::uint32_t seq = nl_socket_use_seq(sk);
        h->nlmsg_seq = seq;
        h->nlmsg_pid = nl_socket_get_local_port(sk);
        if (int err = nl_sendto(sk, h, h->nlmsg_len); err < 0) return unexpected(nl_error(err));

        std::vector<KernelRoute> routes;
        bool done = false;
        bool interrupted = false;
        std::error_code failed;
        for (int reads = 0; !done && !failed && reads < kMaxReadsPerDump; ++reads) {
            Received r = receive(sk);
            if (r.len <= 0) {
                failed = r.len == 0 ? sys_error(ETIMEDOUT) : nl_error(r.len);
                break;
            }
            int remaining = r.len;
            for (auto* hdr = reinterpret_cast<nlmsghdr*>(r.buf.get()); nlmsg_ok(hdr, remaining);
                 hdr = nlmsg_next(hdr, &remaining)) {
                if (hdr->nlmsg_seq != seq) continue;  // a late ack of an earlier batch
                if ((hdr->nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
                if (hdr->nlmsg_type == NLMSG_DONE) {
                    done = true;
                    break;
                }
                if (hdr->nlmsg_type == NLMSG_ERROR) {
                    const auto* e = static_cast<const nlmsgerr*>(nlmsg_data(hdr));
                    failed = sys_error(hdr->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) && e->error != 0 ? -e->error : EPROTO);
                    break;
                }
                if (hdr->nlmsg_type != RTM_NEWROUTE) continue;
                if (auto kr = parse_route(hdr)) routes.push_back(std::move(*kr));
            }
        }
        if (failed) return unexpected(failed);
        if (!done) return unexpected(sys_error(EMSGSIZE));
        if (!interrupted) return routes;
        last = nl_error(-NLE_DUMP_INTR);
    }
    return unexpected(last);
}

std::vector<std::error_code> NetlinkRouteTable::apply(std::span<const RouteOp> ops) {
    std::vector<std::error_code> results(ops.size());
    std::vector<unsigned char> buf;
    buf.reserve(kBatchBytes + 1024);
    std::unordered_map<std::uint32_t, std::size_t> pending;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const std::uint32_t seq = nl_socket_use_seq(sock_->sk.get());
        auto msg = sock_->build(ops[i], seq);
        if (!msg) {
            results[i] = msg.error();
        } else {
            const nlmsghdr* hdr = nlmsg_hdr(msg->get());
            const auto* bytes = reinterpret_cast<const unsigned char*>(hdr);
            buf.insert(buf.end(), bytes, bytes + hdr->nlmsg_len);
            buf.resize(NLMSG_ALIGN(buf.size()));
            pending.emplace(seq, i);
        }
        if (!pending.empty() && (pending.size() >= kBatchOps || buf.size() >= kBatchBytes || i + 1 == ops.size())) {
            sock_->send_and_collect(buf, pending, results);
            buf.clear();
        }
    }
    return results;
}

// ---------------------------------------------------------------------------------------------
// NetlinkEvents

struct NetlinkEvents::Sock {
    NlPtr<nl_sock> sk;
};

NetlinkEvents::NetlinkEvents(std::unique_ptr<Sock> sock) : sock_{std::move(sock)} {}
NetlinkEvents::NetlinkEvents(NetlinkEvents&&) noexcept = default;
NetlinkEvents& NetlinkEvents::operator=(NetlinkEvents&&) noexcept = default;
NetlinkEvents::~NetlinkEvents() = default;

int NetlinkEvents::fd() const noexcept { return nl_socket_get_fd(sock_->sk.get()); }

Expected<NetlinkEvents, std::error_code> NetlinkEvents::open() {
    auto s = std::make_unique<Sock>();
    s->sk.reset(nl_socket_alloc());
    if (!s->sk) return unexpected(sys_error(ENOMEM));
    nl_socket_disable_seq_check(s->sk.get());  // notifications carry no sequence of ours
    if (int err = nl_connect(s->sk.get(), NETLINK_ROUTE); err < 0) return unexpected(nl_error(err));
    if (int err = nl_socket_add_memberships(s->sk.get(), RTNLGRP_IPV4_ROUTE, RTNLGRP_LINK, 0); err < 0)
        return unexpected(nl_error(err));
    // Without IPv6 in the kernel the group does not exist; IPv4 still works.
    (void)nl_socket_add_memberships(s->sk.get(), RTNLGRP_IPV6_ROUTE, 0);
    if (int err = nl_socket_set_nonblocking(s->sk.get()); err < 0) return unexpected(nl_error(err));
    const int fd = nl_socket_get_fd(s->sk.get());
    // Our own writes come back as notifications too: a large initial load would overflow the
    // default buffer. Overflow is survivable (a dump follows), but rare is better. FORCE needs
    // CAP_NET_ADMIN, which kroute has; otherwise take what rmem_max allows.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kEventRcvBuf, sizeof kEventRcvBuf) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kEventRcvBuf, sizeof kEventRcvBuf);
    return NetlinkEvents(std::move(s));
}

Expected<NetlinkEvents::Batch, std::error_code> NetlinkEvents::read_pending(int max_reads) {
    Batch batch;
    for (int reads = 0; reads < max_reads; ++reads) {
        Received r = receive(sock_->sk.get());
        if (r.len == 0) break;  // drained
        if (r.len == -NLE_NOMEM) {  // ENOBUFS: the kernel dropped notifications
            batch.overflow = true;
            continue;
        }
        if (r.len < 0) return unexpected(nl_error(r.len));
        int remaining = r.len;
        for (auto* hdr = reinterpret_cast<nlmsghdr*>(r.buf.get()); nlmsg_ok(hdr, remaining);
             hdr = nlmsg_next(hdr, &remaining)) {
            switch (hdr->nlmsg_type) {
            case RTM_NEWLINK:
            case RTM_DELLINK:
                batch.events.push_back({KernelEvent::Kind::kLink, {}});
                break;
            case RTM_NEWROUTE:
            case RTM_DELROUTE:
                if (auto kr = parse_route(hdr)) {
                    auto kind = hdr->nlmsg_type == RTM_NEWROUTE ? KernelEvent::Kind::kNewRoute : KernelEvent::Kind::kDelRoute;
                    batch.events.push_back({kind, std::move(*kr)});
                }
                break;
            case NLMSG_OVERRUN:
                batch.overflow = true;
                break;
            default:
                break;
            }
        }
    }
    return batch;
}

}  // namespace kroute::daemon
