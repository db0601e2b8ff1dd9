// BGP-4 messages as values (RFC 4271 §4) and their wire codec. Pure code: bytes in, structs out and
// back. Owns no socket, no clock, no state between calls: what was negotiated for a session is an
// explicit input (DecodeContext / EncodeContext).
//
// Error contract (RFC 4271 §6, RFC 7606): decode_message() returns either a Message or a
// DecodeError. A DecodeError always carries the NOTIFICATION code/subcode/data to send and means
// "reset the session". Errors RFC 7606 lets the session survive are reported inside the
// UpdateMessage instead: `treat_as_withdraw` set (its NLRI must be withdrawn, never installed) or
// attributes dropped (`discarded_attributes`). An UPDATE with no NLRI to withdraw (no NLRI field,
// no MP_REACH_NLRI) cannot be treated as withdrawn: its errors reset (RFC 7606 §5.2).
//
// What the session must fill in from the OPEN exchange (negotiate(), capabilities.hpp): the
// DecodeContext / EncodeContext, in particular `add_path` (RFC 7911) once ADD-PATH is offered.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bgp/errors.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t kHeaderLength = 19;
inline constexpr std::size_t kMaxMessageLength = 4096;          // RFC 4271 §4.1
inline constexpr std::size_t kMaxExtendedMessageLength = 65535;  // RFC 8654
inline constexpr std::uint16_t kAsTrans = 23456;                // RFC 6793

enum class MessageType : std::uint8_t {
    kOpen = 1, kUpdate = 2, kNotification = 3, kKeepalive = 4, kRouteRefresh = 5
};

inline constexpr std::uint16_t kAfiIpv4 = 1;
inline constexpr std::uint16_t kAfiIpv6 = 2;
inline constexpr std::uint8_t kSafiUnicast = 1;

struct AfiSafi {
    std::uint16_t afi = kAfiIpv4;
    std::uint8_t safi = kSafiUnicast;
    friend bool operator==(const AfiSafi&, const AfiSafi&) = default;
    friend auto operator<=>(const AfiSafi&, const AfiSafi&) = default;
};

// A capability we do not model, kept verbatim (RFC 5492).
struct RawCapability {
    std::uint8_t code = 0;
    Bytes value;
    friend bool operator==(const RawCapability&, const RawCapability&) = default;
};

// Graceful Restart capability (RFC 4724 §3, code 64), with the N bit of RFC 8538 §2.
struct GracefulRestartFamily {
    AfiSafi family;
    bool forwarding_state = false;  // F bit: forwarding state for the family was preserved
    friend bool operator==(const GracefulRestartFamily&, const GracefulRestartFamily&) = default;
};
struct GracefulRestart {
    bool restart_state = false;      // R bit: the sender has restarted (RFC 4724 §3)
    bool notification = false;       // N bit: Graceful NOTIFICATION support (RFC 8538 §2)
    std::uint16_t restart_time = 0;  // seconds, 12 bits on the wire (0..4095)
    std::vector<GracefulRestartFamily> families;  // empty: "aware" only, no state preserved
    friend bool operator==(const GracefulRestart&, const GracefulRestart&) = default;
};

// ADD-PATH capability (RFC 7911 §4, code 69): per family, whether the sender can send and/or
// receive multiple paths, each NLRI then carrying a Path Identifier.
enum class AddPathMode : std::uint8_t { kReceive = 1, kSend = 2, kBoth = 3 };
struct AddPathFamily {
    AfiSafi family;
    AddPathMode mode = AddPathMode::kReceive;
    friend bool operator==(const AddPathFamily&, const AddPathFamily&) = default;
};

// Extended Next Hop Encoding capability (RFC 8950 §3, code 5): NLRI of `family` may carry next
// hops of address family `next_hop_afi` (IPv4 unicast with IPv6 next hops: {1, 1}, 2).
struct ExtendedNextHop {
    AfiSafi family;
    std::uint16_t next_hop_afi = 0;
    friend bool operator==(const ExtendedNextHop&, const ExtendedNextHop&) = default;
};

