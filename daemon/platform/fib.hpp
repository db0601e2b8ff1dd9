// daemon::Fib: kroute's routes in the kernel. The io_context thread states what it wants
// (set_route / remove_route); a writer thread of Fib's own turns the differences into batched
// netlink requests (libnl-route-3) and listens to kernel route/link events, so that a million kernel
// writes never stall BGP. The writer alone holds the per-prefix table (what the RIB wants, what the
// kernel has); the io_context thread reads its counters (under a lock held only for a copy) or,
// for snapshot(), its lists under the writer's lock.
//
// Every route written carries `protocol` (kroute's own rtm_protocol, default 52): kroute only ever
// reads, replaces or deletes routes with that protocol, and never touches anyone else's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::daemon {

struct FibRoute {
    Prefix prefix;
    std::vector<IpAddress> next_hops;  // several = one multipath route
    // Through a given device with the gateway taken as on-link (RTNH_F_ONLINK), as the overlay's
    // routes are: `via VTEP dev kroute-vxlan onlink`. Empty: the kernel finds the device.
    std::string dev{};
    bool onlink = false;
    friend bool operator==(const FibRoute&, const FibRoute&) = default;
};

struct FibConfig {
    std::uint8_t protocol = 52;
    std::uint32_t table = 254;  // RT_TABLE_MAIN
    std::chrono::milliseconds sync_period{std::chrono::minutes(5)};  // --routes-sync-period: full dump + repair
    std::chrono::milliseconds batch_delay{20};  // coalesce changes this long before writing
};

struct FibSnapshot {
    std::vector<FibRoute> desired;      // what the RIB says, sorted by prefix
    std::vector<FibRoute> kernel;       // our protocol's routes as last read from the kernel, sorted
    std::uint64_t writes = 0;           // routes written or deleted since start
    std::uint64_t errors = 0;           // failed writes
    std::string last_error;
    bool sweep_enabled = false;
    // For metrics (also filled by counters(), which leaves the two lists above empty).
    std::size_t desired_routes = 0;     // desired.size()
    std::size_t kernel_routes = 0;      // kernel.size()
    std::uint64_t repairs = 0;          // desired routes re-written because the kernel lost or changed them
    std::uint64_t reconciles = 0;       // full reconciliations (dump + repair) done
    double reconcile_seconds = 0;       // their total duration
    double last_reconcile_seconds = 0;  // the last one's
};

class Fib {
public:
    Fib(asio::io_context& ioc, FibConfig cfg);
    ~Fib();  // stops the thread; leaves the kernel's routes in place (graceful restart)
    Fib(const Fib&) = delete;
    Fib& operator=(const Fib&) = delete;

    // Opens the netlink sockets, reads the kernel's current kroute routes, starts the writer thread.
    [[nodiscard]] Expected<void, std::string> start();
    void stop();

    // Desired state; io_context thread only. Cheap: marks the prefix dirty for the writer.
    void set_route(const FibRoute& route);
    void remove_route(const Prefix& prefix);

    // Until this is called, kroute routes found in the kernel that are not desired are left alone
    // (they may be the previous run's, still valid until the RIB is rebuilt). From then on, every
    // undesired route of our protocol is removed, now and at every reconciliation.
    void enable_stale_sweep();

    // io_context thread only. Copies the writer's lists under its lock: waits while the writer
    // changes its table (up to about a second while a million routes are being written).
    [[nodiscard]] FibSnapshot snapshot() const;
    // snapshot() without the route lists (cheap with a million routes, never waits for a batch);
    // any thread. The counters follow the writer's table, updated with each change to it.
    [[nodiscard]] FibSnapshot counters() const;
    // Any thread: when the writer thread last went round its loop (it does at least every second
    // while it runs, idle or not); the epoch when it is not running. For /healthz.
    [[nodiscard]] std::chrono::steady_clock::time_point writer_heartbeat() const noexcept;
    // Tests: the writer thread sleeps this long at its next turn, as if a netlink call hung.
    void stall_writer_for_testing(std::chrono::milliseconds d);
    [[nodiscard]] std::size_t desired_count() const;  // as counters().desired_routes

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

// Sets net.ipv4.ip_forward / net.ipv6.conf.all.forwarding for the namespace kroute runs in.
[[nodiscard]] Expected<void, std::string> enable_forwarding(bool ipv4, bool ipv6);
// With br_netfilter loaded, bridged pod-to-pod traffic on one node passes iptables only when
// net.bridge.bridge-nf-call-ip(6)tables is 1 (kube-proxy's service NAT and network policies need
// it, as kube-router sets it): sets them under `proc_sys`. False when br_netfilter is not loaded
// (nothing to set).
[[nodiscard]] Expected<bool, std::string> enable_bridge_netfilter(bool ipv6, const std::string& proc_sys = "/proc/sys");

}  // namespace kroute::daemon
