// Service advertisement's decisions (daemon/services): pure, no sockets.
#include "daemon/services.hpp"

#include <catch2/catch.hpp>

using namespace kroute;
using namespace kroute::daemon;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

k8s::Service svc() {
    k8s::Service s;
    s.name = "web";
    s.ns = "shop";
    s.type = "LoadBalancer";
    s.cluster_ips = {ip("10.96.0.10"), ip("fd00:96::10")};
    s.external_ips = {ip("192.0.2.10")};
    s.load_balancer_ips = {ip("198.51.100.10")};
    s.external_traffic_policy = "Cluster";
    s.internal_traffic_policy = "Cluster";
    return s;
}

k8s::EndpointSlice slice(const std::string& service, const std::string& node, bool ready = true) {
    k8s::EndpointSlice e;
    e.name = service + "-abc";
    e.ns = "shop";
    e.service_name = service;
    e.address_type = "IPv4";
    k8s::Endpoint ep;
    ep.addresses = {ip("10.244.1.5")};
    ep.ready = ready;
    ep.node_name = node;
    e.endpoints = {ep};
    return e;
}

std::set<Prefix> routes(const k8s::Service& s, const std::vector<k8s::EndpointSlice>& slices, ServiceAdvertising how,
                        const std::string& node = "node1") {
    std::vector<const k8s::EndpointSlice*> ptrs;
    for (const auto& e : slices) ptrs.push_back(&e);
    auto r = service_routes(s, ptrs, node, how);
    CHECK(r.warnings.empty());
    return r.prefixes;
}

}  // namespace

TEST_CASE("each flag advertises its kind of address, as host routes", "[daemon][services]") {
    const auto s = svc();
    CHECK(routes(s, {}, {}).empty());
    CHECK(routes(s, {}, {.cluster_ip = true}) == std::set<Prefix>{pfx("10.96.0.10/32")});
    CHECK(routes(s, {}, {.external_ip = true}) == std::set<Prefix>{pfx("192.0.2.10/32")});
    CHECK(routes(s, {}, {.load_balancer_ip = true}) == std::set<Prefix>{pfx("198.51.100.10/32")});
    // IPv6 addresses only with --enable-ipv6.
    CHECK(routes(s, {}, {.cluster_ip = true, .ipv6 = true}) ==
          std::set<Prefix>{pfx("10.96.0.10/32"), pfx("fd00:96::10/128")});
}

TEST_CASE("headless and ExternalName services have nothing to advertise as cluster IP", "[daemon][services]") {
    auto headless = svc();
    headless.headless = true;
    headless.cluster_ips.clear();
    CHECK(routes(headless, {}, {.cluster_ip = true, .external_ip = true}) == std::set<Prefix>{pfx("192.0.2.10/32")});
    auto name = svc();
    name.type = "ExternalName";
    CHECK(routes(name, {}, {.cluster_ip = true, .external_ip = true, .load_balancer_ip = true}).empty());
}

TEST_CASE("kube-router's per-service annotations override the flags both ways", "[daemon][services]") {
    auto s = svc();
    s.annotations[kAdvertiseClusterIpAnnotation] = "false";
    s.annotations[kAdvertiseLoadBalancerIpAnnotation] = "true";
    CHECK(routes(s, {}, {.cluster_ip = true}) == std::set<Prefix>{pfx("198.51.100.10/32")});
    s.annotations[kAdvertiseExternalIpAnnotation] = "maybe";
    std::vector<const k8s::EndpointSlice*> none;
    auto r = service_routes(s, none, "node1", {.external_ip = true});
    CHECK(r.prefixes == std::set<Prefix>{pfx("192.0.2.10/32"), pfx("198.51.100.10/32")});  // the flag stays in charge
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Catch::Contains("shop/web") && Catch::Contains("maybe"));
}

TEST_CASE("externalTrafficPolicy Local: external and load-balancer IPs only from nodes with a ready endpoint",
          "[daemon][services]") {
    auto s = svc();
    s.external_traffic_policy = "Local";
    const ServiceAdvertising all{.cluster_ip = true, .external_ip = true, .load_balancer_ip = true};
    // No endpoint here: only the cluster IP (its policy is Cluster).
    CHECK(routes(s, {slice("web", "node2")}, all) == std::set<Prefix>{pfx("10.96.0.10/32")});
    // A not-ready endpoint here does not count; another service's endpoint neither.
    CHECK(routes(s, {slice("web", "node1", false), slice("db", "node1")}, all) == std::set<Prefix>{pfx("10.96.0.10/32")});
    // A ready one: all three.
    CHECK(routes(s, {slice("web", "node2"), slice("web", "node1")}, all) ==
          std::set<Prefix>{pfx("10.96.0.10/32"), pfx("192.0.2.10/32"), pfx("198.51.100.10/32")});
    // A slice of the same name in another namespace is not this service's.
    auto other_ns = slice("web", "node1");
    other_ns.ns = "other";
    CHECK(routes(s, {other_ns}, all) == std::set<Prefix>{pfx("10.96.0.10/32")});
}

TEST_CASE("internalTrafficPolicy Local and kube-router.io/service.local", "[daemon][services]") {
    auto s = svc();
    s.internal_traffic_policy = "Local";
    const ServiceAdvertising all{.cluster_ip = true, .external_ip = true, .load_balancer_ip = true};
    CHECK(routes(s, {}, all) == std::set<Prefix>{pfx("192.0.2.10/32"), pfx("198.51.100.10/32")});
    CHECK(routes(s, {slice("web", "node1")}, all).count(pfx("10.96.0.10/32")) == 1);
    auto local = svc();
    local.annotations[kServiceLocalAnnotation] = "true";
    CHECK(routes(local, {}, all).empty());
    CHECK(routes(local, {slice("web", "node1")}, all).size() == 3);
}