struct OpenMessage {
    std::uint8_t version = 4;
    std::uint16_t my_as = 0;          // AS_TRANS when the real AS does not fit (RFC 6793)
    std::uint16_t hold_time = 0;
    std::uint32_t bgp_id = 0;         // host byte order
    // Capabilities (RFC 5492). The encoder writes the typed ones in code order (as BIRD does):
    // 1, 2, 5, 6, 64, 65, 69, 70, then `other_capabilities`.
    std::vector<AfiSafi> multiprotocol;            // RFC 4760 code 1
    bool route_refresh = false;                    // RFC 2918 code 2
    std::optional<std::uint32_t> four_octet_as;    // RFC 6793 code 65
    std::vector<RawCapability> other_capabilities; // anything else, verbatim
    bool extended_message = false;                 // RFC 8654 code 6
    std::optional<GracefulRestart> graceful_restart;  // RFC 4724 code 64
    std::vector<AddPathFamily> add_path = {};      // RFC 7911 code 69; empty = not sent
    bool enhanced_route_refresh = false;           // RFC 7313 code 70
    std::vector<ExtendedNextHop> extended_next_hop = {};  // RFC 8950 code 5; empty = not sent
    friend bool operator==(const OpenMessage&, const OpenMessage&) = default;

    // The peer's real AS: the 4-octet capability if present, else my_as.
    [[nodiscard]] std::uint32_t asn() const noexcept { return four_octet_as.value_or(my_as); }
};

enum class Origin : std::uint8_t { kIgp = 0, kEgp = 1, kIncomplete = 2 };

struct AsPathSegment {
    enum Type : std::uint8_t { kAsSet = 1, kAsSequence = 2 };
    std::uint8_t type = kAsSequence;
    std::vector<std::uint32_t> asns;
    friend bool operator==(const AsPathSegment&, const AsPathSegment&) = default;
    friend auto operator<=>(const AsPathSegment&, const AsPathSegment&) = default;
};

struct Aggregator {
    std::uint32_t asn = 0;
    IpAddress address;
    friend bool operator==(const Aggregator&, const Aggregator&) = default;
    friend auto operator<=>(const Aggregator&, const Aggregator&) = default;
};

// RFC 4360 §2: eight octets, kept as one big-endian integer (type, subtype and value).
using ExtendedCommunity = std::uint64_t;

// RFC 8092 §3: Global Administrator, Local Data Part 1, Local Data Part 2.
struct LargeCommunity {
    std::uint32_t global = 0;
    std::uint32_t local1 = 0;
    std::uint32_t local2 = 0;
    friend bool operator==(const LargeCommunity&, const LargeCommunity&) = default;
    friend auto operator<=>(const LargeCommunity&, const LargeCommunity&) = default;
};

// An attribute we carry but do not interpret (unknown optional transitive: passed on with the
// Partial bit set, RFC 4271 §5).
struct RawAttribute {
    std::uint8_t flags = 0;
    std::uint8_t code = 0;
    Bytes value;
    friend bool operator==(const RawAttribute&, const RawAttribute&) = default;
    friend auto operator<=>(const RawAttribute&, const RawAttribute&) = default;
};

// The path attributes of one UPDATE (RFC 4271 §5). Absent optional attributes are nullopt/empty.
struct PathAttributes {
    std::optional<Origin> origin;
    std::optional<std::vector<AsPathSegment>> as_path;  // present-but-empty is valid (iBGP origination)
    std::optional<IpAddress> next_hop;                  // IPv4 NEXT_HOP attribute
    std::optional<std::uint32_t> med;
    std::optional<std::uint32_t> local_pref;
    bool atomic_aggregate = false;
    std::optional<Aggregator> aggregator;
    std::vector<std::uint32_t> communities;             // RFC 1997
    std::optional<std::uint32_t> originator_id;         // RFC 4456
    std::vector<std::uint32_t> cluster_list;            // RFC 4456
    std::vector<ExtendedCommunity> extended_communities;  // RFC 4360 (attribute 16)
    std::vector<LargeCommunity> large_communities;      // RFC 8092 (attribute 32)
    std::vector<RawAttribute> unknown;                  // sorted by code
    friend bool operator==(const PathAttributes&, const PathAttributes&) = default;
    friend auto operator<=>(const PathAttributes&, const PathAttributes&) = default;
};

