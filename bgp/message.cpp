#include "bgp/message.hpp"

#include <algorithm>
#include <string>

#include "bgp/attributes.hpp"
#include "bgp/capabilities.hpp"
#include "bgp/nlri.hpp"
#include "bgp/wire.hpp"

namespace kroute::bgp {

namespace {

inline constexpr std::size_t kOpenMinLength = 29;          // RFC 4271 §4.2
inline constexpr std::size_t kUpdateMinLength = 23;        // RFC 4271 §4.3
inline constexpr std::size_t kNotificationMinLength = 21;  // RFC 4271 §4.5
inline constexpr std::size_t kRouteRefreshLength = 23;     // RFC 2918 §3

DecodeError header_error(std::uint8_t subcode, Bytes data, std::string detail) {
    return DecodeError{kMessageHeaderError, subcode, ErrorAction::kSessionReset, std::move(data), std::move(detail)};
}

// RFC 4271 §6.1: Bad Message Length carries the erroneous Length field.
DecodeError bad_length(std::span<const std::uint8_t> frame, std::string detail) {
    return header_error(kBadMessageLength, Bytes{frame[16], frame[17]}, std::move(detail));
}

DecodeError open_error(std::uint8_t subcode, Bytes data, std::string detail) {
    return DecodeError{kOpenMessageError, subcode, ErrorAction::kSessionReset, std::move(data), std::move(detail)};
}

Expected<Message, DecodeError> decode_open(std::span<const std::uint8_t> frame) {
    Reader r{frame.subspan(kHeaderLength)};
    OpenMessage m;
    m.version = *r.u8();  // length >= 29 was checked: the fixed part is there
    m.my_as = *r.u16();
    m.hold_time = *r.u16();
    m.bgp_id = *r.u32();
    const std::uint8_t opt_len = *r.u8();
    // RFC 4271 §6.2, in its order.
    if (m.version != 4)  // data: the largest version we support
        return unexpected(open_error(kUnsupportedVersionNumber, Bytes{0, 4}, "version " + std::to_string(m.version)));
    if (m.my_as == 0)  // RFC 7607 §2: AS 0 is never acceptable
        return unexpected(open_error(kBadPeerAs, {}, "peer AS 0"));
    if (m.hold_time == 1 || m.hold_time == 2)
        return unexpected(open_error(kUnacceptableHoldTime, {}, "hold time " + std::to_string(m.hold_time)));
    if (m.bgp_id == 0)  // RFC 6286 §2.2: any non-zero 4 octets
        return unexpected(open_error(kBadBgpIdentifier, {}, "BGP identifier 0"));
    // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255 announces the extended
    // layout: a 2-octet total length, then parameters with 2-octet lengths.
    const bool extended = opt_len == 255 && !r.empty() && r.rest()[0] == 255;
    std::size_t params_len = opt_len;
    if (extended) {
        (void)r.u8();
        auto ext_len = r.u16();
        if (!ext_len) return unexpected(bad_length(frame, "extended optional parameters length cut short"));
        params_len = *ext_len;
    }
    if (r.remaining() != params_len)
        return unexpected(bad_length(frame, "optional parameters length " + std::to_string(params_len) +
                                                " disagrees with the message length"));
    if (auto ok = decode_optional_parameters(r.rest(), m, extended); !ok) return unexpected(std::move(ok).error());
    if (m.four_octet_as && *m.four_octet_as == 0)  // RFC 7607 §2
        return unexpected(open_error(kBadPeerAs, {}, "4-octet AS capability carries AS 0"));
    return m;
}

Expected<Message, DecodeError> decode_update(std::span<const std::uint8_t> frame, const DecodeContext& ctx) {
    Reader r{frame.subspan(kHeaderLength)};
    UpdateMessage m;
    auto malformed_list = [](std::string d) {  // RFC 4271 §6.3, RFC 7606 §3 (a)
        return DecodeError{kUpdateMessageError, kMalformedAttributeList, ErrorAction::kSessionReset, {}, std::move(d)};
    };
    const std::uint16_t withdrawn_len = *r.u16();  // length >= 23 was checked
    auto withdrawn = r.bytes(withdrawn_len);
    if (!withdrawn) return unexpected(malformed_list("withdrawn routes length overruns the message"));
    auto attr_len = r.u16();
    if (!attr_len) return unexpected(malformed_list("no room for the total path attribute length"));
    auto attrs = r.bytes(*attr_len);
    if (!attrs) return unexpected(malformed_list("total path attribute length overruns the message"));

    // RFC 7911 §3: with ADD-PATH for IPv4 unicast, both fields carry a Path Identifier per prefix.
    const bool ids = ctx.has_path_ids(AfiSafi{kAfiIpv4, kSafiUnicast});
    auto w = decode_prefixes(*withdrawn, Family::kIpv4, ids ? &m.withdrawn_path_ids : nullptr);
    if (!w) return unexpected(std::move(w).error());
    m.withdrawn = std::move(*w);
    auto nlri = decode_prefixes(r.rest(), Family::kIpv4, ids ? &m.nlri_path_ids : nullptr);
    if (!nlri) return unexpected(std::move(nlri).error());
    m.nlri = std::move(*nlri);

    auto decoded = decode_path_attributes(*attrs, ctx);
    if (!decoded) return unexpected(std::move(decoded).error());
    m.attributes = std::move(decoded->attributes);
    m.mp_reach = std::move(decoded->mp_reach);
    m.mp_unreach = std::move(decoded->mp_unreach);
    m.treat_as_withdraw = std::move(decoded->treat_as_withdraw);
    m.discarded_attributes = std::move(decoded->discarded);

    // RFC 4271 §6.3, RFC 7606 §3 (d): well-known mandatory attributes of an UPDATE that announces
    // something. NEXT_HOP only for IPv4 NLRI in the NLRI field (RFC 4760 §3). Data: the missing code.
    if (!m.treat_as_withdraw && (!m.nlri.empty() || (m.mp_reach && !m.mp_reach->nlri.empty()))) {
        const auto& seen = decoded->seen;
        auto has = [&seen](std::uint8_t c) { return std::find(seen.begin(), seen.end(), c) != seen.end(); };
        for (std::uint8_t code : {kAttrOrigin, kAttrAsPath, kAttrNextHop}) {
            if (code == kAttrNextHop && m.nlri.empty()) continue;
            if (!has(code)) {
                m.treat_as_withdraw = DecodeError{kUpdateMessageError, kMissingWellKnownAttribute,
                                                  ErrorAction::kTreatAsWithdraw, Bytes{code},
                                                  "missing well-known attribute " + std::to_string(code)};
                break;
            }
        }
    }
    // RFC 7606 §5.2: an UPDATE with path attributes but no reachable NLRI (neither the NLRI field
    // nor MP_REACH_NLRI) has nothing to treat as withdrawn, so any error stronger than attribute
    // discard resets the session. (The End-of-RIB markers carry no attribute in error.)
    if (m.treat_as_withdraw && m.nlri.empty() && !m.mp_reach) {
        DecodeError e = std::move(*m.treat_as_withdraw);
        e.action = ErrorAction::kSessionReset;
        e.detail += " (RFC 7606 §5.2: no NLRI to withdraw)";
        return unexpected(std::move(e));
    }
    return m;
}

// RFC 7313 §5: any subtype decodes (an unknown one is for the receiver to ignore, see
// RouteRefreshMessage::is_known_subtype()); only the length is an error.
Expected<Message, DecodeError> decode_route_refresh(std::span<const std::uint8_t> frame) {
    if (frame.size() != kRouteRefreshLength)  // RFC 7313 §5: data = the whole message
        return unexpected(DecodeError{kRouteRefreshMessageError, kInvalidRouteRefreshLength, ErrorAction::kSessionReset,
                                      Bytes(frame.begin(), frame.end()), "ROUTE-REFRESH length"});
    Reader r{frame.subspan(kHeaderLength)};
    RouteRefreshMessage m;
    m.family.afi = *r.u16();
    m.subtype = *r.u8();
    m.family.safi = *r.u8();
    return Message{m};
}

void write_header(Writer& w, MessageType type) {
    for (int i = 0; i < 16; ++i) w.u8(0xff);
    w.u16(0);  // patched by finish()
    w.u8(static_cast<std::uint8_t>(type));
}

Bytes finish(Bytes b) {
    Writer w{b};
    w.patch_u16(16, static_cast<std::uint16_t>(b.size()));
    return b;
}

struct Encoder {
    const EncodeContext& ctx;

