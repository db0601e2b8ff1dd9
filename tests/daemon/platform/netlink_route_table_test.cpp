// NetlinkRouteTable and NetlinkEvents against the real kernel, each test in a network namespace of
// its own: requests built by hand, answered only on failure and at each batch's end, must still give
// every op its own result; our own writes must not come back as events, anyone else's must.
#include "daemon/platform/netlink_route_table.hpp"

#include <poll.h>

#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

using test::must;
using test::sh;

FibRoute route(const std::string& prefix, std::initializer_list<const char*> hops) {
    auto p = Prefix::parse(prefix);
    REQUIRE(p);
    FibRoute r{*p, {}};
    for (const char* h : hops) r.next_hops.push_back(*IpAddress::parse(h));
    return r;
}
std::string ours(const char* family_flag = "-4") { return sh(std::string("ip ") + family_flag + " route show proto 52").out; }
bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }
std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// Waits up to 1 s for the events socket to be readable, then reads what is queued.
NetlinkEvents::Batch read_events(NetlinkEvents& events) {
    pollfd fd{events.fd(), POLLIN, 0};
    (void)::poll(&fd, 1, 1000);
    auto batch = events.read_pending();
    REQUIRE(batch);
    return *batch;
}

}  // namespace

TEST_CASE("NetlinkRouteTable gives each op of a batch its own result, failures anywhere in it", "[daemon][fib][netns]") {
    test::enter_fresh_netns();
    test::setup_node();
    auto table = NetlinkRouteTable::open(52, 254);
    REQUIRE(table);

    // 600 ops: more than two batches; failures first, in the middle, on a batch boundary and last.
    std::vector<RouteOp> ops;
    std::set<std::size_t> failing;
    for (std::size_t i = 0; i < 600; ++i) {
        const std::string prefix = "10." + std::to_string(100 + i / 256) + "." + std::to_string(i % 256) + ".0/24";
        const bool fail = i == 0 || i == 300 || i == 255 || i == 256 || i == 511 || i == 599;
        if (fail) failing.insert(i);
        ops.push_back({RouteOpKind::kReplace, route(prefix, {fail ? "192.0.2.1" : "172.18.0.1"})});  // 192.0.2.1: unreachable
    }
    auto results = table->apply(ops);
    REQUIRE(results.size() == ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        CAPTURE(i);
        if (failing.contains(i))
            CHECK(results[i] == std::error_code(ENETUNREACH, std::system_category()));
        else
            CHECK(!results[i]);
    }
    CHECK(lines(ours()) == ops.size() - failing.size());

    // Deletes: the failing ones were never installed (ESRCH), the others go.
    for (auto& op : ops) op.kind = RouteOpKind::kRemove;
    results = table->apply(ops);
    for (std::size_t i = 0; i < ops.size(); ++i) {
        CAPTURE(i);
        if (failing.contains(i))
            CHECK(results[i] == std::error_code(ESRCH, std::system_category()));
        else
            CHECK(!results[i]);
    }
    CHECK(ours().empty());
}

TEST_CASE("NetlinkRouteTable writes multipath, on-link and IPv6 routes as iproute2 reads them", "[daemon][fib][netns]") {
    test::enter_fresh_netns();
    test::setup_node();
    auto table = NetlinkRouteTable::open(52, 254);
    REQUIRE(table);
    FibRoute onlink = route("10.250.0.0/24", {"10.9.9.9"});
    onlink.dev = "veth0";
    onlink.onlink = true;
    FibRoute missing_dev = route("10.251.0.0/24", {"172.18.0.1"});
    missing_dev.dev = "nosuchdev";
    const std::vector<RouteOp> ops{
        {RouteOpKind::kReplace, route("10.244.2.0/24", {"172.18.0.12", "172.18.0.13"})},
        {RouteOpKind::kReplace, onlink},
        {RouteOpKind::kReplace, missing_dev},
        {RouteOpKind::kReplace, route("fd00:244:2::/64", {"fd00:18::12"})},
        {RouteOpKind::kReplace, route("fd00:244:3::/64", {"fd00:18::12", "fd00:18::13"})},
        {RouteOpKind::kReplace, route("10.244.7.0/24", {"fd00:18::17"})},  // RFC 8950: RTA_VIA
        {RouteOpKind::kReplace, route("10.244.8.0/24", {"172.18.0.18", "fd00:18::18"})},
    };
    const auto results = table->apply(ops);
    CHECK(!results[0]);
    CHECK(!results[1]);
    CHECK(results[2] == std::error_code(ENODEV, std::system_category()));
    CHECK(!results[3]);
    CHECK(!results[4]);
    CHECK(!results[5]);
    CHECK(!results[6]);
    const std::string v4 = ours("-4");  // filtered by protocol 52, which it then does not print
    CHECK(contains(v4, "10.244.2.0/24 \n"));
    CHECK(contains(v4, "nexthop via 172.18.0.12 dev veth0"));
    CHECK(contains(v4, "nexthop via 172.18.0.13 dev veth0"));
    CHECK(contains(v4, "10.250.0.0/24 via 10.9.9.9 dev veth0 onlink"));
    CHECK(!contains(v4, "10.251.0.0"));
    CHECK(contains(v4, "10.244.7.0/24 via inet6 fd00:18::17 dev veth0"));
    CHECK(contains(v4, "nexthop via inet6 fd00:18::18 dev veth0"));
    const std::string v6 = ours("-6");
    CHECK(contains(v6, "fd00:244:2::/64 via fd00:18::12 dev veth0"));
    CHECK(contains(v6, "nexthop via fd00:18::13 dev veth0"));

    // The kernel reads back what was written.
    auto dump = table->dump();
    REQUIRE(dump);
    const auto mp = std::find_if(dump->begin(), dump->end(), [](const KernelRoute& r) {
        return r.route.prefix.to_string() == "10.244.2.0/24";
    });
    REQUIRE(mp != dump->end());
    CHECK(mp->protocol == 52);
    CHECK(mp->route.next_hops.size() == 2);
    const auto via6 = std::find_if(dump->begin(), dump->end(), [](const KernelRoute& r) {
        return r.route.prefix.to_string() == "10.244.7.0/24";
    });
    REQUIRE(via6 != dump->end());
    CHECK(via6->route.next_hops == std::vector<IpAddress>{*IpAddress::parse("fd00:18::17")});
}

