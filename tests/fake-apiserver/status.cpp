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

namespace {
// apimachinery StatusDetails: {name, group (omitted for the core group), kind: the resource}.
json details_for(const ResourceInfo& r, std::string_view name) {
    json d = {{"name", name}};
    if (!r.group.empty()) d["group"] = r.group;
    d["kind"] = r.plural;
    return d;
}
std::string quoted(const ResourceInfo& r, std::string_view name) {
    return r.qualified_resource() + " \"" + std::string(name) + "\"";
}
}  // namespace

json success_status(const ResourceInfo& r, std::string_view name, std::string_view uid) {
    json details = details_for(r, name);
    details["uid"] = uid;
    return {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Success"},
            {"details", std::move(details)}};
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

ApiError not_found(const ResourceInfo& r, std::string_view name) {
    return {404, "NotFound", quoted(r, name) + " not found", details_for(r, name)};
}

ApiError already_exists(const ResourceInfo& r, std::string_view name) {
    return {409, "AlreadyExists", quoted(r, name) + " already exists", details_for(r, name)};
}

ApiError conflict(const ResourceInfo& r, std::string_view name) {
    return {409, "Conflict",
            "Operation cannot be fulfilled on " + quoted(r, name) +
                ": the object has been modified; please apply your changes to the latest version and try again",
            details_for(r, name)};
}

ApiError invalid(const ResourceInfo& r, std::string_view name, std::string_view field, std::string_view detail) {
    // apimachinery errors.NewInvalid: `EndpointSlice.discovery.k8s.io "x" is invalid: field: detail`.
    json details = {{"name", name}};
    if (!r.group.empty()) details["group"] = r.group;
    details["kind"] = r.kind;
    details["causes"] = json::array({{{"reason", "FieldValueInvalid"}, {"message", std::string(detail)}, {"field", field}}});
    return {422, "Invalid",
            r.qualified_kind() + " \"" + std::string(name) + "\" is invalid: " + std::string(field) + ": " +
                std::string(detail),
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
