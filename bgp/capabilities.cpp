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
        case kCapExtendedMessage:  // RFC 8654 §3: Capability Length 0
            if (!value.empty()) return unexpected(malformed_open("extended message capability with a value"));
            open.extended_message = true;
            return {};
        case kCapEnhancedRouteRefresh:  // RFC 7313 §3.1: Capability Length 0
            if (!value.empty()) return unexpected(malformed_open("enhanced route refresh capability with a value"));
            open.enhanced_route_refresh = true;
            return {};
        case kCapGracefulRestart: {
            // RFC 4724 §3: Restart Flags (4 bits) + Restart Time (12 bits), then per family AFI (2),
            // SAFI (1), Flags for Address Family (1).
            if (value.size() < 2 || (value.size() - 2) % 4 != 0)
                return unexpected(malformed_open("graceful restart capability length " + std::to_string(value.size())));
            if (open.graceful_restart) return {};
            const std::uint16_t head = *r.u16();
            GracefulRestart gr;
            gr.restart_state = (head & 0x8000) != 0;
            gr.notification = (head & 0x4000) != 0;  // RFC 8538 §2
            gr.restart_time = head & 0x0fff;
            while (!r.empty()) {
                const std::uint16_t afi = *r.u16();
                const std::uint8_t safi = *r.u8();
                const std::uint8_t flags = *r.u8();
                gr.families.push_back(GracefulRestartFamily{AfiSafi{afi, safi}, (flags & 0x80) != 0});
            }
            open.graceful_restart = std::move(gr);
            return {};
        }
        case kCapExtendedNextHop: {
            // RFC 8950 §3: NLRI AFI (2), NLRI SAFI (2), Nexthop AFI (2), repeated.
            if (value.empty() || value.size() % 6 != 0)
                return unexpected(malformed_open("extended next hop capability length " + std::to_string(value.size())));
            while (!r.empty()) {
                const std::uint16_t afi = *r.u16();
                const std::uint16_t safi = *r.u16();
                const std::uint16_t nh_afi = *r.u16();
                if (safi > 0xff) continue;  // no SAFI of ours
                ExtendedNextHop e{AfiSafi{afi, static_cast<std::uint8_t>(safi)}, nh_afi};
                if (std::find(open.extended_next_hop.begin(), open.extended_next_hop.end(), e) ==
                    open.extended_next_hop.end())
                    open.extended_next_hop.push_back(e);
            }
            return {};
        }
        case kCapAddPath: {
            // RFC 7911 §4: AFI (2), SAFI (1), Send/Receive (1), repeated.
            if (value.empty() || value.size() % 4 != 0)
                return unexpected(malformed_open("ADD-PATH capability length " + std::to_string(value.size())));
            std::vector<AddPathFamily> fams;
            while (!r.empty()) {
                const std::uint16_t afi = *r.u16();
                const std::uint8_t safi = *r.u8();
                const std::uint8_t mode = *r.u8();
                // "If any other value is received, then the capability SHOULD be treated as not
                // understood and ignored": kept verbatim, as a capability we do not model.
                if (mode < 1 || mode > 3) {
                    open.other_capabilities.push_back(RawCapability{code, Bytes(value.begin(), value.end())});
                    return {};
                }
                fams.push_back(AddPathFamily{AfiSafi{afi, safi}, static_cast<AddPathMode>(mode)});
            }
            for (const auto& f : fams) {
                auto same = [&f](const AddPathFamily& x) { return x.family == f.family; };
                if (std::none_of(open.add_path.begin(), open.add_path.end(), same)) open.add_path.push_back(f);
            }
            return {};
        }
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
    if (!open.extended_next_hop.empty()) {
        Bytes v;
        Writer vw{v};
        for (const auto& e : open.extended_next_hop) {
            vw.u16(e.family.afi);
            vw.u16(e.family.safi);
            vw.u16(e.next_hop_afi);
        }
        write_capability(c, kCapExtendedNextHop, v);
    }
    if (open.extended_message) write_capability(c, kCapExtendedMessage, {});
    if (open.graceful_restart) {
        const GracefulRestart& gr = *open.graceful_restart;
        Bytes v;
        Writer vw{v};
        vw.u16(static_cast<std::uint16_t>((gr.restart_state ? 0x8000 : 0) | (gr.notification ? 0x4000 : 0) |
                                          (gr.restart_time & 0x0fff)));
        for (const auto& f : gr.families) {
            vw.u16(f.family.afi);
            vw.u8(f.family.safi);
            vw.u8(f.forwarding_state ? 0x80 : 0);
        }
        write_capability(c, kCapGracefulRestart, v);
    }
    if (open.four_octet_as) {
        const std::uint32_t a = *open.four_octet_as;
        const std::uint8_t v[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                   static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
        write_capability(c, kCapFourOctetAs, v);
    }
    if (!open.add_path.empty()) {
        Bytes v;
        Writer vw{v};
        for (const auto& f : open.add_path) {
            vw.u16(f.family.afi);
            vw.u8(f.family.safi);
            vw.u8(static_cast<std::uint8_t>(f.mode));
        }
        write_capability(c, kCapAddPath, v);
    }
    if (open.enhanced_route_refresh) write_capability(c, kCapEnhancedRouteRefresh, {});
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
    bool typed = false;
    switch (code) {
        case kCapMultiprotocol: typed = !open.multiprotocol.empty(); break;
        case kCapRouteRefresh: typed = open.route_refresh; break;
        case kCapExtendedMessage: typed = open.extended_message; break;
        case kCapGracefulRestart: typed = open.graceful_restart.has_value(); break;
        case kCapFourOctetAs: typed = open.four_octet_as.has_value(); break;
        case kCapAddPath: typed = !open.add_path.empty(); break;
        case kCapEnhancedRouteRefresh: typed = open.enhanced_route_refresh; break;
        case kCapExtendedNextHop: typed = !open.extended_next_hop.empty(); break;
        default: break;
    }
    // A hand-built OPEN may carry a typed capability raw as well.
    return typed || std::any_of(open.other_capabilities.begin(), open.other_capabilities.end(),
                                [code](const RawCapability& c) { return c.code == code; });
}

