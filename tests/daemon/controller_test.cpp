// The controller with real BGP speakers over loopback (127.0.0.x, no root needed): Node events in,
// peers, conflists and desired kernel routes out.
#include "daemon/controller.hpp"
#include "daemon/node_bgp.hpp"
#include "daemon/services.hpp"

#include "k8s-client/node_status.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

using namespace kroute;
using namespace kroute::daemon;
using namespace std::chrono_literals;

namespace {

class FakeRouteSink final : public RouteSink {
public:
    void set_route(const FibRoute& r) override { routes[r.prefix] = r; }
    void remove_route(const Prefix& p) override { routes.erase(p); ++removals; }
    void enable_stale_sweep() override { sweep = true; }
    std::map<Prefix, FibRoute> routes;
    int removals = 0;
    bool sweep = false;
};

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

k8s::Node node(const std::string& name, const std::string& ip, const std::vector<std::string>& cidrs) {
    k8s::Node n;
    n.name = name;
    n.internal_ips = {*IpAddress::parse(ip)};
    for (const auto& c : cidrs) n.pod_cidrs.push_back(*Prefix::parse(c));
    return n;
}

k8s::NodeEvent event(k8s::NodeEvent::Type t, k8s::Node n = {}) { return {t, std::move(n)}; }

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

bool has_route(const FakeRouteSink& s, const std::string& prefix, const std::string& via) {
    auto it = s.routes.find(*Prefix::parse(prefix));
    return it != s.routes.end() && it->second.next_hops == std::vector<IpAddress>{*IpAddress::parse(via)};
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/kroute-controller-test.XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

Options options_for(std::uint16_t port, const TempDir& dir, const std::string& name) {
    Options o;
    o.bgp_port = port;
    o.bgp_holdtime = 9s;
    o.bgp_keepalive_time = 3s;
    o.bgp_connect_retry_time = 1s;
    o.cni_conf_file = (dir.path / name / "10-kuberouter.conflist").string();
    o.cni_ipam_data_dir = (dir.path / name / "ipam").string();
    o.health_port = 0;
    return o;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// An external router, AS 65001 on 127.0.0.4, peered with node1 (127.0.0.1, AS 64512) on `port`.
std::unique_ptr<bgp::Speaker> external_router(asio::io_context& ioc, std::uint16_t port) {
    bgp::SpeakerConfig rc;
    rc.asn = 65001;
    rc.router_id = *IpAddress::parse("127.0.0.4");
    rc.listen_port = port;
    rc.listen_addresses = {*IpAddress::parse("127.0.0.4")};
    rc.timers = {9s, 3s, 1s};
    auto router = std::make_unique<bgp::Speaker>(ioc, rc);
    REQUIRE(router->start());
    bgp::PeerConfig to_c1;
    to_c1.address = *IpAddress::parse("127.0.0.1");
    to_c1.remote_asn = 64512;
    to_c1.port = port;
    to_c1.local_address = *IpAddress::parse("127.0.0.4");
    router->set_peer(to_c1);
    return router;
}

}  // namespace

TEST_CASE("two nodes peer over BGP and each installs the other's podCIDR", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    Controller c1(ioc, options_for(port, dir, "node1"), "node1", sink1);
    Controller c2(ioc, options_for(port, dir, "node2"), "node2", sink2);
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    for (auto* c : {&c1, &c2}) {
        c->handle(event(k8s::NodeEvent::Type::kAdded, n1));
        c->handle(event(k8s::NodeEvent::Type::kAdded, n2));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }

    REQUIRE(run_until(ioc, [&] {
        return has_route(sink1, "10.244.2.0/24", "127.0.0.2") && has_route(sink2, "10.244.1.0/24", "127.0.0.1");
    }));
    CHECK(sink1.routes.size() == 1);  // never its own podCIDR
    CHECK(sink2.routes.size() == 1);
    CHECK(c1.status().router_id == "127.0.0.1");

    SECTION("the conflist is written for the node's podCIDR") {
        auto conf = nlohmann::json::parse(read(c1.options().cni_conf_file));
        const auto& bridge = conf["plugins"][0];
        CHECK(bridge["type"] == "bridge");
        CHECK(bridge["ipam"]["ranges"][0][0]["subnet"] == "10.244.1.0/24");
        CHECK(bridge["ipam"]["dataDir"] == c1.options().cni_ipam_data_dir);
    }

    SECTION("End-of-RIB from every peer enables the stale-route sweep") {
        CHECK(run_until(ioc, [&] { return sink1.sweep && sink2.sweep; }));
    }

    SECTION("a podCIDR change rewrites the conflist and moves the route on the other node") {
        auto changed = node("node2", "127.0.0.2", {"10.244.20.0/24"});
        c1.handle(event(k8s::NodeEvent::Type::kModified, changed));
        c2.handle(event(k8s::NodeEvent::Type::kModified, changed));
        REQUIRE(run_until(ioc, [&] {
            return has_route(sink1, "10.244.20.0/24", "127.0.0.2") && sink1.routes.size() == 1;
        }));
        CHECK_THAT(read(c2.options().cni_conf_file), Catch::Contains("10.244.20.0/24"));
        CHECK_THAT(read(c2.options().cni_conf_file), !Catch::Contains("10.244.2.0/24"));
    }

    SECTION("a deleted node's session and routes go") {
        c1.handle(event(k8s::NodeEvent::Type::kDeleted, n2));
        REQUIRE(run_until(ioc, [&] { return sink1.routes.empty(); }));
        CHECK(c1.speaker()->peers().empty());
        // node2 loses node1's route too: the session ended with a Cease.
        CHECK(run_until(ioc, [&] { return sink2.routes.empty(); }));
    }
}

TEST_CASE("dual-stack: --enable-ipv6 announces the IPv6 podCIDR via the node's IPv6 address, over the IPv4 session",
          "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    auto o1 = options_for(port, dir, "node1");
    auto o2 = options_for(port, dir, "node2");
    o1.enable_ipv6 = o2.enable_ipv6 = true;
    Controller c1(ioc, o1, "node1", sink1);
    Controller c2(ioc, o2, "node2", sink2);
    // IPv6 first in spec.podCIDRs, as an IPv6-primary cluster lists them. The speaker listens on
    // the node's addresses as it starts: node1's IPv6 one must exist here (::1); node2's comes
    // after its speaker started, so it need not.
    auto n1 = node("node1", "127.0.0.1", {"fd00:244:1::/64", "10.244.1.0/24"});
    n1.internal_ips.push_back(*IpAddress::parse("::1"));
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});  // its IPv6 comes later
    for (auto* c : {&c1, &c2}) {
        c->handle(event(k8s::NodeEvent::Type::kAdded, n1));
        c->handle(event(k8s::NodeEvent::Type::kAdded, n2));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    REQUIRE(run_until(ioc, [&] {
        return has_route(sink2, "fd00:244:1::/64", "::1") && has_route(sink2, "10.244.1.0/24", "127.0.0.1") &&
               has_route(sink1, "10.244.2.0/24", "127.0.0.2");
    }));
    CHECK(sink1.routes.size() == 1);
    // Both ranges in the conflist, in the node's order.
    auto conf = nlohmann::json::parse(read(c1.options().cni_conf_file));
    CHECK(conf["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] == "fd00:244:1::/64");
    CHECK(conf["plugins"][0]["ipam"]["ranges"][1][0]["subnet"] == "10.244.1.0/24");

    // node2 gets an IPv6 podCIDR before its IPv6 address: nothing to announce yet; then the address.
    n2.pod_cidrs.push_back(*Prefix::parse("fd00:244:2::/64"));
    for (auto* c : {&c1, &c2}) c->handle(event(k8s::NodeEvent::Type::kModified, n2));
    n2.internal_ips.push_back(*IpAddress::parse("fd00:18::2"));
    for (auto* c : {&c1, &c2}) c->handle(event(k8s::NodeEvent::Type::kModified, n2));
    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "fd00:244:2::/64", "fd00:18::2"); }));
    // Its IPv6 address moves: the route follows.
    n2.internal_ips.back() = *IpAddress::parse("fd00:18::22");
    for (auto* c : {&c1, &c2}) c->handle(event(k8s::NodeEvent::Type::kModified, n2));
    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "fd00:244:2::/64", "fd00:18::22"); }));
    CHECK(sink1.routes.size() == 2);
}

