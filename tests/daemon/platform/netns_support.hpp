// Support for the [netns] tests: each one moves the test process into a fresh, empty network
// namespace of its own *before* it opens a socket or configures anything, so that nothing a test
// does can reach the root namespace (no address, route or sysctl there is ever touched).
//
// unshare(CLONE_NEWNET) changes the namespace of the calling thread only: Catch2 runs tests on the
// main thread, Fib's writer thread is created afterwards and inherits it, and so does every
// `ip ...` that system()/popen() forks. The previous test's namespace disappears with its last
// socket. Needs root (CAP_SYS_ADMIN), as CI has.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "common/asio.hpp"

namespace kroute::test {

inline std::string netns_id() {
    std::array<char, 128> buf{};
    ssize_t n = ::readlink("/proc/thread-self/ns/net", buf.data(), buf.size() - 1);
    return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string();
}

struct Shell {
    int status = -1;
    std::string out;
};

// Runs a shell command (in the current network namespace), capturing stdout and stderr.
inline Shell sh(const std::string& command) {
    Shell r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    r.status = ::pclose(p);
    return r;
}

// Runs a setup command that must succeed.
inline void must(const std::string& command) {
    auto r = sh(command);
    INFO(command << "\n" << r.out);
    REQUIRE(r.status == 0);
}

// Moves this thread into a new network namespace and checks that it is new and empty (only lo).
inline void enter_fresh_netns() {
    const std::string before = netns_id();
    REQUIRE_FALSE(before.empty());
    if (::unshare(CLONE_NEWNET) != 0) {
        FAIL("unshare(CLONE_NEWNET) failed: " << std::strerror(errno)
                                              << " ([netns] tests need root; run them as root or exclude ~[netns])");
    }
    const std::string after = netns_id();
    REQUIRE(after != before);
    auto links = sh("ip -o link show");
    INFO(links.out);
    REQUIRE(links.status == 0);
    REQUIRE(links.out.find("lo:") != std::string::npos);
    REQUIRE(links.out.find('\n') == links.out.size() - 1);  // one line: lo only, nothing configured
}

// The node of the tests: 172.18.0.11/16 and fd00:18::11/64 on veth0 (peer veth1, both up). The
// kernel here has no dummy interface; a veth pair needs no module either.
inline void setup_node() {
    must("ip link set lo up");
    must("ip link add veth0 type veth peer name veth1");
    must("ip addr add 172.18.0.11/16 dev veth0");
    must("ip -6 addr add fd00:18::11/64 dev veth0 nodad");
    must("ip link set veth0 up");
    must("ip link set veth1 up");
}

// Runs the io_context until `pred` holds or `limit` passes; returns pred()'s last value.
template <class Pred>
bool run_until(asio::io_context& ioc, Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    ioc.restart();
    auto guard = asio::make_work_guard(ioc);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        ioc.run_for(std::chrono::milliseconds(10));
        if (pred()) return true;
    }
    return pred();
}

}  // namespace kroute::test
