// The Service and EndpointSlice models: real list shapes (tests/data/k8s), the API's defaults for
// absent fields, malformed objects refused with the field named, and the cache's change detection.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "k8s-client/endpoint_slice.hpp"
#include "k8s-client/object_cache.hpp"
#include "k8s-client/service.hpp"
#include "k8s_test_support.hpp"

using kroute::IpAddress;
using kroute::k8s::EndpointSlice;
using kroute::k8s::EventType;
using kroute::k8s::ObjectCache;
using kroute::k8s::parse_endpoint_slice;
using kroute::k8s::parse_endpoint_slice_list;
using kroute::k8s::parse_service;
using kroute::k8s::parse_service_list;
using kroute::k8s::Service;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

json service(json spec, json status = json::object()) {
    return json{{"metadata", {{"name", "s"}, {"namespace", "ns"}, {"resourceVersion", "3"}}},
                {"spec", std::move(spec)},
                {"status", std::move(status)}};
}

}  // namespace

TEST_CASE("services: a ServiceList of every type", "[k8s][service]") {
    auto list = parse_service_list(t::load_json("service-list-mixed.json"));
    REQUIRE(list);
    CHECK(list->errors.empty());
    CHECK(list->resource_version == "48213");
    REQUIRE(list->items.size() == 4);

    const Service& api = list->items[0];
    CHECK(object_key(api) == "default/kubernetes");
    CHECK(api.type == "ClusterIP");
    CHECK(api.cluster_ips == std::vector<IpAddress>{ip("10.96.0.1")});
    CHECK(api.external_traffic_policy == "Cluster");  // absent: the API's default
    CHECK(api.labels.at("component") == "apiserver");

    const Service& web = list->items[1];
    CHECK(web.type == "LoadBalancer");
    CHECK(web.cluster_ips == std::vector<IpAddress>{ip("fd00:10:96::5c1"), ip("10.96.44.7")});  // IPv6 first, as sent
    CHECK(web.external_ips == std::vector<IpAddress>{ip("203.0.113.10")});
    CHECK(web.load_balancer_ips == std::vector<IpAddress>{ip("198.51.100.7")});  // the hostname entry skipped
    CHECK(web.external_traffic_policy == "Local");
    CHECK(web.annotations.at("kube-router.io/service.advertise.loadbalancerip") == "true");

    const Service& db = list->items[2];
    CHECK(db.headless);
    CHECK(db.cluster_ips.empty());

    const Service& legacy = list->items[3];
    CHECK(legacy.type == "ExternalName");
    CHECK(legacy.cluster_ips.empty());
    CHECK_FALSE(legacy.headless);
}

TEST_CASE("services: only clusterIP (servers before 1.20), no spec at all", "[k8s][service]") {
    auto old = parse_service(service({{"clusterIP", "10.96.3.3"}}));
    REQUIRE(old);
    CHECK(old->cluster_ips == std::vector<IpAddress>{ip("10.96.3.3")});
    auto bare = parse_service(json{{"metadata", {{"name", "b"}, {"namespace", "ns"}}}});
    REQUIRE(bare);
    CHECK(bare->type == "ClusterIP");
    CHECK(bare->external_traffic_policy == "Cluster");
    CHECK(bare->internal_traffic_policy == "Cluster");
}

TEST_CASE("services: malformed objects name the service and the field", "[k8s][service]") {
    const std::vector<std::pair<json, std::string>> cases{
        {json{{"metadata", {{"name", "s"}}}}, "metadata.namespace: missing"},
        {service({{"clusterIPs", {"10.96.0.300"}}}), "service ns/s: spec.clusterIPs[0]: invalid IP address \"10.96.0.300\""},
        {service({{"clusterIP", "bogus"}}), "spec.clusterIP: invalid IP address"},
        {service({{"externalIPs", "203.0.113.1"}}), "spec.externalIPs: expected an array"},
        {service({{"type", 5}}), "spec.type: expected a string"},
        {service(json::object(), {{"loadBalancer", {{"ingress", {{{"ip", "x"}}}}}}}),
         "status.loadBalancer.ingress[0].ip: invalid IP address \"x\""},
        {service(json::object(), {{"loadBalancer", {{"ingress", {"1.2.3.4"}}}}}),
         "status.loadBalancer.ingress[0]: expected an object"},
        {json{{"metadata", {{"name", "s"}, {"namespace", "ns"}}}, {"spec", "x"}}, "spec: expected an object"},
    };
    for (const auto& [object, needle] : cases) {
        INFO(object.dump());
        auto s = parse_service(object);
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error(), Catch::Contains(needle));
    }
}

TEST_CASE("services: a list skips the malformed item and keeps the rest", "[k8s][service]") {
    json list = t::load_json("service-list-mixed.json");
    list["items"][1]["spec"]["clusterIPs"] = {"not-an-ip"};
    list["items"][2]["kind"] = "Pod";  // a List item of another kind
    auto parsed = parse_service_list(list);
    REQUIRE(parsed);
    CHECK(parsed->items.size() == 2);
    REQUIRE(parsed->errors.size() == 2);
    CHECK_THAT(parsed->errors[0], Catch::Contains("items[1]") && Catch::Contains("shop/web"));
    CHECK_THAT(parsed->errors[1], Catch::Contains("items[2]: kind \"Pod\" is not Service"));
    CHECK_THAT(parse_service_list(json{{"kind", "NodeList"}}).error(), Catch::Contains("expected ServiceList or List"));
}

