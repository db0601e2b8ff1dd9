#include "k8s-client/node.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "k8s_test_support.hpp"

using kroute::Family;
using kroute::IpAddress;
using kroute::Prefix;
using kroute::k8s::parse_node;
using kroute::k8s::parse_node_list;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

json minimal(json spec = json::object()) {
    return json{{"metadata", {{"name", "n1"}, {"uid", "u-1"}, {"resourceVersion", "7"}}}, {"spec", std::move(spec)}};
}

}  // namespace

TEST_CASE("kubeadm/flannel node (kubectl get -o json item)", "[k8s][node]") {
    auto node = parse_node(t::load_json("node-kubeadm-flannel-k8s1.json"));
    REQUIRE(node);
    CHECK(node->name == "k8s1");
    CHECK(node->uid == "97295130-f079-420c-a18a-1782471530ea");
    CHECK(node->resource_version == "221514");
    CHECK(node->pod_cidrs == std::vector<Prefix>{pfx("10.244.0.0/24")});
    CHECK(node->internal_ips == std::vector<IpAddress>{ip("10.210.40.172")});  // the Hostname entry is skipped
    CHECK(node->external_ips.empty());
    CHECK(node->labels.at("kubernetes.io/hostname") == "k8s1");
    CHECK(node->labels.at("node-role.kubernetes.io/control-plane").empty());
    CHECK(node->annotations.at("flannel.alpha.coreos.com/backend-type") == "vxlan");
    CHECK(node->address(Family::kIpv4) == ip("10.210.40.172"));
    CHECK_FALSE(node->address(Family::kIpv6));
    // flannel's PATCH left its mark; the kubelet's conditions are not modelled.
    REQUIRE(node->network_unavailable);
    CHECK(node->network_unavailable->status == "False");
    CHECK(node->network_unavailable->reason == "FlannelIsUp");
    CHECK(node->pod_cidr(Family::kIpv4) == pfx("10.244.0.0/24"));
    CHECK_FALSE(node->pod_cidr(Family::kIpv6));
}

TEST_CASE("minikube 1.15 node without podCIDR parses with no pod CIDRs", "[k8s][node]") {
    auto node = parse_node(t::load_json("node-minikube-v1.15-no-podcidr.json"));
    REQUIRE(node);
    CHECK(node->name == "minikube");
    CHECK(node->pod_cidrs.empty());
    CHECK(node->internal_ips == std::vector<IpAddress>{ip("192.168.64.107")});
}

TEST_CASE("raw NodeList from the API (items without kind)", "[k8s][node]") {
    auto list = parse_node_list(t::load_json("node-minikube-v1.23-raw-nodelist-curl.json"));
    REQUIRE(list);
    CHECK(list->resource_version == "2624875");
    CHECK(list->continue_token.empty());
    CHECK(list->errors.empty());
    REQUIRE(list->items.size() == 1);
    const auto& n = list->items[0];
    CHECK(n.name == "ip-172-31-29-188");
    CHECK(n.uid == "0ca16cf4-b220-441c-9570-bc2367298e4d");
    CHECK(n.resource_version == "2624695");
    CHECK(n.pod_cidrs == std::vector<Prefix>{pfx("10.244.0.0/24")});
    CHECK(n.address(Family::kIpv4) == ip("172.31.29.188"));
    CHECK(n.labels.at("minikube.k8s.io/name") == "minikube");
}

TEST_CASE("dual-stack kind List (kube-router testdata YAML converted with yaml-cpp)", "[k8s][node]") {
    auto list = parse_node_list(t::yaml_to_json(YAML::LoadFile(t::data_path("node-dualstack-kube-router-testdata.yaml"))));
    REQUIRE(list);
    CHECK(list->resource_version.empty());
    CHECK(list->errors.empty());
    REQUIRE(list->items.size() == 2);
    const auto& vm1 = list->items[0];
    CHECK(vm1.name == "kube-router-vm1");
    CHECK(vm1.pod_cidrs == std::vector<Prefix>{pfx("10.242.0.0/24"), pfx("2001:db8:42:1000::/64")});
    CHECK(vm1.internal_ips == std::vector<IpAddress>{ip("10.241.0.20"), ip("2001:db8:ca2:2::2ca1")});
    CHECK(vm1.address(Family::kIpv6) == ip("2001:db8:ca2:2::2ca1"));
    CHECK(vm1.pod_cidr(Family::kIpv6) == pfx("2001:db8:42:1000::/64"));
    CHECK(list->items[1].pod_cidr(Family::kIpv4) == pfx("10.242.1.0/24"));
}