TEST_CASE("without --enable-ipv6 IPv6 podCIDRs stay out of BGP and the kernel", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    Controller c1(ioc, options_for(port, dir, "node1"), "node1", sink1);
    Controller c2(ioc, options_for(port, dir, "node2"), "node2", sink2);
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24", "fd00:244:1::/64"});
    n1.internal_ips.push_back(*IpAddress::parse("::1"));
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    for (auto* c : {&c1, &c2}) {
        c->handle(event(k8s::NodeEvent::Type::kAdded, n1));
        c->handle(event(k8s::NodeEvent::Type::kAdded, n2));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    REQUIRE(run_until(ioc, [&] { return has_route(sink2, "10.244.1.0/24", "127.0.0.1"); }));
    ioc.restart();
    ioc.run_for(300ms);
    CHECK(sink2.routes.size() == 1);
}

TEST_CASE("a node may not announce another's podCIDR nor the service range", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1;
    Controller c1(ioc, options_for(port, dir, "node1"), "node1", sink1);

    // A misbehaving peer: announces a piece of node1's podCIDR, a service range prefix and one
    // legitimate prefix.
    bgp::SpeakerConfig rogue_cfg;
    rogue_cfg.router_id = *IpAddress::parse("127.0.0.3");
    rogue_cfg.listen_port = port;
    rogue_cfg.listen_addresses = {*IpAddress::parse("127.0.0.3")};
    rogue_cfg.timers = {9s, 3s, 1s};
    bgp::Speaker rogue(ioc, rogue_cfg);
    REQUIRE(rogue.start());
    bgp::PeerConfig to_c1;
    to_c1.address = *IpAddress::parse("127.0.0.1");
    to_c1.remote_asn = 64512;
    to_c1.port = port;
    to_c1.local_address = *IpAddress::parse("127.0.0.3");
    rogue.set_peer(to_c1);
    const auto via = *IpAddress::parse("127.0.0.3");
    rogue.originate(*Prefix::parse("10.244.1.128/25"), via);
    rogue.originate(*Prefix::parse("10.96.0.0/24"), via);
    rogue.originate(*Prefix::parse("10.244.3.0/24"), via);

    c1.handle(event(k8s::NodeEvent::Type::kAdded, node("node1", "127.0.0.1", {"10.244.1.0/24"})));
    c1.handle(event(k8s::NodeEvent::Type::kAdded, node("node3", "127.0.0.3", {"10.244.3.0/24"})));
    c1.handle(event(k8s::NodeEvent::Type::kSynced));

    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "10.244.3.0/24", "127.0.0.3") && c1.status().routes_rejected == 2; }));
    CHECK(sink1.routes.size() == 1);
    // Refused before the RIB (prefix ownership, the node import policy): kroutectl neighbor shows
    // them as prefixes_rejected, the RIB holds node1's own and node3's.
    CHECK(c1.speaker()->rib_prefix_count() == 2);
    auto n = c1.speaker()->neighbors();
    REQUIRE(n.size() == 1);
    CHECK(n[0].prefixes_rejected == 2);
    CHECK(n[0].prefixes_received == 1);
}