TEST_CASE("endpointslices: addresses, conditions with the API's defaults, node names", "[k8s][endpointslice]") {
    auto list = parse_endpoint_slice_list(t::load_json("endpointslice-list.json"));
    REQUIRE(list);
    CHECK(list->errors.empty());
    REQUIRE(list->items.size() == 3);

    const EndpointSlice& web = list->items[0];
    CHECK(object_key(web) == "shop/web-7xk2p");
    CHECK(web.service_name == "web");
    CHECK(web.address_type == "IPv4");
    REQUIRE(web.endpoints.size() == 3);
    CHECK(web.endpoints[0].addresses == std::vector<IpAddress>{ip("10.244.1.5")});
    CHECK(web.endpoints[0].node_name == "node1");
    CHECK(web.endpoints[0].ready);
    CHECK_FALSE(web.endpoints[1].ready);  // terminating, still serving
    CHECK(web.endpoints[1].serving);
    CHECK(web.endpoints[1].terminating);
    // Empty conditions: ready and serving default to true, terminating to false.
    CHECK(web.endpoints[2].ready);
    CHECK(web.endpoints[2].serving);
    CHECK_FALSE(web.endpoints[2].terminating);

    CHECK(list->items[1].address_type == "IPv6");
    CHECK(list->items[1].endpoints[0].addresses == std::vector<IpAddress>{ip("fd00:10:244:1::5")});
    CHECK(list->items[2].endpoints.empty());  // "endpoints": null, as the API sends an empty slice
}

TEST_CASE("endpointslices: a not-ready endpoint is not serving unless it says so", "[k8s][endpointslice]") {
    auto s = parse_endpoint_slice(json{{"metadata", {{"name", "e"}, {"namespace", "ns"}}},
                                       {"addressType", "IPv4"},
                                       {"endpoints", {{{"addresses", {"10.0.0.1"}}, {"conditions", {{"ready", false}}}}}}});
    REQUIRE(s);
    CHECK_FALSE(s->endpoints[0].ready);
    CHECK_FALSE(s->endpoints[0].serving);
}

TEST_CASE("endpointslices: FQDN slices carry no addresses to route", "[k8s][endpointslice]") {
    auto s = parse_endpoint_slice(json{{"metadata", {{"name", "e"}, {"namespace", "ns"}}},
                                       {"addressType", "FQDN"},
                                       {"endpoints", {{{"addresses", {"db.example.com"}}}}}});
    REQUIRE(s);
    REQUIRE(s->endpoints.size() == 1);
    CHECK(s->endpoints[0].addresses.empty());
}

TEST_CASE("endpointslices: malformed objects name the slice and the field", "[k8s][endpointslice]") {
    auto slice = [](json endpoints, const char* type = "IPv4") {
        return json{{"metadata", {{"name", "e"}, {"namespace", "ns"}}}, {"addressType", type}, {"endpoints", std::move(endpoints)}};
    };
    const std::vector<std::pair<json, std::string>> cases{
        {slice(json::array(), "IPX"), "addressType: expected IPv4, IPv6 or FQDN"},
        {slice({{{"addresses", {"10.0.0.256"}}}}), "endpointslice ns/e: endpoints[0].addresses[0]: invalid IP address"},
        {slice({{{"addresses", {"fd00::1"}}}}), "address fd00::1 does not match addressType IPv4"},
        {slice({{{"addresses", {"10.0.0.1"}}, {"conditions", {{"ready", "yes"}}}}}), "conditions.ready: expected a boolean"},
        {slice({{{"addresses", {"10.0.0.1"}}, {"nodeName", 3}}}), "endpoints[0].nodeName: expected a string"},
        {slice("x"), "endpoints: expected an array"},
    };
    for (const auto& [object, needle] : cases) {
        INFO(object.dump());
        auto s = parse_endpoint_slice(object);
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error(), Catch::Contains(needle));
    }
}

TEST_CASE("object cache: services keyed by namespace/name, resourceVersion-only changes are quiet", "[k8s][service]") {
    auto list = parse_service_list(t::load_json("service-list-mixed.json"));
    REQUIRE(list);
    ObjectCache<Service> cache;
    auto events = cache.replace(list->items);
    CHECK(events.size() == 5);  // four additions, then synced
    CHECK(cache.objects().contains("shop/web"));

    Service web = cache.objects().at("shop/web");
    web.resource_version = "99999";
    CHECK_FALSE(cache.apply(EventType::kModified, web));
    web.load_balancer_ips.push_back(ip("198.51.100.8"));
    auto ev = cache.apply(EventType::kModified, web);
    REQUIRE(ev);
    CHECK(ev->type == EventType::kModified);
    // Same name in another namespace: another object.
    Service other = web;
    other.ns = "other";
    auto added = cache.apply(EventType::kAdded, other);
    REQUIRE(added);
    CHECK(added->type == EventType::kAdded);
}
