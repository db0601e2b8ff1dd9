#include "k8s-client/backoff.hpp"

#include <algorithm>

namespace kroute::k8s {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 std::chrono::milliseconds reset_after, Random01 random01)
    : initial_{std::max(initial, std::chrono::milliseconds{1})},
      max_{std::max(max, initial_)},
      reset_after_{reset_after},
      random01_{std::move(random01)},
      base_{initial_} {}

std::chrono::milliseconds Backoff::next(Clock::time_point now) {
    // client-go exponentialBackoffManagerImpl.getNextBackoff: a quiet period resets the sequence.
    if (any_failure_ && now - last_failure_ > reset_after_) base_ = initial_;
    any_failure_ = true;
    last_failure_ = now;
    const auto base = base_;
    base_ = std::min(base_ * 2, max_);
    double r = random01_ ? random01_() : 0.0;
    r = std::clamp(r, 0.0, 1.0);
    // wait.Jitter(d, 1.0) = d + rand*d: spreads the herd of daemons that lost the API server at once.
    return base + std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(static_cast<double>(base.count()) * r)};
}

}  // namespace kroute::k8s
