// The watch stream: a chunked HTTP body carrying one JSON value per event (k8s-api.md §3.2), cut into
// WatchEvents. Pure code: bytes in, values out; the HTTP thread feeds it whatever chunks arrive.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"
#include "k8s-client/api_status.hpp"

namespace kroute::k8s {

// Splits a byte stream into consecutive JSON values the way apimachinery's JSON framer does (a
// json.Decoder, not a line splitter): chunk boundaries are unrelated to value boundaries, one chunk
// may hold several values, whitespace (the encoder's '\n') between values is skipped. Every top-level
// value must be an object or an array; anything else poisons the stream (the caller drops it).
class WatchStreamParser {
public:
    // A single event larger than this is refused rather than buffered without bound.
    static constexpr std::size_t kMaxValueBytes = 64U << 20U;

    // Appends every value that `bytes` completes to `out`. Once an error is returned, every later
    // call returns it again.
    [[nodiscard]] Expected<void, std::string> feed(std::string_view bytes, std::vector<nlohmann::json>& out);

    // True when no partial value is buffered: the stream may end here cleanly.
    [[nodiscard]] bool at_value_boundary() const noexcept { return buffer_.size() == start_ && error_.empty(); }

private:
    std::string buffer_;
    std::size_t start_ = 0;  // first byte of the value being scanned
    std::size_t pos_ = 0;    // next byte to scan
    int depth_ = 0;
    bool in_string_ = false;
    bool escape_ = false;
    std::string error_;
};

struct WatchEvent {
    enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
    Type type = Type::kAdded;
    nlohmann::json object;          // kAdded, kModified, kDeleted: the object, for its kind's parser
    std::string resource_version;   // object.metadata.resourceVersion; empty for kError
    ApiStatus status;               // kError: the Status object
};

// One value of the stream: {"type": T, "object": {...}}, whatever the object's kind; the value is
// consumed (its object moves into the event). A BOOKMARK's object is a zero-valued object of the
// watched kind: only its resourceVersion is used. Errors name what was wrong.
[[nodiscard]] Expected<WatchEvent, std::string> parse_watch_event(nlohmann::json value);

}  // namespace kroute::k8s
