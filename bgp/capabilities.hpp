// OPEN optional parameters and capabilities (RFC 5492), and what two OPENs negotiate. Pure code.
// The codec reads capabilities into OpenMessage's fields; negotiate() turns the local and the
// remote OPEN into the explicit DecodeContext / EncodeContext a session passes to the codec.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/wire.hpp"

namespace kroute::bgp {

inline constexpr std::uint8_t kOptParamCapabilities = 2;  // RFC 5492 §4

inline constexpr std::uint8_t kCapMultiprotocol = 1;      // RFC 4760
inline constexpr std::uint8_t kCapRouteRefresh = 2;       // RFC 2918
inline constexpr std::uint8_t kCapExtendedNextHop = 5;    // RFC 8950
inline constexpr std::uint8_t kCapExtendedMessage = 6;    // RFC 8654
inline constexpr std::uint8_t kCapGracefulRestart = 64;   // RFC 4724
inline constexpr std::uint8_t kCapFourOctetAs = 65;       // RFC 6793
inline constexpr std::uint8_t kCapAddPath = 69;           // RFC 7911
inline constexpr std::uint8_t kCapEnhancedRouteRefresh = 70;  // RFC 7313

// Reads the Optional Parameters field of an OPEN (after its length octet) into `open`. Accepts
// each capability in a parameter of its own (RFC 3392 practice) as well as several capabilities in
// one parameter (RFC 5492 §4). Errors: OPEN Message Error / Unsupported Optional Parameter for a
// parameter type other than Capabilities; OPEN Message Error (subcode 0) for malformed TLVs: a
// typed capability whose length its RFC fixes (1, 2, 6, 64, 65, 69, 70) with another length.
// Repeated capabilities: multiprotocol and ADD-PATH families accumulate; for the others the first
// instance counts. An ADD-PATH capability with a Send/Receive value other than 1..3 is "not
// understood and ignored" (RFC 7911 §4): it is kept verbatim in other_capabilities.
// `extended`: the RFC 9072 layout, each parameter with a 2-octet length.
[[nodiscard]] Expected<void, DecodeError> decode_optional_parameters(std::span<const std::uint8_t> params,
                                                                     OpenMessage& open, bool extended = false);

// Writes the Optional Parameters field (without its length octet): one Capabilities parameter
// holding every capability, in OpenMessage's order (several parameters past 255 octets). Empty when
// there is no capability. `extended`: RFC 9072 layout, one parameter with a 2-octet length.
void write_optional_parameters(Writer& w, const OpenMessage& open, bool extended = false);

[[nodiscard]] bool has_capability(const OpenMessage& open, std::uint8_t code) noexcept;

// The outcome of an OPEN exchange, as far as the codec and the RIB care.
struct Negotiated {
    bool four_octet_as = false;     // both sent capability 65 (RFC 6793 §4)
    bool extended_message = false;  // both sent capability 6 (RFC 8654 §3)
    bool route_refresh = false;     // the peer may be sent ROUTE-REFRESH (it advertised code 2)
    std::vector<AfiSafi> families;  // both sides' multiprotocol sets intersected (RFC 4760 §8)
    std::uint16_t hold_time = 0;    // min of both; 0 = no keepalives (RFC 4271 §4.2)
    // RFC 7313 §4: both sent code 70; then a route refresh we answer is framed by BoRR / EoRR, and
    // one the peer answers may be, and stale routes are those not re-sent before its EoRR.
    bool enhanced_route_refresh = false;
    // RFC 4724 §3: the peer's Graceful Restart capability as it sent it (restart time, R bit, the
    // families whose forwarding state it kept); nullopt when it sent none. Its procedures apply
    // when both sides sent the capability (`graceful_restart`).
    std::optional<GracefulRestart> peer_graceful_restart;
    bool graceful_restart = false;
    // RFC 8538 §2: both sent the N bit: NOTIFICATIONs other than Hard Reset keep the peer's routes
    // as in a graceful restart, and a reset that must drop them is sent as Cease / Hard Reset.
    bool graceful_notification = false;
    // RFC 7911 §4, per family (only families in `families`): we receive Path Identifiers where we
    // offered Receive (or Both) and the peer offered Send (or Both); we send them where we offered
    // Send and the peer offered Receive. In family order of `families`.
    std::vector<AfiSafi> add_path_receive;
    std::vector<AfiSafi> add_path_send;
    // RFC 8950 §4: both sides sent code 5 for IPv4 unicast with IPv6 next hops (and the session
    // carries IPv4 unicast): such routes go in MP_REACH_NLRI with the IPv6 next hop.
    bool ipv4_with_ipv6_next_hop = false;
    friend bool operator==(const Negotiated&, const Negotiated&) = default;

    [[nodiscard]] bool receives_path_ids(AfiSafi f) const noexcept;
    [[nodiscard]] bool sends_path_ids(AfiSafi f) const noexcept;
    [[nodiscard]] DecodeContext decode_context(bool ebgp) const {
        return DecodeContext{four_octet_as, extended_message, ebgp, add_path_receive, ipv4_with_ipv6_next_hop};
    }
    [[nodiscard]] EncodeContext encode_context() const {
        return EncodeContext{four_octet_as, extended_message, add_path_send};
    }
};

// A side that sends no multiprotocol capability speaks IPv4 unicast only (RFC 4760 §8).
[[nodiscard]] Negotiated negotiate(const OpenMessage& local, const OpenMessage& remote);

}  // namespace kroute::bgp
