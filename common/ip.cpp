#include "common/ip.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace kroute {

IpAddress IpAddress::v4(std::uint32_t host_order) noexcept {
    IpAddress a;
    a.family_ = Family::kIpv4;
    a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes_[3] = static_cast<std::uint8_t>(host_order);
    return a;
}

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& bytes) noexcept {
    IpAddress a;
    a.family_ = Family::kIpv4;
    std::memcpy(a.bytes_.data(), bytes.data(), 4);
    return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) noexcept {
    IpAddress a;
    a.family_ = Family::kIpv6;
    a.bytes_ = bytes;
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    std::string s(text);
    if (s.find(':') == std::string::npos) {
        std::array<std::uint8_t, 4> b{};
        if (inet_pton(AF_INET, s.c_str(), b.data()) != 1) return std::nullopt;
        return v4(b);
    }
    std::array<std::uint8_t, 16> b{};
    if (inet_pton(AF_INET6, s.c_str(), b.data()) != 1) return std::nullopt;
    return v6(b);
}

std::uint32_t IpAddress::v4_host_order() const noexcept {
    return static_cast<std::uint32_t>(bytes_[0]) << 24 | static_cast<std::uint32_t>(bytes_[1]) << 16 |
           static_cast<std::uint32_t>(bytes_[2]) << 8 | static_cast<std::uint32_t>(bytes_[3]);
}

bool IpAddress::is_unspecified() const noexcept {
    for (std::size_t i = 0; i < size(); ++i)
        if (bytes_[i] != 0) return false;
    return true;
}

bool IpAddress::is_link_local() const noexcept {
    if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
    return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
    return buf;
}

namespace {

IpAddress masked(const IpAddress& a, int length) noexcept {
    if (a.is_v4()) {  // the common case, on every decoded prefix
        const std::uint32_t m = length <= 0 ? 0u : length >= 32 ? ~0u : ~0u << (32 - length);
        return IpAddress::v4(a.v4_host_order() & m);
    }
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), a.data(), a.size());
    for (int i = 0; i < static_cast<int>(a.size()); ++i) {
        int keep = length - i * 8;
        if (keep >= 8) continue;
        b[static_cast<std::size_t>(i)] &= keep <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - keep));
    }
    if (a.is_v4()) return IpAddress::v4(std::array<std::uint8_t, 4>{b[0], b[1], b[2], b[3]});
    return IpAddress::v6(b);
}

}  // namespace

Prefix::Prefix(const IpAddress& address, int length) noexcept
    : address_{masked(address, length < 0 ? 0 : (length > address.max_prefix_length() ? address.max_prefix_length() : length))},
      length_{length < 0 ? 0 : (length > address.max_prefix_length() ? address.max_prefix_length() : length)} {}

std::optional<Prefix> Prefix::parse(std::string_view text, bool allow_host_bits) {
    auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    int length = addr->max_prefix_length();
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) return std::nullopt;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
        if (length < 0 || length > addr->max_prefix_length()) return std::nullopt;
    }
    Prefix p(*addr, length);
    if (!allow_host_bits && p.address_ != *addr) return std::nullopt;
    return p;
}

bool Prefix::contains(const IpAddress& a) const noexcept {
    return a.family() == family() && masked(a, length_) == address_;
}

bool Prefix::contains(const Prefix& p) const noexcept {
    return p.family() == family() && p.length_ >= length_ && masked(p.address_, length_) == address_;
}

std::string Prefix::to_string() const { return address_.to_string() + "/" + std::to_string(length_); }

}  // namespace kroute

namespace {
// The address's bytes folded into 64 bits (IPv4 in the low 32, IPv6 as its two halves xored),
// then spread over every bit by a multiply and a shift, so that the low bits unordered containers
// use differ even for prefixes that share their low bytes (all of a /24's have a zero last byte).
std::uint64_t fold(const kroute::IpAddress& a) noexcept {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    if (a.is_v4()) {
        std::memcpy(&lo, a.data(), 4);
    } else {
        std::memcpy(&hi, a.data(), 8);
        std::memcpy(&lo, a.data() + 8, 8);
    }
    return hi ^ (lo * 0x9E3779B97F4A7C15ull) ^ (static_cast<std::uint64_t>(a.family()) << 62);
}
std::size_t mix(std::uint64_t x) noexcept {
    x *= 0xBF58476D1CE4E5B9ull;
    return static_cast<std::size_t>(x ^ (x >> 31));
}
}  // namespace

std::size_t std::hash<kroute::IpAddress>::operator()(const kroute::IpAddress& a) const noexcept { return mix(fold(a)); }

std::size_t std::hash<kroute::Prefix>::operator()(const kroute::Prefix& p) const noexcept {
    return mix(fold(p.address()) + static_cast<std::uint64_t>(p.length()) * 0x94D049BB133111EBull);
}
