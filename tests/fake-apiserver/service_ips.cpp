#include "tests/fake-apiserver/service_ips.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace kroute::fake_apiserver {

namespace {

std::optional<std::uint32_t> parse_v4(std::string_view text) {
    const std::string s(text);
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
}

std::string format_v4(std::uint32_t v) {
    in_addr a{};
    a.s_addr = htonl(v);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

}  // namespace

Expected<ServiceIpRange, std::string> ServiceIpRange::parse(std::string_view cidr) {
    const auto slash = cidr.find('/');
    const auto bad = [&] {
        return unexpected("service ClusterIP range " + std::string(cidr) + ": expected an IPv4 CIDR such as 10.96.0.0/12");
    };
    if (slash == std::string_view::npos) return bad();
    const auto addr = parse_v4(cidr.substr(0, slash));
    unsigned len = 0;
    const auto digits = cidr.substr(slash + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (!addr || ec != std::errc{} || p != digits.data() + digits.size() || digits.empty() || len > 32) return bad();
    // At least 16 addresses: the network, .1 to .10 and a broadcast must fit.
    if (len > 28) return unexpected("service ClusterIP range " + std::string(cidr) + ": prefix longer than /28");
    const std::uint32_t size = len == 0 ? 0 : std::uint32_t{1} << (32 - len);
    const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    if ((*addr & ~mask) != 0) return unexpected("service ClusterIP range " + std::string(cidr) + ": host bits set");
    if (len == 0) return unexpected("service ClusterIP range " + std::string(cidr) + ": /0 is not a range");
    return ServiceIpRange{std::string(cidr), *addr, size};
}

bool ServiceIpRange::contains(std::string_view ip) const {
    const auto v = parse_v4(ip);
    // The network and broadcast addresses are not allocatable.
    return v && *v > base_ && *v - base_ < size_ - 1;
}

std::optional<std::string> ServiceIpRange::first_free(const std::function<bool(const std::string&)>& used) const {
    for (std::uint32_t off = 10; off < size_ - 1; ++off) {
        auto ip = format_v4(base_ + off);
        if (!used(ip)) return ip;
    }
    for (std::uint32_t off = 1; off < 10; ++off) {
        auto ip = format_v4(base_ + off);
        if (!used(ip)) return ip;
    }
    return std::nullopt;
}

}  // namespace kroute::fake_apiserver