TEST_CASE("external peers: eBGP with the default import and export policies, kept up to date", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    auto opts1 = options_for(port, dir, "node1");
    opts1.peer_routers = {ExternalPeer{*IpAddress::parse("127.0.0.4"), 65001, port, ""}};
    opts1.peer_router_import_reject = {*Prefix::parse("203.0.113.0/24")};
    Controller c1(ioc, opts1, "node1", sink1);
    Controller c2(ioc, options_for(port, dir, "node2"), "node2", sink2);

    // The external router, AS 65001 on 127.0.0.4.
    auto router_ptr = external_router(ioc, port);
    bgp::Speaker& router = *router_ptr;
    std::map<Prefix, bgp::BestRoute> at_router;
    router.on_best_path_change([&](const Prefix& p, const std::optional<bgp::BestRoute>& r, const std::optional<bgp::BestRoute>&) {
        if (r) at_router[p] = *r; else at_router.erase(p);
    });
    const auto via = *IpAddress::parse("127.0.0.4");
    for (const char* p : {"0.0.0.0/0", "10.244.2.128/25", "10.96.5.0/24", "203.0.113.0/24", "203.0.113.128/25",
                          "198.51.100.0/24", "10.0.0.0/8", "10.244.3.0/24"})
        router.originate(*Prefix::parse(p), via);

    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    for (auto* c : {&c1, &c2}) {
        c->handle(event(k8s::NodeEvent::Type::kAdded, n1));
        c->handle(event(k8s::NodeEvent::Type::kAdded, n2));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    REQUIRE(run_until(ioc, [&] {
        return has_route(sink1, "198.51.100.0/24", "127.0.0.4") && has_route(sink1, "10.0.0.0/8", "127.0.0.4") &&
               has_route(sink1, "10.244.3.0/24", "127.0.0.4") && has_route(sink1, "10.244.2.0/24", "127.0.0.2") &&
               at_router.count(*Prefix::parse("10.244.1.0/24"));
    }));
    ioc.restart();
    ioc.run_for(300ms);
    // Refused: the default route, a piece of node2's podCIDR, the service range, the operator's
    // range and what lies inside it. The aggregate 10.0.0.0/8 only covers the cluster: accepted.
    CHECK(sink1.routes.size() == 4);
    CHECK(c1.status().routes_rejected == 5);
    auto rib = c1.speaker()->rib(*Prefix::parse("198.51.100.0/24"));
    REQUIRE(rib.size() == 1);
    REQUIRE(rib[0].paths.at(0).attributes.as_path);
    CHECK(rib[0].paths.at(0).attributes.as_path->front().asns == std::vector<std::uint32_t>{65001});

    // The router hears this node's podCIDR only: not node2's, not its own routes back.
    CHECK(at_router.size() == 8 + 1);  // its own 8 and 10.244.1.0/24
    CHECK_FALSE(at_router.count(*Prefix::parse("10.244.2.0/24")));
    auto seen = router.rib(*Prefix::parse("10.244.1.0/24"));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].paths.at(0).attributes.as_path->front().asns == std::vector<std::uint32_t>{64512});
    CHECK(at_router[*Prefix::parse("10.244.1.0/24")].next_hops == std::vector<IpAddress>{*IpAddress::parse("127.0.0.1")});

    // node3 joins with 10.244.3.0/24: the cluster's pod CIDRs grow, the router's 10.244.3.0/24 is
    // refused from now on (ROUTE-REFRESH), and the session stays up.
    auto n3 = node("node3", "127.0.0.3", {"10.244.3.0/24"});
    c1.handle(event(k8s::NodeEvent::Type::kAdded, n3));
    REQUIRE(run_until(ioc, [&] { return sink1.routes.count(*Prefix::parse("10.244.3.0/24")) == 0; }));
    CHECK(c1.status().routes_rejected == 6);
    for (const auto& nb : c1.speaker()->neighbors()) {
        if (nb.address == via) CHECK(nb.state == "Established");
    }
    // node3 leaves: accepted again.
    c1.handle(event(k8s::NodeEvent::Type::kDeleted, n3));
    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "10.244.3.0/24", "127.0.0.4"); }));
}

TEST_CASE("a node without its Node object or podCIDR waits and says so", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    FakeRouteSink sink;
    Controller c(ioc, options_for(free_port(), dir, "node1"), "node1", sink);
    c.handle(event(k8s::NodeEvent::Type::kAdded, node("other", "127.0.0.9", {"10.244.9.0/24"})));
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    CHECK_FALSE(c.status().speaker_started);
    CHECK_FALSE(std::filesystem::exists(c.options().cni_conf_file));

    c.handle(event(k8s::NodeEvent::Type::kAdded, node("node1", "127.0.0.1", {})));
    CHECK(c.status().speaker_started);  // the address is enough for BGP
    CHECK_FALSE(std::filesystem::exists(c.options().cni_conf_file));
    CHECK(c.speaker()->peers().size() == 1);

    c.handle(event(k8s::NodeEvent::Type::kModified, node("node1", "127.0.0.1", {"10.244.1.0/24"})));
    CHECK(std::filesystem::exists(c.options().cni_conf_file));
}

