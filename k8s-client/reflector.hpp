// Reflector: client-go's reflector in C++ (k8s-api.md §2-§4), for any kind. LIST the collection
// with limit/continue paging, then WATCH from the list's resourceVersion with
// allowWatchBookmarks=true and a random timeoutSeconds in [min, 2*min); a clean end of stream
// re-watches from the last resourceVersion without listing; a 410 (HTTP on a continue page, or an
// ERROR event inside a watch) lists again; failures back off with jitter, Retry-After honoured;
// 401 and 403 are logged once with the RBAC rule that is missing; the token file is re-read every
// minute and after a 401. The stream is cut into JSON values whatever the chunk boundaries; an
// object that does not parse is skipped with one log line and the stream goes on; a known object
// that stops parsing keeps its last usable version, through a relist too (a deletion needs only
// its name).
//
// The reflector runs on a thread of its own and knows nothing of the objects' types: it hands
// list pages and event objects to a ReflectorStore, which parses them into its cache and emits
// typed events (watchers.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/expected.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/object_source.hpp"
#include "k8s-client/resource.hpp"

namespace kroute::k8s {

// Called on the reflector's thread only.
class ReflectorStore {
public:
    virtual ~ReflectorStore() = default;

    struct Page {
        std::string resource_version;
        std::string continue_token;
        std::vector<std::string> errors;  // one per item skipped
    };
    // A LIST starts; then its pages; then end_list() once all of them arrived (a list cut short by
    // an error is started again from begin_list()).
    virtual void begin_list() = 0;
    // One page: the items that parse are kept for end_list(); an unusable envelope is an error.
    [[nodiscard]] virtual Expected<Page, std::string> list_page(const nlohmann::json& page) = 0;
    // The complete list replaces the store's content; returns its size.
    virtual std::size_t end_list() = 0;
    // One watch event's object (kAdded, kModified, kDeleted); an error when it does not parse.
    [[nodiscard]] virtual Expected<void, std::string> apply(EventType type, const nlohmann::json& object) = 0;
};

// What the reflectors of one resource did since the process started (every reflector of that
// resource adds to the same counters), for metrics.
struct ReflectorCounters {
    std::string resource;               // e.g. "nodes"
    std::uint64_t lists = 0;            // complete LISTs
    std::uint64_t relists = 0;          // of them, those after a reflector's first
    std::uint64_t watch_events = 0;     // watch values received (bookmarks included)
    // Watches that ended and were started again, by how: a clean end of stream (timeoutSeconds,
    // the server closing it), an ERROR or 410 that calls for a relist, a failure (HTTP error,
    // transport error, a broken stream).
    std::uint64_t watch_restarts_closed = 0;
    std::uint64_t watch_restarts_expired = 0;
    std::uint64_t watch_restarts_failed = 0;
};
// Any thread; sorted by resource.
[[nodiscard]] std::vector<ReflectorCounters> reflector_counters();

class Reflector {
public:
    // `store` must outlive the reflector.
    Reflector(ClientConfig cfg, WatchOptions opts, const ResourceKind& kind, ReflectorStore& store);
    ~Reflector();  // stops
    Reflector(const Reflector&) = delete;
    Reflector& operator=(const Reflector&) = delete;

    void start();  // spawns the thread; returns at once
    // Joins the thread; the store sees no call after it returns. From the store's own calls (the
    // thread itself) it only asks the thread to end.
    void stop();

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kroute::k8s
