// Service advertisement, the deciding part: which host routes (/32, /128) a node announces to its
// external routers for the cluster's Services, as kube-router's --advertise-cluster-ip,
// --advertise-external-ip and --advertise-loadbalancer-ip do. Pure: Services and EndpointSlices in,
// prefixes out. The controller originates them; see docs/user-guide.md, "Service advertisement".
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "k8s-client/endpoint_slice.hpp"
#include "k8s-client/service.hpp"

namespace kroute::daemon {

// Per-service switches (kube-router's annotations): "true" or "false" override the flags.
inline constexpr const char* kAdvertiseClusterIpAnnotation = "kube-router.io/service.advertise.clusterip";
inline constexpr const char* kAdvertiseExternalIpAnnotation = "kube-router.io/service.advertise.externalip";
inline constexpr const char* kAdvertiseLoadBalancerIpAnnotation = "kube-router.io/service.advertise.loadbalancerip";
// "true": every address of the service is announced only by nodes with a ready local endpoint.
inline constexpr const char* kServiceLocalAnnotation = "kube-router.io/service.local";

struct ServiceAdvertising {
    bool cluster_ip = false;        // --advertise-cluster-ip
    bool external_ip = false;       // --advertise-external-ip
    bool load_balancer_ip = false;  // --advertise-loadbalancer-ip
    bool ipv6 = false;              // --enable-ipv6: IPv6 addresses too
};

// Whether the node `node` runs a ready endpoint of `service`, according to `slices` (every
// EndpointSlice of the service's namespace, or more; others' slices are ignored).
[[nodiscard]] bool has_local_endpoint(const k8s::Service& service, const std::vector<const k8s::EndpointSlice*>& slices,
                                      const std::string& node);

struct ServiceRoutes {
    std::set<Prefix> prefixes;          // the host routes to announce
    std::vector<std::string> warnings;  // annotations with values that are neither "true" nor "false"
};

// The routes node `node` announces for `service`:
//  - ClusterIP services and the others' cluster IPs with cluster_ip (headless ones have none),
//    externalIPs with external_ip, status.loadBalancer ingress IPs with load_balancer_ip, each
//    switched per service by its annotation;
//  - cluster IPs under internalTrafficPolicy Local, external and load-balancer IPs under
//    externalTrafficPolicy Local, and all of them with kube-router.io/service.local "true", only
//    when the node has a ready endpoint of the service;
//  - ExternalName services nothing; IPv6 addresses only with ipv6.
[[nodiscard]] ServiceRoutes service_routes(const k8s::Service& service, const std::vector<const k8s::EndpointSlice*>& slices,
                                           const std::string& node, const ServiceAdvertising& how);

}  // namespace kroute::daemon
