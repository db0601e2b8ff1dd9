// NOTIFICATION codes (RFC 4271 §4.5, §6; RFC 4486 Cease subcodes), the decoder's error value, and
// the Shutdown Communication of RFC 9003 carried by Cease / Administrative Shutdown and Reset.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/expected.hpp"

namespace kroute::bgp {

// Error codes
inline constexpr std::uint8_t kMessageHeaderError = 1;
inline constexpr std::uint8_t kOpenMessageError = 2;
inline constexpr std::uint8_t kUpdateMessageError = 3;
inline constexpr std::uint8_t kHoldTimerExpired = 4;
inline constexpr std::uint8_t kFsmError = 5;
inline constexpr std::uint8_t kCease = 6;
inline constexpr std::uint8_t kRouteRefreshMessageError = 7;  // RFC 7313

// Message Header Error subcodes
inline constexpr std::uint8_t kConnectionNotSynchronized = 1;
inline constexpr std::uint8_t kBadMessageLength = 2;
inline constexpr std::uint8_t kBadMessageType = 3;

// OPEN Message Error subcodes
inline constexpr std::uint8_t kUnsupportedVersionNumber = 1;
inline constexpr std::uint8_t kBadPeerAs = 2;
inline constexpr std::uint8_t kBadBgpIdentifier = 3;
inline constexpr std::uint8_t kUnsupportedOptionalParameter = 4;
inline constexpr std::uint8_t kUnacceptableHoldTime = 6;
inline constexpr std::uint8_t kUnsupportedCapability = 7;  // RFC 5492

// UPDATE Message Error subcodes
inline constexpr std::uint8_t kMalformedAttributeList = 1;
inline constexpr std::uint8_t kUnrecognizedWellKnownAttribute = 2;
inline constexpr std::uint8_t kMissingWellKnownAttribute = 3;
inline constexpr std::uint8_t kAttributeFlagsError = 4;
inline constexpr std::uint8_t kAttributeLengthError = 5;
inline constexpr std::uint8_t kInvalidOriginAttribute = 6;
inline constexpr std::uint8_t kInvalidNextHopAttribute = 8;
inline constexpr std::uint8_t kOptionalAttributeError = 9;
inline constexpr std::uint8_t kInvalidNetworkField = 10;
inline constexpr std::uint8_t kMalformedAsPath = 11;

// Cease subcodes (RFC 4486)
inline constexpr std::uint8_t kCeaseMaxPrefixes = 1;
inline constexpr std::uint8_t kCeaseAdministrativeShutdown = 2;
inline constexpr std::uint8_t kCeasePeerDeconfigured = 3;
inline constexpr std::uint8_t kCeaseAdministrativeReset = 4;
inline constexpr std::uint8_t kCeaseConnectionRejected = 5;
inline constexpr std::uint8_t kCeaseOtherConfigurationChange = 6;
inline constexpr std::uint8_t kCeaseConnectionCollisionResolution = 7;
inline constexpr std::uint8_t kCeaseOutOfResources = 8;
inline constexpr std::uint8_t kCeaseHardReset = 9;   // RFC 8538 §3
inline constexpr std::uint8_t kCeaseBfdDown = 10;    // RFC 9384

// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5)
inline constexpr std::uint8_t kInvalidRouteRefreshLength = 1;

// RFC 7606 §2: what the receiver does about an error.
enum class ErrorAction : std::uint8_t { kAttributeDiscard, kTreatAsWithdraw, kSessionReset };

struct DecodeError {
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    ErrorAction action = ErrorAction::kSessionReset;
    std::vector<std::uint8_t> data;  // the NOTIFICATION's data field
    std::string detail;              // for the log line; not on the wire
    friend bool operator==(const DecodeError& a, const DecodeError& b) {
        return a.code == b.code && a.subcode == b.subcode && a.action == b.action && a.data == b.data;
    }
    friend auto operator<=>(const DecodeError& a, const DecodeError& b) {
        return std::tie(a.code, a.subcode, a.action, a.data) <=> std::tie(b.code, b.subcode, b.action, b.data);
    }
};

// "Hold Timer Expired", "UPDATE Message Error / Malformed AS_PATH", ... for logs and kroutectl.
[[nodiscard]] std::string notification_to_string(std::uint8_t code, std::uint8_t subcode);

// The same, with what the data field says where it is text: the shutdown communication of Cease /
// Administrative Shutdown or Reset (RFC 9003), also inside Cease / Hard Reset (RFC 8538 §3: data =
// the error code, subcode and data of the NOTIFICATION it replaces). The message is quoted with control characters, '"'
// and '\\' escaped, so a peer cannot forge log lines; an invalid one is named and dumped in hex.
//   Cease / Administrative Shutdown: "maintenance window"
[[nodiscard]] std::string notification_to_string(std::uint8_t code, std::uint8_t subcode,
                                                 std::span<const std::uint8_t> data);

// RFC 9003 §2: the data of a Cease NOTIFICATION with subcode 2 or 4 is a length octet and that many
// octets of UTF-8 (at most 255; RFC 8203 allowed 128). A length of 0, or no data at all (a peer
// predating RFC 8203), means "no message".
inline constexpr std::size_t kMaxShutdownCommunicationLength = 255;

enum class ShutdownCommunicationError : std::uint8_t {
    kTooLong,         // encode: more than 255 octets
    kLengthMismatch,  // decode: the length octet disagrees with the octets that follow
    kInvalidUtf8,     // not well-formed UTF-8 (RFC 3629 §3: no overlongs, surrogates, > U+10FFFF)
};
[[nodiscard]] std::string_view to_string(ShutdownCommunicationError e) noexcept;

// The NOTIFICATION data for a message: the length octet, then the message.
[[nodiscard]] Expected<std::vector<std::uint8_t>, ShutdownCommunicationError> encode_shutdown_communication(
    std::string_view message);
// The message of a NOTIFICATION's data field. RFC 9003 §2: an invalid one is to be logged, never
// fatal: the session is going down anyway.
[[nodiscard]] Expected<std::string, ShutdownCommunicationError> decode_shutdown_communication(
    std::span<const std::uint8_t> data);
// RFC 8538 §3: Cease / Hard Reset carries the NOTIFICATION it stands for in its data: that error
// code, subcode and data. A speaker with the N bit negotiated sends a reset that must flush routes
// this way; the receiver unwraps it to log and act on the real reason.
struct WrappedNotification {
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    std::vector<std::uint8_t> data;
    friend bool operator==(const WrappedNotification&, const WrappedNotification&) = default;
};
[[nodiscard]] std::vector<std::uint8_t> encode_hard_reset_data(const WrappedNotification& inner);
// nullopt when the data is too short to hold a code and subcode.
[[nodiscard]] std::optional<WrappedNotification> decode_hard_reset_data(std::span<const std::uint8_t> data);

// At most max_octets of `s`, cut at a character boundary, so that the result stays valid UTF-8
// when `s` is: for fitting an operator's text into the 255 octets.
[[nodiscard]] std::string_view truncate_utf8(std::string_view s, std::size_t max_octets) noexcept;
[[nodiscard]] bool is_valid_utf8(std::span<const std::uint8_t> b) noexcept;

}  // namespace kroute::bgp
