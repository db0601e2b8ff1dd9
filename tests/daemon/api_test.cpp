// The debug API's replies: the JSON keys documented in docs/kroutectl.md are a contract that
// benchmarks and checks read.
#include "daemon/api.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

using namespace std::chrono_literals;

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

template <class Pred>
bool run_until(asio::io_context& ioc, Pred pred, std::chrono::milliseconds limit = 15s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        ioc.restart();
        ioc.run_for(20ms);
    }
    return true;
}

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
    fib.kernel_routes = 1;
    ApiContext ctx{c, [&](bool lists) {
                       FibSnapshot out = fib;
                       if (!lists) out.kernel.clear();  // as Fib::counters()
                       return std::optional<FibSnapshot>(out);
                   }};
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
    ApiContext ctx{c, [](bool) { return std::optional<FibSnapshot>(); }};
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
        ApiServer first(ioc, path, ApiContext{c, [](bool) { return std::optional<FibSnapshot>(); }});
        REQUIRE(first.start());
        auto perms = std::filesystem::status(path).permissions();
        CHECK((perms & std::filesystem::perms::group_all) == std::filesystem::perms::none);
        CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
    }
    ApiServer second(ioc, path, ApiContext{c, [](bool) { return std::optional<FibSnapshot>(); }});
    CHECK(second.start());
    second.stop();
    std::filesystem::remove_all(dir);
}

