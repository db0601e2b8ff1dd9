// The API server's error vocabulary: the Status object (k8s-api.md §4), Retry-After, and what a
// status means for a list/watch client. Pure code.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace kroute::k8s {

struct ApiStatus {
    int code = 0;         // HTTP-like code from the Status (410, 500...), 0 if absent
    std::string reason;   // "Expired", "Gone", "Forbidden"...
    std::string message;
    std::optional<std::chrono::seconds> retry_after;  // details.retryAfterSeconds
};

// A Status object (an ERROR watch event's object, an error response body). Tolerant: missing or
// mistyped fields stay empty.
[[nodiscard]] ApiStatus parse_api_status(const nlohmann::json& object);

// An error response body, which is not always JSON (API Priority and Fairness answers 429 in plain
// text): a non-JSON body becomes the message, `http_status` the code.
[[nodiscard]] ApiStatus parse_api_status_body(int http_status, std::string_view body);

// Retry-After in delta-seconds (RFC 9110 §10.2.3). The HTTP-date form is not used by the API server
// and yields nullopt, as does anything unparseable.
[[nodiscard]] std::optional<std::chrono::seconds> parse_retry_after(std::string_view header);

// 410 Expired (servers <= 1.17: Gone): the resourceVersion is compacted away; the client relists
// (client-go reflector isExpiredError).
[[nodiscard]] bool is_expired(const ApiStatus& status) noexcept;

}  // namespace kroute::k8s
