#include "daemon/options.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace kroute;
using namespace kroute::daemon;

namespace {

Expected<ParseOutcome, std::string> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "kroute");
    return parse_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("defaults are kube-router's", "[daemon][options]") {
    auto r = parse({});
    REQUIRE(r);
    REQUIRE(r->options);
    const auto& o = *r->options;
    CHECK(o.cluster_asn == 64512);
    CHECK(o.bgp_port == 179);
    CHECK(o.health_port == 20244);
    CHECK(o.metrics_port == 0);
    CHECK(o.enable_ibgp);
    CHECK(o.bgp_holdtime == std::chrono::seconds(90));
    CHECK(o.routes_sync_period == std::chrono::minutes(5));
    CHECK(o.route_protocol == 52);
    CHECK(o.cni_conf_file == "/etc/cni/net.d/10-kuberouter.conflist");
    CHECK(o.api_socket == "/run/kroute/kroute.sock");
    REQUIRE(o.service_cluster_ip_range.size() == 1);
    CHECK(o.service_cluster_ip_range[0].to_string() == "10.96.0.0/12");
}

TEST_CASE("durations are written as kube-router writes them", "[daemon][options]") {
    auto r = parse({"--bgp-holdtime", "9s", "--bgp-keepalive-time", "3", "--bgp-connect-retry-time", "1m30s",
                    "--routes-sync-period=1h"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK(r->options->bgp_holdtime == std::chrono::seconds(9));
    CHECK(r->options->bgp_keepalive_time == std::chrono::seconds(3));
    CHECK(r->options->bgp_connect_retry_time == std::chrono::seconds(90));
    CHECK(r->options->routes_sync_period == std::chrono::hours(1));
}

TEST_CASE("boolean flags take =false as kube-router's do", "[daemon][options]") {
    auto r = parse({"--enable-ibgp=false", "--enable-cni=false", "--no-fib"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK_FALSE(r->options->enable_ibgp);
    CHECK_FALSE(r->options->enable_cni);
    CHECK(r->options->no_fib);
}

TEST_CASE("bad values are refused with a message naming the flag", "[daemon][options]") {
    auto [args, needle] = GENERATE(table<std::vector<const char*>, std::string>({
        {{"--bgp-holdtime", "2s"}, "--bgp-holdtime"},
        {{"--bgp-holdtime", "ninety"}, "not a duration"},
        {{"--router-id", "fd00::1"}, "--router-id"},
        {{"--cluster-asn", "0"}, "--cluster-asn"},
        {{"--service-cluster-ip-range", "10.96.0.1/12"}, "not a CIDR"},
        {{"--route-protocol", "300"}, "route-protocol"},
        {{"--kubeconfig", "a", "--nodes-file", "b"}, "exclude each other"},
        {{"--no-such-flag"}, "no-such-flag"},
    }));
    auto r = parse(args);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(needle));
}

TEST_CASE("flags of features not built yet are refused, never ignored", "[daemon][options]") {
    auto args = GENERATE(as<std::vector<const char*>>{}, std::vector<const char*>{"--peer-router-ips", "192.0.2.1"},
                         std::vector<const char*>{"--bgp-graceful-restart"},
                         std::vector<const char*>{"--enable-overlay=true"},
                         std::vector<const char*>{"--enable-pod-egress"},
                         std::vector<const char*>{"--enable-ipv6"},
                         std::vector<const char*>{"--metrics-port", "9100"},
                         std::vector<const char*>{"--advertise-cluster-ip"});
    auto r = parse(args);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("not built yet"));
}

TEST_CASE("--help and --version print without running", "[daemon][options]") {
    auto help = parse({"--help"});
    REQUIRE(help);
    CHECK_FALSE(help->options);
    CHECK_THAT(help->message, Catch::Contains("--cluster-asn"));
    CHECK_THAT(help->message, Catch::Contains("--nodes-file"));
    auto version = parse({"--version"});
    REQUIRE(version);
    CHECK_FALSE(version->options);
    CHECK_THAT(version->message, Catch::StartsWith("kroute "));
}

TEST_CASE("node name: --hostname-override, else NODE_NAME", "[daemon][options]") {
    Options o;
    o.hostname_override = "node-7";
    CHECK(node_name(o) == "node-7");
    o.hostname_override.clear();
    ::setenv("NODE_NAME", "from-env", 1);
    CHECK(node_name(o) == "from-env");
    ::unsetenv("NODE_NAME");
    CHECK_FALSE(node_name(o).empty());
}

TEST_CASE("--router-id generate hashes the node address as kube-router does", "[daemon][options]") {
    auto r = parse({"--router-id", "generate"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK(r->options->router_id == "generate");
    // FNV-1a 32 of the text "172.18.0.11" is 0x2d05c7ca (computed with Python's integer arithmetic).
    CHECK(generated_router_id(*IpAddress::parse("172.18.0.11")).to_string() == "45.5.199.202");
    CHECK(generated_router_id(*IpAddress::parse("172.18.0.11")) != generated_router_id(*IpAddress::parse("172.18.0.12")));
    CHECK(generated_router_id(*IpAddress::parse("fd00::11")).is_v4());
}