TEST_CASE("NetworkUnavailable: asked for once the node's network is up, again if someone sets it back",
          "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    FakeRouteSink sink;
    Controller c(ioc, options_for(free_port(), dir, "node1"), "node1", sink);
    std::vector<std::string> asked;
    c.on_network_ready([&asked](const std::string& n) { asked.push_back(n); });

    auto self = node("node1", "127.0.0.1", {});
    self.network_unavailable = k8s::Node::Condition{"True", "NoRouteCreated"};
    c.handle(event(k8s::NodeEvent::Type::kAdded, self));
    CHECK(asked.empty());  // not synced yet
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    CHECK(asked.empty());  // no podCIDR: no conflist, pods cannot be wired
    self.pod_cidrs = {*Prefix::parse("10.244.1.0/24")};
    c.handle(event(k8s::NodeEvent::Type::kModified, self));
    CHECK(asked == std::vector<std::string>{"node1"});
    c.handle(event(k8s::NodeEvent::Type::kModified, self));  // pending: not asked twice
    CHECK(asked.size() == 1);

    self.network_unavailable = k8s::Node::Condition{"False", k8s::kNetworkReadyReason};  // the PATCH landed
    c.handle(event(k8s::NodeEvent::Type::kModified, self));
    CHECK(asked.size() == 1);
    self.network_unavailable = k8s::Node::Condition{"True", "NoRouteCreated"};  // a cloud route controller
    c.handle(event(k8s::NodeEvent::Type::kModified, self));
    CHECK(asked.size() == 2);
}

TEST_CASE("NetworkUnavailable: already kroute's False after a restart, nothing is asked", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    FakeRouteSink sink;
    Controller c(ioc, options_for(free_port(), dir, "node1"), "node1", sink);
    int asked = 0;
    c.on_network_ready([&asked](const std::string&) { ++asked; });
    auto self = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    self.network_unavailable = k8s::Node::Condition{"False", k8s::kNetworkReadyReason};
    c.handle(event(k8s::NodeEvent::Type::kAdded, self));
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    CHECK(c.status().speaker_started);
    CHECK(asked == 0);
}

TEST_CASE("a conflist that cannot be written is an error in the status, retried later", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    FakeRouteSink sink;
    auto opts = options_for(free_port(), dir, "node1");
    // The parent "directory" is a regular file: the write must fail cleanly.
    std::ofstream(dir.path / "blocker") << "x";
    opts.cni_conf_file = (dir.path / "blocker" / "10-kuberouter.conflist").string();
    Controller c(ioc, opts, "node1", sink);
    c.handle(event(k8s::NodeEvent::Type::kAdded, node("node1", "127.0.0.1", {"10.244.1.0/24"})));
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    CHECK_FALSE(c.status().conflist_error.empty());
    CHECK(c.status().speaker_started);  // BGP does not wait for the conflist
}

namespace {

k8s::Node annotated(k8s::Node n, std::map<std::string, std::string> annotations) {
    n.annotations = std::move(annotations);
    return n;
}

std::vector<std::string> peer_names(const Controller& c) {
    std::vector<std::string> out;
    for (const auto& [addr, p] : c.peer_configs())
        out.push_back(p.description + (p.route_reflector_client ? "(client)" : ""));
    return out;
}

class RestartedSink final : public RouteSink {  // as after a restart: kroute routes in the kernel
public:
    void set_route(const FibRoute&) override {}
    void remove_route(const Prefix&) override {}
    void enable_stale_sweep() override { sweep = true; }
    [[nodiscard]] bool found_routes_at_start() const override { return true; }
    bool sweep = false;
};

}  // namespace