namespace {

std::optional<AddPathMode> add_path_mode(const OpenMessage& open, AfiSafi f) {
    for (const auto& a : open.add_path)
        if (a.family == f) return a.mode;
    return std::nullopt;
}
bool can_send(std::optional<AddPathMode> m) { return m == AddPathMode::kSend || m == AddPathMode::kBoth; }
bool can_receive(std::optional<AddPathMode> m) { return m == AddPathMode::kReceive || m == AddPathMode::kBoth; }

}  // namespace

bool Negotiated::receives_path_ids(AfiSafi f) const noexcept {
    return std::find(add_path_receive.begin(), add_path_receive.end(), f) != add_path_receive.end();
}
bool Negotiated::sends_path_ids(AfiSafi f) const noexcept {
    return std::find(add_path_send.begin(), add_path_send.end(), f) != add_path_send.end();
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
    n.enhanced_route_refresh =
        has_capability(local, kCapEnhancedRouteRefresh) && has_capability(remote, kCapEnhancedRouteRefresh);
    n.peer_graceful_restart = remote.graceful_restart;
    n.graceful_restart = local.graceful_restart.has_value() && remote.graceful_restart.has_value();
    n.graceful_notification = n.graceful_restart && local.graceful_restart->notification &&
                              remote.graceful_restart->notification;
    // RFC 7911 §4-5: path identifiers flow from a side that offered Send to one that offered
    // Receive, each direction on its own; a family offered by one side only has none.
    for (const auto& f : n.families) {
        if (can_receive(add_path_mode(local, f)) && can_send(add_path_mode(remote, f))) n.add_path_receive.push_back(f);
        if (can_send(add_path_mode(local, f)) && can_receive(add_path_mode(remote, f))) n.add_path_send.push_back(f);
    }
    const ExtendedNextHop v4_over_v6{AfiSafi{kAfiIpv4, kSafiUnicast}, kAfiIpv6};
    auto offers = [&v4_over_v6](const OpenMessage& o) {
        return std::find(o.extended_next_hop.begin(), o.extended_next_hop.end(), v4_over_v6) != o.extended_next_hop.end();
    };
    n.ipv4_with_ipv6_next_hop = offers(local) && offers(remote) &&
                                std::find(n.families.begin(), n.families.end(), v4_over_v6.family) != n.families.end();
    return n;
}

}  // namespace kroute::bgp
