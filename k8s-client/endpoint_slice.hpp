// The EndpointSlice model (discovery.k8s.io/v1): which endpoints back a Service and on which
// node they run, as service advertisement with externalTrafficPolicy Local needs it. Pure code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/expected.hpp"
#include "common/ip.hpp"
#include "k8s-client/resource.hpp"

namespace kroute::k8s {

struct Endpoint {
    std::vector<IpAddress> addresses;  // empty for addressType FQDN (names are not ours to route)
    // conditions, with the API's defaults for absent fields: ready and serving true, terminating false.
    bool ready = true;
    bool serving = true;
    bool terminating = false;
    std::string node_name;  // nodeName; empty when the controller did not set it
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct EndpointSlice {
    std::string name;
    std::string ns;
    std::string uid;
    std::string resource_version;
    std::string service_name;  // the kubernetes.io/service-name label; empty for a slice of no Service
    std::string address_type;  // IPv4, IPv6 or FQDN
    std::vector<Endpoint> endpoints;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;

    friend bool operator==(const EndpointSlice&, const EndpointSlice&) = default;
};

[[nodiscard]] Expected<EndpointSlice, std::string> parse_endpoint_slice(const nlohmann::json& object);
[[nodiscard]] Expected<ListResult<EndpointSlice>, std::string> parse_endpoint_slice_list(const nlohmann::json& list);

[[nodiscard]] std::string object_key(const EndpointSlice& s);
[[nodiscard]] bool same_content(const EndpointSlice& a, const EndpointSlice& b);

}  // namespace kroute::k8s
