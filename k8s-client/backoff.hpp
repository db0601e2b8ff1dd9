// Retry delays after failures, as client-go's reflector computes them (k8s-api.md §3.4:
// NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)): the base starts at `initial`, doubles
// per failure up to `max`; each delay is the base times [1, 2) (jitter 1.0); a failure more than
// `reset_after` after the previous one starts again from `initial`. Pure: the caller passes `now`
// and the random source.
#pragma once

#include <chrono>
#include <functional>

namespace kroute::k8s {

class Backoff {
public:
    using Clock = std::chrono::steady_clock;
    using Random01 = std::function<double()>;  // uniform in [0, 1)

    Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::chrono::milliseconds reset_after,
            Random01 random01);

    // The delay before the next attempt, after a failure at `now`.
    [[nodiscard]] std::chrono::milliseconds next(Clock::time_point now);

    // The base of the next failure's delay (without jitter); for tests and logs.
    [[nodiscard]] std::chrono::milliseconds base() const noexcept { return base_; }

private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds reset_after_;
    Random01 random01_;
    std::chrono::milliseconds base_;
    bool any_failure_ = false;
    Clock::time_point last_failure_{};
};

}  // namespace kroute::k8s
