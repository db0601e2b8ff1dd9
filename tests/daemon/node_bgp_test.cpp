// kube-router's per-node BGP annotations as kroute reads them (daemon/node_bgp): pure.
#include "daemon/node_bgp.hpp"

#include <catch2/catch.hpp>

using namespace kroute;
using namespace kroute::daemon;
using namespace std::chrono_literals;

namespace {

k8s::Node annotated(std::map<std::string, std::string> annotations) {
    k8s::Node n;
    n.name = "node1";
    n.annotations = std::move(annotations);
    return n;
}

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

}  // namespace

TEST_CASE("kube-router.io/peers: the YAML list with passwords, ports, local IPs and BFD", "[daemon][node-bgp]") {
    auto b = node_bgp(annotated({{kPeersAnnotation, R"(
- remoteip: 192.168.1.99
  remoteasn: 65000
  password: cGFzcw==
  port: 1790
- remoteip: fd00::99
  remoteasn: 4200000001
  localip: fd00::11
  bfd:
    enabled: true
    detection_multiplier: 5
    required_min_rx_interval: 150
    desired_min_tx_interval: 200
)"}}));
    REQUIRE(b.errors.empty());
    REQUIRE(b.peers.size() == 2);
    CHECK(b.peers[0].address == ip("192.168.1.99"));
    CHECK(b.peers[0].asn == 65000);
    CHECK(b.peers[0].password == "pass");
    CHECK(b.peers[0].port == 1790);
    CHECK_FALSE(b.peers[0].bfd);
    CHECK(b.peers[1].asn == 4200000001U);
    CHECK(b.peers[1].port == 179);
    CHECK(b.peers[1].local_address == ip("fd00::11"));
    CHECK(b.peers[1].bfd == true);
    REQUIRE(b.peers[1].bfd_config);
    CHECK(b.peers[1].bfd_config->detect_mult == 5);
    CHECK(b.peers[1].bfd_config->required_min_rx == 150ms);
    CHECK(b.peers[1].bfd_config->desired_min_tx == 200ms);
}

TEST_CASE("kube-router.io/peers: a bad entry is an error naming it, and no peer of the list is used", "[daemon][node-bgp]") {
    auto [yaml, needle] = GENERATE(table<std::string, std::string>({
        {"- remoteip: 192.168.1.99\n  remoteasn: 0\n", "AS '0'"},
        {"- remoteip: nope\n  remoteasn: 65000\n", "'nope'"},
        {"- remoteasn: 65000\n", "remoteip and remoteasn are required"},
        {"- remoteip: 192.168.1.99\n  remoteasn: 65000\n  password: '***'\n", "not base64"},
        {"- remoteip: 192.168.1.99\n  remoteasn: 65000\n  colour: red\n", "unknown key 'colour'"},
        {"- remoteip: 192.168.1.99\n  remoteasn: 65000\n  bfd: {port: 4000}\n", "3784"},
        {"- remoteip: 192.168.1.99\n  remoteasn: 65000\n- remoteip: 192.168.1.99\n  remoteasn: 65001\n", "listed twice"},
        {"remoteip: 192.168.1.99", "not a YAML list"},
        {"- [unclosed", "not YAML"},
    }));
    auto b = node_bgp(annotated({{kPeersAnnotation, yaml}}));
    CHECK(b.peers.empty());
    REQUIRE(b.errors.size() == 1);
    CHECK_THAT(b.errors[0], Catch::Contains(needle) && Catch::Contains("kube-router.io/peers") && Catch::Contains("node1"));
    CHECK_THAT(b.errors[0], !Catch::Contains("***"));  // a password is never echoed
}

TEST_CASE("the older kube-router.io/peer.* lists", "[daemon][node-bgp]") {
    auto b = node_bgp(annotated({{kPeerIpsAnnotation, "192.168.1.99, 192.168.1.100"},
                                 {kPeerAsnsAnnotation, "65000,65001"},
                                 {kPeerPortsAnnotation, ",1790"},
                                 {kPeerPasswordsAnnotation, "cGFzcw==,"}}));
    REQUIRE(b.errors.empty());
    REQUIRE(b.peers.size() == 2);
    CHECK(b.peers[0].port == 179);
    CHECK(b.peers[0].password == "pass");
    CHECK(b.peers[1].port == 1790);
    CHECK(b.peers[1].password.empty());
    auto bad = node_bgp(annotated({{kPeerIpsAnnotation, "192.168.1.99,192.168.1.100"}, {kPeerAsnsAnnotation, "65000"}}));
    CHECK(bad.peers.empty());
    REQUIRE(bad.errors.size() == 1);
    CHECK_THAT(bad.errors[0], Catch::Contains("differ in length"));
    // The YAML annotation wins over the lists, as in kube-router.
    auto both = node_bgp(annotated({{kPeersAnnotation, "- remoteip: 10.0.0.1\n  remoteasn: 65002\n"},
                                    {kPeerIpsAnnotation, "192.168.1.99"}, {kPeerAsnsAnnotation, "65000"}}));
    REQUIRE(both.peers.size() == 1);
    CHECK(both.peers[0].asn == 65002);
}

TEST_CASE("node.asn, path prepend, communities and the custom import reject", "[daemon][node-bgp]") {
    auto b = node_bgp(annotated({{kNodeAsnAnnotation, "64513"},
                                 {kPrependAsAnnotation, "64513"},
                                 {kPrependRepeatAnnotation, "3"},
                                 {kCommunitiesAnnotation, "65000:100, no-export,65000:100, 42"},
                                 {kImportRejectAnnotation, "192.0.2.0/24,2001:db8::/32"}}));
    REQUIRE(b.errors.empty());
    CHECK(b.asn == 64513U);
    CHECK(b.prepend_asn == 64513);
    CHECK(b.prepend_count == 3);
    CHECK(b.communities == std::vector<std::uint32_t>{42, (65000U << 16) | 100, 0xFFFFFF01});
    CHECK(b.import_reject == std::vector<Prefix>{*Prefix::parse("192.0.2.0/24"), *Prefix::parse("2001:db8::/32")});

    auto bad = node_bgp(annotated({{kNodeAsnAnnotation, "23456"},
                                   {kPrependAsAnnotation, "64513"},
                                   {kCommunitiesAnnotation, "65000:100,lots"},
                                   {kImportRejectAnnotation, "192.0.2.1/24"}}));
    CHECK_FALSE(bad.asn);
    CHECK(bad.prepend_count == 0);
    CHECK(bad.communities.empty());
    CHECK(bad.import_reject.empty());
    CHECK(bad.errors.size() == 4);
}

TEST_CASE("a node without annotations has no per-node BGP settings", "[daemon][node-bgp]") {
    CHECK(node_bgp(annotated({})) == NodeBgp{});
}
