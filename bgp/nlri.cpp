#include "bgp/nlri.hpp"

#include <array>
#include <cstring>
#include <string>

namespace kroute::bgp {

namespace {

inline constexpr std::uint8_t kAttrMpReach = 14;
inline constexpr std::uint8_t kAttrMpUnreach = 15;

DecodeError network_error(std::string detail) {
    return DecodeError{kUpdateMessageError, kInvalidNetworkField, ErrorAction::kSessionReset, {}, std::move(detail)};
}

// RFC 7606 §7.11: an MP attribute we cannot parse leaves its NLRI unlocatable: session reset.
// The data field carries the attribute as RFC 4271 §6.3 asks for Optional Attribute Error.
DecodeError mp_error(std::uint8_t code, std::span<const std::uint8_t> value, std::string detail) {
    Bytes data;
    Writer w{data};
    if (value.size() > 255) {
        w.u8(0x90);
        w.u8(code);
        w.u16(static_cast<std::uint16_t>(value.size()));
    } else {
        w.u8(0x80);
        w.u8(code);
        w.u8(static_cast<std::uint8_t>(value.size()));
    }
    w.bytes(value);
    return DecodeError{kUpdateMessageError, kOptionalAttributeError, ErrorAction::kSessionReset, std::move(data),
                       std::move(detail)};
}

bool known_family(std::uint16_t afi, std::uint8_t safi) {
    return (afi == kAfiIpv4 || afi == kAfiIpv6) && safi == kSafiUnicast;
}

Family family_of(std::uint16_t afi) { return afi == kAfiIpv6 ? Family::kIpv6 : Family::kIpv4; }

}  // namespace

std::size_t encoded_prefix_size(const Prefix& p, bool path_id) noexcept {
    return (path_id ? 4 : 0) + 1 + (static_cast<std::size_t>(p.length()) + 7) / 8;
}

void write_prefix(Writer& w, const Prefix& p) {
    w.u8(static_cast<std::uint8_t>(p.length()));
    w.bytes(std::span<const std::uint8_t>(p.address().data(), encoded_prefix_size(p) - 1));
}

void write_prefixes(Writer& w, std::span<const Prefix> prefixes, std::span<const std::uint32_t> path_ids,
                    bool with_path_ids) {
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        if (with_path_ids) w.u32(i < path_ids.size() ? path_ids[i] : 0);  // RFC 7911 §3
        write_prefix(w, prefixes[i]);
    }
}

Expected<std::vector<Prefix>, DecodeError> decode_prefixes(std::span<const std::uint8_t> field, Family family,
                                                           std::vector<std::uint32_t>* path_ids) {
    std::vector<Prefix> out;
    const int max_len = family == Family::kIpv4 ? 32 : 128;
    Reader r{field};
    while (!r.empty()) {
        if (path_ids) {  // RFC 7911 §3: Path Identifier (4 octets), then the prefix as before
            auto id = r.u32();
            if (!id) return unexpected(network_error("path identifier cut short"));
            path_ids->push_back(*id);
            if (r.empty()) return unexpected(network_error("path identifier without a prefix"));
        }
        auto len = r.u8();  // cannot fail: !r.empty()
        if (*len > max_len)
            return unexpected(network_error("prefix length " + std::to_string(*len) + " exceeds " + std::to_string(max_len)));
        const std::size_t n = (static_cast<std::size_t>(*len) + 7) / 8;
        auto b = r.bytes(n);
        if (!b) return unexpected(network_error("prefix runs past the end of its field"));
        if (family == Family::kIpv4) {
            std::array<std::uint8_t, 4> a{};
            std::memcpy(a.data(), b->data(), n);
            out.emplace_back(IpAddress::v4(a), *len);  // Prefix clears trailing bits (RFC 4271 §4.3)
        } else {
            std::array<std::uint8_t, 16> a{};
            std::memcpy(a.data(), b->data(), n);
            out.emplace_back(IpAddress::v6(a), *len);
        }
    }
    return out;
}

