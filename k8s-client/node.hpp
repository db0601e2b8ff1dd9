// The Node model: what kroute needs of a Kubernetes Node object, parsed from the API's JSON.
// Pure code; no I/O. Knows nothing of BGP.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/expected.hpp"
#include "common/ip.hpp"
#include "k8s-client/resource.hpp"

namespace kroute::k8s {

struct Node {
    std::string name;
    std::string uid;
    std::string resource_version;
    // podCIDRs: the kube-router.io/pod-cidrs annotation (comma list), else spec.podCIDRs, else
    // spec.podCIDR; either family may come first. Empty: none allocated (yet).
    std::vector<Prefix> pod_cidrs;
    std::vector<IpAddress> internal_ips;  // status.addresses of type InternalIP, in order
    std::vector<IpAddress> external_ips;  // ... of type ExternalIP
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    // status.conditions[type=NetworkUnavailable], status and reason only (its timestamps change
    // without meaning anything to kroute). Absent: no one set it.
    struct Condition {
        std::string status;  // "True", "False", "Unknown"
        std::string reason;
        friend bool operator==(const Condition&, const Condition&) = default;
    };
    std::optional<Condition> network_unavailable;

    // The node's address for a family: first InternalIP, else first ExternalIP.
    [[nodiscard]] std::optional<IpAddress> address(Family family) const;
    [[nodiscard]] std::optional<Prefix> pod_cidr(Family family) const;
    friend bool operator==(const Node&, const Node&) = default;
};

// Parses one Node object (items of a NodeList, the object of a watch event). Errors name the
// field that was wrong. Unparseable podCIDRs or addresses are errors, not silently dropped.
[[nodiscard]] Expected<Node, std::string> parse_node(const nlohmann::json& object);

[[nodiscard]] Expected<ListResult<Node>, std::string> parse_node_list(const nlohmann::json& list);

// The node's name, the cache key.
[[nodiscard]] std::string object_key(const Node& n);
// Equal in everything kroute uses; resourceVersion ignored.
[[nodiscard]] bool same_content(const Node& a, const Node& b);

}  // namespace kroute::k8s
