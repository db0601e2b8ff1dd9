// The Service ClusterIP range (kube-apiserver --service-cluster-ip-range), IPv4 only. Pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.hpp"

namespace kroute::fake_apiserver {

class ServiceIpRange {
public:
    // "10.96.0.0/12"; the prefix length must leave room for the network, broadcast and .10.
    [[nodiscard]] static Expected<ServiceIpRange, std::string> parse(std::string_view cidr);

    [[nodiscard]] const std::string& cidr() const noexcept { return cidr_; }
    [[nodiscard]] bool contains(std::string_view ip) const;
    // The lowest free address from the 10th on, then the 1st to 9th: deterministic, so tests can
    // name the IP a Service gets (the apiserver picks at random; .1 is usually the `kubernetes`
    // Service, .10 the cluster DNS). nullopt when the range is full.
    [[nodiscard]] std::optional<std::string> first_free(const std::function<bool(const std::string&)>& used) const;

private:
    ServiceIpRange(std::string cidr, std::uint32_t base, std::uint32_t size)
        : cidr_{std::move(cidr)}, base_{base}, size_{size} {}

    std::string cidr_;
    std::uint32_t base_ = 0;
    std::uint32_t size_ = 0;  // addresses in the range, network and broadcast included
};

}  // namespace kroute::fake_apiserver