TEST_CASE("pod CIDR sources in kube-router's order", "[k8s][node]") {
    SECTION("spec.podCIDRs, IPv6 first (k0s#5833 shape)") {
        auto n = parse_node(minimal({{"podCIDR", "fd00::/110"}, {"podCIDRs", {"fd00::/110", "10.244.0.0/24"}}}));
        REQUIRE(n);
        CHECK(n->pod_cidrs == std::vector<Prefix>{pfx("fd00::/110"), pfx("10.244.0.0/24")});
        CHECK(n->pod_cidr(Family::kIpv4) == pfx("10.244.0.0/24"));
    }
    SECTION("spec.podCIDR alone (pre-1.16 servers)") {
        auto n = parse_node(minimal({{"podCIDR", "10.1.2.0/24"}}));
        REQUIRE(n);
        CHECK(n->pod_cidrs == std::vector<Prefix>{pfx("10.1.2.0/24")});
    }
    SECTION("empty podCIDRs falls back to podCIDR") {
        auto n = parse_node(minimal({{"podCIDR", "10.1.2.0/24"}, {"podCIDRs", json::array()}}));
        REQUIRE(n);
        CHECK(n->pod_cidrs == std::vector<Prefix>{pfx("10.1.2.0/24")});
    }
    SECTION("the pod-cidrs annotation wins over the spec") {
        auto j = minimal({{"podCIDRs", {"10.244.0.0/24"}}});
        j["metadata"]["annotations"] = {{"kube-router.io/pod-cidrs", "10.9.0.0/24, fd09::/64"}};
        auto n = parse_node(j);
        REQUIRE(n);
        CHECK(n->pod_cidrs == std::vector<Prefix>{pfx("10.9.0.0/24"), pfx("fd09::/64")});
    }
    SECTION("the single pod-cidr annotation") {
        auto j = minimal({{"podCIDR", "10.244.0.0/24"}});
        j["metadata"]["annotations"] = {{"kube-router.io/pod-cidr", "10.8.0.0/24"}};
        auto n = parse_node(j);
        REQUIRE(n);
        CHECK(n->pod_cidrs == std::vector<Prefix>{pfx("10.8.0.0/24")});
    }
    SECTION("null fields are absent fields") {
        auto n = parse_node(minimal({{"podCIDR", nullptr}, {"podCIDRs", nullptr}}));
        REQUIRE(n);
        CHECK(n->pod_cidrs.empty());
    }
}

TEST_CASE("addresses: InternalIP and ExternalIP kept in order, names skipped", "[k8s][node]") {
    auto j = minimal();
    j["status"]["addresses"] = {{{"type", "Hostname"}, {"address", "n1"}},
                                {{"type", "ExternalIP"}, {"address", "203.0.113.7"}},
                                {{"type", "InternalDNS"}, {"address", "n1.internal"}},
                                {{"type", "InternalIP"}, {"address", "10.0.0.7"}},
                                {{"type", "InternalIP"}, {"address", "fd00::7"}}};
    auto n = parse_node(j);
    REQUIRE(n);
    CHECK(n->internal_ips == std::vector<IpAddress>{ip("10.0.0.7"), ip("fd00::7")});
    CHECK(n->external_ips == std::vector<IpAddress>{ip("203.0.113.7")});
    CHECK(n->address(Family::kIpv4) == ip("10.0.0.7"));  // InternalIP before ExternalIP
    j["status"]["addresses"] = {{{"type", "ExternalIP"}, {"address", "203.0.113.7"}}};
    auto ext_only = parse_node(j);
    REQUIRE(ext_only);
    CHECK(ext_only->address(Family::kIpv4) == ip("203.0.113.7"));
}

