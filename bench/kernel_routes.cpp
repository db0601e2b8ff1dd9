// kernel_routes: the kernel-routes benchmark's netlink helper (bench/fib_install.sh), raw rtnetlink,
// no libnl. Three commands, each run inside the namespace under test (`ip netns exec NS ...`):
//
//   write   the reference floor: installs the feed's N prefixes (bench/feed.hpp, same seed, so the
//           same prefixes the BGP feeder announces) via one gateway, then deletes them, as fast as
//           the kernel takes them. --batch B requests per sendmsg; --ack errors: no NLM_F_ACK, the
//           kernel answers only failures (rtnetlink runs each request inside sendmsg, so when the
//           last sendmsg returns the routes are in); --ack all: NLM_F_ACK on every request, every
//           batch's acks read before the next (kroute's way, 128 per batch); --batch 1 --ack all is
//           one request per round trip. --keep installs only; --delete-only deletes only.
//   count   prints how many IPv4 routes of --proto the main table holds (one filtered dump).
//   watch   counts the routes of --proto in the main table exactly and cheaply while daemons write
//           them: subscribes to RTNLGRP_IPV4_ROUTE (a large receive buffer), takes a baseline dump,
//           then follows every RTM_NEWROUTE/RTM_DELROUTE. Prints {"event":"ready"} once following,
//           {"event":"reached","count":N,"t_ms":...} the first time the count reaches --target, and
//           with --then-zero {"event":"empty",...} when it later drops to 0. If the kernel drops
//           notifications (ENOBUFS), it falls back to dumps every --poll-ms and says so ("method").
//
// Every event is a JSON line with wall-clock milliseconds (comparable with `date +%s%3N`); every
// wait is bounded by --deadline (exit 3).
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/feed.hpp"

namespace {

using Clock = std::chrono::steady_clock;

long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

[[noreturn]] void die(int code, const std::string& why) {
    std::printf("{\"event\":\"error\",\"t_ms\":%lld,\"error\":\"%s\"}\n", wall_ms(), why.c_str());
    std::fflush(stdout);
    std::_Exit(code);
}

int open_rtnl(int groups, int rcvbuf) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) die(1, std::string("socket: ") + std::strerror(errno));
    if (rcvbuf > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);  // kernel-side dump filter
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = static_cast<unsigned>(groups);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die(1, std::string("bind: ") + std::strerror(errno));
    return fd;
}

void add_attr(std::vector<unsigned char>& buf, unsigned short type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    a.rta_type = type;
    const std::size_t at = buf.size();
    buf.resize(at + RTA_SPACE(len));
    std::memcpy(buf.data() + at, &a, sizeof a);
    std::memcpy(buf.data() + at + RTA_LENGTH(0), data, len);
}

// Appends one RTM_NEWROUTE (create|replace) or RTM_DELROUTE to `buf`.
void append_request(std::vector<unsigned char>& buf, bool add, const kroute::Prefix& p, std::uint32_t gateway,
                    std::uint8_t proto, bool ack, std::uint32_t seq) {
    const std::size_t start = buf.size();
    buf.resize(start + NLMSG_LENGTH(sizeof(rtmsg)));
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data() + start);
    h->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
    h->nlmsg_flags = static_cast<unsigned short>(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) |
                                                 (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
    h->nlmsg_seq = seq;
    auto* r = static_cast<rtmsg*>(NLMSG_DATA(h));
    r->rtm_family = AF_INET;
    r->rtm_dst_len = static_cast<unsigned char>(p.length());
    r->rtm_table = RT_TABLE_MAIN;
    r->rtm_protocol = proto;
    r->rtm_scope = add ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
    r->rtm_type = RTN_UNICAST;
    add_attr(buf, RTA_DST, p.address().data(), 4);
    if (add) add_attr(buf, RTA_GATEWAY, &gateway, 4);
    reinterpret_cast<nlmsghdr*>(buf.data() + start)->nlmsg_len = static_cast<std::uint32_t>(buf.size() - start);
}

// Reads acks/errors. blocking: until `expect` acks came (or the deadline); else drains what is there.
// Returns how many NLMSG_ERROR messages were read; failures go to *errors and *first_error.
std::size_t read_acks(int fd, std::size_t expect, bool blocking, std::size_t* errors, int* first_error,
                      Clock::time_point deadline) {
    static std::vector<unsigned char> buf(1 << 20);
    std::size_t got = 0;
    while (!blocking || got < expect) {
        if (Clock::now() >= deadline) die(3, "deadline waiting for acks");
        ssize_t n = ::recv(fd, buf.data(), buf.size(), blocking ? 0 : MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN && !blocking) break;
            die(1, std::string("recv: ") + std::strerror(errno));
        }
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            ++got;
            const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            if (e->error != 0) {
                if ((*errors)++ == 0) *first_error = -e->error;
            }
        }
    }
    return got;
}

struct WriteResult {
    double ms = 0;
    std::size_t errors = 0;
    int first_error = 0;
    std::size_t sendmsgs = 0;
};

