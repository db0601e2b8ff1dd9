// Path attributes of an UPDATE (RFC 4271 §4.3, §5) with the error handling of RFC 7606: each
// attribute has a decoder and an encoder and a fixed RFC 7606 action for when it is malformed.
// Pure code. The mandatory-attribute check needs the NLRI and lives in message.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/wire.hpp"

namespace kroute::bgp {

// Attribute flags (RFC 4271 §4.3).
inline constexpr std::uint8_t kFlagOptional = 0x80;
inline constexpr std::uint8_t kFlagTransitive = 0x40;
inline constexpr std::uint8_t kFlagPartial = 0x20;
inline constexpr std::uint8_t kFlagExtendedLength = 0x10;

// Attribute type codes (IANA "BGP Path Attributes").
inline constexpr std::uint8_t kAttrOrigin = 1;
inline constexpr std::uint8_t kAttrAsPath = 2;
inline constexpr std::uint8_t kAttrNextHop = 3;
inline constexpr std::uint8_t kAttrMed = 4;
inline constexpr std::uint8_t kAttrLocalPref = 5;
inline constexpr std::uint8_t kAttrAtomicAggregate = 6;
inline constexpr std::uint8_t kAttrAggregator = 7;
inline constexpr std::uint8_t kAttrCommunities = 8;
inline constexpr std::uint8_t kAttrOriginatorId = 9;
inline constexpr std::uint8_t kAttrClusterList = 10;
inline constexpr std::uint8_t kAttrMpReachNlri = 14;
inline constexpr std::uint8_t kAttrMpUnreachNlri = 15;
inline constexpr std::uint8_t kAttrExtendedCommunities = 16;  // RFC 4360
inline constexpr std::uint8_t kAttrAs4Path = 17;
inline constexpr std::uint8_t kAttrAs4Aggregator = 18;
inline constexpr std::uint8_t kAttrIpv6ExtendedCommunities = 25;  // RFC 5701; carried raw, length-checked
inline constexpr std::uint8_t kAttrLargeCommunities = 32;     // RFC 8092

// AS_PATH segment types beyond AsPathSegment's two (RFC 5065 §3); kept but never originated.
inline constexpr std::uint8_t kAsConfedSequence = 3;
inline constexpr std::uint8_t kAsConfedSet = 4;

struct DecodedAttributes {
    PathAttributes attributes;
    std::optional<MpReach> mp_reach;
    std::optional<MpUnreach> mp_unreach;
    std::optional<DecodeError> treat_as_withdraw;  // the first error whose action is treat-as-withdraw
    std::vector<std::uint8_t> discarded;           // codes dropped by attribute discard or as duplicates
    std::vector<std::uint8_t> seen;                // codes present, in wire order (for the mandatory check)
};

// Decodes the Path Attributes field. An error value means session reset (RFC 7606 §3 (a), (g),
// §7.11); weaker errors are reported in the result. With ctx.four_octet_as false, AS_PATH and
// AGGREGATOR are 2-octet and AS4_PATH / AS4_AGGREGATOR are merged in (RFC 6793 §4.2.3).
// ctx.add_path: which MP_REACH / MP_UNREACH families carry Path Identifiers (RFC 7911 §3).
// From an external peer (ctx.ebgp) LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST are discarded
// whatever they hold (RFC 7606 §7.5, §7.9, §7.10).
[[nodiscard]] Expected<DecodedAttributes, DecodeError> decode_path_attributes(std::span<const std::uint8_t> field,
                                                                              const DecodeContext& ctx);

// Writes the Path Attributes field: MP_REACH_NLRI / MP_UNREACH_NLRI first (RFC 7606 §5.1, so that
// a receiver can always locate the NLRI), then the rest in type-code order, each with the
// extended-length flag only when its value exceeds 255 octets. MP prefixes get Path Identifiers
// when ctx.add_path has their family (RFC 7911 §3). Towards a 2-octet peer (ctx.four_octet_as false) AS numbers
// above 65535 become AS_TRANS and AS4_PATH / AS4_AGGREGATOR carry the real ones (RFC 6793 §4.2.2).
void write_path_attributes(Writer& w, const PathAttributes& attrs, const MpReach* mp_reach,
                           const MpUnreach* mp_unreach, const EncodeContext& ctx);

// A hash over every field of PathAttributes, for interning attribute sets (rib.cpp). A field added
// to PathAttributes must be added here too: equal sets must hash equal, and a field left out only
// costs collisions, but a set that differs in it must still compare unequal (operator== decides).
[[nodiscard]] std::size_t hash_value(const PathAttributes& a) noexcept;

// Number of ASes in a path for best-path selection: an AS_SET counts 1, confederation
// segments count 0 (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3).
[[nodiscard]] std::size_t as_path_length(const std::vector<AsPathSegment>& path) noexcept;

}  // namespace kroute::bgp
