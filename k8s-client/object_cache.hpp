// The set of objects last reported to the sink, and the events that move it to a new state: a full
// list becomes deletions + additions/modifications + kSynced; a watch event becomes at most one
// event. Pure code; each source uses one on its own thread. T provides, found by ADL,
// `object_key(const T&)` ("name" or "namespace/name") and `same_content(const T&, const T&)` (equal
// in everything kroute uses, resourceVersion ignored).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "k8s-client/object_source.hpp"

namespace kroute::k8s {

template <class T>
class ObjectCache {
public:
    using Event = ObjectEvent<T>;

    // A complete list: kDeleted for known objects absent from `objects` (client-go's relist
    // deletion detection, delta_fifo.go Replace), kAdded for new ones, kModified for changed ones,
    // then kSynced. Deletions come first so a receiver never sees a key twice.
    // `malformed`: keys the list holds but in a form that did not parse (ListResult's
    // malformed_keys); a known object among them keeps its last usable version, with no event, as
    // a watch event that does not parse leaves it: it is not gone, and dropping it would depend on
    // whether a relist happened.
    [[nodiscard]] std::vector<Event> replace(std::vector<T> objects, const std::set<std::string>& malformed = {}) {
        std::map<std::string, T> next;
        for (auto& o : objects) {
            auto key = object_key(o);
            next.insert_or_assign(std::move(key), std::move(o));  // a duplicate key: the last one wins
        }
        for (const auto& key : malformed) {
            auto it = objects_.find(key);
            if (it != objects_.end()) next.try_emplace(key, it->second);  // a usable one of the same key wins
        }
        std::vector<Event> events;
        for (const auto& [key, old] : objects_)
            if (!next.contains(key)) events.push_back(Event{EventType::kDeleted, old});
        for (const auto& [key, object] : next) {
            auto it = objects_.find(key);
            if (it == objects_.end())
                events.push_back(Event{EventType::kAdded, object});
            else if (!same_content(it->second, object))
                events.push_back(Event{EventType::kModified, object});
        }
        events.push_back(Event{EventType::kSynced, T{}});
        objects_ = std::move(next);
        return events;
    }

    // One watch event (kAdded, kModified or kDeleted). nullopt when it changes nothing: an object
    // that differs only in resourceVersion (the kubelet's status heartbeats touch node fields kroute
    // does not model), or the deletion of an object never reported. An ADDED for a known object is
    // a kModified, a MODIFIED for an unknown one a kAdded.
    [[nodiscard]] std::optional<Event> apply(EventType type, T object) {
        auto key = object_key(object);
        auto it = objects_.find(key);
        switch (type) {
            case EventType::kDeleted:
                if (it == objects_.end()) return std::nullopt;
                objects_.erase(it);
                return Event{EventType::kDeleted, std::move(object)};
            case EventType::kAdded:
            case EventType::kModified: {
                if (it == objects_.end()) {
                    objects_.emplace(std::move(key), object);
                    return Event{EventType::kAdded, std::move(object)};
                }
                const bool changed = !same_content(it->second, object);
                it->second = object;  // keep the newest resourceVersion either way
                if (!changed) return std::nullopt;
                return Event{EventType::kModified, std::move(object)};
            }
            case EventType::kSynced:
                break;
        }
        return std::nullopt;
    }

    // A deletion known by its key alone (a DELETED event whose object does not parse): kDeleted with
    // the last known state, or nullopt for an object never reported.
    [[nodiscard]] std::optional<Event> erase(const std::string& key) {
        auto it = objects_.find(key);
        if (it == objects_.end()) return std::nullopt;
        Event ev{EventType::kDeleted, std::move(it->second)};
        objects_.erase(it);
        return ev;
    }

    [[nodiscard]] const std::map<std::string, T>& objects() const noexcept { return objects_; }

private:
    std::map<std::string, T> objects_;
};

using NodeCache = ObjectCache<Node>;

}  // namespace kroute::k8s
