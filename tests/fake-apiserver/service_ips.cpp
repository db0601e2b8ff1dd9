#include "tests/fake-apiserver/service_ips.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace kroute::fake_apiserver {

namespace {

__extension__ typedef unsigned __int128 U128;

struct Parsed {
    bool v6 = false;
    U128 value = 0;
};

std::optional<Parsed> parse_ip(std::string_view text) {
    const std::string s(text);
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) == 1) return Parsed{false, ntohl(a.s_addr)};
    in6_addr a6{};
    if (inet_pton(AF_INET6, s.c_str(), &a6) != 1) return std::nullopt;
    U128 v = 0;
    for (unsigned char byte : a6.s6_addr) v = (v << 8U) | byte;
    return Parsed{true, v};
}

}  // namespace

std::optional<std::string> ip_family_of(std::string_view ip) {
    auto p = parse_ip(ip);
    if (!p) return std::nullopt;
    return std::string{p->v6 ? "IPv6" : "IPv4"};
}

std::string ServiceIpRange::format(U128 v) const {
    if (!v6_) {
        in_addr a{};
        a.s_addr = htonl(static_cast<std::uint32_t>(v));
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, buf, sizeof buf);
        return buf;
    }
    in6_addr a6{};
    for (int i = 15; i >= 0; --i) {
        a6.s6_addr[i] = static_cast<unsigned char>(v & 0xFFU);
        v >>= 8U;
    }
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    return buf;
}

Expected<ServiceIpRange, std::string> ServiceIpRange::parse(std::string_view cidr) {
    const auto slash = cidr.find('/');
    const auto bad = [&] {
        return unexpected("service ClusterIP range " + std::string(cidr) +
                          ": expected a CIDR such as 10.96.0.0/12 or fd00:10:96::/112");
    };
    if (slash == std::string_view::npos) return bad();
    const auto addr = parse_ip(cidr.substr(0, slash));
    unsigned len = 0;
    const auto digits = cidr.substr(slash + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (!addr || ec != std::errc{} || p != digits.data() + digits.size() || digits.empty()) return bad();
    const unsigned bits = addr->v6 ? 128 : 32;
    if (len > bits) return bad();
    if (len == 0) return unexpected("service ClusterIP range " + std::string(cidr) + ": /0 is not a range");
    // At least 16 addresses: the network, the 1st to 10th and a last one must fit.
    if (bits - len < 4)
        return unexpected("service ClusterIP range " + std::string(cidr) + ": prefix longer than /" +
                          std::to_string(bits - 4));
    const unsigned host = bits - len;
    const U128 host_mask = host == 128 ? ~U128{0} : (U128{1} << host) - 1;
    if ((addr->value & host_mask) != 0) return unexpected("service ClusterIP range " + std::string(cidr) + ": host bits set");
    return ServiceIpRange{std::string(cidr), addr->v6, addr->value, addr->value | host_mask};
}

bool ServiceIpRange::contains(std::string_view ip) const {
    const auto v = parse_ip(ip);
    // The network and the last (IPv4: broadcast) addresses are not allocatable.
    return v && v->v6 == v6_ && v->value > base_ && v->value < last_;
}

std::optional<std::string> ServiceIpRange::first_free(const std::function<bool(const std::string&)>& used,
                                                      std::uint64_t max_tries) const {
    std::uint64_t tries = 0;
    for (U128 v = base_ + 10; v < last_ && tries < max_tries; ++v, ++tries) {
        auto ip = format(v);
        if (!used(ip)) return ip;
    }
    for (U128 v = base_ + 1; v < base_ + 10; ++v) {
        auto ip = format(v);
        if (!used(ip)) return ip;
    }
    return std::nullopt;
}

Expected<ServiceIpRanges, std::string> ServiceIpRanges::parse(std::string_view flag) {
    ServiceIpRanges out;
    std::string_view rest = flag;
    while (true) {
        const auto comma = rest.find(',');
        auto r = ServiceIpRange::parse(rest.substr(0, comma));
        if (!r) return unexpected(std::move(r).error());
        out.ranges_.push_back(std::move(*r));
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
    }
    if (out.ranges_.size() > 2)
        return unexpected("service ClusterIP range " + std::string(flag) + ": at most two CIDRs (one per family)");
    if (out.ranges_.size() == 2 && std::string_view{out.ranges_[0].family()} == out.ranges_[1].family())
        return unexpected("service ClusterIP range " + std::string(flag) + ": a dual-stack range needs one CIDR of each family");
    return out;
}

const ServiceIpRange* ServiceIpRanges::of(std::string_view family) const noexcept {
    for (const auto& r : ranges_)
        if (family == r.family()) return &r;
    return nullptr;
}

const ServiceIpRange* ServiceIpRanges::holding(std::string_view ip) const noexcept {
    for (const auto& r : ranges_)
        if (r.contains(ip)) return &r;
    return nullptr;
}

std::string ServiceIpRanges::cidrs() const {
    std::string out;
    for (const auto& r : ranges_) out.append(out.empty() ? "" : ",").append(r.cidr());
    return out;
}

}  // namespace kroute::fake_apiserver
