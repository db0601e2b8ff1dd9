// enable_forwarding() in a network namespace of the test's own (netns_support.hpp): /proc/sys/net
// shows the calling thread's namespace, so the root namespace's sysctls are never written.
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

// A child makes /proc/sys/net read-only in a private mount namespace of its own (so the test
// process and the host keep theirs), as an unprivileged container sees it, and reports what
// enable_forwarding() said.
static std::string enable_forwarding_under_readonly_proc_sys() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string msg;
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("/proc/sys/net", "/proc/sys/net", nullptr, MS_BIND, nullptr) != 0 ||
            ::mount(nullptr, "/proc/sys/net", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
            msg = std::string("setup failed: ") + std::strerror(errno);
        } else {
            auto r = enable_forwarding(true, true);
            msg = r ? std::string("succeeded") : r.error();
        }
        (void)!::write(fds[1], msg.data(), msg.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return msg;
}

TEST_CASE("enable_forwarding reports a sysctl it cannot write", "[daemon][sysctl][netns]") {
    test::enter_fresh_netns();
    test::must("sysctl -qw net.ipv4.ip_forward=0");
    const std::string msg = enable_forwarding_under_readonly_proc_sys();
    INFO(msg);
    CHECK(msg.find("enable IPv4 forwarding") != std::string::npos);
    CHECK(msg.find("/proc/sys/net/ipv4/ip_forward") != std::string::npos);
    CHECK(msg.find("Read-only file system") != std::string::npos);
    CHECK(msg.find("sysctl -w net.ipv4.ip_forward=1") != std::string::npos);
    CHECK(read_line("/proc/sys/net/ipv4/ip_forward") == "0");  // our namespace: untouched
}

TEST_CASE("enable_forwarding accepts a read-only /proc/sys whose sysctls are already set", "[daemon][sysctl][netns]") {
    // The DaemonSet: a privileged init container sets them, the unprivileged kroute only reads.
    test::enter_fresh_netns();
    test::must("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
    const std::string msg = enable_forwarding_under_readonly_proc_sys();
    INFO(msg);
    CHECK(msg == "succeeded");
}

}  // namespace kroute::daemon