TEST_CASE("broken nodes are errors naming the field, never exceptions", "[k8s][node]") {
    struct Case {
        json object;
        std::string needle;
    };
    auto with = [](const std::string& ptr, json v) {
        json j = minimal({{"podCIDR", "10.1.0.0/24"}});
        j[json::json_pointer{ptr}] = std::move(v);
        return j;
    };
    const std::vector<Case> cases{
        {json::array(), "expected an object"},
        {json("node"), "expected an object"},
        {json::object(), "metadata: missing"},
        {json{{"metadata", 5}}, "metadata: expected an object"},
        {json{{"metadata", json::object()}}, "metadata.name: missing"},
        {json{{"metadata", {{"name", 42}}}}, "metadata.name: expected a string"},
        {with("/metadata/uid", 1), "metadata.uid"},
        {with("/metadata/resourceVersion", json::array()), "metadata.resourceVersion"},
        {with("/metadata/labels", "x"), "metadata.labels"},
        {with("/metadata/labels", {{"a", 1}}), "metadata.labels[\"a\"]"},
        {with("/metadata/annotations", json::array()), "metadata.annotations"},
        {with("/spec", "x"), "spec: expected an object"},
        {with("/spec/podCIDRs", "10.0.0.0/24"), "spec.podCIDRs: expected an array"},
        {with("/spec/podCIDRs", {"10.0.0.0/24", 3}), "spec.podCIDRs[1]"},
        {with("/spec/podCIDRs", {"10.0.0.1/24"}), "invalid CIDR \"10.0.0.1/24\""},
        {with("/spec/podCIDRs", {"10.0.0.0/33"}), "invalid CIDR \"10.0.0.0/33\""},
        {with("/spec/podCIDR", "banana"), "spec.podCIDR: invalid CIDR \"banana\""},
        {with("/metadata/annotations", {{"kube-router.io/pod-cidrs", "10.0.0.0/24,nope"}}), "invalid CIDR \"nope\""},
        {with("/status", 1), "status: expected an object"},
        {with("/status/addresses", json::object()), "status.addresses: expected an array"},
        {with("/status/addresses", {1}), "status.addresses[0]"},
        {with("/status/addresses", {{{"type", "InternalIP"}, {"address", "10.0.0.256"}}}),
         "invalid InternalIP \"10.0.0.256\""},
        {with("/status/addresses", {{{"type", 7}, {"address", "10.0.0.1"}}}), "status.addresses[0].type"},
        {with("/status/addresses", {{{"type", "ExternalIP"}, {"address", false}}}), "status.addresses[0].address"},
    };
    for (const auto& c : cases) {
        INFO(c.object.dump());
        auto n = parse_node(c.object);
        REQUIRE_FALSE(n);
        CHECK_THAT(n.error(), Catch::Contains(c.needle));
    }
    // An error past metadata.name names the node too.
    auto named = parse_node(with("/spec/podCIDR", "banana"));
    REQUIRE_FALSE(named);
    CHECK_THAT(named.error(), Catch::StartsWith("node n1: "));
}

TEST_CASE("node lists: kinds, paging metadata, bad items skipped", "[k8s][node]") {
    json good = minimal({{"podCIDR", "10.1.0.0/24"}});
    json bad = minimal({{"podCIDR", "zzz"}});
    SECTION("NodeList with a continue token and one bad item") {
        json list{{"kind", "NodeList"},
                  {"apiVersion", "v1"},
                  {"metadata", {{"resourceVersion", "99"}, {"continue", "abc"}}},
                  {"items", {good, bad}}};
        auto r = parse_node_list(list);
        REQUIRE(r);
        CHECK(r->resource_version == "99");
        CHECK(r->continue_token == "abc");
        CHECK(r->items.size() == 1);
        REQUIRE(r->errors.size() == 1);
        CHECK_THAT(r->errors[0], Catch::Contains("items[1]") && Catch::Contains("zzz"));
    }
    SECTION("a List item of another kind is reported, not parsed") {
        json pod = good;
        pod["kind"] = "Pod";
        auto r = parse_node_list(json{{"kind", "List"}, {"items", {pod}}});
        REQUIRE(r);
        CHECK(r->items.empty());
        REQUIRE(r->errors.size() == 1);
        CHECK_THAT(r->errors[0], Catch::Contains("Pod"));
    }
    SECTION("null items is an empty list") {
        auto r = parse_node_list(json{{"kind", "NodeList"}, {"items", nullptr}});
        REQUIRE(r);
        CHECK(r->items.empty());
    }
    SECTION("whole-list errors") {
        CHECK_FALSE(parse_node_list(json::array()));
        CHECK_THAT(parse_node_list(json{{"kind", "PodList"}}).error(), Catch::Contains("PodList"));
        CHECK_THAT(parse_node_list(json{{"kind", "NodeList"}, {"items", json::object()}}).error(),
                   Catch::Contains("items"));
        CHECK_THAT(parse_node_list(json{{"kind", "NodeList"}, {"metadata", {{"resourceVersion", 5}}}}).error(),
                   Catch::Contains("metadata.resourceVersion"));
        CHECK_THAT(parse_node_list(json{{"kind", 3}}).error(), Catch::Contains("kind"));
    }
}
