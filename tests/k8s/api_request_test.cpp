#include "k8s-client/api_request.hpp"

#include <nlohmann/json.hpp>

#include "k8s-client/node_status.hpp"

#include <catch2/catch.hpp>

using namespace kroute::k8s;
using namespace std::chrono_literals;

TEST_CASE("server URLs", "[k8s][request]") {
    auto v4 = parse_server_url("https://10.96.0.1:443");
    REQUIRE(v4);
    CHECK(v4->https);
    CHECK(v4->host == "10.96.0.1");
    CHECK(v4->port == 443);
    CHECK(v4->base_path.empty());

    auto v6 = parse_server_url("https://[fd00::1]:6443/");
    REQUIRE(v6);
    CHECK(v6->host == "fd00::1");
    CHECK(v6->port == 6443);
    CHECK(v6->base_path.empty());

    auto named = parse_server_url("https://api.example.com/k8s/clusters/c-1");
    REQUIRE(named);
    CHECK(named->port == 443);
    CHECK(named->base_path == "/k8s/clusters/c-1");

    auto plain = parse_server_url("http://127.0.0.1");
    REQUIRE(plain);
    CHECK_FALSE(plain->https);
    CHECK(plain->port == 80);

    for (const char* bad : {"10.0.0.1:443", "ftp://x", "https://", "https://[fd00::1", "https://fd00::1:443",
                            "https://host:0", "https://host:99999", "https://host:12ab", "https://[::1]x"}) {
        INFO(bad);
        CHECK_FALSE(parse_server_url(bad));
    }
}

TEST_CASE("host:port joining brackets IPv6 (net.JoinHostPort)", "[k8s][request]") {
    CHECK(join_host_port("10.96.0.1", "443") == "10.96.0.1:443");
    CHECK(join_host_port("fd00::1", "443") == "[fd00::1]:443");
}

TEST_CASE("list and watch paths", "[k8s][request]") {
    ServerUrl s;
    CHECK(list_path(s, kNodes, {.resource_version = "0", .continue_token = "", .limit = 500}) ==
          "/api/v1/nodes?limit=500&resourceVersion=0");
    CHECK(list_path(s, kNodes, {.resource_version = "", .continue_token = "", .limit = 500}) == "/api/v1/nodes?limit=500");
    CHECK(list_path(s, kNodes, {.resource_version = "42", .continue_token = "", .limit = 0}) == "/api/v1/nodes?resourceVersion=42");
    // A continue page carries no resourceVersion (client-go tools/pager); base64 is escaped.
    CHECK(list_path(s, kNodes, {.resource_version = "0", .continue_token = "eyJ2Ijo+/=", .limit = 500}) ==
          "/api/v1/nodes?continue=eyJ2Ijo%2B%2F%3D&limit=500");
    CHECK(watch_path(s, kNodes, "12746", 317s) ==
          "/api/v1/nodes?allowWatchBookmarks=true&resourceVersion=12746&timeoutSeconds=317&watch=true");
    // Namespaced kinds: every namespace's collection; a named group lives under /apis.
    CHECK(list_path(s, kServices, {.resource_version = "0", .continue_token = "", .limit = 500}) ==
          "/api/v1/services?limit=500&resourceVersion=0");
    CHECK(watch_path(s, kEndpointSlices, "7", 301s) ==
          "/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=301&watch=true");
    s.base_path = "/prefix";
    CHECK(watch_path(s, kNodes, "", 300s) == "/prefix/api/v1/nodes?allowWatchBookmarks=true&timeoutSeconds=300&watch=true");
}

TEST_CASE("url encoding and auth hints", "[k8s][request]") {
    CHECK(url_encode("aZ09-._~") == "aZ09-._~");
    CHECK(url_encode("a b&c=d") == "a%20b%26c%3Dd");
    CHECK(url_encode("\xff") == "%FF");
    CHECK_THAT(auth_failure_hint(403, "watch", kNodes), Catch::Contains("grant list and watch on nodes") &&
                                                    Catch::Contains("the watch was refused"));
    CHECK_THAT(auth_failure_hint(401, "list", kNodes), Catch::Contains("401"));
    CHECK_THAT(auth_failure_hint(403, "list", kEndpointSlices),
               Catch::Contains("apiGroups [\"discovery.k8s.io\"], resources [\"endpointslices\"]"));
}

TEST_CASE("the NetworkUnavailable patch: one condition, strategic merge by type, RFC 3339 times", "[k8s][request]") {
    // 2022-03-29T14:20:58Z, the fixture's flannel timestamp.
    const auto t = std::chrono::system_clock::time_point{std::chrono::seconds{1648563658}};
    const auto body = nlohmann::json::parse(network_available_patch(t));
    CHECK(body == nlohmann::json::parse(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False",
        "reason":"KrouteIsUp","message":"kroute is running on this node",
        "lastHeartbeatTime":"2022-03-29T14:20:58Z","lastTransitionTime":"2022-03-29T14:20:58Z"}]}})"));
    CHECK(node_status_path("", "node-1") == "/api/v1/nodes/node-1/status");
    CHECK(node_status_path("/k8s/clusters/c-1", "a b") == "/k8s/clusters/c-1/api/v1/nodes/a%20b/status");
}
