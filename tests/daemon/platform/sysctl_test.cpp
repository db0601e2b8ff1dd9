// enable_forwarding() in a network namespace of the test's own (netns_support.hpp): /proc/sys/net
// shows the calling thread's namespace, so the root namespace's sysctls are never written.
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "daemon/platform/fib.hpp"
#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

std::string read_line(const char* path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

}  // namespace

TEST_CASE("enable_forwarding sets both sysctls of the current namespace", "[daemon][sysctl][netns]") {
    test::enter_fresh_netns();
    test::must("sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0");
    REQUIRE(read_line("/proc/sys/net/ipv4/ip_forward") == "0");
    REQUIRE(read_line("/proc/sys/net/ipv6/conf/all/forwarding") == "0");

    auto only_v4 = enable_forwarding(true, false);
    INFO((only_v4 ? "" : only_v4.error()));
    REQUIRE(only_v4);
    CHECK(read_line("/proc/sys/net/ipv4/ip_forward") == "1");
    CHECK(read_line("/proc/sys/net/ipv6/conf/all/forwarding") == "0");

    auto both = enable_forwarding(true, true);
    INFO((both ? "" : both.error()));
    REQUIRE(both);
    CHECK(read_line("/proc/sys/net/ipv4/ip_forward") == "1");
    CHECK(read_line("/proc/sys/net/ipv6/conf/all/forwarding") == "1");
}

}  // namespace kroute::daemon
