#include "daemon/options.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
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
        {{"--enable-overlay", "--overlay-type", "ipip"}, "neither subnet nor full"},
        {{"--metrics-path", "metrics"}, "--metrics-path"},
        {{"--metrics-path", "/healthz"}, "--metrics-path"},
        {{"--metrics-port", "20244"}, "--health-port too"},
    }));
    auto r = parse(args);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(needle));
}

TEST_CASE("metrics: off by default, on a port, address and path of their own", "[daemon][options]") {
    auto off = parse({});
    REQUIRE(off);
    CHECK(off->options->metrics_port == 0);
    CHECK(off->options->metrics_addr.empty());
    CHECK(off->options->metrics_path == "/metrics");
    auto on = parse({"--metrics-port", "20245", "--metrics-addr", "127.0.0.1", "--metrics-path", "/m"});
    REQUIRE(on);
    CHECK(on->options->metrics_port == 20245);
    CHECK(on->options->metrics_addr == "127.0.0.1");
    CHECK(on->options->metrics_path == "/m");
    // The health port's number on another address is fine.
    CHECK(parse({"--metrics-port", "20244", "--metrics-addr", "127.0.0.1", "--health-addr", "127.0.0.2"}));
}

TEST_CASE("the overlay: off by default, subnet or full", "[daemon][options]") {
    auto off = parse({});
    REQUIRE(off);
    CHECK_FALSE(off->options->enable_overlay);
    CHECK(off->options->overlay_type == "subnet");
    auto full = parse({"--enable-overlay", "--overlay-type", "full"});
    REQUIRE(full);
    CHECK(full->options->enable_overlay);
    CHECK(full->options->overlay_type == "full");
}

TEST_CASE("address families: IPv4 by default, dual-stack, IPv6-only; never none", "[daemon][options]") {
    auto v4 = parse({});
    REQUIRE(v4);
    CHECK(v4->options->enable_ipv4);
    CHECK_FALSE(v4->options->enable_ipv6);
    auto v6only = parse({"--enable-ipv4=false", "--enable-ipv6"});
    REQUIRE(v6only);
    CHECK_FALSE(v6only->options->enable_ipv4);
    CHECK(v6only->options->enable_ipv6);
    auto none = parse({"--enable-ipv4=false"});
    REQUIRE_FALSE(none);
    CHECK(none.error().find("no address family") != std::string::npos);
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
    CHECK_THAT(version->message, Catch::Contains("(commit "));
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

TEST_CASE("external peers as kube-router reads them", "[daemon][options]") {
    // "c2VjcmV0" is base64 of "secret".
    auto r = parse({"--peer-router-ips=192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,4200000001",
                    "--peer-router-ports", ",1790", "--peer-router-passwords", "c2VjcmV0,", "--peer-router-multihop-ttl",
                    "3", "--peer-router-import-reject", "203.0.113.0/24,198.51.100.0/25"});
    REQUIRE(r);
    REQUIRE(r->options);
    const auto& p = r->options->peer_routers;
    REQUIRE(p.size() == 2);
    CHECK(p[0] == ExternalPeer{*IpAddress::parse("192.0.2.1"), 65001, 179, "secret"});
    CHECK(p[1] == ExternalPeer{*IpAddress::parse("192.0.2.2"), 4200000001u, 1790, ""});
    CHECK(r->options->peer_router_multihop_ttl == 3);
    REQUIRE(r->options->peer_router_import_reject.size() == 2);
    CHECK(r->options->peer_router_import_reject[1].to_string() == "198.51.100.0/25");

    // Repeated flags add up, as a string slice does.
    auto rep = parse({"--peer-router-ips", "192.0.2.1", "--peer-router-ips", "192.0.2.2", "--peer-router-asns",
                      "65001,65002"});
    REQUIRE(rep);
    CHECK(rep->options->peer_routers.size() == 2);

    // `kroutectl config` never shows a password, only which peers have one.
    auto d = describe(*r->options);
    bool seen = false;
    for (const auto& [k, v] : d) {
        CHECK(v.find("secret") == std::string::npos);
        CHECK(v.find("c2VjcmV0") == std::string::npos);
        if (k == "peer-router-passwords") {
            CHECK(v == "(set),");
            seen = true;
        }
        if (k == "peer-router-ips") CHECK(v == "192.0.2.1,192.0.2.2");
        if (k == "peer-router-ports") CHECK(v == "179,1790");
    }
    CHECK(seen);
}

TEST_CASE("external peer flags are validated as kube-router does, with clear errors", "[daemon][options]") {
    auto [args, needle] = GENERATE(table<std::vector<const char*>, std::string>({
        {{"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001"}, "must be equal"},
        {{"--peer-router-asns", "65001"}, "must be equal"},
        {{"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002", "--peer-router-ports", "179"},
         "number of ports"},
        {{"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002", "--peer-router-passwords",
          "c2VjcmV0"},
         "number of passwords"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "23456"}, "not a usable AS number"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "0"}, "not a usable AS number"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "64000"}, "not a usable AS number"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65535"}, "not a usable AS number"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "4294967295"}, "not a usable AS number"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "AS65001"}, "not a usable AS number"},
        {{"--peer-router-ips", "router1", "--peer-router-asns", "65001"}, "not an IP address"},
        {{"--peer-router-ips", "192.0.2.1,192.0.2.1", "--peer-router-asns", "65001,65001"}, "twice"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65001", "--peer-router-ports", "70000"}, "not a port"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65001", "--peer-router-passwords", "not base64!"},
         "is not base64"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65001", "--peer-router-multihop-ttl", "256"},
         "multihop-ttl"},
        {{"--peer-router-import-reject", "203.0.113.1/24"}, "not a CIDR"},
        {{"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65001", "--peer-router-passwords-file",
          "/nonexistent/kroute-passwords"},
         "cannot read"},
    }));
    auto r = parse(args);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(needle));
    CHECK_THAT(r.error(), !Catch::Contains("not base64!"));  // a password is never echoed
}