WriteResult write_all(int fd, const std::vector<kroute::Prefix>& prefixes, bool add, std::uint32_t gateway,
                      std::uint8_t proto, std::size_t batch, bool ack_all, Clock::time_point deadline) {
    WriteResult res;
    std::vector<unsigned char> buf;
    buf.reserve(batch * 64);
    std::uint32_t seq = 1;
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < prefixes.size();) {
        buf.clear();
        std::size_t in_batch = 0;
        for (; in_batch < batch && i < prefixes.size(); ++in_batch, ++i)
            append_request(buf, add, prefixes[i], gateway, proto, ack_all, seq++);
        for (;;) {
            ssize_t n = ::send(fd, buf.data(), buf.size(), 0);
            if (n >= 0) break;
            if (errno == EINTR) continue;
            die(1, std::string("send: ") + std::strerror(errno));
        }
        ++res.sendmsgs;
        read_acks(fd, in_batch, ack_all, &res.errors, &res.first_error, deadline);
    }
    read_acks(fd, 0, false, &res.errors, &res.first_error, deadline);
    res.ms = ms_since(t0);
    return res;
}

// One filtered dump of the main table: how many IPv4 routes of `proto` it holds.
std::size_t dump_count(int fd, std::uint8_t proto, Clock::time_point deadline,
                       std::unordered_set<std::uint64_t>* keys = nullptr) {
    struct {
        nlmsghdr h;
        rtmsg r;
    } req{};
    static std::uint32_t seq = 1u << 30;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
    req.h.nlmsg_type = RTM_GETROUTE;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = ++seq;
    req.r.rtm_family = AF_INET;
    req.r.rtm_table = RT_TABLE_MAIN;
    req.r.rtm_protocol = proto;
    if (::send(fd, &req, req.h.nlmsg_len, 0) < 0) die(1, std::string("send dump: ") + std::strerror(errno));
    static std::vector<unsigned char> buf(1 << 20);
    std::size_t count = 0;
    for (;;) {
        if (Clock::now() >= deadline) die(3, "deadline during a dump");
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            die(1, std::string("recv dump: ") + std::strerror(errno));
        }
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != req.h.nlmsg_seq) continue;
            if (h->nlmsg_type == NLMSG_DONE) return count;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                die(1, std::string("dump: ") + std::strerror(-e->error));
            }
            if (h->nlmsg_type != RTM_NEWROUTE) continue;
            const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
            if (r->rtm_protocol != proto || r->rtm_table != RT_TABLE_MAIN || r->rtm_family != AF_INET) continue;
            ++count;
            if (keys) {
                std::uint32_t dst = 0;
                int alen = static_cast<int>(RTM_PAYLOAD(h));
                for (auto* a = RTM_RTA(r); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                    if (a->rta_type == RTA_DST) std::memcpy(&dst, RTA_DATA(a), 4);
                keys->insert(std::uint64_t{dst} << 8 | r->rtm_dst_len);
            }
        }
    }
}