TEST_CASE("neighbor IP in detail: capabilities, timers, counters, last NOTIFICATIONs; graceful shutdown wired",
          "[daemon][api]") {
    asio::io_context ioc;
    NullSink sink;
    const auto port = free_port();
    auto o = test_options();
    o.bgp_port = port;
    o.bgp_holdtime = 9s;
    o.bgp_keepalive_time = 30s;
    o.bgp_connect_retry_time = 1s;
    o.bgp_graceful_restart = true;
    o.bgp_graceful_shutdown = true;
    const auto router_ip = *IpAddress::parse("127.0.0.4");
    o.peer_routers = {ExternalPeer{router_ip, 65001, port, ""}};
    Controller c(ioc, o, "node1", sink);
    k8s::Node self;
    self.name = "node1";
    self.internal_ips = {*IpAddress::parse("127.0.0.1")};
    self.pod_cidrs = {*Prefix::parse("10.244.1.0/24")};

    // An external router (AS 65001, no graceful restart), waiting for node1 to dial.
    bgp::SpeakerConfig rc;
    rc.asn = 65001;
    rc.router_id = router_ip;
    rc.listen_port = port;
    rc.listen_addresses = {router_ip};
    rc.timers = {12s, 4s, 1s};
    bgp::Speaker router(ioc, rc);
    REQUIRE(router.start());
    bgp::PeerConfig to_node;
    to_node.address = *IpAddress::parse("127.0.0.1");
    to_node.remote_asn = 64512;
    to_node.passive = true;
    router.set_peer(to_node);

    c.handle(k8s::NodeEvent{k8s::NodeEvent::Type::kAdded, self});
    c.handle(k8s::NodeEvent{k8s::NodeEvent::Type::kSynced, {}});
    ApiContext ctx{c, [](bool) { return std::optional<FibSnapshot>(); }};
    ctx.peer_action = [&c](const IpAddress& a, bgp::PeerAction what, const std::string& message)
        -> Expected<std::string, std::string> { return c.speaker()->peer_action(a, what, message); };
    const auto pod_cidr = *Prefix::parse("10.244.1.0/24");
    auto router_path = [&]() -> std::optional<bgp::PathSnapshot> {
        auto e = router.rib(pod_cidr);
        if (e.empty()) return std::nullopt;
        return e.front().paths.front();
    };
    REQUIRE(run_until(ioc, [&] { return router_path().has_value(); }));

    const json n = handle_api_request({{"command", "neighbor"}, {"address", "127.0.0.4"}}, ctx);
    INFO(n.dump(2));
    // The keys of `neighbors` stay, in detail as before.
    for (const char* key : {"address", "asn", "state", "prefixes_received", "prefixes_sent", "last_error",
                            "negotiated_hold_time", "messages_received", "messages_sent", "remote_router_id"})
        CHECK(n.contains(key));
    CHECK(n["state"] == "Established");
    CHECK(n["local_asn"] == 64512);
    const auto& caps = n["capabilities"];
    CHECK(caps["four_octet_as"]["sent"] == 64512);
    CHECK(caps["four_octet_as"]["received"] == 65001);
    CHECK(caps["four_octet_as"]["negotiated"] == true);
    CHECK(caps["route_refresh"]["negotiated"] == true);
    CHECK(caps["multiprotocol"]["negotiated"][0] == "ipv4-unicast");
    // Graceful restart: node1 offers it (restart time 90, F bits), the router does not.
    CHECK(caps["graceful_restart"]["sent"]["restart_time"] == 90);
    CHECK(caps["graceful_restart"]["sent"]["families"][0]["family"] == "ipv4-unicast");
    CHECK(caps["graceful_restart"]["sent"]["families"][0].contains("forwarding_state"));
    CHECK(caps["graceful_restart"]["received"] == false);
    CHECK(caps["graceful_restart"]["negotiated"] == false);
    CHECK(caps["add_path"]["sent"][0]["mode"] == "receive");
    CHECK(caps["add_path"]["negotiated"]["send"].empty());
    CHECK(caps["extended_next_hop"]["sent"][0]["next_hop_afi"] == "ipv6");
    for (const char* cap : {"enhanced_route_refresh", "extended_message", "other"}) CHECK(caps.contains(cap));
    const auto& t = n["timers"];
    CHECK(t["hold_time"] == 9);
    CHECK(t["keepalive"] == 30);
    CHECK(t["connect_retry"] == 1);
    CHECK(t["peer_hold_time"] == 12);
    CHECK(t["negotiated_hold_time"] == 9);
    CHECK(t["negotiated_keepalive"] == 3);
    const auto& k = n["counters"];
    CHECK(k["prefixes_sent"] == 1);
    CHECK(k["prefixes_received"] == 0);
    CHECK(k["flaps"] == 0);
    CHECK(k["updates_sent"].get<int>() >= 1);
    CHECK(n["last_notification_sent"].is_null());
    CHECK(n["last_notification_received"].is_null());
    // The list keeps its short form.
    CHECK_FALSE(handle_api_request({{"command", "neighbors"}}, ctx)[0].contains("capabilities"));

    // RFC 8326 through the controller, as SIGTERM does it: the router gets 65535:0, its import
    // sets LOCAL_PREF 0; status says so.
    CHECK(handle_api_request({{"command", "status"}}, ctx)["bgp_graceful_shutdown"] == false);
    REQUIRE(c.begin_graceful_shutdown());
    REQUIRE(run_until(ioc, [&] {
        auto p = router_path();
        return p && std::find(p->attributes.communities.begin(), p->attributes.communities.end(),
                              bgp::kCommunityGracefulShutdown) != p->attributes.communities.end();
    }));
    CHECK(router_path()->attributes.local_pref == 0u);
    CHECK(handle_api_request({{"command", "status"}}, ctx)["bgp_graceful_shutdown"] == true);
    CHECK(handle_api_request({{"command", "rib"}}, ctx)[0]["paths"][0].contains("why_not_best"));

    // An operator's shutdown with a message: the last NOTIFICATION sent, named, with its message.
    auto done = handle_api_request(
        {{"command", "neighbor"}, {"address", "127.0.0.4"}, {"action", "shutdown"}, {"message", "rack 7"}}, ctx);
    REQUIRE_FALSE(done.contains("error"));
    const json after = handle_api_request({{"command", "neighbor"}, {"address", "127.0.0.4"}}, ctx);
    const auto& sent = after["last_notification_sent"];
    INFO(after.dump(2));
    CHECK(sent["code"] == 6);
    CHECK(sent["subcode"] == 2);
    CHECK(sent["name"] == "Cease / Administrative Shutdown");
    CHECK(sent["message"] == "rack 7");
    CHECK(sent["data"] == "067261636b2037");
    CHECK(sent["time"].get<std::string>().size() == 20);  // 2026-12-07T07:42:51Z
    CHECK(sent["seconds_ago"].get<int>() <= 1);
    CHECK(after["last_notification_received"].is_null());
    CHECK(after["capabilities"]["four_octet_as"]["received"] == 65001);  // the last session's
    CHECK(after["timers"]["negotiated_keepalive"] == 0);
}
