// Named spdlog loggers, one per component ("bgp", "k8s", "cni", "fib", "ctl", "main"), all writing
// to stderr as containers expect. Thread-safe: the k8s and FIB threads log too.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace kroute::log {

// The logger for a component, created on first use with the current level.
std::shared_ptr<spdlog::logger> get(const std::string& component);

// Whether messages of `level` are logged at all: a lock-free test for per-message and per-route
// lines, so that their arguments are not even formatted when they would be dropped.
[[nodiscard]] bool enabled(spdlog::level::level_enum level) noexcept;

// klog-style verbosity: 0 = info and above, 1-2 = debug (per message), 3-4 = trace (hex dumps).
void set_verbosity(int v);

}  // namespace kroute::log
