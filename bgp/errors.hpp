// NOTIFICATION codes (RFC 4271 §4.5, §6; RFC 4486 Cease subcodes) and the decoder's error value.
#pragma once

#include <cstdint>
#include <tuple>
#include <string>
#include <vector>

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

}  // namespace kroute::bgp
