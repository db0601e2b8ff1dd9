#include "bgp/capabilities.hpp"

#include <algorithm>
#include <optional>
#include <string>

namespace kroute::bgp {

namespace {

// BIRD and GoBGP answer a malformed capability with OPEN Message Error, subcode 0 (unspecific):
// RFC 5492 defines no subcode for it.
DecodeError malformed_open(std::string detail) {
    return DecodeError{kOpenMessageError, 0, ErrorAction::kSessionReset, {}, std::move(detail)};
}

Expected<void, DecodeError> decode_capability(std::uint8_t code, std::span<const std::uint8_t> value,
                                              OpenMessage& open) {
    Reader r{value};
    switch (code) {
        case kCapMultiprotocol: {
            // RFC 4760 §8: AFI (2), Reserved (1), SAFI (1).
            if (value.size() != 4) return unexpected(malformed_open("multiprotocol capability length " + std::to_string(value.size())));
            auto afi = r.u16();
            (void)r.u8();
            auto safi = r.u8();
            AfiSafi f{*afi, *safi};
            if (std::find(open.multiprotocol.begin(), open.multiprotocol.end(), f) == open.multiprotocol.end())
                open.multiprotocol.push_back(f);
            return {};
        }
        case kCapRouteRefresh:
            if (!value.empty()) return unexpected(malformed_open("route refresh capability with a value"));
            open.route_refresh = true;
            return {};
        case kCapFourOctetAs:
            if (value.size() != 4) return unexpected(malformed_open("4-octet AS capability length " + std::to_string(value.size())));
            if (!open.four_octet_as) open.four_octet_as = *r.u32();
            return {};
        default:
            open.other_capabilities.push_back(RawCapability{code, Bytes(value.begin(), value.end())});
            return {};
    }
}

void write_capability(Writer& w, std::uint8_t code, std::span<const std::uint8_t> value) {
    w.u8(code);
    w.u8(static_cast<std::uint8_t>(value.size()));
    w.bytes(value);
}

}  // namespace

Expected<void, DecodeError> decode_optional_parameters(std::span<const std::uint8_t> params, OpenMessage& open,
                                                       bool extended) {
    Reader r{params};
    while (!r.empty()) {
        auto type = r.u8();
        std::optional<std::size_t> len;
        if (extended) {
            if (auto l = r.u16()) len = *l;
        } else if (auto l = r.u8()) {
            len = *l;
        }
        if (!len) return unexpected(malformed_open("optional parameter header truncated"));
        auto value = r.sub(*len);
        if (!value) return unexpected(malformed_open("optional parameter overruns the parameters field"));
        if (*type != kOptParamCapabilities)
            // RFC 4271 §6.2; the only parameter type left in use is Capabilities (RFC 5492).
            return unexpected(DecodeError{kOpenMessageError, kUnsupportedOptionalParameter, ErrorAction::kSessionReset,
                                          {}, "optional parameter type " + std::to_string(*type)});
        while (!value->empty()) {  // RFC 5492 §4: one parameter may carry several capabilities
            auto code = value->u8();
            auto clen = value->u8();
            if (!clen) return unexpected(malformed_open("capability header truncated"));
            auto cval = value->bytes(*clen);
            if (!cval) return unexpected(malformed_open("capability overruns its parameter"));
            if (auto ok = decode_capability(*code, *cval, open); !ok) return ok;
        }
    }
    return {};
}

void write_optional_parameters(Writer& w, const OpenMessage& open, bool extended) {
    Bytes caps;
    Writer c{caps};
    for (const auto& f : open.multiprotocol) {
        const std::uint8_t v[4] = {static_cast<std::uint8_t>(f.afi >> 8), static_cast<std::uint8_t>(f.afi), 0, f.safi};
        write_capability(c, kCapMultiprotocol, v);
    }
    if (open.route_refresh) write_capability(c, kCapRouteRefresh, {});
    if (open.four_octet_as) {
        const std::uint32_t a = *open.four_octet_as;
        const std::uint8_t v[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                   static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
        write_capability(c, kCapFourOctetAs, v);
    }
    for (const auto& raw : open.other_capabilities) write_capability(c, raw.code, raw.value);
    if (caps.empty()) return;
    if (extended) {
        w.u8(kOptParamCapabilities);
        w.u16(static_cast<std::uint16_t>(caps.size()));
        w.bytes(caps);
        return;
    }
    // One Capabilities parameter holds at most 255 octets; split beyond that (RFC 5492 §4 allows
    // any number of parameters).
    std::size_t pos = 0;
    while (pos < caps.size()) {
        std::size_t end = pos;
        while (end < caps.size() && end + 2 + caps[end + 1] - pos <= 255) end += 2 + caps[end + 1];
        if (end == pos) break;  // a single capability over 253 octets cannot be encoded
        w.u8(kOptParamCapabilities);
        w.u8(static_cast<std::uint8_t>(end - pos));
        w.bytes(std::span<const std::uint8_t>(caps).subspan(pos, end - pos));
        pos = end;
    }
}

bool has_capability(const OpenMessage& open, std::uint8_t code) noexcept {
    switch (code) {
        case kCapMultiprotocol: return !open.multiprotocol.empty();
        case kCapRouteRefresh: return open.route_refresh;
        case kCapFourOctetAs: return open.four_octet_as.has_value();
        default:
            return std::any_of(open.other_capabilities.begin(), open.other_capabilities.end(),
                               [code](const RawCapability& c) { return c.code == code; });
    }
}

Negotiated negotiate(const OpenMessage& local, const OpenMessage& remote) {
    Negotiated n;
    n.four_octet_as = local.four_octet_as.has_value() && remote.four_octet_as.has_value();
    n.extended_message = has_capability(local, kCapExtendedMessage) && has_capability(remote, kCapExtendedMessage);
    n.route_refresh = remote.route_refresh || has_capability(remote, 128);  // 128: pre-RFC 2918 Cisco code
    const std::vector<AfiSafi> v4_only{AfiSafi{}};
    const auto& mine = local.multiprotocol.empty() ? v4_only : local.multiprotocol;
    const auto& theirs = remote.multiprotocol.empty() ? v4_only : remote.multiprotocol;
    for (const auto& f : mine)
        if (std::find(theirs.begin(), theirs.end(), f) != theirs.end()) n.families.push_back(f);
    n.hold_time = std::min(local.hold_time, remote.hold_time);
    return n;
}

}  // namespace kroute::bgp