TEST_CASE("route reflection from kube-router's rr.server / rr.client annotations, followed when they change",
          "[daemon][controller][rr]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink s1, s2, s3;
    Controller c1(ioc, options_for(port, dir, "n1"), "n1", s1);
    Controller c2(ioc, options_for(port, dir, "n2"), "n2", s2);
    Controller c3(ioc, options_for(port, dir, "n3"), "n3", s3);
    auto n1 = annotated(node("n1", "127.0.0.1", {"10.244.1.0/24"}), {{"kube-router.io/rr.server", "10.0.0.1"}});
    auto n2 = annotated(node("n2", "127.0.0.2", {"10.244.2.0/24"}), {{"kube-router.io/rr.client", "10.0.0.1"}});
    auto n3 = node("n3", "127.0.0.3", {"10.244.3.0/24"});
    auto n4 = annotated(node("n4", "127.0.0.4", {"10.244.4.0/24"}), {{"kube-router.io/rr.client", "167772161"}});
    for (auto* c : {&c1, &c2, &c3}) {
        for (const auto& n : {n1, n2, n3, n4}) c->handle(event(k8s::NodeEvent::Type::kAdded, n));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    CHECK(peer_names(c1) == std::vector<std::string>{"n2(client)", "n3", "n4(client)"});
    CHECK(peer_names(c2) == std::vector<std::string>{"n1"});  // a client peers with the reflectors only
    CHECK(peer_names(c3) == std::vector<std::string>{"n1"});  // neither: every node but the clients
    REQUIRE(c1.speaker());
    CHECK(c1.speaker()->config().cluster_id == 0x0a000001u);

    // The roles follow the annotations without a restart; a bad value is ignored (and logged).
    auto n3c = annotated(n3, {{"kube-router.io/rr.client", "10.0.0.1"}});
    auto n1b = annotated(n1, {{"kube-router.io/rr.server", "not-an-id"}});
    for (auto* c : {&c1, &c2, &c3}) {
        c->handle(event(k8s::NodeEvent::Type::kModified, n3c));
        c->handle(event(k8s::NodeEvent::Type::kModified, n1b));
    }
    CHECK(peer_names(c1).empty());  // n1 is no reflector any more, and every other node is a client
    CHECK(peer_names(c3).empty());                            // n3 is a client, and no node is a reflector
    auto n1c = annotated(n1, {{"kube-router.io/rr.server", "7"}});
    for (auto* c : {&c1, &c2, &c3}) c->handle(event(k8s::NodeEvent::Type::kModified, n1c));
    CHECK(peer_names(c1) == std::vector<std::string>{"n2(client)", "n3(client)", "n4(client)"});
    CHECK(peer_names(c3) == std::vector<std::string>{"n1"});
    CHECK(c1.speaker()->config().cluster_id == 7u);
}

TEST_CASE("graceful restart, max-prefix and BFD options reach the speaker and the external peers",
          "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    auto o = options_for(port, dir, "n1");
    o.bgp_graceful_restart = true;
    o.bgp_graceful_restart_time = 120s;
    o.bgp_graceful_restart_deferral_time = 30s;
    o.peer_routers = {ExternalPeer{*IpAddress::parse("127.0.0.9"), 65001, port, "", 500}};
    o.peer_router_max_prefix_restart = 2min;
    o.peer_router_soft_reconfiguration_inbound = true;
    o.enable_bfd = true;
    o.bfd_min_rx = 100ms;
    o.bfd_min_tx = 200ms;
    o.bfd_multiplier = 4;
    RestartedSink sink;
    Controller c(ioc, o, "n1", sink);
    c.handle(event(k8s::NodeEvent::Type::kAdded, node("n1", "127.0.0.1", {"10.244.1.0/24"})));
    c.handle(event(k8s::NodeEvent::Type::kAdded, node("n2", "127.0.0.2", {"10.244.2.0/24"})));
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    REQUIRE(c.speaker());
    const auto& gr = c.speaker()->config().graceful_restart;
    CHECK(gr.enabled);
    CHECK(gr.restart_time == 120s);
    CHECK(gr.deferral_time == 30s);
    CHECK(gr.restarting);            // the sink found kroute routes in the kernel
    CHECK(gr.forwarding_preserved);  // FIB on
    CHECK_FALSE(c.speaker()->restart_complete());
    const auto& ext = c.peer_configs().at(*IpAddress::parse("127.0.0.9"));
    CHECK(ext.max_prefixes == 500);
    CHECK(ext.max_prefix_restart == 120s);
    CHECK(ext.soft_reconfiguration_inbound);
    REQUIRE(ext.bfd);
    CHECK(ext.bfd->required_min_rx == 100ms);
    CHECK(ext.bfd->desired_min_tx == 200ms);
    CHECK(ext.bfd->detect_mult == 4);
    CHECK_FALSE(ext.bfd->multihop);
    const auto& inner = c.peer_configs().at(*IpAddress::parse("127.0.0.2"));
    CHECK(inner.max_prefixes == 0);  // nodes have no limit, no BFD, no pre-policy copy
    CHECK_FALSE(inner.soft_reconfiguration_inbound);
    CHECK_FALSE(inner.bfd);
}

TEST_CASE("after a graceful restart the stale-route sweep waits for the speaker's deferral", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    auto o = options_for(free_port(), dir, "n1");
    o.bgp_graceful_restart = true;
    o.bgp_graceful_restart_deferral_time = 2s;
    RestartedSink sink;
    Controller c(ioc, o, "n1", sink);
    c.handle(event(k8s::NodeEvent::Type::kAdded, node("n1", "127.0.0.1", {"10.244.1.0/24"})));
    c.handle(event(k8s::NodeEvent::Type::kSynced));
    // No peer at all: every End-of-RIB is in, yet the restarted speaker's deferral still runs.
    (void)run_until(ioc, [] { return false; }, 1000ms);
    CHECK_FALSE(sink.sweep);
    REQUIRE(run_until(ioc, [&] { return sink.sweep; }, 5000ms));
    CHECK(c.speaker()->restart_complete());
}

namespace {

class FakeOverlay final : public OverlayPlumbing {
public:
    std::optional<LinkOf> underlay(const IpAddress& a) override {
        for (const auto& s : subnets)
            if (s.contains(a)) return LinkOf{"eth0", s, 1500};
        return std::nullopt;
    }
    Expected<void, std::string> ensure(const VxlanConfig& cfg) override {
        ensured.push_back(cfg);
        return {};
    }
    void set_peers(const std::string& device, std::vector<VxlanPeer> p) override { peers[device] = std::move(p); }
    std::vector<Prefix> subnets{*Prefix::parse("127.0.0.0/24")};
    std::vector<VxlanConfig> ensured;
    std::map<std::string, std::vector<VxlanPeer>> peers;
};

class FakePlumbing final : public HostPlumbing {
public:
    void set_rules(const HostRulesSpec& spec) override { rules.push_back(spec); }
    Expected<void, std::string> ensure_bridge(int mtu) override {
        bridge_mtus.push_back(mtu);
        if (fail_bridge) return unexpected(std::string{"kube-bridge exists and is not a bridge"});
        return {};
    }
    std::vector<HostRulesSpec> rules;
    std::vector<int> bridge_mtus;
    bool fail_bridge = false;
};

bool has_overlay_route(const FakeRouteSink& s, const std::string& prefix, const std::string& vtep, const std::string& dev) {
    auto it = s.routes.find(*Prefix::parse(prefix));
    return it != s.routes.end() && it->second.next_hops == std::vector<IpAddress>{*IpAddress::parse(vtep)} &&
           it->second.dev == dev && it->second.onlink;
}

}  // namespace

TEST_CASE("overlay: nodes outside the node's subnet are reached through VXLAN, the others directly",
          "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2, sink3;
    auto o1 = options_for(port, dir, "node1");
    o1.enable_overlay = true;
    FakeOverlay overlay;
    FakePlumbing plumbing;
    Controller c1(ioc, o1, "node1", sink1);
    c1.set_overlay(&overlay);
    c1.set_host_plumbing(&plumbing);
    Controller c2(ioc, options_for(port, dir, "node2"), "node2", sink2);
    Controller c3(ioc, options_for(port, dir, "node3"), "node3", sink3);
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    auto n3 = node("node3", "127.0.1.3", {"10.244.3.0/24"});  // outside node1's 127.0.0.0/24
    for (auto* c : {&c1, &c2, &c3}) {
        for (const auto& n : {n1, n2, n3}) c->handle(event(k8s::NodeEvent::Type::kAdded, n));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    REQUIRE(run_until(ioc, [&] {
        return has_route(sink1, "10.244.2.0/24", "127.0.0.2") &&
               has_overlay_route(sink1, "10.244.3.0/24", "10.244.3.0", "kroute-vxlan");
    }));
    REQUIRE(!overlay.ensured.empty());
    const VxlanConfig& dev = overlay.ensured.back();
    CHECK(dev.name == "kroute-vxlan");
    CHECK(dev.vni == 4096);
    CHECK(dev.local == *IpAddress::parse("127.0.0.1"));
    CHECK(dev.underlay_dev == "eth0");
    CHECK(dev.mtu == 1450);
    CHECK(dev.vtep == *IpAddress::parse("10.244.1.0"));
    CHECK(overlay.peers["kroute-vxlan"] ==
          std::vector<VxlanPeer>{{*IpAddress::parse("127.0.1.3"), *IpAddress::parse("10.244.3.0")}});
    CHECK(overlay.peers.count("kroute-vxlan6") == 0);  // no IPv6 without --enable-ipv6
    // The pods' MTU leaves room for the encapsulation (lo's 65536 is no guide: 1500 - 50).
    auto conf = nlohmann::json::parse(read(c1.options().cni_conf_file));
    CHECK(conf["plugins"][0]["mtu"] == 1450);
    // The pod bridge gets the same MTU, once.
    CHECK(plumbing.bridge_mtus == std::vector<int>{1450});
    REQUIRE_FALSE(plumbing.rules.empty());
    CHECK(plumbing.rules.back().pod_cidrs == std::vector<Prefix>{*Prefix::parse("10.244.1.0/24")});

    // node3 moves into the subnet: direct again, its entries gone.
    n3.internal_ips = {*IpAddress::parse("127.0.0.3")};
    for (auto* c : {&c1, &c2, &c3}) c->handle(event(k8s::NodeEvent::Type::kModified, n3));
    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "10.244.3.0/24", "127.0.0.3"); }));
    CHECK(sink1.routes.at(*Prefix::parse("10.244.3.0/24")).dev.empty());
    CHECK_FALSE(sink1.routes.at(*Prefix::parse("10.244.3.0/24")).onlink);
    CHECK(overlay.peers["kroute-vxlan"].empty());
    // Nodes without the overlay never route through it.
    CHECK(has_route(sink2, "10.244.3.0/24", "127.0.0.3"));

    // Back outside; then deleted, it leaves the overlay with it.
    n3.internal_ips = {*IpAddress::parse("127.0.1.3")};
    for (auto* c : {&c1, &c2, &c3}) c->handle(event(k8s::NodeEvent::Type::kModified, n3));
    REQUIRE(run_until(ioc, [&] { return has_overlay_route(sink1, "10.244.3.0/24", "10.244.3.0", "kroute-vxlan"); }));
    for (auto* c : {&c1, &c2}) c->handle(event(k8s::NodeEvent::Type::kDeleted, n3));
    REQUIRE(run_until(ioc, [&] { return sink1.routes.count(*Prefix::parse("10.244.3.0/24")) == 0; }));
    CHECK(overlay.peers["kroute-vxlan"].empty());
}