    Bytes operator()(const OpenMessage& m) const {
        Bytes b;
        Writer w{b};
        write_header(w, MessageType::kOpen);
        w.u8(m.version);
        w.u16(m.my_as);
        w.u16(m.hold_time);
        w.u32(m.bgp_id);
        Bytes params;
        Writer pw{params};
        write_optional_parameters(pw, m);
        if (params.size() <= 255) {
            w.u8(static_cast<std::uint8_t>(params.size()));
            w.bytes(params);
        } else {  // RFC 9072 §2: only when the classic one-octet lengths cannot hold them
            params.clear();
            write_optional_parameters(pw, m, true);
            w.u8(255);
            w.u8(255);
            w.u16(static_cast<std::uint16_t>(params.size()));
            w.bytes(params);
        }
        return finish(std::move(b));
    }
    Bytes operator()(const UpdateMessage& m) const {
        Bytes b;
        Writer w{b};
        write_header(w, MessageType::kUpdate);
        const bool ids = ctx.has_path_ids(AfiSafi{kAfiIpv4, kSafiUnicast});  // RFC 7911 §3
        std::size_t at = w.placeholder_u16();
        write_prefixes(w, m.withdrawn, m.withdrawn_path_ids, ids);
        w.patch_u16(at, static_cast<std::uint16_t>(w.size() - at - 2));
        at = w.placeholder_u16();
        write_path_attributes(w, m.attributes, m.mp_reach ? &*m.mp_reach : nullptr,
                              m.mp_unreach ? &*m.mp_unreach : nullptr, ctx);
        w.patch_u16(at, static_cast<std::uint16_t>(w.size() - at - 2));
        write_prefixes(w, m.nlri, m.nlri_path_ids, ids);
        return finish(std::move(b));
    }
    Bytes operator()(const NotificationMessage& m) const {
        Bytes b;
        Writer w{b};
        write_header(w, MessageType::kNotification);
        w.u8(m.code);
        w.u8(m.subcode);
        w.bytes(m.data);
        return finish(std::move(b));
    }
    Bytes operator()(const KeepaliveMessage&) const {
        Bytes b;
        Writer w{b};
        write_header(w, MessageType::kKeepalive);
        return finish(std::move(b));
    }
    Bytes operator()(const RouteRefreshMessage& m) const {
        Bytes b;
        Writer w{b};
        write_header(w, MessageType::kRouteRefresh);
        w.u16(m.family.afi);
        w.u8(m.subtype);
        w.u8(m.family.safi);
        return finish(std::move(b));
    }
};

std::size_t max_length(const EncodeContext& ctx) {
    return ctx.extended_message ? kMaxExtendedMessageLength : kMaxMessageLength;
}

// Encoded size of one attribute whose value is `value_size` octets (RFC 4271 §4.3).
std::size_t attribute_size(std::size_t value_size) { return (value_size > 255 ? 4 : 3) + value_size; }

std::size_t attributes_size(const PathAttributes& attrs, const EncodeContext& ctx) {
    Bytes b;
    Writer w{b};
    write_path_attributes(w, attrs, nullptr, nullptr, ctx);
    return b.size();
}

// Greedy packing: as many prefixes per message as `total(prefix_octets) <= max` allows; with
// `path_ids` each prefix costs 4 more octets (RFC 7911 §3: it is sent with Path Identifier 0).
template <class Total, class Emit>
void pack(std::span<const Prefix> prefixes, std::size_t max, bool path_ids, Total total, Emit emit) {
    std::size_t first = 0;
    while (first < prefixes.size()) {
        std::size_t last = first;
        std::size_t octets = 0;
        while (last < prefixes.size()) {
            const std::size_t next = octets + encoded_prefix_size(prefixes[last], path_ids);
            if (total(next) > max) break;
            octets = next;
            ++last;
        }
        if (last == first) return;  // not even one prefix fits: emit nothing rather than an oversize message
        emit(prefixes.subspan(first, last - first));
        first = last;
    }
}

}  // namespace

bool UpdateMessage::is_end_of_rib() const noexcept {
    return withdrawn.empty() && nlri.empty() && attributes == PathAttributes{} && !mp_reach && !mp_unreach &&
           !treat_as_withdraw && discarded_attributes.empty();
}

std::optional<AfiSafi> UpdateMessage::end_of_rib_family() const noexcept {
    if (is_end_of_rib()) return AfiSafi{};
    if (withdrawn.empty() && nlri.empty() && attributes == PathAttributes{} && !mp_reach && mp_unreach &&
        mp_unreach->withdrawn.empty() && !treat_as_withdraw && discarded_attributes.empty())
        return mp_unreach->family;
    return std::nullopt;
}

Expected<std::optional<std::size_t>, DecodeError> frame_length(std::span<const std::uint8_t> buf, bool extended_message) {
    // RFC 4271 §6.1: checked as soon as the bytes are there, so a desynchronised stream is caught
    // before its bogus length makes us wait for up to 64 KiB.
    for (std::size_t i = 0; i < std::min<std::size_t>(buf.size(), 16); ++i)
        if (buf[i] != 0xff) return unexpected(header_error(kConnectionNotSynchronized, {}, "marker is not all ones"));
    if (buf.size() < kHeaderLength) return std::optional<std::size_t>{};
    const std::size_t len = static_cast<std::size_t>(buf[16] << 8 | buf[17]);
    const std::size_t max = extended_message ? kMaxExtendedMessageLength : kMaxMessageLength;
    if (len < kHeaderLength || len > max) return unexpected(bad_length(buf, "length " + std::to_string(len)));
    const std::uint8_t type = buf[18];
    if (type < static_cast<std::uint8_t>(MessageType::kOpen) || type > static_cast<std::uint8_t>(MessageType::kRouteRefresh))
        return unexpected(header_error(kBadMessageType, Bytes{type}, "message type " + std::to_string(type)));
    if (buf.size() < len) return std::optional<std::size_t>{};
    return std::optional<std::size_t>{len};
}

Expected<Message, DecodeError> decode_message(std::span<const std::uint8_t> frame, const DecodeContext& ctx) {
    auto framed = frame_length(frame, ctx.extended_message);
    if (!framed) return unexpected(std::move(framed).error());
    if (!*framed) {  // a partial header or body: the frame's own length field is wrong
        if (frame.size() < kHeaderLength)
            return unexpected(header_error(kBadMessageLength, {}, "shorter than a message header"));
        return unexpected(bad_length(frame, "message shorter than its length field"));
    }
    if (**framed != frame.size()) return unexpected(bad_length(frame, "message longer than its length field"));
    const std::size_t len = frame.size();
    switch (static_cast<MessageType>(frame[18])) {
        case MessageType::kOpen:
            // RFC 8654 §4: OPEN and KEEPALIVE stay within 4096 octets even when extended.
            if (len < kOpenMinLength || len > kMaxMessageLength) return unexpected(bad_length(frame, "OPEN length"));
            return decode_open(frame);
        case MessageType::kUpdate:
            if (len < kUpdateMinLength) return unexpected(bad_length(frame, "UPDATE length"));
            return decode_update(frame, ctx);
        case MessageType::kNotification: {
            if (len < kNotificationMinLength) return unexpected(bad_length(frame, "NOTIFICATION length"));
            NotificationMessage m{frame[19], frame[20], Bytes(frame.begin() + 21, frame.end())};
            return m;
        }
        case MessageType::kKeepalive:
            if (len != kHeaderLength) return unexpected(bad_length(frame, "KEEPALIVE length"));
            return Message{KeepaliveMessage{}};
        case MessageType::kRouteRefresh: return decode_route_refresh(frame);
    }
    return unexpected(header_error(kBadMessageType, Bytes{frame[18]}, "message type"));  // unreachable: framed
}

Bytes encode(const Message& msg, const EncodeContext& ctx) { return std::visit(Encoder{ctx}, msg); }

std::vector<Bytes> encode_announcements(const PathAttributes& attrs, std::span<const Prefix> nlri,
                                        const EncodeContext& ctx) {
    std::vector<Prefix> v4;
    std::copy_if(nlri.begin(), nlri.end(), std::back_inserter(v4), [](const Prefix& p) { return p.family() == Family::kIpv4; });
    const std::size_t fixed = kHeaderLength + 4 + attributes_size(attrs, ctx);  // + 2 length fields
    std::vector<Bytes> out;
    pack(v4, max_length(ctx), ctx.has_path_ids(AfiSafi{}), [fixed](std::size_t octets) { return fixed + octets; },
         [&](std::span<const Prefix> chunk) {
             UpdateMessage m;
             m.attributes = attrs;
             m.nlri.assign(chunk.begin(), chunk.end());
             out.push_back(encode(m, ctx));
         });
    return out;
}

std::vector<Bytes> encode_withdrawals(std::span<const Prefix> withdrawn, const EncodeContext& ctx) {
    std::vector<Prefix> v4, v6;
    for (const auto& p : withdrawn) (p.family() == Family::kIpv4 ? v4 : v6).push_back(p);
    std::vector<Bytes> out;
    pack(v4, max_length(ctx), ctx.has_path_ids(AfiSafi{}), [](std::size_t octets) { return kHeaderLength + 4 + octets; },
         [&](std::span<const Prefix> chunk) {
             UpdateMessage m;
             m.withdrawn.assign(chunk.begin(), chunk.end());
             out.push_back(encode(m, ctx));
         });
    // AFI (2) + SAFI (1) in front of the withdrawn prefixes (RFC 4760 §4).
    pack(v6, max_length(ctx), ctx.has_path_ids(AfiSafi{kAfiIpv6, kSafiUnicast}),
         [](std::size_t octets) { return kHeaderLength + 4 + attribute_size(3 + octets); },
         [&](std::span<const Prefix> chunk) {
             UpdateMessage m;
             m.mp_unreach = MpUnreach{AfiSafi{kAfiIpv6, kSafiUnicast}, {chunk.begin(), chunk.end()}};
             out.push_back(encode(m, ctx));
         });
    return out;
}

std::vector<Bytes> encode_mp_announcements(const PathAttributes& attrs, AfiSafi family,
                                           std::span<const IpAddress> next_hops, std::span<const Prefix> nlri,
                                           const EncodeContext& ctx) {
    PathAttributes a = attrs;
    a.next_hop.reset();  // RFC 4760 §3: the next hop travels inside MP_REACH_NLRI
    std::size_t nh_len = 0;
    for (const auto& n : next_hops) nh_len += n.size();
    const std::size_t fixed = kHeaderLength + 4 + attributes_size(a, ctx);
    std::vector<Bytes> out;
    // MP_REACH_NLRI value: AFI (2), SAFI (1), next hop length (1), next hops, reserved (1), NLRI.
    pack(nlri, max_length(ctx), ctx.has_path_ids(family),
         [&](std::size_t octets) { return fixed + attribute_size(5 + nh_len + octets); },
         [&](std::span<const Prefix> chunk) {
             UpdateMessage m;
             m.attributes = a;
             m.mp_reach = MpReach{family, {next_hops.begin(), next_hops.end()}, {chunk.begin(), chunk.end()}};
             out.push_back(encode(m, ctx));
         });
    return out;
}

Bytes encode_end_of_rib(AfiSafi family, const EncodeContext& ctx) {
    UpdateMessage m;
    if (family != AfiSafi{}) m.mp_unreach = MpUnreach{family, {}};
    return encode(m, ctx);
}

}  // namespace kroute::bgp
