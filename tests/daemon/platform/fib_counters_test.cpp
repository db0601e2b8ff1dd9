// Fib's counters for metrics and /healthz (repairs, reconciliations, the writer's heartbeat),
// against the real kernel in a network namespace of each test's own (netns_support.hpp).
#include "daemon/platform/fib.hpp"

#include <thread>

#include <catch2/catch.hpp>

#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

using namespace std::chrono_literals;
using test::must;
using test::run_until;
using test::sh;

FibRoute route(const char* prefix, const char* hop) {
    auto p = Prefix::parse(prefix);
    auto a = IpAddress::parse(hop);
    REQUIRE(p);
    REQUIRE(a);
    return FibRoute{*p, {*a}};
}

bool has_route(const char* text) {
    return sh("ip -4 route show table main proto 52").out.find(text) != std::string::npos;
}

struct Node {
    Node() {
        test::enter_fresh_netns();  // first: nothing below may run in the root namespace
        test::setup_node();
    }
};

}  // namespace

TEST_CASE("Fib counts repairs: routes put back after the kernel lost or changed them, not new ones",
          "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    FibConfig cfg;
    cfg.batch_delay = 5ms;
    Fib fib(ioc, cfg);
    REQUIRE(fib.start());
    fib.set_route(route("10.244.2.0/24", "172.18.0.12"));
    fib.set_route(route("10.244.3.0/24", "172.18.0.13"));
    REQUIRE(run_until(ioc, [&] { return fib.counters().kernel_routes == 2; }));
    auto c = fib.counters();
    CHECK(c.repairs == 0);
    CHECK(c.writes == 2);
    CHECK(c.desired_routes == 2);
    CHECK(fib.snapshot().repairs == 0);

    // A new next hop from the RIB is an update, not a repair.
    fib.set_route(route("10.244.3.0/24", "172.18.0.14"));
    REQUIRE(run_until(ioc, [] { return has_route("10.244.3.0/24 via 172.18.0.14"); }));
    REQUIRE(run_until(ioc, [&] { return fib.counters().writes == 3; }));
    CHECK(fib.counters().repairs == 0);

    must("ip route del 10.244.2.0/24 proto 52");
    CHECK(run_until(ioc, [&] { return fib.counters().repairs == 1 && has_route("10.244.2.0/24 via 172.18.0.12"); }));
    must("ip route replace 10.244.3.0/24 via 172.18.0.99 proto 52");
    CHECK(run_until(ioc, [&] { return fib.counters().repairs == 2 && has_route("10.244.3.0/24 via 172.18.0.14"); }));
    // counters() leaves the lists out; snapshot() has both.
    CHECK(fib.counters().kernel.empty());
    CHECK(fib.snapshot().kernel.size() == 2);
    CHECK(fib.snapshot().repairs == 2);
}

TEST_CASE("Fib counts its full reconciliations and their duration", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    FibConfig cfg;
    cfg.batch_delay = 5ms;
    cfg.sync_period = 100ms;
    Fib fib(ioc, cfg);
    REQUIRE(fib.start());
    fib.set_route(route("10.244.2.0/24", "172.18.0.12"));
    REQUIRE(run_until(ioc, [&] { return fib.counters().reconciles >= 3; }));
    auto c = fib.counters();
    CHECK(c.reconcile_seconds > 0);
    CHECK(c.last_reconcile_seconds > 0);
    CHECK(c.last_reconcile_seconds <= c.reconcile_seconds);
    CHECK(c.last_reconcile_seconds < 1.0);  // one route in an empty namespace
    CHECK(c.repairs == 0);  // nothing differed
}

TEST_CASE("Fib's writer heartbeat moves while it runs, stops while it is stalled", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, FibConfig{});
    CHECK(fib.writer_heartbeat() == std::chrono::steady_clock::time_point{});  // not started
    REQUIRE(fib.start());
    auto age = [&] { return std::chrono::steady_clock::now() - fib.writer_heartbeat(); };
    // Idle, the writer still goes round at least every second.
    std::this_thread::sleep_for(2500ms);
    CHECK(age() < 1500ms);

    fib.stall_writer_for_testing(3000ms);
    std::this_thread::sleep_for(2000ms);
    CHECK(age() > 1500ms);
    std::this_thread::sleep_for(2500ms);  // the stall is over
    CHECK(age() < 1500ms);
    // Working again: a route goes in.
    fib.set_route(route("10.244.2.0/24", "172.18.0.12"));
    CHECK(run_until(ioc, [] { return has_route("10.244.2.0/24 via 172.18.0.12"); }));
}

}  // namespace kroute::daemon