TEST_CASE("overlay --overlay-type full: every node through VXLAN; IPv6 on a device of its own", "[daemon][controller]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    auto o1 = options_for(port, dir, "node1");
    o1.enable_overlay = true;
    o1.overlay_type = "full";
    o1.enable_ipv6 = true;
    auto o2 = options_for(port, dir, "node2");
    o2.enable_ipv6 = true;
    FakeOverlay overlay;
    overlay.subnets = {*Prefix::parse("127.0.0.0/24"), *Prefix::parse("::/0")};
    Controller c1(ioc, o1, "node1", sink1);
    c1.set_overlay(&overlay);
    Controller c2(ioc, o2, "node2", sink2);
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24", "fd00:244:1::/64"});
    n1.internal_ips.push_back(*IpAddress::parse("::1"));
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24", "fd00:244:2::/64"});
    for (auto* c : {&c1, &c2}) {
        for (const auto& n : {n1, n2}) c->handle(event(k8s::NodeEvent::Type::kAdded, n));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    // node2's IPv6 address after its speaker listens (it exists on no interface here).
    n2.internal_ips.push_back(*IpAddress::parse("fd00:18::2"));
    for (auto* c : {&c1, &c2}) c->handle(event(k8s::NodeEvent::Type::kModified, n2));
    REQUIRE(run_until(ioc, [&] {
        return has_overlay_route(sink1, "10.244.2.0/24", "10.244.2.0", "kroute-vxlan") &&
               has_overlay_route(sink1, "fd00:244:2::/64", "fd00:244:2::", "kroute-vxlan6");
    }));
    CHECK(overlay.peers["kroute-vxlan"] ==
          std::vector<VxlanPeer>{{*IpAddress::parse("127.0.0.2"), *IpAddress::parse("10.244.2.0")}});
    CHECK(overlay.peers["kroute-vxlan6"] ==
          std::vector<VxlanPeer>{{*IpAddress::parse("fd00:18::2"), *IpAddress::parse("fd00:244:2::")}});
    bool v6_device = false;
    for (const auto& cfg : overlay.ensured)
        if (cfg.name == "kroute-vxlan6") {
            v6_device = true;
            CHECK(cfg.vni == 6096);
            CHECK(cfg.mtu == 1430);
            CHECK(cfg.local == *IpAddress::parse("::1"));
            CHECK(cfg.vtep == *IpAddress::parse("fd00:244:1::"));
        }
    CHECK(v6_device);
    // One veth MTU for both families: the IPv6 encapsulation's 70 bytes decide.
    auto conf = nlohmann::json::parse(read(c1.options().cni_conf_file));
    CHECK(conf["plugins"][0]["mtu"] == 1430);
}

TEST_CASE("service advertisement: host routes to the external router only, following Services and EndpointSlices",
          "[daemon][controller][services]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2;
    auto opts1 = options_for(port, dir, "node1");
    opts1.peer_routers = {ExternalPeer{*IpAddress::parse("127.0.0.4"), 65001, port, ""}};
    opts1.advertise_cluster_ip = true;
    opts1.advertise_external_ip = true;
    Controller c1(ioc, opts1, "node1", sink1);
    Controller c2(ioc, options_for(port, dir, "node2"), "node2", sink2);

    auto router_ptr = external_router(ioc, port);
    bgp::Speaker& router = *router_ptr;

    // Services first (as a watch may deliver them before the speaker runs), then the nodes.
    k8s::Service web;
    web.name = "web";
    web.ns = "shop";
    web.type = "ClusterIP";
    web.cluster_ips = {*IpAddress::parse("10.96.0.10")};
    web.external_ips = {*IpAddress::parse("192.0.2.10")};
    web.external_traffic_policy = "Local";
    web.internal_traffic_policy = "Cluster";
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kAdded, web});
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    for (auto* c : {&c1, &c2}) {
        c->handle(event(k8s::NodeEvent::Type::kAdded, n1));
        c->handle(event(k8s::NodeEvent::Type::kAdded, n2));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    auto at_router = [&](const char* p) { return !router.rib(*Prefix::parse(p)).empty(); };
    REQUIRE(run_until(ioc, [&] { return at_router("10.96.0.10/32") && at_router("10.244.1.0/24"); }));
    auto seen = router.rib(*Prefix::parse("10.96.0.10/32"));
    REQUIRE(seen.size() == 1);
    const auto& path = seen[0].paths.at(0);
    CHECK(path.next_hops == std::vector<IpAddress>{*IpAddress::parse("127.0.0.1")});
    CHECK(path.attributes.as_path->front().asns == std::vector<std::uint32_t>{64512});
    CHECK(path.attributes.large_communities.empty());  // kroute's mark stays home
    // Not to the other node (it has the service through kube-proxy), and the external IP waits
    // for a local endpoint (externalTrafficPolicy Local).
    ioc.restart();
    ioc.run_for(300ms);
    CHECK(c2.speaker()->rib(*Prefix::parse("10.96.0.10/32")).empty());
    CHECK_FALSE(at_router("192.0.2.10/32"));

    // A ready endpoint on node1: the external IP goes out; the endpoint gone: withdrawn.
    k8s::EndpointSlice es;
    es.name = "web-1";
    es.ns = "shop";
    es.service_name = "web";
    es.address_type = "IPv4";
    k8s::Endpoint ep;
    ep.addresses = {*IpAddress::parse("10.244.1.7")};
    ep.node_name = "node1";
    es.endpoints = {ep};
    c1.handle(k8s::ObjectEvent<k8s::EndpointSlice>{k8s::EventType::kAdded, es});
    REQUIRE(run_until(ioc, [&] { return at_router("192.0.2.10/32"); }));
    es.endpoints[0].node_name = "node2";  // the pod moved
    c1.handle(k8s::ObjectEvent<k8s::EndpointSlice>{k8s::EventType::kModified, es});
    REQUIRE(run_until(ioc, [&] { return !at_router("192.0.2.10/32"); }));
    CHECK(at_router("10.96.0.10/32"));

    // The annotation turns the cluster IP off for this service; the service deleted: all gone.
    web.annotations[kAdvertiseClusterIpAnnotation] = "false";
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kModified, web});
    REQUIRE(run_until(ioc, [&] { return !at_router("10.96.0.10/32"); }));
    web.annotations.clear();
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kModified, web});
    REQUIRE(run_until(ioc, [&] { return at_router("10.96.0.10/32"); }));
    // Two services sharing an external IP: it stays while one of them wants it.
    auto twin = web;
    twin.name = "web-twin";
    twin.cluster_ips = {*IpAddress::parse("10.96.0.11")};
    twin.external_traffic_policy = "Cluster";
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kAdded, twin});
    REQUIRE(run_until(ioc, [&] { return at_router("192.0.2.10/32") && at_router("10.96.0.11/32"); }));
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kDeleted, web});
    REQUIRE(run_until(ioc, [&] { return !at_router("10.96.0.10/32"); }));
    CHECK(at_router("192.0.2.10/32"));
    c1.handle(k8s::ObjectEvent<k8s::Service>{k8s::EventType::kDeleted, twin});
    REQUIRE(run_until(ioc, [&] { return !at_router("192.0.2.10/32") && !at_router("10.96.0.11/32"); }));
    CHECK(at_router("10.244.1.0/24"));
}

