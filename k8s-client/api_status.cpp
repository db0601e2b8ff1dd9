#include "k8s-client/api_status.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace kroute::k8s {
namespace {

std::string string_field(const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

ApiStatus parse_api_status(const nlohmann::json& object) {
    ApiStatus s;
    if (!object.is_object()) return s;
    s.reason = string_field(object, "reason");
    s.message = string_field(object, "message");
    if (auto it = object.find("code"); it != object.end() && it->is_number_integer()) {
        auto code = it->get<std::int64_t>();
        if (code > 0 && code < 1000) s.code = static_cast<int>(code);
    }
    if (auto d = object.find("details"); d != object.end() && d->is_object()) {
        if (auto r = d->find("retryAfterSeconds"); r != d->end() && r->is_number_integer()) {
            auto secs = r->get<std::int64_t>();
            if (secs > 0) s.retry_after = std::chrono::seconds{secs};
        }
    }
    return s;
}

ApiStatus parse_api_status_body(int http_status, std::string_view body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    ApiStatus s;
    if (!json.is_discarded() && json.is_object()) s = parse_api_status(json);
    if (s.message.empty() && s.reason.empty()) {
        constexpr std::size_t kMaxMessage = 200;
        s.message = std::string{body.substr(0, kMaxMessage)};
        while (!s.message.empty() && (s.message.back() == '\n' || s.message.back() == '\r')) s.message.pop_back();
    }
    if (s.code == 0) s.code = http_status;
    return s;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view header) {
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
    if (header.empty()) return std::nullopt;
    std::int64_t secs = 0;
    auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), secs);
    if (ec != std::errc{} || end != header.data() + header.size() || secs < 0) return std::nullopt;
    return std::chrono::seconds{secs};
}

bool is_expired(const ApiStatus& status) noexcept {
    return status.code == 410 || status.reason == "Expired" || status.reason == "Gone";
}

}  // namespace kroute::k8s
