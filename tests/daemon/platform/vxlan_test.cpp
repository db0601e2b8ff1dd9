// The overlay's VXLAN device for real, tagged [netns]: this test's own namespace is one node, a
// second namespace it creates (and deletes) the other, joined by a veth; traffic between their
// VTEPs crosses the VXLAN device through the entries vxlan_set_peers() wrote, and the route the Fib
// writes through it (`via VTEP dev kroute-vxlan onlink`) reads back as written.
#include <catch2/catch.hpp>

#include "daemon/platform/netlink_route_table.hpp"
#include "daemon/platform/vxlan.hpp"
#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

struct PeerNs {
    PeerNs() { test::must("ip netns add krvx-peer"); }
    ~PeerNs() { test::sh("ip netns del krvx-peer"); }
};

}  // namespace

TEST_CASE("vtep_mac: unicast, locally administered, one per node address", "[daemon][vxlan]") {
    CHECK(vtep_mac(ip("172.18.0.11")) == "02:6b:ac:12:00:0b");
    CHECK(vtep_mac(ip("10.0.0.1")) != vtep_mac(ip("10.0.0.2")));
    CHECK(vtep_mac(ip("fd00:18::c")) == "02:6c:00:00:00:0c");
    CHECK(is_vtep_mac(vtep_mac(ip("10.0.0.1"))));
    CHECK(is_vtep_mac(vtep_mac(ip("fd00:18::c"))));
    CHECK_FALSE(is_vtep_mac("02:42:ac:11:00:02"));
}

TEST_CASE("vxlan: device, entries, an on-link route through it, traffic, cleanup", "[daemon][vxlan][netns]") {
    test::enter_fresh_netns();
    PeerNs peer;
    test::must("ip link add v0 type veth peer name v1 netns krvx-peer");
    test::must("ip addr add 192.168.50.1/24 dev v0 && ip link set v0 up");
    test::must("ip -n krvx-peer addr add 192.168.50.2/24 dev v1 && ip -n krvx-peer link set v1 up && ip -n krvx-peer link set lo up");
    // The other node, configured by hand the way kroute configures itself.
    test::must("ip -n krvx-peer link add kroute-vxlan type vxlan id 4096 dstport 4789 local 192.168.50.2 nolearning dev v1");
    test::must("ip -n krvx-peer link set kroute-vxlan address " + vtep_mac(ip("192.168.50.2")) + " mtu 1450 up");
    test::must("ip -n krvx-peer addr add 10.244.2.0/32 dev kroute-vxlan");
    test::must("ip -n krvx-peer addr add 10.244.2.1/32 dev lo");
    test::must("ip -n krvx-peer neigh replace 10.244.1.0 lladdr " + vtep_mac(ip("192.168.50.1")) + " dev kroute-vxlan nud permanent");
    test::must("bridge -n krvx-peer fdb append " + vtep_mac(ip("192.168.50.1")) + " dev kroute-vxlan dst 192.168.50.1 self permanent");
    test::must("ip -n krvx-peer route add 10.244.1.0/24 via 10.244.1.0 dev kroute-vxlan onlink");

    VxlanConfig cfg;
    cfg.local = ip("192.168.50.1");
    cfg.underlay_dev = "v0";
    cfg.mtu = 1450;
    cfg.vtep = ip("10.244.1.0");
    std::string first_index;
    for (int i = 0; i < 2; ++i) {  // twice: idempotent, the same device
        auto r = vxlan_ensure(cfg);
        INFO((r ? "" : r.error()));
        REQUIRE(r);
        const std::string index = test::sh("ip -o link show " + cfg.name + " | cut -d: -f1").out;
        REQUIRE_FALSE(index.empty());
        if (i == 0) first_index = index;
        else CHECK(index == first_index);
    }
    auto link = test::sh("ip -d link show kroute-vxlan").out;
    CHECK_THAT(link, Catch::Contains("mtu 1450") && Catch::Contains("vxlan id 4096") &&
                         Catch::Contains("local 192.168.50.1") && Catch::Contains("nolearning") &&
                         Catch::Contains(vtep_mac(ip("192.168.50.1"))));
    auto peers = vxlan_set_peers(kVxlanDevice, {{ip("192.168.50.2"), ip("10.244.2.0")}});
    INFO((peers ? "" : peers.error()));
    REQUIRE(peers);
    CHECK_THAT(test::sh("bridge fdb show dev kroute-vxlan").out,
               Catch::Contains(vtep_mac(ip("192.168.50.2")) + " dst 192.168.50.2 self permanent"));
    CHECK_THAT(test::sh("ip neigh show dev kroute-vxlan").out,
               Catch::Contains("10.244.2.0 lladdr " + vtep_mac(ip("192.168.50.2")) + " PERMANENT"));

    auto table = NetlinkRouteTable::open(52, 254);
    REQUIRE(table);
    const FibRoute route{*Prefix::parse("10.244.2.0/24"), {ip("10.244.2.0")}, kVxlanDevice, true};
    auto results = table->apply(std::vector<RouteOp>{{RouteOpKind::kReplace, route}});
    REQUIRE(results.size() == 1);
    CHECK_FALSE(results[0]);
    auto dumped = table->dump();
    REQUIRE(dumped);
    bool found = false;
    for (const auto& kr : *dumped)
        if (kr.protocol == 52) found = kr.route == route;
    CHECK(found);  // device and on-link read back, so the Fib sees no difference to repair

    // Pod-to-pod across the overlay, with the VTEP as this side's source.
    test::must("ip addr add 10.244.1.1/32 dev lo && ip link set lo up");
    auto ping = test::sh("ping -c1 -W2 -I 10.244.1.1 10.244.2.1");
    INFO(ping.out);
    CHECK(ping.status == 0);

    // Peers gone: their entries go, the kernel's own stay.
    REQUIRE(vxlan_set_peers(kVxlanDevice, {}));
    CHECK_THAT(test::sh("bridge fdb show dev kroute-vxlan").out, !Catch::Contains("192.168.50.2"));
    CHECK_THAT(test::sh("ip neigh show dev kroute-vxlan").out, !Catch::Contains("10.244.2.0"));

    // Another VNI: the device is recreated.
    cfg.vni = 4097;
    REQUIRE(vxlan_ensure(cfg));
    CHECK_THAT(test::sh("ip -d link show kroute-vxlan").out, Catch::Contains("vxlan id 4097"));
    REQUIRE(vxlan_remove(kVxlanDevice));
    CHECK(test::sh("ip link show kroute-vxlan").status != 0);
    REQUIRE(vxlan_remove(kVxlanDevice));  // absent: fine
}

