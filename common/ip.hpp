// IpAddress and Prefix: the address vocabulary every module shares (BGP NLRI, Node addresses,
// podCIDRs, kernel routes). Value types, no I/O, no allocation.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kroute {

enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

class IpAddress {
public:
    IpAddress() = default;  // 0.0.0.0

    [[nodiscard]] static IpAddress v4(std::uint32_t host_order) noexcept;
    [[nodiscard]] static IpAddress v4(const std::array<std::uint8_t, 4>& bytes) noexcept;
    [[nodiscard]] static IpAddress v6(const std::array<std::uint8_t, 16>& bytes) noexcept;
    // Accepts dotted quad or RFC 4291/5952 text; nullopt for anything else (no zone ids).
    [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);

    [[nodiscard]] Family family() const noexcept { return family_; }
    [[nodiscard]] bool is_v4() const noexcept { return family_ == Family::kIpv4; }
    [[nodiscard]] bool is_v6() const noexcept { return family_ == Family::kIpv6; }
    [[nodiscard]] std::uint32_t v4_host_order() const noexcept;  // only meaningful for is_v4()
    // Network-order bytes: 4 for IPv4, 16 for IPv6.
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return is_v4() ? 4 : 16; }
    [[nodiscard]] int max_prefix_length() const noexcept { return is_v4() ? 32 : 128; }
    [[nodiscard]] bool is_unspecified() const noexcept;
    [[nodiscard]] bool is_link_local() const noexcept;  // fe80::/10 or 169.254/16

    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
    friend std::strong_ordering operator<=>(const IpAddress&, const IpAddress&) = default;

private:
    Family family_ = Family::kIpv4;
    std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4, the rest stay zero
};

class Prefix {
public:
    Prefix() = default;
    // Host bits beyond `length` are cleared: a Prefix is always canonical.
    Prefix(const IpAddress& address, int length) noexcept;
    // "10.244.1.0/24", "fd00::/64"; a bare address is a host prefix. Rejects host bits set unless
    // `allow_host_bits` (then they are cleared), and lengths out of range.
    [[nodiscard]] static std::optional<Prefix> parse(std::string_view text, bool allow_host_bits = false);

    [[nodiscard]] const IpAddress& address() const noexcept { return address_; }
    [[nodiscard]] int length() const noexcept { return length_; }
    [[nodiscard]] Family family() const noexcept { return address_.family(); }
    [[nodiscard]] bool contains(const IpAddress& a) const noexcept;
    [[nodiscard]] bool contains(const Prefix& p) const noexcept;
    [[nodiscard]] bool overlaps(const Prefix& p) const noexcept { return contains(p) || p.contains(*this); }
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const Prefix&, const Prefix&) = default;
    friend std::strong_ordering operator<=>(const Prefix&, const Prefix&) = default;

private:
    IpAddress address_;
    int length_ = 0;
};

}  // namespace kroute

template <>
struct std::hash<kroute::IpAddress> {
    std::size_t operator()(const kroute::IpAddress& a) const noexcept;
};
template <>
struct std::hash<kroute::Prefix> {
    std::size_t operator()(const kroute::Prefix& p) const noexcept;
};