TEST_CASE("NetlinkEvents drops the echoes of our own writes and keeps everyone else's", "[daemon][fib][netns]") {
    test::enter_fresh_netns();
    test::setup_node();
    auto events = NetlinkEvents::open();
    REQUIRE(events);
    auto table = NetlinkRouteTable::open(52, 254);
    REQUIRE(table);
    REQUIRE(events->ignore_sender(table->port_id()));

    const std::vector<RouteOp> ops{{RouteOpKind::kReplace, route("10.244.2.0/24", {"172.18.0.12"})}};
    REQUIRE(!table->apply(ops)[0]);
    must("ip route add 10.244.3.0/24 via 172.18.0.13 proto 52");
    must("ip route del 10.244.2.0/24 proto 52");  // ours, deleted by someone else: must be seen

    std::vector<std::string> seen;
    for (int i = 0; i < 5 && seen.size() < 2; ++i)
        for (const auto& ev : read_events(*events).events)
            if (ev.kind == KernelEvent::Kind::kNewRoute || ev.kind == KernelEvent::Kind::kDelRoute)
                seen.push_back((ev.kind == KernelEvent::Kind::kNewRoute ? "new " : "del ") + ev.route.route.prefix.to_string());
    CHECK(seen == std::vector<std::string>{"new 10.244.3.0/24", "del 10.244.2.0/24"});
}

TEST_CASE("NetlinkEvents reports links going down and up, not new links, bridge ports or other changes",
          "[daemon][fib][netns]") {
    test::enter_fresh_netns();
    test::setup_node();  // veth0 and veth1, up
    auto events = NetlinkEvents::open();
    REQUIRE(events);
    auto link_events = [&] {
        std::vector<std::string> out;
        for (int i = 0; i < 3; ++i) {  // a few reads: notifications may come in separate wakeups
            for (const auto& ev : read_events(*events).events) {
                if (ev.kind == KernelEvent::Kind::kLinkDown) out.emplace_back("down");
                if (ev.kind == KernelEvent::Kind::kLinkUp) out.emplace_back("up");
            }
        }
        return out;
    };
    CHECK(link_events().empty());  // the start-up dump itself is no change

    must("ip link set veth0 mtu 1400");
    // A new pod's veth made a bridge port (its peer, in the pod's namespace in real life, stays
    // down here), up, then gone; the bridge itself is new, and stays down without an up port.
    must("ip link add pod0 type veth peer name pod0c");
    must("ip link add kb type bridge");
    must("ip link set pod0 master kb");
    must("ip link set pod0 up");
    must("ip link del pod0");
    CHECK(link_events() == std::vector<std::string>{});

    must("ip link set veth0 down");  // veth1 loses its carrier with it
    CHECK(link_events() == std::vector<std::string>{"down", "down"});
    must("ip link set veth0 up");
    CHECK(link_events() == std::vector<std::string>{"up", "up"});
    must("ip link del veth0");  // veth1 goes with it: two links that were up
    CHECK(link_events() == std::vector<std::string>{"down", "down"});
}

}  // namespace kroute::daemon