TEST_CASE("per-node BGP annotations, applied live: peers, prepend, communities, import reject, node.asn",
          "[daemon][controller][node-bgp]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1;
    Controller c1(ioc, options_for(port, dir, "node1"), "node1", sink1);

    auto router_ptr = external_router(ioc, port);
    bgp::Speaker& router = *router_ptr;
    const auto via = *IpAddress::parse("127.0.0.4");
    router.originate(*Prefix::parse("198.51.100.0/24"), via);
    router.originate(*Prefix::parse("203.0.113.0/24"), via);

    // No annotation: no external peer at all.
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    c1.handle(event(k8s::NodeEvent::Type::kAdded, n1));
    c1.handle(event(k8s::NodeEvent::Type::kSynced));
    ioc.restart();
    ioc.run_for(300ms);
    CHECK(c1.speaker()->neighbors().empty());

    // The router as the node's own peer, with a prepend, communities and a refused range.
    auto own = *Prefix::parse("10.244.1.0/24");
    n1.annotations = {{kPeersAnnotation, "- remoteip: 127.0.0.4\n  remoteasn: 65001\n"},
                      {kPrependAsAnnotation, "64512"},
                      {kPrependRepeatAnnotation, "2"},
                      {kCommunitiesAnnotation, "64512:7,no-export"},
                      {kImportRejectAnnotation, "203.0.113.0/24"}};
    c1.handle(event(k8s::NodeEvent::Type::kModified, n1));
    REQUIRE(run_until(ioc, [&] { return !router.rib(own).empty() && has_route(sink1, "198.51.100.0/24", "127.0.0.4"); }));
    auto path = router.rib(own)[0].paths.at(0);
    CHECK(path.attributes.as_path->front().asns == std::vector<std::uint32_t>{64512, 64512, 64512});
    CHECK(path.attributes.communities == std::vector<std::uint32_t>{(64512U << 16) | 7, 0xFFFFFF01});
    ioc.restart();
    ioc.run_for(300ms);
    CHECK(sink1.routes.count(*Prefix::parse("203.0.113.0/24")) == 0);

    // The annotations change: no prepend any more, the refused range accepted; same session.
    n1.annotations.erase(kPrependAsAnnotation);
    n1.annotations.erase(kPrependRepeatAnnotation);
    n1.annotations.erase(kImportRejectAnnotation);
    c1.handle(event(k8s::NodeEvent::Type::kModified, n1));
    REQUIRE(run_until(ioc, [&] {
        auto r = router.rib(own);
        return !r.empty() && r[0].paths.at(0).attributes.as_path->front().asns.size() == 1 &&
               has_route(sink1, "203.0.113.0/24", "127.0.0.4");
    }));
    REQUIRE(c1.speaker()->neighbors().size() == 1);
    CHECK(c1.speaker()->neighbors()[0].state == "Established");

    // A broken annotation: said, the peer list ignored as a whole (the session goes).
    n1.annotations[kPeersAnnotation] = "- remoteip: 127.0.0.4\n  remoteasn: banana\n";
    c1.handle(event(k8s::NodeEvent::Type::kModified, n1));
    REQUIRE(run_until(ioc, [&] { return c1.speaker()->neighbors().empty(); }));
    REQUIRE(run_until(ioc, [&] { return router.rib(own).empty(); }));
}

