#include "daemon/services.hpp"

#include <optional>

namespace kroute::daemon {
namespace {

// The annotation's say, or nullopt when absent; a value that is neither true nor false is a warning
// and leaves the flag in charge.
std::optional<bool> annotation_switch(const k8s::Service& s, const char* key, std::vector<std::string>& warnings) {
    auto it = s.annotations.find(key);
    if (it == s.annotations.end()) return std::nullopt;
    if (it->second == "true") return true;
    if (it->second == "false") return false;
    warnings.push_back("service " + s.ns + "/" + s.name + ": annotation " + key + "=\"" + it->second +
                       "\" is neither \"true\" nor \"false\"; ignored");
    return std::nullopt;
}

}  // namespace

bool has_local_endpoint(const k8s::Service& service, const std::vector<const k8s::EndpointSlice*>& slices,
                        const std::string& node) {
    for (const auto* slice : slices) {
        if (slice->ns != service.ns || slice->service_name != service.name) continue;
        for (const auto& e : slice->endpoints)
            if (e.ready && e.node_name == node && !e.addresses.empty()) return true;
    }
    return false;
}

ServiceRoutes service_routes(const k8s::Service& service, const std::vector<const k8s::EndpointSlice*>& slices,
                             const std::string& node, const ServiceAdvertising& how) {
    ServiceRoutes out;
    if (service.type == "ExternalName") return out;
    const bool cluster = annotation_switch(service, kAdvertiseClusterIpAnnotation, out.warnings).value_or(how.cluster_ip);
    const bool external = annotation_switch(service, kAdvertiseExternalIpAnnotation, out.warnings).value_or(how.external_ip);
    const bool lb = annotation_switch(service, kAdvertiseLoadBalancerIpAnnotation, out.warnings).value_or(how.load_balancer_ip);
    const bool all_local = annotation_switch(service, kServiceLocalAnnotation, out.warnings).value_or(false);
    const bool internal_local = all_local || service.internal_traffic_policy == "Local";
    const bool external_local = all_local || service.external_traffic_policy == "Local";
    std::optional<bool> local;  // computed once, only if a Local policy asks
    auto local_ok = [&] {
        if (!local) local = has_local_endpoint(service, slices, node);
        return *local;
    };
    auto add = [&](const std::vector<IpAddress>& ips, bool wanted, bool only_local) {
        if (!wanted) return;
        for (const auto& ip : ips) {
            if (ip.is_unspecified() || (ip.is_v6() && !how.ipv6)) continue;
            if (only_local && !local_ok()) return;
            out.prefixes.insert(Prefix(ip, ip.max_prefix_length()));
        }
    };
    if (!service.headless) add(service.cluster_ips, cluster, internal_local);
    add(service.external_ips, external, external_local);
    add(service.load_balancer_ips, lb, external_local);
    return out;
}

}  // namespace kroute::daemon
