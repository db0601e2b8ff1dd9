// Service parsing. Wire input never throws: every access is type-checked and a wrong type is an
// error naming the field.
#include "k8s-client/service.hpp"

#include <nlohmann/json.hpp>

#include "k8s-client/json_fields.hpp"

namespace kroute::k8s {
namespace {

using Json = nlohmann::json;
using namespace json_fields;

Expected<void, std::string> parse_spec(const Json& spec, Service& out) {
    auto type = optional_string(spec, "type", "spec.type");
    if (!type) return unexpected(std::move(type).error());
    out.type = type->empty() ? "ClusterIP" : std::move(*type);

    // clusterIPs (1.20+) holds both families in the Service's order; clusterIP is its first entry
    // and the only field older servers set. "None" marks a headless Service, "" one not allocated
    // yet (or ExternalName).
    auto single = optional_string(spec, "clusterIP", "spec.clusterIP");
    if (!single) return unexpected(std::move(single).error());
    out.headless = *single == "None";
    auto list = optional_array(spec, "clusterIPs", "spec.clusterIPs");
    if (!list) return unexpected(std::move(list).error());
    if (!out.headless) {
        if (*list != nullptr && !(*list)->empty()) {
            auto ips = ip_list(spec, "clusterIPs", "spec.clusterIPs");
            if (!ips) return unexpected(std::move(ips).error());
            out.cluster_ips = std::move(*ips);
        } else if (!single->empty()) {
            auto ip = IpAddress::parse(*single);
            if (!ip) return unexpected("spec.clusterIP: invalid IP address \"" + *single + "\"");
            out.cluster_ips.push_back(*ip);
        }
    }
    auto external = ip_list(spec, "externalIPs", "spec.externalIPs");
    if (!external) return unexpected(std::move(external).error());
    out.external_ips = std::move(*external);

    auto etp = optional_string(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy");
    if (!etp) return unexpected(std::move(etp).error());
    out.external_traffic_policy = etp->empty() ? "Cluster" : std::move(*etp);
    auto itp = optional_string(spec, "internalTrafficPolicy", "spec.internalTrafficPolicy");
    if (!itp) return unexpected(std::move(itp).error());
    out.internal_traffic_policy = itp->empty() ? "Cluster" : std::move(*itp);
    return {};
}

Expected<void, std::string> parse_status(const Json& status, Service& out) {
    auto lb = optional_object(status, "loadBalancer", "status.loadBalancer");
    if (!lb) return unexpected(std::move(lb).error());
    if (*lb == nullptr) return {};
    auto ingress = optional_array(**lb, "ingress", "status.loadBalancer.ingress");
    if (!ingress) return unexpected(std::move(ingress).error());
    if (*ingress == nullptr) return {};
    for (std::size_t i = 0; i < (*ingress)->size(); ++i) {
        const Json& entry = (**ingress)[i];
        const std::string where = "status.loadBalancer.ingress[" + std::to_string(i) + "]";
        if (!entry.is_object()) return unexpected(where + ": expected an object, got " + entry.type_name());
        auto ip = optional_string(entry, "ip", where + ".ip");
        if (!ip) return unexpected(std::move(ip).error());
        if (ip->empty()) continue;  // a hostname-only entry (cloud load balancers): nothing to route
        auto addr = IpAddress::parse(*ip);
        if (!addr) return unexpected(where + ".ip: invalid IP address \"" + *ip + "\"");
        out.load_balancer_ips.push_back(*addr);
    }
    return {};
}

Expected<Service, std::string> parse_service_impl(const Json& object) {
    auto meta = parse_object_meta(object, "service", /*namespaced=*/true);
    if (!meta) return unexpected(std::move(meta).error());
    Service s;
    s.name = std::move(meta->name);
    s.ns = std::move(meta->ns);
    s.uid = std::move(meta->uid);
    s.resource_version = std::move(meta->resource_version);
    s.labels = std::move(meta->labels);
    s.annotations = std::move(meta->annotations);
    auto fail = [&s](std::string e) { return unexpected("service " + s.ns + "/" + s.name + ": " + std::move(e)); };

    auto spec = optional_object(object, "spec", "spec");
    if (!spec) return fail(std::move(spec).error());
    if (*spec != nullptr) {
        if (auto r = parse_spec(**spec, s); !r) return fail(std::move(r).error());
    } else {
        s.type = "ClusterIP";
        s.external_traffic_policy = s.internal_traffic_policy = "Cluster";
    }
    auto status = optional_object(object, "status", "status");
    if (!status) return fail(std::move(status).error());
    if (*status != nullptr) {
        if (auto r = parse_status(**status, s); !r) return fail(std::move(r).error());
    }
    return s;
}

}  // namespace

Expected<Service, std::string> parse_service(const nlohmann::json& object) {
    try {
        return parse_service_impl(object);
    } catch (const std::exception& e) {  // defensive: every access above is type-checked
        return unexpected(std::string{"service: "} + e.what());
    }
}

Expected<ListResult<Service>, std::string> parse_service_list(const nlohmann::json& list) {
    return parse_list<Service>(list, kServices, parse_service);
}

std::string object_key(const Service& s) { return s.ns + "/" + s.name; }

bool same_content(const Service& a, const Service& b) { return equal_but_resource_version(a, b); }

}  // namespace kroute::k8s
