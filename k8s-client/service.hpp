// The Service model: what service advertisement needs of a core/v1 Service, parsed from the API's
// JSON. Pure code; no I/O. Knows nothing of BGP.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/expected.hpp"
#include "common/ip.hpp"
#include "k8s-client/resource.hpp"

namespace kroute::k8s {

struct Service {
    std::string name;
    std::string ns;  // metadata.namespace
    std::string uid;
    std::string resource_version;
    std::string type;  // spec.type: ClusterIP (the default when absent), NodePort, LoadBalancer, ExternalName
    bool headless = false;                 // spec.clusterIP "None"
    std::vector<IpAddress> cluster_ips;    // spec.clusterIPs, else spec.clusterIP; either family first
    std::vector<IpAddress> external_ips;   // spec.externalIPs
    std::vector<IpAddress> load_balancer_ips;  // status.loadBalancer.ingress[].ip (hostname-only entries skipped)
    std::string external_traffic_policy;   // "Cluster" (the default when absent) or "Local"
    std::string internal_traffic_policy;   // "Cluster" (the default when absent) or "Local"
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;

    friend bool operator==(const Service&, const Service&) = default;
};

// Parses one Service (a list item, a watch event's object). Errors name the field; an
// unparseable IP is an error, not silently dropped.
[[nodiscard]] Expected<Service, std::string> parse_service(const nlohmann::json& object);
[[nodiscard]] Expected<ListResult<Service>, std::string> parse_service_list(const nlohmann::json& list);

// "namespace/name", the cache key.
[[nodiscard]] std::string object_key(const Service& s);
// Equal in everything kroute uses; resourceVersion ignored.
[[nodiscard]] bool same_content(const Service& a, const Service& b);

}  // namespace kroute::k8s
