// The debug API's replies: the JSON keys documented in docs/kroutectl.md are a contract that
// benchmarks and checks read.
#include "daemon/api.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

using namespace kroute;
using namespace kroute::daemon;
using nlohmann::json;

namespace {

class NullSink final : public RouteSink {
public:
    void set_route(const FibRoute&) override {}
    void remove_route(const Prefix&) override {}
    void enable_stale_sweep() override {}
};

Options test_options() {
    Options o;
    o.bgp_port = 0;
    o.enable_cni = false;
    return o;
}

}  // namespace

TEST_CASE("status has the documented keys", "[daemon][api]") {
    asio::io_context ioc;
    NullSink sink;
    Controller c(ioc, test_options(), "node1", sink);
    k8s::Node self;
    self.name = "node1";
    self.internal_ips = {*IpAddress::parse("127.0.0.1")};
    self.pod_cidrs = {*Prefix::parse("10.244.1.0/24")};
    c.handle(k8s::NodeEvent{k8s::NodeEvent::Type::kAdded, self});
    c.handle(k8s::NodeEvent{k8s::NodeEvent::Type::kSynced, {}});

    FibSnapshot fib;
    fib.kernel = {FibRoute{*Prefix::parse("10.244.2.0/24"), {*IpAddress::parse("127.0.0.2")}}};
    ApiContext ctx{c, [&] { return std::optional<FibSnapshot>(fib); }};
    auto s = handle_api_request({{"command", "status"}}, ctx);
    for (const char* key : {"node", "router_id", "asn", "peers_total", "peers_established", "rib_prefixes", "fib_routes"})
        CHECK(s.contains(key));
    CHECK(s["node"] == "node1");
    CHECK(s["router_id"] == "127.0.0.1");
    CHECK(s["asn"] == 64512);
    CHECK(s["rib_prefixes"] == 1);  // its own podCIDR, originated
    CHECK(s["fib_routes"] == 1);
    CHECK(s["peers_total"] == 0);

    SECTION("routes compares desired with the kernel") {
        auto r = handle_api_request({{"command", "routes"}}, ctx);
        REQUIRE(r.is_array());
        REQUIRE(r.size() == 1);
        CHECK(r[0]["prefix"] == "10.244.2.0/24");
        CHECK(r[0]["state"] == "stale");  // in the kernel, wanted by nobody
    }
    SECTION("rib lists the local path as best") {
        auto r = handle_api_request({{"command", "rib"}}, ctx);
        REQUIRE(r.size() == 1);
        CHECK(r[0]["prefix"] == "10.244.1.0/24");
        CHECK(r[0]["paths"][0]["local"] == true);
        CHECK(r[0]["paths"][0]["best"] == true);
        CHECK(r[0]["paths"][0]["communities"].is_array());
        CHECK(r[0]["paths"][0]["large_communities"].is_array());
    }
    SECTION("node and config") {
        CHECK(handle_api_request({{"command", "node"}}, ctx)["pod_cidrs"][0] == "10.244.1.0/24");
        CHECK(handle_api_request({{"command", "config"}}, ctx)["cluster-asn"] == "64512");
    }
    SECTION("bad requests get an error, not a crash") {
        CHECK(handle_api_request(json::array(), ctx).contains("error"));
        CHECK(handle_api_request({{"command", "nope"}}, ctx).contains("error"));
        CHECK(handle_api_request({{"command", "neighbor"}, {"address", "x"}}, ctx).contains("error"));
        CHECK(handle_api_request({{"command", "neighbor"}, {"address", "127.0.0.9"}}, ctx).contains("error"));
        CHECK(handle_api_request({{"command", "rib"}, {"prefix", "10.0.0.0/99"}}, ctx).contains("error"));
    }
}

TEST_CASE("config shows external peers but never their passwords; neighbors count refused paths", "[daemon][api]") {
    asio::io_context ioc;
    NullSink sink;
    auto o = test_options();
    o.peer_routers = {ExternalPeer{*IpAddress::parse("127.0.0.9"), 65001, 1790, "hunter2"}};  // loopback only
    Controller c(ioc, o, "node1", sink);
    k8s::Node self;
    self.name = "node1";
    self.internal_ips = {*IpAddress::parse("127.0.0.1")};
    self.pod_cidrs = {*Prefix::parse("10.244.1.0/24")};
    c.handle(k8s::NodeEvent{k8s::NodeEvent::Type::kAdded, self});
    ApiContext ctx{c, [] { return std::optional<FibSnapshot>(); }};
    auto conf = handle_api_request({{"command", "config"}}, ctx);
    CHECK(conf["peer-router-ips"] == "127.0.0.9");
    CHECK(conf["peer-router-asns"] == "65001");
    CHECK(conf["peer-router-ports"] == "1790");
    CHECK(conf["peer-router-passwords"] == "(set)");
    CHECK(conf.dump().find("hunter2") == std::string::npos);
    auto n = handle_api_request({{"command", "neighbors"}}, ctx);
    REQUIRE(n.size() == 1);
    CHECK(n[0]["address"] == "127.0.0.9");
    CHECK(n[0]["description"] == "external");
    CHECK(n[0]["prefixes_rejected"] == 0);
}

TEST_CASE("the API socket is root-only and replaces a stale socket", "[daemon][api]") {
    asio::io_context ioc;
    NullSink sink;
    Controller c(ioc, test_options(), "node1", sink);
    char tmpl[] = "/tmp/kroute-api-test.XXXXXX";
    std::filesystem::path dir = ::mkdtemp(tmpl);
    auto path = (dir / "sub" / "kroute.sock").string();
    {
        ApiServer first(ioc, path, ApiContext{c, [] { return std::optional<FibSnapshot>(); }});
        REQUIRE(first.start());
        auto perms = std::filesystem::status(path).permissions();
        CHECK((perms & std::filesystem::perms::group_all) == std::filesystem::perms::none);
        CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
    }
    ApiServer second(ioc, path, ApiContext{c, [] { return std::optional<FibSnapshot>(); }});
    CHECK(second.start());
    second.stop();
    std::filesystem::remove_all(dir);
}
