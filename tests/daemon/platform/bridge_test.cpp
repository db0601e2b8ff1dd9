// The pod bridge and the bridge netfilter sysctls, for real in a network namespace of the test's
// own (netns_support.hpp).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "daemon/platform/bridge.hpp"
#include "daemon/platform/fib.hpp"
#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

std::string read_line(const std::string& path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/kroute-bridge-test.XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("bridge_ensure: created with the MTU, the MTU followed, other links refused, removed", "[daemon][bridge][netns]") {
    test::enter_fresh_netns();
    auto made = bridge_ensure(kPodBridge, 1450);
    INFO((made ? "" : made.error()));
    REQUIRE(made);
    auto shown = test::sh("ip -d link show kube-bridge").out;
    CHECK_THAT(shown, Catch::Contains("mtu 1450") && Catch::Contains("bridge") && Catch::Contains("UP"));
    REQUIRE(bridge_ensure(kPodBridge, 1450));  // idempotent
    // An existing bridge with another MTU (the CNI plugin made it before the overlay was on).
    REQUIRE(bridge_ensure(kPodBridge, 1430));
    CHECK_THAT(test::sh("ip link show kube-bridge").out, Catch::Contains("mtu 1430"));
    REQUIRE(bridge_remove(kPodBridge));
    CHECK(test::sh("ip link show kube-bridge").status != 0);
    REQUIRE(bridge_remove(kPodBridge));  // absent: fine

    // A link of that name that is not a bridge: an error naming it, the link untouched.
    test::must("ip link add kube-bridge type veth peer name kb-peer");
    auto refused = bridge_ensure(kPodBridge, 1450);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error(), Catch::Contains("not a bridge"));
    REQUIRE(bridge_remove(kPodBridge));  // not ours to delete
    CHECK(test::sh("ip link show kube-bridge").status == 0);
}

TEST_CASE("enable_bridge_netfilter: set when br_netfilter is loaded, nothing to do when not", "[daemon][sysctl]") {
    TempDir root;
    // Not loaded: no net/bridge directory.
    auto absent = enable_bridge_netfilter(true, root.path.string());
    REQUIRE(absent);
    CHECK_FALSE(*absent);
    // Loaded: both files set to 1 (the IPv6 one only with IPv6).
    std::filesystem::create_directories(root.path / "net/bridge");
    for (const char* f : {"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"}) std::ofstream(root.path / "net/bridge" / f) << "0\n";
    auto v4 = enable_bridge_netfilter(false, root.path.string());
    REQUIRE(v4);
    CHECK(*v4);
    CHECK(read_line((root.path / "net/bridge/bridge-nf-call-iptables").string()) == "1");
    CHECK(read_line((root.path / "net/bridge/bridge-nf-call-ip6tables").string()) == "0");
    REQUIRE(enable_bridge_netfilter(true, root.path.string()));
    CHECK(read_line((root.path / "net/bridge/bridge-nf-call-ip6tables").string()) == "1");
    // A file it cannot write: an error naming the sysctl.
    std::filesystem::remove(root.path / "net/bridge/bridge-nf-call-iptables");
    std::filesystem::create_directory(root.path / "net/bridge/bridge-nf-call-iptables");  // not writable as a file
    auto bad = enable_bridge_netfilter(false, root.path.string());
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error(), Catch::Contains("bridge-nf-call-iptables"));
}

TEST_CASE("enable_bridge_netfilter on this kernel's namespace", "[daemon][sysctl][netns]") {
    test::enter_fresh_netns();
    (void)test::sh("modprobe br_netfilter");  // loaded on kubelet hosts; may be built in or absent here
    const bool loaded = std::filesystem::exists("/proc/sys/net/bridge/bridge-nf-call-iptables");
    if (loaded) test::must("sysctl -qw net.bridge.bridge-nf-call-iptables=0");
    auto r = enable_bridge_netfilter(false);
    INFO((r ? "" : r.error()));
    REQUIRE(r);
    CHECK(*r == loaded);
    if (loaded) CHECK(read_line("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1");
}

}  // namespace kroute::daemon