// ADD-PATH (RFC 7911 §3) Path Identifiers travel next to the prefixes they belong to, as vectors
// parallel to the prefix vectors: `nlri_path_ids[i]` is the Path Identifier of `nlri[i]`, likewise
// `withdrawn_path_ids` / `withdrawn` and `MpReach::path_ids` / `MpReach::nlri` and
// `MpUnreach::path_ids` / `MpUnreach::withdrawn`.
// - Decode: filled (same size as the prefixes) exactly when the DecodeContext says the family
//   carries path identifiers on this session; empty otherwise.
// - Encode: the EncodeContext decides whether the family's prefixes are written with a Path
//   Identifier (the wire layout is what was negotiated, not what the struct holds); the i-th
//   prefix gets path_ids[i], or 0 when the vector is shorter. Without ADD-PATH in the context the
//   vectors are ignored.
// A prefix is then identified by (prefix, path id): the same prefix may come several times.

// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760): the NLRI of families other than IPv4 unicast.
struct MpReach {
    AfiSafi family;
    std::vector<IpAddress> next_hops;  // IPv6: global, optionally followed by link-local
    std::vector<Prefix> nlri;
    std::vector<std::uint32_t> path_ids = {};  // RFC 7911, parallel to nlri (see above)
    friend bool operator==(const MpReach&, const MpReach&) = default;
};
struct MpUnreach {
    AfiSafi family;
    std::vector<Prefix> withdrawn;
    std::vector<std::uint32_t> path_ids = {};  // RFC 7911, parallel to withdrawn
    friend bool operator==(const MpUnreach&, const MpUnreach&) = default;
};

struct UpdateMessage {
    std::vector<Prefix> withdrawn;  // IPv4 unicast withdrawn routes
    PathAttributes attributes;
    std::vector<Prefix> nlri;       // IPv4 unicast NLRI
    std::optional<MpReach> mp_reach;
    std::optional<MpUnreach> mp_unreach;
    std::vector<std::uint32_t> withdrawn_path_ids = {};  // RFC 7911, parallel to withdrawn
    std::vector<std::uint32_t> nlri_path_ids = {};       // RFC 7911, parallel to nlri
    // RFC 7606: set when an attribute error means "treat as withdraw"; the session stays up and
    // every prefix in nlri / mp_reach is to be withdrawn, not installed.
    std::optional<DecodeError> treat_as_withdraw;
    // RFC 7606 "attribute discard": codes of attributes dropped from `attributes` as malformed.
    std::vector<std::uint8_t> discarded_attributes;
    friend bool operator==(const UpdateMessage&, const UpdateMessage&) = default;

    // RFC 4724 §2: an UPDATE with nothing in it is the IPv4 unicast End-of-RIB marker.
    [[nodiscard]] bool is_end_of_rib() const noexcept;
    // RFC 4724 §2: the family whose End-of-RIB this is: IPv4 unicast for the empty UPDATE, the
    // MP_UNREACH_NLRI's family for an UPDATE holding only an empty MP_UNREACH_NLRI.
    [[nodiscard]] std::optional<AfiSafi> end_of_rib_family() const noexcept;
};

struct NotificationMessage {
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    Bytes data;
    friend bool operator==(const NotificationMessage&, const NotificationMessage&) = default;
};

// A NOTIFICATION a session sent or received, and when (for kroutectl neighbor IP).
struct NotificationRecord {
    NotificationMessage message;
    std::chrono::system_clock::time_point at;
    friend bool operator==(const NotificationRecord&, const NotificationRecord&) = default;
};

struct KeepaliveMessage {
    friend bool operator==(const KeepaliveMessage&, const KeepaliveMessage&) = default;
};

// ROUTE-REFRESH (RFC 2918 §3); RFC 7313 §3.2 turned its Reserved octet into the Message Subtype.
// Subtypes other than these three decode as they are: RFC 7313 §5 says to ignore the message, which
// is the receiver's business (is_known_subtype()).
inline constexpr std::uint8_t kRouteRefreshNormal = 0;  // a plain request (RFC 2918)
inline constexpr std::uint8_t kRouteRefreshBorr = 1;    // Beginning of Route Refresh (RFC 7313 §4)
inline constexpr std::uint8_t kRouteRefreshEorr = 2;    // End of Route Refresh (RFC 7313 §4)
struct RouteRefreshMessage {
    AfiSafi family;
    std::uint8_t subtype = kRouteRefreshNormal;
    friend bool operator==(const RouteRefreshMessage&, const RouteRefreshMessage&) = default;

