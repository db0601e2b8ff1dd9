// EndpointSlice parsing. Wire input never throws: every access is type-checked and a wrong type is
// an error naming the field.
#include "k8s-client/endpoint_slice.hpp"

#include <nlohmann/json.hpp>

#include "k8s-client/json_fields.hpp"

namespace kroute::k8s {
namespace {

using Json = nlohmann::json;
using namespace json_fields;

constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

// A condition: absent or null keeps the API's default (discovery/v1 EndpointConditions).
Expected<void, std::string> condition(const Json& conditions, const char* key, const std::string& where, bool& out) {
    const Json* v = member(conditions, key);
    if (v == nullptr) return {};
    if (!v->is_boolean()) return unexpected(where + "." + key + ": expected a boolean, got " + v->type_name());
    out = v->get<bool>();
    return {};
}

Expected<Endpoint, std::string> parse_endpoint(const Json& e, const std::string& where, bool ip_family) {
    if (!e.is_object()) return unexpected(where + ": expected an object, got " + e.type_name());
    Endpoint out;
    if (ip_family) {
        auto addrs = ip_list(e, "addresses", where + ".addresses");
        if (!addrs) return unexpected(std::move(addrs).error());
        out.addresses = std::move(*addrs);
    }
    auto conditions = optional_object(e, "conditions", where + ".conditions");
    if (!conditions) return unexpected(std::move(conditions).error());
    if (*conditions != nullptr) {
        const std::string at = where + ".conditions";
        if (auto r = condition(**conditions, "ready", at, out.ready); !r) return unexpected(std::move(r).error());
        // serving defaults to ready's value (it was added later with that meaning).
        out.serving = out.ready;
        if (auto r = condition(**conditions, "serving", at, out.serving); !r) return unexpected(std::move(r).error());
        if (auto r = condition(**conditions, "terminating", at, out.terminating); !r)
            return unexpected(std::move(r).error());
    }
    auto node = optional_string(e, "nodeName", where + ".nodeName");
    if (!node) return unexpected(std::move(node).error());
    out.node_name = std::move(*node);
    return out;
}

Expected<EndpointSlice, std::string> parse_endpoint_slice_impl(const Json& object) {
    auto meta = parse_object_meta(object, "endpointslice", /*namespaced=*/true);
    if (!meta) return unexpected(std::move(meta).error());
    EndpointSlice s;
    s.name = std::move(meta->name);
    s.ns = std::move(meta->ns);
    s.uid = std::move(meta->uid);
    s.resource_version = std::move(meta->resource_version);
    s.labels = std::move(meta->labels);
    s.annotations = std::move(meta->annotations);
    if (auto it = s.labels.find(kServiceNameLabel); it != s.labels.end()) s.service_name = it->second;
    auto fail = [&s](std::string e) { return unexpected("endpointslice " + s.ns + "/" + s.name + ": " + std::move(e)); };

    auto type = optional_string(object, "addressType", "addressType");
    if (!type) return fail(std::move(type).error());
    if (*type != "IPv4" && *type != "IPv6" && *type != "FQDN")
        return fail("addressType: expected IPv4, IPv6 or FQDN, got \"" + *type + "\"");
    s.address_type = std::move(*type);
    const bool ip_family = s.address_type != "FQDN";

    auto endpoints = optional_array(object, "endpoints", "endpoints");
    if (!endpoints) return fail(std::move(endpoints).error());
    if (*endpoints != nullptr) {
        for (std::size_t i = 0; i < (*endpoints)->size(); ++i) {
            auto e = parse_endpoint((**endpoints)[i], "endpoints[" + std::to_string(i) + "]", ip_family);
            if (!e) return fail(std::move(e).error());
            for (const auto& a : e->addresses) {
                if ((a.family() == Family::kIpv4) != (s.address_type == "IPv4"))
                    return fail("endpoints[" + std::to_string(i) + "]: address " + a.to_string() +
                                " does not match addressType " + s.address_type);
            }
            s.endpoints.push_back(std::move(*e));
        }
    }
    return s;
}

}  // namespace

Expected<EndpointSlice, std::string> parse_endpoint_slice(const nlohmann::json& object) {
    try {
        return parse_endpoint_slice_impl(object);
    } catch (const std::exception& e) {  // defensive: every access above is type-checked
        return unexpected(std::string{"endpointslice: "} + e.what());
    }
}

Expected<ListResult<EndpointSlice>, std::string> parse_endpoint_slice_list(const nlohmann::json& list) {
    return parse_list<EndpointSlice>(list, kEndpointSlices, parse_endpoint_slice);
}

std::string object_key(const EndpointSlice& s) { return s.ns + "/" + s.name; }

bool same_content(const EndpointSlice& a, const EndpointSlice& b) { return equal_but_resource_version(a, b); }

}  // namespace kroute::k8s
