#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;

namespace {
bool nesting_within(const json& j, int budget) {
    if (!j.is_structured()) return true;
    if (budget <= 0) return false;
    for (const auto& child : j) {
        if (!nesting_within(child, budget - 1)) return false;
    }
    return true;
}
}  // namespace

std::optional<json> parse_json(std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !nesting_within(j, kMaxJsonNesting)) return std::nullopt;
    return j;
}

std::string to_wire(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json status_json(const ApiError& e) {
    json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", e.message}, {"reason", e.reason}};
    if (!e.details.empty()) s["details"] = e.details;
    s["code"] = e.code;
    return s;
}

json success_status(std::string_view name, std::string_view uid) {
    return {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Success"},
            {"details", {{"name", name}, {"kind", "nodes"}, {"uid", uid}}}};
}

std::string reason_for_code(int code) {
    switch (code) {
        case 400: return "BadRequest";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 405: return "MethodNotAllowed";
        case 409: return "Conflict";
        case 410: return "Expired";
        case 415: return "UnsupportedMediaType";
        case 422: return "Invalid";
        case 429: return "TooManyRequests";
        case 503: return "ServiceUnavailable";
        case 504: return "Timeout";
        default: return code >= 500 ? "InternalError" : "Unknown";
    }
}

namespace {
json node_details(std::string_view name) { return {{"name", name}, {"kind", "nodes"}}; }
std::string quoted(std::string_view name) { return "nodes \"" + std::string(name) + "\""; }
}  // namespace

ApiError not_found(std::string_view name) {
    return {404, "NotFound", quoted(name) + " not found", node_details(name)};
}

ApiError already_exists(std::string_view name) {
    return {409, "AlreadyExists", quoted(name) + " already exists", node_details(name)};
}

ApiError conflict(std::string_view name) {
    return {409, "Conflict",
            "Operation cannot be fulfilled on " + quoted(name) +
                ": the object has been modified; please apply your changes to the latest version and try again",
            node_details(name)};
}

ApiError invalid(std::string_view name, std::string_view field, std::string_view detail) {
    // apimachinery errors.NewInvalid: `Node "x" is invalid: field: detail`.
    json details = {{"name", name},
                    {"kind", "Node"},
                    {"causes", json::array({{{"reason", "FieldValueInvalid"},
                                             {"message", std::string(detail)},
                                             {"field", field}}})}};
    return {422, "Invalid",
            "Node \"" + std::string(name) + "\" is invalid: " + std::string(field) + ": " + std::string(detail),
            std::move(details)};
}

ApiError bad_request(std::string message) { return {400, "BadRequest", std::move(message), json::object()}; }

ApiError expired(std::string message) { return {410, "Expired", std::move(message), json::object()}; }

ApiError unauthorized() { return {401, "Unauthorized", "Unauthorized", json::object()}; }

ApiError path_not_found() {
    return {404, "NotFound", "the server could not find the requested resource", json::object()};
}

ApiError method_not_allowed(std::string_view method) {
    return {405, "MethodNotAllowed",
            "the server does not allow this method on the requested resource (" + std::string(method) + ")",
            json::object()};
}

ApiError unsupported_media_type(std::string_view type) {
    return {415, "UnsupportedMediaType",
            "the body of the request was in an unknown format (" + std::string(type) +
                ") - accepted media types include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml, application/strategic-merge-patch+json",
            json::object()};
}

}  // namespace kroute::fake_apiserver
