#include "bgp/errors.hpp"

#include <algorithm>

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
                case kCeaseHardReset: return "Hard Reset";  // RFC 8538
                case kCeaseBfdDown: return "BFD Down";      // RFC 9384
                default: return nullptr;
            }
        case kRouteRefreshMessageError:
            return subcode == kInvalidRouteRefreshLength ? "Invalid Message Length" : nullptr;
        default: return nullptr;
    }
}

bool carries_shutdown_communication(std::uint8_t code, std::uint8_t subcode) {
    return code == kCease && (subcode == kCeaseAdministrativeShutdown || subcode == kCeaseAdministrativeReset);
}

std::string hex_of(std::span<const std::uint8_t> b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += digits[c >> 4];
        s += digits[c & 0xf];
    }
    return s;
}

// Quoted for a log line: the peer's text must not be able to end the line or fake a quote.
std::string quoted(std::string_view text) {
    static const char* digits = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 0xf];
        } else {
            out += ch;  // printable ASCII and (already validated) UTF-8 sequences
        }
    }
    out += '"';
    return out;
}

// ": "text"", nothing for an empty communication, or what is wrong with it.
std::string describe_communication(std::span<const std::uint8_t> data) {
    auto text = decode_shutdown_communication(data);
    if (!text) return " (invalid shutdown communication: " + std::string(to_string(text.error())) + ", data " + hex_of(data) + ")";
    if (text->empty()) return {};
    return ": " + quoted(*text);
}

}  // namespace

std::string notification_to_string(std::uint8_t code, std::uint8_t subcode, std::span<const std::uint8_t> data) {
    std::string out = notification_to_string(code, subcode);
    if (carries_shutdown_communication(code, subcode)) return out + describe_communication(data);
    // RFC 8538 §3: Hard Reset's data encapsulates the NOTIFICATION that caused it: its error code,
    // subcode and data (FRR 8.4: 06 04 for an Administrative Reset, frr8_addpath.hex).
    if (code == kCease && subcode == kCeaseHardReset) {
        // A Hard Reset inside a Hard Reset is not followed: a peer's data cannot make us recurse.
        auto inner = decode_hard_reset_data(data);
        if (inner && !(inner->code == kCease && inner->subcode == kCeaseHardReset))
            out += " (" + notification_to_string(inner->code, inner->subcode, inner->data) + ")";
    }
    return out;
}

std::vector<std::uint8_t> encode_hard_reset_data(const WrappedNotification& inner) {
    // Sized up front: g++ 12 warns falsely (-Warray-bounds) on insert() after a two-element init.
    std::vector<std::uint8_t> out(2 + inner.data.size());
    out[0] = inner.code;
    out[1] = inner.subcode;
    std::copy(inner.data.begin(), inner.data.end(), out.begin() + 2);
    return out;
}

std::optional<WrappedNotification> decode_hard_reset_data(std::span<const std::uint8_t> data) {
    if (data.size() < 2) return std::nullopt;
    return WrappedNotification{data[0], data[1], std::vector<std::uint8_t>(data.begin() + 2, data.end())};
}

std::string_view to_string(ShutdownCommunicationError e) noexcept {
    switch (e) {
        case ShutdownCommunicationError::kTooLong: return "longer than 255 octets";
        case ShutdownCommunicationError::kLengthMismatch: return "length octet disagrees with the data";
        case ShutdownCommunicationError::kInvalidUtf8: return "not valid UTF-8";
    }
    return "unknown";
}

bool is_valid_utf8(std::span<const std::uint8_t> b) noexcept {
    // RFC 3629 §4 syntax: the second octet's range depends on the first, which rules out
    // overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points past U+10FFFF.
    std::size_t i = 0;
    while (i < b.size()) {
        const std::uint8_t c = b[i];
        std::size_t n;
        std::uint8_t lo = 0x80, hi = 0xbf;
        if (c < 0x80) { ++i; continue; }
        if (c >= 0xc2 && c <= 0xdf) n = 1;
        else if (c == 0xe0) { n = 2; lo = 0xa0; }
        else if (c == 0xed) { n = 2; hi = 0x9f; }
        else if (c >= 0xe1 && c <= 0xef) n = 2;
        else if (c == 0xf0) { n = 3; lo = 0x90; }
        else if (c == 0xf4) { n = 3; hi = 0x8f; }
        else if (c >= 0xf1 && c <= 0xf3) n = 3;
        else return false;  // 0x80..0xc1 (continuation or overlong lead) and 0xf5..0xff
        if (b.size() - i - 1 < n) return false;
        if (b[i + 1] < lo || b[i + 1] > hi) return false;
        for (std::size_t k = 2; k <= n; ++k)
            if (b[i + k] < 0x80 || b[i + k] > 0xbf) return false;
        i += n + 1;
    }
    return true;
}

std::string_view truncate_utf8(std::string_view s, std::size_t max_octets) noexcept {
    if (s.size() <= max_octets) return s;
    std::size_t end = max_octets;
    // Back off over continuation octets (10xxxxxx) to the start of the character cut in two.
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
    return s.substr(0, end);
}

Expected<std::vector<std::uint8_t>, ShutdownCommunicationError> encode_shutdown_communication(std::string_view message) {
    if (message.size() > kMaxShutdownCommunicationLength) return unexpected(ShutdownCommunicationError::kTooLong);
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(message.data()), message.size());
    if (!is_valid_utf8(bytes)) return unexpected(ShutdownCommunicationError::kInvalidUtf8);
    std::vector<std::uint8_t> out;
    out.reserve(1 + message.size());
    out.push_back(static_cast<std::uint8_t>(message.size()));
    out.insert(out.end(), bytes.begin(), bytes.end());
    return out;
}

Expected<std::string, ShutdownCommunicationError> decode_shutdown_communication(std::span<const std::uint8_t> data) {
    if (data.empty()) return std::string{};  // no communication at all: a pre-RFC 8203 peer
    // RFC 9003 §2: "Length ... the length of the Shutdown Communication field in octets"; octets
    // beyond it, or fewer than it, make the communication invalid.
    if (static_cast<std::size_t>(data[0]) != data.size() - 1) return unexpected(ShutdownCommunicationError::kLengthMismatch);
    const auto text = data.subspan(1);
    if (!is_valid_utf8(text)) return unexpected(ShutdownCommunicationError::kInvalidUtf8);
    return std::string(text.begin(), text.end());
}

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
