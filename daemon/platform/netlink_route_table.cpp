#include "daemon/platform/netlink_route_table.hpp"

#include <net/if.h>

#include <linux/if.h>

#include <arpa/inet.h>
#include <linux/filter.h>
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
constexpr std::size_t kBatchOps = 256;
constexpr std::size_t kBatchBytes = 32 * 1024;
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
        if (gw == nullptr) gw = rtnl_route_nh_get_via(nh);  // an IPv4 route via IPv6 (RFC 8950)
        if (gw == nullptr) continue;  // a device route
        const int gw_family = nl_addr_get_family(gw);
        if (gw_family != AF_INET && gw_family != AF_INET6) continue;
        const IpAddress hop = address_from(gw, gw_family);
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
    std::uint32_t port = 0;

    // Appends RTM_NEWROUTE (create|replace) or RTM_DELROUTE for one op to `buf`, built by hand: a
    // million routes through libnl's objects cost more than the kernel's own work. `ack` asks for
    // an answer on success too; without it the kernel answers only failures.
    std::error_code build(const RouteOp& op, std::uint32_t seq, bool ack, std::vector<unsigned char>& buf) const {
        const Prefix& p = op.route.prefix;
        const bool replace = op.kind == RouteOpKind::kReplace;
        int ifindex = 0;
        if (replace && !op.route.dev.empty()) {
            ifindex = static_cast<int>(if_nametoindex(op.route.dev.c_str()));
            if (ifindex == 0) return sys_error(ENODEV);
        }
        const std::size_t start = buf.size();
        buf.resize(start + NLMSG_SPACE(sizeof(rtmsg)));
        auto* rtm = reinterpret_cast<rtmsg*>(buf.data() + start + NLMSG_HDRLEN);
        rtm->rtm_family = static_cast<unsigned char>(p.family() == Family::kIpv4 ? AF_INET : AF_INET6);
        rtm->rtm_dst_len = static_cast<unsigned char>(p.length());
        rtm->rtm_table = static_cast<unsigned char>(table < 256 ? table : RT_TABLE_UNSPEC);
        rtm->rtm_protocol = protocol;
        // Explicit: the kernel's defaults for a gateway-less delete would not match our route.
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        append_attr(buf, RTA_DST, p.address().data(), p.address().size());
        append_attr(buf, RTA_TABLE, &table, sizeof table);
        if (replace) {
            const auto& hops = op.route.next_hops;
            if (hops.size() == 1) {
                append_gateway(buf, p, hops[0]);
                if (ifindex != 0) append_attr(buf, RTA_OIF, &ifindex, sizeof ifindex);
                if (op.route.onlink)
                    reinterpret_cast<rtmsg*>(buf.data() + start + NLMSG_HDRLEN)->rtm_flags |= RTNH_F_ONLINK;
            } else {
                const std::size_t mp = buf.size();
                append_attr(buf, RTA_MULTIPATH, nullptr, 0);
                for (const auto& hop : hops) {
                    const std::size_t nh = buf.size();
                    buf.resize(nh + RTNH_ALIGN(sizeof(rtnexthop)));
                    append_gateway(buf, p, hop);
                    auto* rtnh = reinterpret_cast<rtnexthop*>(buf.data() + nh);
                    rtnh->rtnh_len = static_cast<unsigned short>(buf.size() - nh);
                    rtnh->rtnh_flags = op.route.onlink ? RTNH_F_ONLINK : 0;
                    rtnh->rtnh_ifindex = ifindex;
                }
                reinterpret_cast<rtattr*>(buf.data() + mp)->rta_len = static_cast<unsigned short>(buf.size() - mp);
            }
        }
        auto* hdr = reinterpret_cast<nlmsghdr*>(buf.data() + start);
        hdr->nlmsg_len = static_cast<std::uint32_t>(buf.size() - start);
        hdr->nlmsg_type = replace ? RTM_NEWROUTE : RTM_DELROUTE;
        hdr->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) |
                                                      (replace ? NLM_F_CREATE | NLM_F_REPLACE : 0));
        hdr->nlmsg_seq = seq;
        hdr->nlmsg_pid = port;
        return {};
    }

    // RTA_GATEWAY, or RTA_VIA for an IPv6 next hop of an IPv4 prefix (RFC 8950; Linux 5.2 and later).
    static void append_gateway(std::vector<unsigned char>& buf, const Prefix& p, const IpAddress& hop) {
        if (hop.family() == p.family()) return append_attr(buf, RTA_GATEWAY, hop.data(), hop.size());
        std::array<unsigned char, sizeof(rtvia) + 16> via{};
        const auto family = static_cast<__kernel_sa_family_t>(hop.is_v4() ? AF_INET : AF_INET6);
        std::memcpy(via.data(), &family, sizeof family);
        std::memcpy(via.data() + sizeof(rtvia), hop.data(), hop.size());
        append_attr(buf, RTA_VIA, via.data(), sizeof(rtvia) + hop.size());
    }

    static void append_attr(std::vector<unsigned char>& buf, unsigned short type, const void* data, std::size_t len) {
        const std::size_t at = buf.size();
        buf.resize(at + RTA_SPACE(len));  // zero-filled, padding included
        auto* rta = reinterpret_cast<rtattr*>(buf.data() + at);
        rta->rta_type = type;
        rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        if (len != 0) std::memcpy(RTA_DATA(rta), data, len);
    }

    // Sends one batch of requests with sequence numbers first_seq.. in a single sendmsg. Only the
    // last asks for an ack: the kernel handles a batch in order, so once that ack is in, every
    // failure before it has been answered too, and a request without an answer succeeded.
    // `results[index_of_first + k]` receives request k's error.
    void send_and_collect(const std::vector<unsigned char>& buf, std::uint32_t first_seq, std::uint32_t last_seq,
                          std::span<const std::size_t> indexes, std::vector<std::error_code>& results) {
        auto fail_all = [&](std::error_code ec) {
            for (std::size_t i : indexes) results[i] = ec;
        };
        int sent = nl_sendto(sk.get(), const_cast<unsigned char*>(buf.data()), buf.size());
        if (sent < 0) return fail_all(nl_error(sent));
        // Bounded: each read yields at least one message, or times out (SO_RCVTIMEO), or fails.
        for (std::size_t reads = 0; reads <= indexes.size() + 8; ++reads) {
            Received r = receive(sk.get());
            if (r.len <= 0) return fail_all(r.len == 0 ? sys_error(ETIMEDOUT) : nl_error(r.len));
            int remaining = r.len;
            for (auto* hdr = reinterpret_cast<nlmsghdr*>(r.buf.get()); nlmsg_ok(hdr, remaining);
                 hdr = nlmsg_next(hdr, &remaining)) {
                if (hdr->nlmsg_type != NLMSG_ERROR) continue;
                const std::uint32_t seq = hdr->nlmsg_seq;
                if (seq - first_seq > last_seq - first_seq) continue;  // a late answer of an earlier batch
                std::error_code& result = results[indexes[seq - first_seq]];
                if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
                    result = nl_error(-NLE_MSG_TRUNC);
                } else {
                    const auto* e = static_cast<const nlmsgerr*>(nlmsg_data(hdr));
                    if (e->error != 0) result = sys_error(-e->error);
                }
                if (seq == last_seq) return;
            }
        }
        fail_all(sys_error(ETIMEDOUT));
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
    s->port = nl_socket_get_local_port(s->sk.get());
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
    std::vector<std::size_t> batch;  // op index of each request in buf, in sequence order
    batch.reserve(kBatchOps);
    std::uint32_t first_seq = 0;
    std::size_t last_offset = 0;  // where the batch's latest request starts in buf
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const std::uint32_t seq = nl_socket_use_seq(sock_->sk.get());
        if (batch.empty()) first_seq = seq;
        // The ack marks the batch's end: ask for it on what will be the batch's last request.
        const bool last = batch.size() + 1 >= kBatchOps || buf.size() + 512 >= kBatchBytes || i + 1 == ops.size();
        const std::size_t before = buf.size();
        if (auto ec = sock_->build(ops[i], seq, last, buf)) {
            buf.resize(before);
            results[i] = ec;
            // Sequence numbers within a batch stay consecutive: a batch ends before a gap.
            if (!batch.empty()) {
                auto* hdr = reinterpret_cast<nlmsghdr*>(buf.data() + last_offset);
                hdr->nlmsg_flags |= NLM_F_ACK;
                sock_->send_and_collect(buf, first_seq, first_seq + static_cast<std::uint32_t>(batch.size()) - 1, batch,
                                        results);
                buf.clear();
                batch.clear();
            }
            continue;
        }
        last_offset = before;
        batch.push_back(i);
        if (last) {
            sock_->send_and_collect(buf, first_seq, seq, batch, results);
            buf.clear();
            batch.clear();
        }
    }
    return results;
}

