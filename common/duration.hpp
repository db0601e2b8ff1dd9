// Durations written the way kube-router (Go's time.ParseDuration) writes them: "90s", "5m",
// "1h30m", "250ms"; a bare number means seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kroute {

[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
[[nodiscard]] std::string format_duration(std::chrono::milliseconds d);

}  // namespace kroute
