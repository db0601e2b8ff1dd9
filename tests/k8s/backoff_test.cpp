#include "k8s-client/backoff.hpp"

#include <catch2/catch.hpp>

using kroute::k8s::Backoff;
using namespace std::chrono_literals;

TEST_CASE("backoff: 800 ms doubling to 30 s without jitter", "[k8s][backoff]") {
    Backoff b{800ms, 30s, 2min, [] { return 0.0; }};
    Backoff::Clock::time_point now{};
    std::vector<std::chrono::milliseconds> delays;
    for (int i = 0; i < 8; ++i) {
        delays.push_back(b.next(now));
        now += 1s;  // failures keep coming, well inside the reset period
    }
    CHECK(delays == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 3200ms, 6400ms, 12800ms, 25600ms, 30s, 30s});
}

TEST_CASE("backoff: jitter multiplies the base by [1, 2)", "[k8s][backoff]") {
    double r = 0.5;
    Backoff b{800ms, 30s, 2min, [&r] { return r; }};
    Backoff::Clock::time_point now{};
    CHECK(b.next(now) == 1200ms);
    r = 0.999;
    CHECK(b.next(now) == 3198ms);  // 1600 * 1.999
    r = 7.0;                        // a misbehaving source is clamped, never more than twice the base
    CHECK(b.next(now) == 6400ms);
}

TEST_CASE("backoff: a quiet period of more than reset_after starts over", "[k8s][backoff]") {
    Backoff b{800ms, 30s, 2min, [] { return 0.0; }};
    Backoff::Clock::time_point now{};
    (void)b.next(now);
    (void)b.next(now + 1s);
    CHECK(b.base() == 3200ms);
    CHECK(b.next(now + 1s + 2min) == 3200ms);  // exactly reset_after later: not yet
    CHECK(b.next(now + 1s + 4min + 1ms) == 800ms);
    CHECK(b.base() == 1600ms);
}

TEST_CASE("backoff: degenerate settings stay sane", "[k8s][backoff]") {
    Backoff b{0ms, 0ms, 2min, nullptr};  // no random source: no jitter
    Backoff::Clock::time_point now{};
    CHECK(b.next(now) == 1ms);
    CHECK(b.next(now) == 1ms);
}