Expected<MpReach, DecodeError> decode_mp_reach(std::span<const std::uint8_t> value, const DecodeContext& ctx) {
    Reader r{value};
    auto afi = r.u16();
    auto safi = r.u8();
    auto nh_len = r.u8();
    if (!afi || !safi || !nh_len) return unexpected(mp_error(kAttrMpReach, value, "MP_REACH_NLRI shorter than its header"));
    MpReach out;
    out.family = AfiSafi{*afi, *safi};
    auto nh = r.bytes(*nh_len);
    auto reserved = r.u8();
    if (!nh || !reserved) return unexpected(mp_error(kAttrMpReach, value, "MP_REACH_NLRI next hop overruns the attribute"));
    if (!known_family(*afi, *safi)) return out;  // not ours to parse; RFC 4760 §7
    const bool v6_next_hop = *afi == kAfiIpv6 || (*afi == kAfiIpv4 && ctx.ipv4_with_ipv6_next_hop && *nh_len != 4);
    if (v6_next_hop) {
        // RFC 2545 §3: a global address, optionally followed by a link-local one; RFC 8950 §3 the
        // same for IPv4 NLRI once Extended Next Hop Encoding was negotiated.
        if (*nh_len != 16 && *nh_len != 32)
            return unexpected(mp_error(kAttrMpReach, value, "IPv6 next hop length " + std::to_string(*nh_len)));
        for (std::size_t off = 0; off < *nh_len; off += 16) {
            std::array<std::uint8_t, 16> a{};
            std::memcpy(a.data(), nh->data() + off, 16);
            out.next_hops.push_back(IpAddress::v6(a));
        }
    } else {
        if (*nh_len != 4) return unexpected(mp_error(kAttrMpReach, value, "IPv4 next hop length " + std::to_string(*nh_len)));
        out.next_hops.push_back(IpAddress::v4(std::array<std::uint8_t, 4>{(*nh)[0], (*nh)[1], (*nh)[2], (*nh)[3]}));
    }
    auto nlri = decode_prefixes(r.rest(), family_of(*afi), ctx.has_path_ids(out.family) ? &out.path_ids : nullptr);
    if (!nlri) return unexpected(std::move(nlri).error());
    out.nlri = std::move(*nlri);
    return out;
}

Expected<MpUnreach, DecodeError> decode_mp_unreach(std::span<const std::uint8_t> value, const DecodeContext& ctx) {
    Reader r{value};
    auto afi = r.u16();
    auto safi = r.u8();
    if (!afi || !safi) return unexpected(mp_error(kAttrMpUnreach, value, "MP_UNREACH_NLRI shorter than its header"));
    MpUnreach out;
    out.family = AfiSafi{*afi, *safi};
    if (!known_family(*afi, *safi)) return out;
    auto w = decode_prefixes(r.rest(), family_of(*afi), ctx.has_path_ids(out.family) ? &out.path_ids : nullptr);
    if (!w) return unexpected(std::move(w).error());
    out.withdrawn = std::move(*w);
    return out;
}

void write_mp_reach_value(Writer& w, const MpReach& r, bool with_path_ids) {
    w.u16(r.family.afi);
    w.u8(r.family.safi);
    std::size_t nh_len = 0;
    for (const auto& a : r.next_hops) nh_len += a.size();
    w.u8(static_cast<std::uint8_t>(nh_len));
    for (const auto& a : r.next_hops) w.bytes(std::span<const std::uint8_t>(a.data(), a.size()));
    w.u8(0);  // Reserved (RFC 4760 §3)
    write_prefixes(w, r.nlri, r.path_ids, with_path_ids);
}

void write_mp_unreach_value(Writer& w, const MpUnreach& u, bool with_path_ids) {
    w.u16(u.family.afi);
    w.u8(u.family.safi);
    write_prefixes(w, u.withdrawn, u.path_ids, with_path_ids);
}

}  // namespace kroute::bgp