TEST_CASE("--nodes-full-mesh=false: the AS from kube-router.io/node.asn, a mesh within it, a change restarts BGP",
          "[daemon][controller][node-bgp]") {
    asio::io_context ioc;
    TempDir dir;
    const auto port = free_port();
    FakeRouteSink sink1, sink2, sink3;
    auto o = [&](const char* name) {
        auto opts = options_for(port, dir, name);
        opts.nodes_full_mesh = false;
        return opts;
    };
    Controller c1(ioc, o("node1"), "node1", sink1);
    Controller c2(ioc, o("node2"), "node2", sink2);
    Controller c3(ioc, o("node3"), "node3", sink3);
    auto n1 = node("node1", "127.0.0.1", {"10.244.1.0/24"});
    auto n2 = node("node2", "127.0.0.2", {"10.244.2.0/24"});
    auto n3 = node("node3", "127.0.0.3", {"10.244.3.0/24"});
    n1.annotations[kNodeAsnAnnotation] = "64601";
    n2.annotations[kNodeAsnAnnotation] = "64601";
    n3.annotations[kNodeAsnAnnotation] = "64602";
    for (auto* c : {&c1, &c2, &c3}) {
        for (const auto& n : {n1, n2, n3}) c->handle(event(k8s::NodeEvent::Type::kAdded, n));
        c->handle(event(k8s::NodeEvent::Type::kSynced));
    }
    REQUIRE(run_until(ioc, [&] { return has_route(sink1, "10.244.2.0/24", "127.0.0.2") && has_route(sink2, "10.244.1.0/24", "127.0.0.1"); }));
    CHECK(c1.status().asn == 64601);
    CHECK(c3.status().asn == 64602);
    CHECK(c1.speaker()->neighbors().size() == 1);  // node2 only: node3 is in another AS
    CHECK(c3.speaker()->neighbors().empty());
    CHECK(sink3.routes.empty());

    // node3 joins AS 64601: its BGP restarts in it, and the three mesh.
    n3.annotations[kNodeAsnAnnotation] = "64601";
    for (auto* c : {&c1, &c2, &c3}) c->handle(event(k8s::NodeEvent::Type::kModified, n3));
    REQUIRE(run_until(ioc, [&] {
        return has_route(sink3, "10.244.1.0/24", "127.0.0.1") && has_route(sink1, "10.244.3.0/24", "127.0.0.3");
    }, 20s));
    CHECK(c3.status().asn == 64601);
    CHECK(c1.speaker()->neighbors().size() == 2);
}
