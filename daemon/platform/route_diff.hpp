// daemon/platform/route_diff: the deciding half of the FIB, with no netlink, thread or clock in it.
// Given, per prefix, what the RIB wants (desired), what the kernel holds under kroute's protocol
// (ours) and whether another protocol occupies it in kroute's table (foreign), it says which routes
// to replace and which to delete. It also holds the small bookkeeping the writer needs: retry
// backoff and "log an error once per prefix". Fib's writer thread calls it; tests call it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ip.hpp"
#include "daemon/platform/fib.hpp"

namespace kroute::daemon {

// A route as read from the kernel: any protocol, any table (the adapter filters nothing).
struct KernelRoute {
    FibRoute route;
    std::uint8_t protocol = 0;
    std::uint32_t table = 0;
    friend bool operator==(const KernelRoute&, const KernelRoute&) = default;
};

using RouteMap = std::unordered_map<Prefix, FibRoute>;

// Next hops sorted, duplicates and hops the kernel cannot take dropped (an IPv4 hop of an IPv6
// prefix; an IPv6 hop of an IPv4 prefix is an RFC 8950 next hop, kept). The kernel reports the hops
// of a multipath route in its own order, so routes compare as sets of next hops.
[[nodiscard]] FibRoute normalized(FibRoute route);
// Something the kernel can be asked to install: at least one next hop, each of the prefix's family
// (or IPv6 for an IPv4 prefix), none unspecified (0.0.0.0 / ::).
[[nodiscard]] bool installable(const FibRoute& route);
// "10.244.2.0/24 via 172.18.0.12" / "10.244.3.0/24 via 172.18.0.12, 172.18.0.13"
[[nodiscard]] std::string describe(const FibRoute& route);

// Everything the writer knows of one prefix, in one place: a million routes cost one hash lookup
// each per step, not one per fact.
struct RouteSlot {
    std::optional<FibRoute> desired;       // what the RIB wants (normalized)
    std::optional<FibRoute> ours;          // our route in the kernel, as last read or written (normalized)
    std::optional<std::uint8_t> foreign;   // another protocol's route holds the prefix in our table
    bool withdrawn = false;                // removed by the RIB: delete ours even before the sweep
    [[nodiscard]] bool empty() const noexcept { return !desired && !ours && !foreign && !withdrawn; }
};
using RouteTable = std::unordered_map<Prefix, RouteSlot>;

// A full dump replaces what `table` knows of the kernel (`ours`, `foreign`); what the RIB wants
// stays. Routes of other tables are ignored; slots left empty are dropped.
void load_kernel(RouteTable& table, const std::vector<KernelRoute>& dump, std::uint8_t protocol, std::uint32_t table_id);
// Our routes in `table`, as a map (for the io_context thread's view).
[[nodiscard]] RouteMap ours_of(const RouteTable& table);

enum class EventKind : std::uint8_t { kNewRoute, kDelRoute };
// Applies one kernel route notification; true when the prefix's kernel state changed (then the
// prefix needs a look: our route deleted behind our back, a foreign route appeared or went away).
bool apply_event(RouteTable& table, EventKind kind, const KernelRoute& route, std::uint8_t protocol,
                 std::uint32_t table_id);

struct Occupied {
    Prefix prefix;
    std::uint8_t protocol = 0;
    friend bool operator==(const Occupied&, const Occupied&) = default;
};

struct RouteDiff {
    std::vector<FibRoute> replace;   // install or change (NLM_F_CREATE | NLM_F_REPLACE)
    std::vector<FibRoute> remove;    // delete our route at this prefix
    std::vector<Occupied> occupied;  // desired, but another protocol holds the prefix: not written
    [[nodiscard]] bool empty() const noexcept { return replace.empty() && remove.empty(); }
};

// What one prefix needs: nothing, the desired route written, our route deleted, or nothing
// because another protocol occupies it. A desired route is never written over another protocol's
// route (NLM_F_REPLACE matches on prefix and metric, not protocol); an undesired route of ours is
// deleted only when withdrawn or when the stale sweep (`sweep`) is on.
struct PrefixAction {
    enum class Kind : std::uint8_t { kNone, kReplace, kRemove, kOccupied };
    Kind kind = Kind::kNone;
    const FibRoute* route = nullptr;  // kReplace: the desired route; kRemove: ours in the kernel
    std::uint8_t occupier = 0;        // kOccupied: the other protocol
};
[[nodiscard]] PrefixAction decide(const RouteSlot& slot, bool sweep);

// Every prefix the table knows, sorted.
[[nodiscard]] std::vector<Prefix> sorted_prefixes(const RouteTable& table);
// decide() over `candidates` (prefixes the table does not know need nothing), collected.
[[nodiscard]] RouteDiff diff_routes(const RouteTable& table, bool sweep, std::span<const Prefix> candidates);
// The same over every prefix, in prefix order (periodic reconciliation).
[[nodiscard]] RouteDiff diff_all(const RouteTable& table, bool sweep);

// Delay before the n-th retry of a failed write (n >= 1): 250 ms doubling up to 30 s.
[[nodiscard]] std::chrono::milliseconds retry_delay(unsigned failures) noexcept;

// Remembers the last error logged per prefix so that a route failing every retry is logged once,
// and once more when the error changes or the route recovers.
class ErrorMemo {
public:
    // True when (prefix, error) differs from what was last recorded: log it.
    bool record(const Prefix& prefix, int error);
    // True when the prefix had a recorded error (log the recovery); forgets it.
    bool clear(const Prefix& prefix);
    [[nodiscard]] std::size_t size() const noexcept { return errors_.size(); }

private:
    std::unordered_map<Prefix, int> errors_;
};

}  // namespace kroute::daemon
