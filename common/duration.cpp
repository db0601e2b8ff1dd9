#include "common/duration.hpp"

#include <cctype>
#include <charconv>

namespace kroute {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    bool all_digits = true;
    for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
    if (all_digits) {
        long long s = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
        if (ec != std::errc{} || end != text.data() + text.size() || s > 100LL * 365 * 86400) return std::nullopt;
        return std::chrono::seconds(s);
    }
    std::chrono::milliseconds total{0};
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (i == start) return std::nullopt;
        double value = 0;
        auto [end, ec] = std::from_chars(text.data() + start, text.data() + i, value);
        if (ec != std::errc{} || end != text.data() + i) return std::nullopt;
        std::size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        auto unit = text.substr(unit_start, i - unit_start);
        double ms_per_unit = 0;
        if (unit == "ms") ms_per_unit = 1;
        else if (unit == "s") ms_per_unit = 1000;
        else if (unit == "m") ms_per_unit = 60'000;
        else if (unit == "h") ms_per_unit = 3'600'000;
        else return std::nullopt;
        double ms = value * ms_per_unit;
        if (ms > 1e13) return std::nullopt;
        total += std::chrono::milliseconds(static_cast<long long>(ms));
    }
    return total;
}

std::string format_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms % 1000 != 0) return std::to_string(ms) + "ms";
    auto s = ms / 1000;
    std::string out;
    if (s >= 3600) { out += std::to_string(s / 3600) + "h"; s %= 3600; }
    if (s >= 60) { out += std::to_string(s / 60) + "m"; s %= 60; }
    if (s > 0 || out.empty()) out += std::to_string(s) + "s";
    return out;
}

}  // namespace kroute