int cmd_watch(std::uint8_t proto, std::size_t target, bool then_zero, int poll_ms, Clock::time_point deadline) {
    int ev = open_rtnl(RTMGRP_IPV4_ROUTE, 256 << 20);
    int dfd = open_rtnl(0, 0);
    std::unordered_set<std::uint64_t> keys;
    keys.reserve(target + 1024);
    dump_count(dfd, proto, deadline, &keys);
    std::printf("{\"event\":\"ready\",\"t_ms\":%lld,\"count\":%zu}\n", wall_ms(), keys.size());
    std::fflush(stdout);
    bool reached = false, overflow = false;
    std::size_t notifications = 0, dumps = 0;
    std::vector<unsigned char> buf(1 << 20);
    auto done = [&](std::size_t count, const char* method) {
        if (!reached && count == target) {
            reached = true;
            std::printf("{\"event\":\"reached\",\"t_ms\":%lld,\"count\":%zu,\"method\":\"%s\"}\n", wall_ms(), count, method);
            std::fflush(stdout);
            return !then_zero;
        }
        if (reached && then_zero && count == 0) {
            std::printf("{\"event\":\"empty\",\"t_ms\":%lld,\"method\":\"%s\",\"notifications\":%zu,\"dumps\":%zu}\n",
                        wall_ms(), method, notifications, dumps);
            std::fflush(stdout);
            return true;
        }
        return false;
    };
    if (done(keys.size(), "dump")) return 0;
    while (Clock::now() < deadline) {
        if (overflow) {  // notifications were lost: count by dumps from now on
            const std::size_t c = dump_count(dfd, proto, deadline);
            ++dumps;
            if (done(c, "dump")) return 0;
            ::usleep(static_cast<useconds_t>(poll_ms) * 1000);
            continue;
        }
        pollfd p{ev, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        ssize_t n = ::recv(ev, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            if (errno == ENOBUFS) {
                overflow = true;
                std::printf("{\"event\":\"overflow\",\"t_ms\":%lld,\"count\":%zu}\n", wall_ms(), keys.size());
                std::fflush(stdout);
                continue;
            }
            die(1, std::string("recv: ") + std::strerror(errno));
        }
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE) continue;
            const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
            if (r->rtm_protocol != proto || r->rtm_table != RT_TABLE_MAIN || r->rtm_family != AF_INET) continue;
            ++notifications;
            std::uint32_t dst = 0;
            int alen = static_cast<int>(RTM_PAYLOAD(h));
            for (auto* a = RTM_RTA(r); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == RTA_DST) std::memcpy(&dst, RTA_DATA(a), 4);
            const std::uint64_t key = std::uint64_t{dst} << 8 | r->rtm_dst_len;
            if (h->nlmsg_type == RTM_NEWROUTE)
                keys.insert(key);
            else
                keys.erase(key);
        }
        if (done(keys.size(), "notifications")) return 0;
    }
    die(3, "deadline: " + std::to_string(keys.size()) + " routes of protocol " + std::to_string(proto));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kernel_routes: write, count or watch IPv4 routes of one protocol in the main table"};
    app.require_subcommand(1);
    unsigned proto = 99, deadline_s = 900;
    app.add_option("--proto", proto, "Route protocol (rtm_protocol)")->capture_default_str();
    app.add_option("--deadline", deadline_s, "Give up after this many seconds")->capture_default_str();

    auto* write = app.add_subcommand("write", "Install the feed's prefixes, then delete them");
    std::size_t n = 1'000'000, batch = 64;
    std::uint64_t seed = 1;
    std::string via, ack = "errors";
    bool keep = false, delete_only = false;
    write->add_option("-n,--prefixes", n, "Prefixes (bench/feed.hpp's, as bgp_feeder -n)")->capture_default_str();
    write->add_option("--seed", seed, "Seed of the feed")->capture_default_str();
    write->add_option("--via", via, "IPv4 gateway (on a connected subnet)")->required();
    write->add_option("--batch", batch, "Requests per sendmsg")->capture_default_str();
    write->add_option("--ack", ack, "errors (no NLM_F_ACK) or all (NLM_F_ACK, every batch's acks awaited)")
        ->check(CLI::IsMember({"errors", "all"}))
        ->capture_default_str();
    write->add_flag("--keep", keep, "Install only; leave the routes in place");
    write->add_flag("--delete-only", delete_only, "Delete only (the routes of an earlier --keep)");

    auto* count = app.add_subcommand("count", "Print the number of routes of --proto in the main table");

    auto* watch = app.add_subcommand("watch", "Follow the count of routes of --proto until --target");
    std::size_t target = 0;
    bool then_zero = false;
    int poll_ms = 100;
    watch->add_option("--target", target, "Count to report")->required();
    watch->add_flag("--then-zero", then_zero, "After --target, wait until none is left");
    watch->add_option("--poll-ms", poll_ms, "Dump interval after lost notifications")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    const auto deadline = Clock::now() + std::chrono::seconds(deadline_s);
    const auto p = static_cast<std::uint8_t>(proto);
    if (*count) {
        int fd = open_rtnl(0, 0);
        const auto t0 = Clock::now();
        const std::size_t c = dump_count(fd, p, deadline);
        std::printf("{\"event\":\"count\",\"t_ms\":%lld,\"count\":%zu,\"dump_ms\":%.1f}\n", wall_ms(), c, ms_since(t0));
        return 0;
    }
    if (*watch) return cmd_watch(p, target, then_zero, poll_ms, deadline);

    in_addr gw{};
    if (::inet_pton(AF_INET, via.c_str(), &gw) != 1) die(1, "--via must be an IPv4 address");
    if (batch == 0) die(1, "--batch must be at least 1");
    const auto prefixes = kroute::bench::make_prefixes(n, seed);
    if (prefixes.size() != n) die(1, "could not generate that many distinct prefixes");
    int fd = open_rtnl(0, 4 << 20);
    const bool ack_all = ack == "all";
    auto report = [&](const char* event, const WriteResult& r) {
        std::printf("{\"event\":\"%s\",\"t_ms\":%lld,\"routes\":%zu,\"batch\":%zu,\"ack\":\"%s\",\"ms\":%.1f,"
                    "\"sendmsgs\":%zu,\"errors\":%zu,\"first_error\":\"%s\"}\n",
                    event, wall_ms(), n, batch, ack.c_str(), r.ms, r.sendmsgs, r.errors,
                    r.errors ? std::strerror(r.first_error) : "");
        std::fflush(stdout);
    };
    if (!delete_only) {
        std::printf("{\"event\":\"first_write\",\"t_ms\":%lld}\n", wall_ms());
        std::fflush(stdout);
        const auto in = write_all(fd, prefixes, true, gw.s_addr, p, batch, ack_all, deadline);
        report("installed", in);
        if (in.errors != 0) return 1;
        if (keep) return 0;
    }
    std::printf("{\"event\":\"first_delete\",\"t_ms\":%lld}\n", wall_ms());
    std::fflush(stdout);
    const auto out = write_all(fd, prefixes, false, gw.s_addr, p, batch, ack_all, deadline);
    report("deleted", out);
    return out.errors != 0 ? 1 : 0;
}
