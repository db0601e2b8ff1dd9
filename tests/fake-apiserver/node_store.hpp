// NodeStore: the fake apiserver's etcd + watch cache for Nodes. Pure: no I/O, no threads (the
// server serialises access with its own mutex), time and uids come from injected functions.
//
// Every write bumps one global resourceVersion (a counter, served as a decimal string), stamps
// metadata.resourceVersion, keeps uid and creationTimestamp from creation, and appends an event to
// a bounded log. The log holds the last `compaction_window` events: a watch or continue token
// older than the oldest retained event gets 410 Expired, as after an etcd compaction.
// Wire shapes follow the real apiserver: list items carry no kind/apiVersion, single objects and
// watch event objects do; writes that change nothing bump nothing and emit no event.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"
#include "tests/fake-apiserver/patch.hpp"
#include "tests/fake-apiserver/selectors.hpp"
#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

enum class EventType { kAdded, kModified, kDeleted };
[[nodiscard]] std::string_view to_string(EventType t) noexcept;

enum class Subresource { kNone, kStatus };

// Query parameters of a LIST, as raw strings (empty = absent).
struct ListOptions {
    std::string limit{};
    std::string continue_token{};
    std::string resource_version{};
    std::string field_selector{};
    std::string label_selector{};
};

struct WatchOptions {
    std::string resource_version{};  // "" or "0": synthetic ADDED for current state first
    std::string field_selector{};
    std::string label_selector{};
    bool send_initial_events = false;  // WatchList: ADDED for current state, then an initial-events-end bookmark
};

struct WriteResult {
    Json object;    // with kind/apiVersion
    int code = 200;  // 201 on create
};

class NodeStore {
public:
    using Now = std::function<std::string()>;      // RFC 3339 UTC, e.g. "2024-05-01T10:00:00Z"
    using NewUid = std::function<std::string()>;

    NodeStore(std::size_t compaction_window, Now now, NewUid new_uid);

    // Loads initial nodes (NodeList, List or a JSON array of Nodes) without recording events.
    [[nodiscard]] Expected<void, ApiError> seed(const Json& doc);

    [[nodiscard]] std::uint64_t resource_version() const noexcept { return rv_; }
    [[nodiscard]] std::uint64_t compacted_rv() const noexcept { return compacted_rv_; }
    [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }

    [[nodiscard]] Expected<Json, ApiError> list(const ListOptions& opts) const;
    [[nodiscard]] Expected<Json, ApiError> get(std::string_view name) const;
    [[nodiscard]] Expected<WriteResult, ApiError> create(std::string_view body);
    [[nodiscard]] Expected<WriteResult, ApiError> update(std::string_view name, std::string_view body, Subresource sub);
    [[nodiscard]] Expected<WriteResult, ApiError> patch(std::string_view name, std::string_view content_type,
                                                        std::string_view body, Subresource sub);
    // The Status{status: Success} a DELETE answers.
    [[nodiscard]] Expected<Json, ApiError> remove(std::string_view name);

    // Forgets the event log: every resourceVersion before now becomes too old.
    void compact();

    // A watch: `start_watch` yields the events to send first and the cursor to continue from;
    // `events_since` the later events passing the filter (envelopes {"type","object"}) and moves
    // the cursor. Both fail with 410 Expired when the cursor is older than the log; start_watch
    // with 504 Too large when it is newer than the store (a client from before a restart).
    struct WatchStart {
        std::vector<Json> events;
        std::uint64_t cursor = 0;
    };
    [[nodiscard]] Expected<WatchStart, ApiError> start_watch(const WatchOptions& opts, const NodeFilter& filter) const;
    [[nodiscard]] Expected<std::vector<Json>, ApiError> events_since(std::uint64_t& cursor,
                                                                     const NodeFilter& filter) const;

    // {"type":"BOOKMARK","object":<zero-valued Node with only metadata.resourceVersion>}, the shape
    // the apiserver serialises (see tests/data/k8s/watch-bookmark-events.jsonl).
    [[nodiscard]] static Json bookmark(std::uint64_t rv, bool initial_events_end = false);
    // {"type":"ERROR","object":<Status>}
    [[nodiscard]] static Json error_event(const ApiError& e);

private:
    struct Event {
        std::uint64_t rv = 0;
        EventType type = EventType::kAdded;
        Json object;    // stored form (no kind/apiVersion)
        Json previous;  // null for ADDED
    };

    [[nodiscard]] Expected<Json, ApiError> parse_node(std::string_view body) const;
    [[nodiscard]] Expected<WriteResult, ApiError> store_update(const Json& old, Json updated, Subresource sub);
    [[nodiscard]] Expected<std::uint64_t, ApiError> parse_rv(std::string_view rv) const;
    [[nodiscard]] ApiError too_old(std::uint64_t rv) const;
    [[nodiscard]] ApiError too_large(std::uint64_t rv) const;
    void record(EventType type, const Json& object, Json previous);

    std::size_t window_;
    Now now_;
    NewUid new_uid_;
    std::uint64_t rv_ = 1;
    std::uint64_t compacted_rv_ = 1;
    std::map<std::string, Json, std::less<>> nodes_;  // name -> stored form; etcd key order
    std::deque<Event> log_;
};

// Adds kind/apiVersion in front, as single objects and watch objects carry them.
[[nodiscard]] Json with_type_meta(const Json& stored);

}  // namespace kroute::fake_apiserver
