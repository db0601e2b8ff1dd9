// The Service ClusterIP ranges (kube-apiserver --service-cluster-ip-range): one CIDR, or two of
// different families for a dual-stack cluster, the first being the primary family. Pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"

namespace kroute::fake_apiserver {

class ServiceIpRange {
public:
    // "10.96.0.0/12" or "fd00:10:96::/112"; the prefix must leave room for the network address,
    // the 1st to 10th and a last one (at most /28, /124).
    [[nodiscard]] static Expected<ServiceIpRange, std::string> parse(std::string_view cidr);

    [[nodiscard]] const std::string& cidr() const noexcept { return cidr_; }
    [[nodiscard]] const char* family() const noexcept { return v6_ ? "IPv6" : "IPv4"; }
    [[nodiscard]] bool contains(std::string_view ip) const;
    // The lowest free address from the 10th on, then the 1st to 9th: deterministic, so tests can
    // name the IP a Service gets (the apiserver picks at random; .1 is usually the `kubernetes`
    // Service, .10 the cluster DNS). Looks at most at `max_tries` addresses (an IPv6 range may hold
    // 2^64); nullopt when none of them is free.
    [[nodiscard]] std::optional<std::string> first_free(const std::function<bool(const std::string&)>& used,
                                                        std::uint64_t max_tries = 1U << 20U) const;

private:
    __extension__ typedef unsigned __int128 U128;  // IPv6 arithmetic (GCC and Clang)
    ServiceIpRange(std::string cidr, bool v6, U128 base, U128 last)
        : cidr_{std::move(cidr)}, v6_{v6}, base_{base}, last_{last} {}
    [[nodiscard]] std::string format(U128 v) const;

    std::string cidr_;
    bool v6_ = false;
    U128 base_ = 0;  // the network address
    U128 last_ = 0;  // the last address of the range (IPv4: broadcast), not allocated either
};

// What --service-cluster-ip-range configures: one range per family, the primary first.
class ServiceIpRanges {
public:
    // "10.96.0.0/12", or "10.96.0.0/12,fd00:10:96::/112" (either family first, not both the same).
    [[nodiscard]] static Expected<ServiceIpRanges, std::string> parse(std::string_view flag);

    [[nodiscard]] const ServiceIpRange& primary() const noexcept { return ranges_.front(); }
    [[nodiscard]] bool dual_stack() const noexcept { return ranges_.size() == 2; }
    // The range of family "IPv4" / "IPv6"; nullptr when the cluster has none.
    [[nodiscard]] const ServiceIpRange* of(std::string_view family) const noexcept;
    // The range that holds `ip`, if any.
    [[nodiscard]] const ServiceIpRange* holding(std::string_view ip) const noexcept;
    [[nodiscard]] std::string cidrs() const;  // as given, comma-separated

private:
    std::vector<ServiceIpRange> ranges_;
};

// "IPv4" / "IPv6" for an address literal, nullopt for anything else.
[[nodiscard]] std::optional<std::string> ip_family_of(std::string_view ip);

}  // namespace kroute::fake_apiserver