std::uint32_t NetlinkRouteTable::port_id() const noexcept { return sock_->port; }

// ---------------------------------------------------------------------------------------------
// NetlinkEvents

struct NetlinkEvents::Sock {
    NlPtr<nl_sock> sk;
    // The links seen so far and whether each was up (IFF_UP and IFF_LOWER_UP); bridge ports are
    // not kept (they carry no routes).
    std::unordered_map<int, bool> links;

    // A link message -> a link event worth a look at the routes, if any: an up link going down or
    // away may take routes with it (IPv4 says nothing of routes flushed with their device); a link
    // coming back up lets failed routes be retried. A link seen for the first time (start-up's
    // dump, or a new pod's veth) carried no routes; flag changes other than up/down, and bridge
    // ports (every pod's veth), change no route.
    std::optional<KernelEvent::Kind> link_change(nlmsghdr* hdr) {
        if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return std::nullopt;
        const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(hdr));
        bool port = false;
        int len = static_cast<int>(hdr->nlmsg_len - NLMSG_LENGTH(sizeof(ifinfomsg)));
        for (auto* rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
            if (rta->rta_type == IFLA_MASTER) port = true;
        const bool up = (ifi->ifi_flags & IFF_UP) != 0 && (ifi->ifi_flags & IFF_LOWER_UP) != 0;
        auto it = links.find(ifi->ifi_index);
        if (hdr->nlmsg_type == RTM_DELLINK) {
            if (it == links.end()) return std::nullopt;
            const bool was_up = it->second;
            links.erase(it);
            return was_up ? std::optional(KernelEvent::Kind::kLinkDown) : std::nullopt;
        }
        if (port) {
            if (it != links.end()) links.erase(it);
            return std::nullopt;
        }
        if (it == links.end()) {
            links.emplace(ifi->ifi_index, up);
            return std::nullopt;
        }
        if (it->second == up) return std::nullopt;
        it->second = up;
        return up ? KernelEvent::Kind::kLinkUp : KernelEvent::Kind::kLinkDown;
    }
};

NetlinkEvents::NetlinkEvents(std::unique_ptr<Sock> sock) : sock_{std::move(sock)} {}
NetlinkEvents::NetlinkEvents(NetlinkEvents&&) noexcept = default;
NetlinkEvents& NetlinkEvents::operator=(NetlinkEvents&&) noexcept = default;
NetlinkEvents::~NetlinkEvents() = default;

int NetlinkEvents::fd() const noexcept { return nl_socket_get_fd(sock_->sk.get()); }

Expected<void, std::error_code> NetlinkEvents::ignore_sender(std::uint32_t port) {
    // Each notification is an skb of its own starting with its nlmsghdr; BPF_ABS loads read
    // network byte order, nlmsg_pid is in host order.
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(port), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),           // drop
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  // keep, whole
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    if (setsockopt(fd(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) return unexpected(sys_error(errno));
    return {};
}

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
    // Every current link, read on this socket like any link notification, so that later ones can
    // be compared with it.
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    if (int err = nl_send_simple(s->sk.get(), RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi); err < 0)
        return unexpected(nl_error(err));
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
                if (auto kind = sock_->link_change(hdr)) batch.events.push_back({*kind, {}});
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
