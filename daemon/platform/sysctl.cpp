// enable_forwarding(): the two sysctls a router needs, written through /proc/sys, which shows the
// network namespace of the calling thread (so a test in its own namespace changes only that one).
// A sysctl that already has its value is not written: an unprivileged container sees /proc/sys
// read-only, and the DaemonSet's privileged init container sets them before kroute starts.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "common/log.hpp"
#include "daemon/platform/fib.hpp"

namespace kroute::daemon {
namespace {

constexpr const char* kIpv4Forward = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* kIpv6Forward = "/proc/sys/net/ipv6/conf/all/forwarding";
constexpr const char* kIpv6Dir = "/proc/sys/net/ipv6";

Expected<void, std::string> write_sysctl(const char* path, const char* value) {
    std::ofstream f(path);
    if (!f) return unexpected(std::string("cannot open ") + path + ": " + std::strerror(errno));
    f << value << '\n';
    f.flush();
    if (!f) return unexpected(std::string("cannot write ") + path + ": " + std::strerror(errno));
    f.close();
    if (!f) return unexpected(std::string("cannot write ") + path + ": " + std::strerror(errno));
    return {};
}

std::string read_sysctl(const char* path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

Expected<void, std::string> ensure_sysctl(const char* path, const char* value, const char* name) {
    if (read_sysctl(path) == value) return {};
    if (auto r = write_sysctl(path, value); !r)
        return unexpected(r.error() + "; where /proc/sys is read-only (an unprivileged container) set it on the host first, sysctl -w " +
                          name + "=" + value + ", as the DaemonSet's init container does");
    return {};
}

bool exists(const char* path) {
    struct stat st {};
    return ::stat(path, &st) == 0;
}

}  // namespace

Expected<void, std::string> enable_forwarding(bool ipv4, bool ipv6) {
    auto log = log::get("fib");
    if (ipv4) {
        if (auto r = ensure_sysctl(kIpv4Forward, "1", "net.ipv4.ip_forward"); !r) return unexpected("enable IPv4 forwarding: " + r.error());
        log->info("net.ipv4.ip_forward = 1");
    }
    if (ipv6) {
        if (!exists(kIpv6Dir)) {
            log->info("the kernel has no IPv6: not enabling IPv6 forwarding");
            return {};
        }
        if (auto r = ensure_sysctl(kIpv6Forward, "1", "net.ipv6.conf.all.forwarding"); !r) return unexpected("enable IPv6 forwarding: " + r.error());
        log->info("net.ipv6.conf.all.forwarding = 1");
    }
    return {};
}

Expected<bool, std::string> enable_bridge_netfilter(bool ipv6, const std::string& proc_sys) {
    const std::string dir = proc_sys + "/net/bridge";
    if (!exists(dir.c_str())) return false;  // br_netfilter not loaded: bridged traffic skips iptables anyway
    auto log = log::get("fib");
    for (const char* name : {"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"}) {
        if (!ipv6 && std::string_view(name) == "bridge-nf-call-ip6tables") continue;
        const std::string path = dir + "/" + name;
        if (auto r = write_sysctl(path.c_str(), "1"); !r) return unexpected("enable " + std::string(name) + ": " + r.error());
        log->info("net.bridge.{} = 1", name);
    }
    return true;
}

}  // namespace kroute::daemon
