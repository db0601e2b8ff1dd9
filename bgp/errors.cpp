#include "bgp/errors.hpp"

namespace kroute::bgp {

namespace {

// Names as the IANA "BGP Error (Notification) Codes" and subcode registries spell them.
const char* code_name(std::uint8_t code) {
    switch (code) {
        case kMessageHeaderError: return "Message Header Error";
        case kOpenMessageError: return "OPEN Message Error";
        case kUpdateMessageError: return "UPDATE Message Error";
        case kHoldTimerExpired: return "Hold Timer Expired";
        case kFsmError: return "Finite State Machine Error";
        case kCease: return "Cease";
        case kRouteRefreshMessageError: return "ROUTE-REFRESH Message Error";
        default: return nullptr;
    }
}

const char* subcode_name(std::uint8_t code, std::uint8_t subcode) {
    switch (code) {
        case kMessageHeaderError:
            switch (subcode) {
                case kConnectionNotSynchronized: return "Connection Not Synchronized";
                case kBadMessageLength: return "Bad Message Length";
                case kBadMessageType: return "Bad Message Type";
                default: return nullptr;
            }
        case kOpenMessageError:
            switch (subcode) {
                case kUnsupportedVersionNumber: return "Unsupported Version Number";
                case kBadPeerAs: return "Bad Peer AS";
                case kBadBgpIdentifier: return "Bad BGP Identifier";
                case kUnsupportedOptionalParameter: return "Unsupported Optional Parameter";
                case kUnacceptableHoldTime: return "Unacceptable Hold Time";
                case kUnsupportedCapability: return "Unsupported Capability";
                default: return nullptr;
            }
        case kUpdateMessageError:
            switch (subcode) {
                case kMalformedAttributeList: return "Malformed Attribute List";
                case kUnrecognizedWellKnownAttribute: return "Unrecognized Well-known Attribute";
                case kMissingWellKnownAttribute: return "Missing Well-known Attribute";
                case kAttributeFlagsError: return "Attribute Flags Error";
                case kAttributeLengthError: return "Attribute Length Error";
                case kInvalidOriginAttribute: return "Invalid ORIGIN Attribute";
                case kInvalidNextHopAttribute: return "Invalid NEXT_HOP Attribute";
                case kOptionalAttributeError: return "Optional Attribute Error";
                case kInvalidNetworkField: return "Invalid Network Field";
                case kMalformedAsPath: return "Malformed AS_PATH";
                default: return nullptr;
            }
        case kFsmError:  // RFC 6608
            switch (subcode) {
                case 1: return "Receive Unexpected Message in OpenSent State";
                case 2: return "Receive Unexpected Message in OpenConfirm State";
                case 3: return "Receive Unexpected Message in Established State";
                default: return nullptr;
            }
        case kCease:
            switch (subcode) {
                case kCeaseMaxPrefixes: return "Maximum Number of Prefixes Reached";
                case kCeaseAdministrativeShutdown: return "Administrative Shutdown";
                case kCeasePeerDeconfigured: return "Peer De-configured";
                case kCeaseAdministrativeReset: return "Administrative Reset";
                case kCeaseConnectionRejected: return "Connection Rejected";
                case kCeaseOtherConfigurationChange: return "Other Configuration Change";
                case kCeaseConnectionCollisionResolution: return "Connection Collision Resolution";
                case kCeaseOutOfResources: return "Out of Resources";
                case 9: return "Hard Reset";  // RFC 8538
                case 10: return "BFD Down";   // RFC 9384
                default: return nullptr;
            }
        case kRouteRefreshMessageError:
            return subcode == 1 ? "Invalid Message Length" : nullptr;
        default: return nullptr;
    }
}

}  // namespace

std::string notification_to_string(std::uint8_t code, std::uint8_t subcode) {
    const char* c = code_name(code);
    std::string out = c ? c : "Unknown error code " + std::to_string(code);
    if (subcode == 0) return out;  // subcode 0 = "Unspecific" (RFC 4271 §4.5)
    const char* s = subcode_name(code, subcode);
    out += " / ";
    out += s ? s : "subcode " + std::to_string(subcode);
    return out;
}

}  // namespace kroute::bgp
