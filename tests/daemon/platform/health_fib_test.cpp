// /healthz as kroute wires it (daemon/main.cpp), against a real Fib in a network namespace of the
// test's own: its writer thread made to stall (as if a netlink call hung) turns /healthz to 500
// with the reason, and it comes back once the writer goes round again.
#include <httplib.h>

#include <thread>

#include <catch2/catch.hpp>

#include "daemon/health_server.hpp"
#include "daemon/platform/fib.hpp"
#include "tests/daemon/platform/netns_support.hpp"

using namespace kroute;
using namespace kroute::daemon;
using namespace std::chrono_literals;

TEST_CASE("/healthz fails while the FIB writer thread is stalled, and recovers", "[daemon][fib][health][netns]") {
    test::enter_fresh_netns();  // first: nothing below may run in the root namespace
    test::setup_node();
    asio::io_context ioc;
    Fib fib(ioc, FibConfig{});
    REQUIRE(fib.start());
    HealthServer health;  // the core loop's bound (20 s) is not what this test is about
    health.add_check(heartbeat_check("FIB writer thread", [&fib] { return fib.writer_heartbeat(); }, 1500ms));
    REQUIRE(health.start("127.0.0.1", 0));
    httplib::Client c("127.0.0.1", health.port());
    auto status = [&] {
        health.beat();
        auto r = c.Get("/healthz");
        return r ? r->status : -1;
    };
    // Idle for longer than the bound: the writer's loop still beats.
    std::this_thread::sleep_for(2500ms);
    CHECK(status() == 200);

    fib.stall_writer_for_testing(5000ms);
    int seen = 0;
    for (int i = 0; i < 100 && seen != 500; ++i) {
        std::this_thread::sleep_for(50ms);
        seen = status();
    }
    REQUIRE(seen == 500);
    auto r = c.Get("/healthz");
    REQUIRE(r);
    CHECK_THAT(r->body, Catch::StartsWith("FIB writer thread stalled for "));

    for (int i = 0; i < 200 && seen != 200; ++i) {
        std::this_thread::sleep_for(50ms);
        seen = status();
    }
    CHECK(seen == 200);
    health.stop();
}
