// ApiError and the Status objects the real kube-apiserver sends for it
// (apimachinery pkg/api/errors constructors), so that kubectl prints
// "Error from server (<reason>): <message>" exactly as against a real cluster; and the two JSON
// edge helpers every body passes through. Pure: no I/O, no clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tests/fake-apiserver/resources.hpp"

namespace kroute::fake_apiserver {

// Insertion-ordered, so that objects print as the apiserver prints them (kind, apiVersion, metadata first).
using Json = nlohmann::ordered_json;

// Parses a request body or file without exceptions; nullopt for invalid JSON or nesting deeper
// than kMaxJsonNesting (Node objects are shallow; deep input would only cost stack later).
inline constexpr int kMaxJsonNesting = 64;
[[nodiscard]] std::optional<Json> parse_json(std::string_view text);
// Compact JSON; invalid UTF-8 (which can arrive in URL paths quoted into messages) is replaced
// instead of throwing.
[[nodiscard]] std::string to_wire(const Json& j);

struct ApiError {
    int code = 500;
    std::string reason;   // Status.reason: NotFound, AlreadyExists, Conflict, Expired, ...
    std::string message;  // Status.message, printed by kubectl
    Json details = Json::object();  // omitted from the Status when empty
};

// The Status body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",...}.
[[nodiscard]] Json status_json(const ApiError& e);
// {"kind":"Status",...,"status":"Success","details":{name,group,kind,uid}} as DELETE answers.
[[nodiscard]] Json success_status(const ResourceInfo& r, std::string_view name, std::string_view uid);

// The reason a real apiserver gives to a bare HTTP code (used by fault injection).
[[nodiscard]] std::string reason_for_code(int code);

// Named as the apiserver names them: `nodes "x"`, `endpointslices.discovery.k8s.io "x"`.
[[nodiscard]] ApiError not_found(const ResourceInfo& r, std::string_view name);
[[nodiscard]] ApiError already_exists(const ResourceInfo& r, std::string_view name);
[[nodiscard]] ApiError conflict(const ResourceInfo& r, std::string_view name);
[[nodiscard]] ApiError invalid(const ResourceInfo& r, std::string_view name, std::string_view field,
                               std::string_view detail);
[[nodiscard]] ApiError bad_request(std::string message);
[[nodiscard]] ApiError expired(std::string message);
[[nodiscard]] ApiError unauthorized();
[[nodiscard]] ApiError path_not_found();
[[nodiscard]] ApiError method_not_allowed(std::string_view method);
[[nodiscard]] ApiError unsupported_media_type(std::string_view type);

}  // namespace kroute::fake_apiserver