    // RFC 7313 §5: a ROUTE-REFRESH whose subtype is not 0, 1 or 2 is ignored by the receiver.
    [[nodiscard]] bool is_known_subtype() const noexcept { return subtype <= kRouteRefreshEorr; }
};

using Message = std::variant<OpenMessage, UpdateMessage, NotificationMessage, KeepaliveMessage, RouteRefreshMessage>;

// What was negotiated on a session, as far as the codec cares. Fill them from
// Negotiated::decode_context() / encode_context() (capabilities.hpp).
struct DecodeContext {
    bool four_octet_as = true;      // both sides sent capability 65 (RFC 6793)
    bool extended_message = false;  // RFC 8654
    bool ebgp = false;              // some RFC 7606 checks differ for iBGP/eBGP
    // RFC 7911 §3: the families whose NLRI from this peer carry a Path Identifier (ADD-PATH with
    // the peer sending and us receiving: Negotiated::add_path_receive). Empty = none.
    std::vector<AfiSafi> add_path = {};
    // RFC 8950 §4: IPv4 unicast MP_REACH_NLRI may carry an IPv6 next hop (16 or 32 octets).
    bool ipv4_with_ipv6_next_hop = false;
    [[nodiscard]] bool has_path_ids(AfiSafi f) const noexcept {
        for (const auto& a : add_path)
            if (a == f) return true;
        return false;
    }
};
struct EncodeContext {
    bool four_octet_as = true;
    bool extended_message = false;
    // RFC 7911 §3: the families we write with Path Identifiers (Negotiated::add_path_send).
    std::vector<AfiSafi> add_path = {};
    [[nodiscard]] bool has_path_ids(AfiSafi f) const noexcept {
        for (const auto& a : add_path)
            if (a == f) return true;
        return false;
    }
};

// Header check of a possibly partial buffer (RFC 4271 §4.1, §6.1): nullopt = need more bytes;
// a value = the length of the whole message; an error = bad marker/length/type (reset).
[[nodiscard]] Expected<std::optional<std::size_t>, DecodeError> frame_length(std::span<const std::uint8_t> buf,
                                                                             bool extended_message = false);

// Decode one complete message (header included).
[[nodiscard]] Expected<Message, DecodeError> decode_message(std::span<const std::uint8_t> frame,
                                                            const DecodeContext& ctx);

// Encode one message (header included). An UpdateMessage is written as given; RFC 7606 §5.1 asks
// a sender to put at most one of withdrawn routes, NLRI, MP_REACH_NLRI and MP_UNREACH_NLRI in one
// UPDATE, which the encode_* helpers below keep to.
[[nodiscard]] Bytes encode(const Message& msg, const EncodeContext& ctx = {});

// Pack a set of IPv4 unicast announcements sharing one attribute set into as few UPDATEs as the
// size limit allows; likewise withdrawals. With ADD-PATH for the family in ctx.add_path, every
// prefix goes with Path Identifier 0 and the packing counts its 4 octets.
[[nodiscard]] std::vector<Bytes> encode_announcements(const PathAttributes& attrs, std::span<const Prefix> nlri,
                                                      const EncodeContext& ctx = {});
// encode_announcements() takes IPv4 prefixes (NLRI field, next hop = attrs.next_hop) and skips
// others: announce IPv6 with encode_mp_announcements(). encode_withdrawals() takes both families
// (IPv6 goes into MP_UNREACH_NLRI). An attribute set too large for even one prefix yields nothing.
[[nodiscard]] std::vector<Bytes> encode_withdrawals(std::span<const Prefix> withdrawn, const EncodeContext& ctx = {});

// IPv6 (or any MP family) announcements in MP_REACH_NLRI with the given next hops (IPv6: global,
// then optionally link-local, RFC 2545 §3); attrs.next_hop is not sent (RFC 4760 §3).
[[nodiscard]] std::vector<Bytes> encode_mp_announcements(const PathAttributes& attrs, AfiSafi family,
                                                         std::span<const IpAddress> next_hops,
                                                         std::span<const Prefix> nlri, const EncodeContext& ctx = {});

// The End-of-RIB marker of a family (RFC 4724 §2).
[[nodiscard]] Bytes encode_end_of_rib(AfiSafi family, const EncodeContext& ctx = {});

}  // namespace kroute::bgp
