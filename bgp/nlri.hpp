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

// Bytes one prefix takes in an NLRI field: 1 length octet + ceil(length / 8).
[[nodiscard]] std::size_t encoded_prefix_size(const Prefix& p) noexcept;
void write_prefix(Writer& w, const Prefix& p);

// A whole NLRI / Withdrawn Routes field of one address family. Errors: UPDATE Message Error /
// Invalid Network Field, session reset (RFC 4271 §6.3, RFC 7606 §5.3).
[[nodiscard]] Expected<std::vector<Prefix>, DecodeError> decode_prefixes(std::span<const std::uint8_t> field,
                                                                         Family family);

// The value of an MP_REACH_NLRI / MP_UNREACH_NLRI attribute (RFC 4760 §3, §4). Families other
// than IPv4/IPv6 unicast decode to their AFI/SAFI with no next hops and no prefixes: the RIB
// ignores families it did not negotiate (RFC 4760 §7) and the session stays up.
[[nodiscard]] Expected<MpReach, DecodeError> decode_mp_reach(std::span<const std::uint8_t> value);
[[nodiscard]] Expected<MpUnreach, DecodeError> decode_mp_unreach(std::span<const std::uint8_t> value);
void write_mp_reach_value(Writer& w, const MpReach& r);
void write_mp_unreach_value(Writer& w, const MpUnreach& u);

}  // namespace kroute::bgp
