// daemon/platform/netlink_route_table: the only code that speaks rtnetlink (requests built by hand,
// dumps and notifications parsed with libnl-route-3).
// NetlinkRouteTable dumps a table and writes batches of routes; NetlinkEvents listens to the
// kernel's route and link notifications. Both are plain blocking/non-blocking socket wrappers with
// no policy: what to write and when is route_diff's and Fib's business. Not thread-safe: each
// object is used by one thread (Fib's writer), after being opened on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "common/expected.hpp"
#include "daemon/platform/route_diff.hpp"

struct nl_sock;

namespace kroute::daemon {

// libnl's negative NLE_* codes as std::error_code (message from nl_geterror()). Kernel errors that
// come back in netlink acks keep their errno and use std::system_category() instead.
const std::error_category& nl_category() noexcept;

enum class RouteOpKind : std::uint8_t { kReplace, kRemove };
struct RouteOp {
    RouteOpKind kind = RouteOpKind::kReplace;
    FibRoute route;  // kRemove: only the prefix matters
};

class NetlinkRouteTable {
public:
    // Every route written carries `protocol`, `table`, scope universe and type unicast; deletes are
    // qualified by `protocol` so that the kernel itself refuses to delete anyone else's route.
    [[nodiscard]] static Expected<NetlinkRouteTable, std::error_code> open(std::uint8_t protocol,
                                                                         std::uint32_t table);
    NetlinkRouteTable(NetlinkRouteTable&&) noexcept;
    NetlinkRouteTable& operator=(NetlinkRouteTable&&) noexcept;
    ~NetlinkRouteTable();

    // All IPv4 and IPv6 routes of every table and protocol (the caller filters). An interrupted
    // dump (NLM_F_DUMP_INTR: the table changed meanwhile) is retried a few times.
    [[nodiscard]] Expected<std::vector<KernelRoute>, std::error_code> dump();

    // Sends the ops in batches (many requests per sendmsg; the kernel answers failures, and the
    // last request of each batch, which marks its end); one result per op, in order: empty on
    // success, else the kernel's errno (ENETUNREACH, ESRCH...) or a transport error.
    [[nodiscard]] std::vector<std::error_code> apply(std::span<const RouteOp> ops);
    // The socket's netlink port id: the kernel's notifications of our own writes carry it.
    [[nodiscard]] std::uint32_t port_id() const noexcept;

private:
    struct Sock;
    explicit NetlinkRouteTable(std::unique_ptr<Sock> sock);
    std::unique_ptr<Sock> sock_;
};

struct KernelEvent {
    // kLinkDown: a link that was up went down or away; kLinkUp: it came back (see link_change()).
    enum class Kind : std::uint8_t { kNewRoute, kDelRoute, kLinkDown, kLinkUp };
    Kind kind = Kind::kLinkDown;
    KernelRoute route;  // route events only
};

class NetlinkEvents {
public:
    // Joins RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE (when the kernel has IPv6) and RTNLGRP_LINK on
    // a non-blocking socket of its own, and asks for every link once (the base that link events are
    // compared with). Link events report only up/down changes of links that can carry routes.
    [[nodiscard]] static Expected<NetlinkEvents, std::error_code> open();
    NetlinkEvents(NetlinkEvents&&) noexcept;
    NetlinkEvents& operator=(NetlinkEvents&&) noexcept;
    ~NetlinkEvents();

    [[nodiscard]] int fd() const noexcept;
    // Drops, in the kernel (a socket filter), the notifications of changes requested from netlink
    // port `port`: the echoes of our own writes, which tell the writer nothing it does not know and
    // would otherwise fill the socket while a million routes are written.
    [[nodiscard]] Expected<void, std::error_code> ignore_sender(std::uint32_t port);

    struct Batch {
        std::vector<KernelEvent> events;
        bool overflow = false;  // the kernel dropped notifications (ENOBUFS): resynchronise by a dump
    };
    // Reads what is queued, never blocks; at most `max_reads` socket reads per call.
    [[nodiscard]] Expected<Batch, std::error_code> read_pending(int max_reads = 1024);

private:
    struct Sock;
    explicit NetlinkEvents(std::unique_ptr<Sock> sock);
    std::unique_ptr<Sock> sock_;
};

}  // namespace kroute::daemon