TEST_CASE("--peer-router-passwords-file holds the flag's format; the flag wins", "[daemon][options]") {
    char path[] = "/tmp/kroute-options-test.XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << ",c2VjcmV0\n";  // base64 "secret" for the second peer; a trailing newline is fine
    auto from_file = parse({"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002",
                            "--peer-router-passwords-file", path});
    REQUIRE(from_file);
    CHECK(from_file->options->peer_routers[0].password.empty());
    CHECK(from_file->options->peer_routers[1].password == "secret");
    auto flag_wins = parse({"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002",
                            "--peer-router-passwords", "b3RoZXI=,", "--peer-router-passwords-file", path});
    REQUIRE(flag_wins);
    CHECK(flag_wins->options->peer_routers[0].password == "other");
    CHECK(flag_wins->options->peer_routers[1].password.empty());
    std::remove(path);
}

TEST_CASE("graceful restart flags: kube-router's names, defaults and limits", "[daemon][options]") {
    auto d = parse({});
    REQUIRE(d);
    CHECK_FALSE(d->options->bgp_graceful_restart);
    CHECK(d->options->bgp_graceful_restart_time == std::chrono::seconds(90));
    CHECK(d->options->bgp_graceful_restart_deferral_time == std::chrono::seconds(360));
    auto r = parse({"--bgp-graceful-restart", "--bgp-graceful-restart-time", "2m", "--bgp-graceful-restart-deferral-time",
                    "30s"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK(r->options->bgp_graceful_restart);
    CHECK(r->options->bgp_graceful_restart_time == std::chrono::seconds(120));
    CHECK(r->options->bgp_graceful_restart_deferral_time == std::chrono::seconds(30));
    auto too_long = parse({"--bgp-graceful-restart-time", "4096s"});
    REQUIRE_FALSE(too_long);
    CHECK_THAT(too_long.error(), Catch::Contains("4095s"));
    auto deferral = parse({"--bgp-graceful-restart-deferral-time", "19h"});
    REQUIRE_FALSE(deferral);
    CHECK_THAT(deferral.error(), Catch::Contains("18h"));
}

TEST_CASE("graceful shutdown flags (RFC 8326): defaults, durations, limits, kroutectl config", "[daemon][options]") {
    auto d = parse({});
    REQUIRE(d);
    CHECK_FALSE(d->options->bgp_graceful_shutdown);
    CHECK(d->options->bgp_graceful_shutdown_time == std::chrono::seconds(10));
    auto r = parse({"--bgp-graceful-shutdown=true", "--bgp-graceful-shutdown-time", "1m30s"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK(r->options->bgp_graceful_shutdown);
    CHECK(r->options->bgp_graceful_shutdown_time == std::chrono::seconds(90));
    const auto described = describe(*r->options);
    auto value = [&](const std::string& key) {
        for (const auto& [k, v] : described)
            if (k == key) return v;
        return std::string{"(missing)"};
    };
    CHECK(value("bgp-graceful-shutdown") == "true");
    CHECK(value("bgp-graceful-shutdown-time") == "1m30s");
    auto zero = parse({"--bgp-graceful-shutdown", "--bgp-graceful-shutdown-time", "0s"});
    REQUIRE(zero);
    CHECK(zero->options->bgp_graceful_shutdown_time == std::chrono::seconds(0));
    auto too_long = parse({"--bgp-graceful-shutdown-time", "11m"});
    REQUIRE_FALSE(too_long);
    CHECK_THAT(too_long.error(), Catch::Contains("10m"));
    auto bad = parse({"--bgp-graceful-shutdown-time", "soon"});
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error(), Catch::Contains("bgp-graceful-shutdown-time"));
}

TEST_CASE("--peer-router-max-prefixes: one for all, or one per peer", "[daemon][options]") {
    auto all = parse({"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002",
                      "--peer-router-max-prefixes", "1000", "--peer-router-max-prefix-restart", "5m"});
    REQUIRE(all);
    REQUIRE(all->options);
    CHECK(all->options->peer_routers.at(0).max_prefixes == 1000);
    CHECK(all->options->peer_routers.at(1).max_prefixes == 1000);
    CHECK(all->options->peer_router_max_prefix_restart == std::chrono::minutes(5));
    auto each = parse({"--peer-router-ips", "192.0.2.1,192.0.2.2", "--peer-router-asns", "65001,65002",
                       "--peer-router-max-prefixes", "10,0"});
    REQUIRE(each);
    CHECK(each->options->peer_routers.at(0).max_prefixes == 10);
    CHECK(each->options->peer_routers.at(1).max_prefixes == 0);
    auto count = parse({"--peer-router-ips", "192.0.2.1,192.0.2.2,192.0.2.3", "--peer-router-asns", "1,2,3",
                        "--peer-router-max-prefixes", "10,20"});
    REQUIRE_FALSE(count);
    CHECK_THAT(count.error(), Catch::Contains("--peer-router-max-prefixes"));
    auto word = parse({"--peer-router-ips", "192.0.2.1", "--peer-router-asns", "65001", "--peer-router-max-prefixes",
                       "lots"});
    REQUIRE_FALSE(word);
    CHECK_THAT(word.error(), Catch::Contains("'lots'"));
}

TEST_CASE("BFD flags: intervals in ms, multiplier, limits", "[daemon][options]") {
    auto r = parse({"--enable-bfd", "--bfd-min-rx", "100ms", "--bfd-min-tx", "150ms", "--bfd-multiplier", "5"});
    REQUIRE(r);
    REQUIRE(r->options);
    CHECK(r->options->enable_bfd);
    CHECK(r->options->bfd_min_rx == std::chrono::milliseconds(100));
    CHECK(r->options->bfd_min_tx == std::chrono::milliseconds(150));
    CHECK(r->options->bfd_multiplier == 5);
    auto fast = parse({"--enable-bfd", "--bfd-min-rx", "5ms"});
    REQUIRE_FALSE(fast);
    CHECK_THAT(fast.error(), Catch::Contains("--bfd-min-rx"));
    auto mult = parse({"--bfd-multiplier", "0"});
    REQUIRE_FALSE(mult);
}

TEST_CASE("route-reflector cluster ids as kube-router's annotations carry them", "[daemon][options]") {
    CHECK(parse_cluster_id("10.0.0.1") == 0x0a000001u);
    CHECK(parse_cluster_id("42") == 42u);
    CHECK(parse_cluster_id("4294967295") == 0xffffffffu);
    CHECK_FALSE(parse_cluster_id("4294967296"));
    CHECK_FALSE(parse_cluster_id("fd00::1"));
    CHECK_FALSE(parse_cluster_id("rr1"));
    CHECK_FALSE(parse_cluster_id(""));
}

TEST_CASE("an external router may be peered with over IPv6", "[daemon][options]") {
    auto r = parse({"--peer-router-ips", "10.0.0.2,fd00::2", "--peer-router-asns", "65001,65002"});
    REQUIRE(r);
    REQUIRE(r->options);
    REQUIRE(r->options->peer_routers.size() == 2);
    CHECK(r->options->peer_routers[1].address == *IpAddress::parse("fd00::2"));
    CHECK(r->options->peer_routers[1].asn == 65002);
}
