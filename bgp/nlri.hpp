// NLRI: the (length, prefix) encoding of RFC 4271 §4.3 and the MP_REACH_NLRI / MP_UNREACH_NLRI
// attribute bodies of RFC 4760 §3-4. Pure code; errors are DecodeError values whose action is
// "session reset", as RFC 7606 §5.3 and §7.11 require when NLRI cannot be parsed reliably.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/wire.hpp"

namespace kroute::bgp {

// Bytes one prefix takes in an NLRI field: 1 length octet + ceil(length / 8), plus the 4-octet
// Path Identifier in front of it when ADD-PATH is on for the family (RFC 7911 §3).
[[nodiscard]] std::size_t encoded_prefix_size(const Prefix& p, bool path_id = false) noexcept;
void write_prefix(Writer& w, const Prefix& p);
// A whole NLRI field; with_path_ids: each prefix preceded by path_ids[i] (0 past its end).
void write_prefixes(Writer& w, std::span<const Prefix> prefixes, std::span<const std::uint32_t> path_ids,
                    bool with_path_ids);

// A whole NLRI / Withdrawn Routes field of one address family. With `path_ids` non-null, each
// prefix is preceded by a Path Identifier (RFC 7911 §3), appended there. Errors: UPDATE Message
// Error / Invalid Network Field, session reset (RFC 4271 §6.3, RFC 7606 §5.3): a field that does
// not parse cannot be withdrawn either.
[[nodiscard]] Expected<std::vector<Prefix>, DecodeError> decode_prefixes(std::span<const std::uint8_t> field,
                                                                         Family family,
                                                                         std::vector<std::uint32_t>* path_ids = nullptr);

// The value of an MP_REACH_NLRI / MP_UNREACH_NLRI attribute (RFC 4760 §3, §4); ctx.add_path says
// whether the family's prefixes carry Path Identifiers. Families other than IPv4/IPv6 unicast
// decode to their AFI/SAFI with no next hops and no prefixes: the RIB ignores families it did not
// negotiate (RFC 4760 §7) and the session stays up. Next hop length per AFI: 4 for IPv4, 16 or 32
// (global + link-local, RFC 2545 §3) for IPv6; anything else leaves the NLRI unlocatable
// (RFC 7606 §7.11): session reset.
[[nodiscard]] Expected<MpReach, DecodeError> decode_mp_reach(std::span<const std::uint8_t> value,
                                                             const DecodeContext& ctx = {});
[[nodiscard]] Expected<MpUnreach, DecodeError> decode_mp_unreach(std::span<const std::uint8_t> value,
                                                                 const DecodeContext& ctx = {});
void write_mp_reach_value(Writer& w, const MpReach& r, bool with_path_ids = false);
void write_mp_unreach_value(Writer& w, const MpUnreach& u, bool with_path_ids = false);

}  // namespace kroute::bgp