TEST_CASE("vxlan over IPv6: kroute-vxlan6, its entries and an on-link IPv6 route carry pod traffic",
          "[daemon][vxlan][netns]") {
    test::enter_fresh_netns();
    PeerNs peer;
    test::must("ip link add v0 type veth peer name v1 netns krvx-peer");
    test::must("ip addr add fd00:50::1/64 dev v0 nodad && ip link set v0 up");
    test::must("ip -n krvx-peer addr add fd00:50::2/64 dev v1 nodad && ip -n krvx-peer link set v1 up && "
               "ip -n krvx-peer link set lo up");
    test::must("ip -n krvx-peer link add kroute-vxlan6 type vxlan id 6096 dstport 4789 local fd00:50::2 nolearning dev v1");
    test::must("ip -n krvx-peer link set kroute-vxlan6 address " + vtep_mac(ip("fd00:50::2")) + " mtu 1430 up");
    test::must("ip -n krvx-peer addr add fd00:244:2::/128 dev kroute-vxlan6 nodad");
    test::must("ip -n krvx-peer addr add fd00:244:2::1/128 dev lo nodad");
    test::must("ip -n krvx-peer neigh replace fd00:244:1:: lladdr " + vtep_mac(ip("fd00:50::1")) +
               " dev kroute-vxlan6 nud permanent");
    test::must("bridge -n krvx-peer fdb append " + vtep_mac(ip("fd00:50::1")) + " dev kroute-vxlan6 dst fd00:50::1 self permanent");
    test::must("ip -n krvx-peer route add fd00:244:1::/64 via fd00:244:1:: dev kroute-vxlan6 onlink");

    VxlanConfig cfg;
    cfg.name = vxlan_device(Family::kIpv6);
    cfg.vni = vxlan_vni(Family::kIpv6);
    cfg.local = ip("fd00:50::1");
    cfg.underlay_dev = "v0";
    cfg.mtu = 1500 - vxlan_overhead(Family::kIpv6);
    cfg.vtep = ip("fd00:244:1::");
    std::string first_index;
    for (int i = 0; i < 2; ++i) {  // twice: idempotent, the same device
        auto r = vxlan_ensure(cfg);
        INFO((r ? "" : r.error()));
        REQUIRE(r);
        const std::string index = test::sh("ip -o link show " + cfg.name + " | cut -d: -f1").out;
        REQUIRE_FALSE(index.empty());
        if (i == 0) first_index = index;
        else CHECK(index == first_index);
    }
    CHECK_THAT(test::sh("ip -d link show kroute-vxlan6").out,
               Catch::Contains("mtu 1430") && Catch::Contains("vxlan id 6096") && Catch::Contains("local fd00:50::1"));
    auto peers = vxlan_set_peers(kVxlanDevice6, {{ip("fd00:50::2"), ip("fd00:244:2::")}});
    INFO((peers ? "" : peers.error()));
    REQUIRE(peers);
    CHECK_THAT(test::sh("bridge fdb show dev kroute-vxlan6").out,
               Catch::Contains(vtep_mac(ip("fd00:50::2")) + " dst fd00:50::2 self permanent"));

    auto table = NetlinkRouteTable::open(52, 254);
    REQUIRE(table);
    const FibRoute route{*Prefix::parse("fd00:244:2::/64"), {ip("fd00:244:2::")}, kVxlanDevice6, true};
    auto results = table->apply(std::vector<RouteOp>{{RouteOpKind::kReplace, route}});
    REQUIRE(results.size() == 1);
    CHECK_FALSE(results[0]);
    auto dumped = table->dump();
    REQUIRE(dumped);
    bool found = false;
    for (const auto& kr : *dumped)
        if (kr.protocol == 52 && kr.route.prefix == route.prefix) found = kr.route == route;
    CHECK(found);

    test::must("ip addr add fd00:244:1::1/128 dev lo nodad && ip link set lo up");
    auto ping = test::sh("ping -6 -c1 -W2 -I fd00:244:1::1 fd00:244:2::1");
    INFO(ping.out);
    CHECK(ping.status == 0);

    REQUIRE(vxlan_set_peers(kVxlanDevice6, {}));
    CHECK_THAT(test::sh("bridge fdb show dev kroute-vxlan6").out, !Catch::Contains("fd00:50::2"));
    REQUIRE(vxlan_remove(kVxlanDevice6));
    CHECK(test::sh("ip link show kroute-vxlan6").status != 0);
}

}  // namespace kroute::daemon
