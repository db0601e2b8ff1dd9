// Store: the fake apiserver's etcd + watch cache for Nodes, Services and EndpointSlices. Pure: no
// I/O, no threads (the server serialises access with its own mutex), time and uids come from
// injected functions.
//
// As in etcd, one global resourceVersion (a counter, served as a decimal string) covers every
// kind: every write bumps it, stamps metadata.resourceVersion, keeps uid and creationTimestamp from
// creation, and appends an event to one bounded log shared by all kinds (lists and watches filter
// it by kind and namespace). The log holds the last `compaction_window` events: a watch or continue
// token older than the oldest retained event gets 410 Expired, as after an etcd compaction.
// Wire shapes follow the real apiserver: list items carry no kind/apiVersion, single objects and
// watch event objects do; writes that change nothing bump nothing and emit no event.
// Namespaced objects live under "namespace/name" keys (etcd's /registry/services/specs/NS/NAME
// order); any namespace name is accepted, no Namespace object has to exist.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"
#include "tests/fake-apiserver/patch.hpp"
#include "tests/fake-apiserver/resources.hpp"
#include "tests/fake-apiserver/selectors.hpp"
#include "tests/fake-apiserver/service_ips.hpp"
#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

enum class EventType { kAdded, kModified, kDeleted };
[[nodiscard]] std::string_view to_string(EventType t) noexcept;

enum class Subresource { kNone, kStatus };

// What a request addresses: a resource and, for a namespaced one, the namespace of its path;
// an empty namespace lists and watches across all namespaces (/api/v1/services).
struct Scope {
    Resource resource = Resource::kNodes;
    std::string ns{};
};

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

class Store {
public:
    using Now = std::function<std::string()>;      // RFC 3339 UTC, e.g. "2024-05-01T10:00:00Z"
    using NewUid = std::function<std::string()>;

    Store(std::size_t compaction_window, ServiceIpRanges service_ips, Now now, NewUid new_uid);

    // Loads initial objects of one resource (its List kind, a List or a JSON array) without
    // recording events. Namespaced objects without metadata.namespace go to "default", as
    // `kubectl create` would put them.
    [[nodiscard]] Expected<void, ApiError> seed(Resource r, const Json& doc);

    [[nodiscard]] std::uint64_t resource_version() const noexcept { return rv_; }
    [[nodiscard]] std::uint64_t compacted_rv() const noexcept { return compacted_rv_; }
    [[nodiscard]] std::size_t size(Resource r) const noexcept { return objects(r).size(); }

    [[nodiscard]] Expected<Json, ApiError> list(const Scope& scope, const ListOptions& opts) const;
    [[nodiscard]] Expected<Json, ApiError> get(const Scope& scope, std::string_view name) const;
    [[nodiscard]] Expected<WriteResult, ApiError> create(const Scope& scope, std::string_view body);
    [[nodiscard]] Expected<WriteResult, ApiError> update(const Scope& scope, std::string_view name,
                                                         std::string_view body, Subresource sub);
    [[nodiscard]] Expected<WriteResult, ApiError> patch(const Scope& scope, std::string_view name,
                                                        std::string_view content_type, std::string_view body,
                                                        Subresource sub);
    // What a DELETE answers: the deleted Service (its registry sets ReturnDeletedObject), for the
    // other kinds a Status{status: Success}.
    [[nodiscard]] Expected<Json, ApiError> remove(const Scope& scope, std::string_view name);

    // Forgets the event log: every resourceVersion before now becomes too old.
    void compact();

    // A watch: `start_watch` yields the events to send first and the cursor to continue from;
    // `events_since` the later events in the scope passing the filter (envelopes {"type","object"})
    // and moves the cursor. Both fail with 410 Expired when the cursor is older than the log;
    // start_watch with 504 Too large when it is newer than the store (a client from before a restart).
    struct WatchStart {
        std::vector<Json> events;
        std::uint64_t cursor = 0;
    };
    [[nodiscard]] Expected<WatchStart, ApiError> start_watch(const Scope& scope, const WatchOptions& opts,
                                                             const Filter& filter) const;
    [[nodiscard]] Expected<std::vector<Json>, ApiError> events_since(const Scope& scope, std::uint64_t& cursor,
                                                                     const Filter& filter) const;

    // {"type":"BOOKMARK","object":<zero-valued object of the kind with only
    // metadata.resourceVersion>}, the shape the apiserver serialises (for Nodes see
    // tests/data/k8s/watch-bookmark-events.jsonl).
    [[nodiscard]] static Json bookmark(Resource r, std::uint64_t rv, bool initial_events_end = false);
    // {"type":"ERROR","object":<Status>}
    [[nodiscard]] static Json error_event(const ApiError& e);

private:
    using Objects = std::map<std::string, Json, std::less<>>;  // key -> stored form; etcd key order

    struct Event {
        std::uint64_t rv = 0;
        Resource resource = Resource::kNodes;
        std::string ns;
        EventType type = EventType::kAdded;
        Json object;    // stored form (no kind/apiVersion)
        Json previous;  // null for ADDED
    };

    [[nodiscard]] const Objects& objects(Resource r) const noexcept { return objects_[static_cast<std::size_t>(r)]; }
    [[nodiscard]] Objects& objects(Resource r) noexcept { return objects_[static_cast<std::size_t>(r)]; }
    [[nodiscard]] Expected<Json, ApiError> parse_object(const Scope& scope, std::string_view body) const;
    // Defaults and validates a kind's own fields; `old` is the stored object on an update.
    [[nodiscard]] Expected<void, ApiError> prepare(Resource r, Json& obj, const Json* old) const;
    [[nodiscard]] Expected<void, ApiError> prepare_service(Json& svc, const Json* old) const;
    // Stamps and stores a new object; `seeding` records no event and keeps the seed's uid,
    // creationTimestamp and Service status.
    [[nodiscard]] Expected<WriteResult, ApiError> insert(Resource r, Json obj, bool seeding);
    [[nodiscard]] Expected<WriteResult, ApiError> store_update(Resource r, const Json& old, Json updated,
                                                               Subresource sub);
    [[nodiscard]] Expected<std::uint64_t, ApiError> parse_rv(std::string_view rv) const;
    [[nodiscard]] ApiError too_old(std::uint64_t rv) const;
    [[nodiscard]] ApiError too_large(std::uint64_t rv) const;
    void record(Resource r, EventType type, const Json& object, Json previous);

    std::size_t window_;
    ServiceIpRanges service_ips_;
    Now now_;
    NewUid new_uid_;
    std::uint64_t rv_ = 1;
    std::uint64_t compacted_rv_ = 1;
    std::array<Objects, kResourceCount> objects_;
    std::deque<Event> log_;
};

// Adds the resource's kind/apiVersion in front, as single objects and watch objects carry them.
[[nodiscard]] Json with_type_meta(Resource r, const Json& stored);

}  // namespace kroute::fake_apiserver
