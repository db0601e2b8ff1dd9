// /healthz: 200 while the core loop beats and every check passes; 500 with the reasons while one
// stalls (injected: the test stops beating, or holds a heartbeat still), 200 again after.
#include "daemon/health_server.hpp"

#include <httplib.h>

#include <thread>

#include <catch2/catch.hpp>

using namespace kroute::daemon;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Polls /healthz until its status is `status` (bounded).
httplib::Result wait_status(httplib::Client& c, int status) {
    for (int i = 0; i < 300; ++i) {
        auto r = c.Get("/healthz");
        if (r && r->status == status) return r;
        std::this_thread::sleep_for(20ms);
    }
    return c.Get("/healthz");
}

}  // namespace

TEST_CASE("heartbeat_check fails once the heartbeat is older than its bound", "[daemon][health]") {
    Clock::time_point last = Clock::now();
    auto check = heartbeat_check("FIB writer thread", [&] { return last; }, 500ms);
    CHECK_FALSE(check());
    last = Clock::now() - 2s;
    auto why = check();
    REQUIRE(why);
    CHECK_THAT(*why, Catch::StartsWith("FIB writer thread stalled for "));
    CHECK_THAT(*why, Catch::EndsWith(" ms"));
    last = Clock::time_point{};  // never started
    CHECK(check());
}

TEST_CASE("/healthz fails while the core loop or the FIB writer stalls, and recovers", "[daemon][health]") {
    HealthServer health(1000ms);  // generous: a loaded machine may delay the beating thread
    std::atomic<Clock::rep> writer_beat{Clock::now().time_since_epoch().count()};
    health.add_check(heartbeat_check("FIB writer thread", [&] { return Clock::time_point{Clock::duration{writer_beat.load()}}; }, 1000ms));
    REQUIRE(health.start("127.0.0.1", 0));
    REQUIRE(health.port() > 0);
    httplib::Client c("127.0.0.1", health.port());

    // Both alive: two threads beating, as the io_context timer and the writer loop do.
    std::atomic<bool> core_alive{true}, writer_alive{true}, done{false};
    std::thread beats([&] {
        while (!done) {
            if (core_alive) health.beat();
            if (writer_alive) writer_beat = Clock::now().time_since_epoch().count();
            std::this_thread::sleep_for(20ms);
        }
    });
    auto ok = c.Get("/healthz");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == "OK\n");

    SECTION("the core loop stalls") {
        core_alive = false;
        auto r = wait_status(c, 500);
        REQUIRE(r);
        CHECK(r->status == 500);
        CHECK_THAT(r->body, Catch::StartsWith("core loop stalled for "));
        CHECK(r->body.find("FIB writer") == std::string::npos);
        core_alive = true;
    }
    SECTION("the FIB writer stalls") {
        writer_alive = false;
        auto r = wait_status(c, 500);
        REQUIRE(r);
        CHECK(r->status == 500);
        CHECK_THAT(r->body, Catch::StartsWith("FIB writer thread stalled for "));
        CHECK(r->body.find("core loop") == std::string::npos);
        writer_alive = true;
    }
    SECTION("both stall: both reasons") {
        core_alive = false;
        writer_alive = false;
        std::this_thread::sleep_for(1500ms);
        auto r = c.Get("/healthz");
        REQUIRE(r);
        CHECK(r->status == 500);
        CHECK(r->body.find("core loop stalled") != std::string::npos);
        CHECK(r->body.find("FIB writer thread stalled") != std::string::npos);
        core_alive = true;
        writer_alive = true;
    }
    auto back = wait_status(c, 200);
    REQUIRE(back);
    CHECK(back->status == 200);
    done = true;
    beats.join();
    health.stop();
}
