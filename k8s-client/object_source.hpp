// Where object events come from: the API server (a reflector: list, then watch) for Nodes,
// Services and EndpointSlices, or a JSON file of Nodes (NodesFileWatcher, for --nodes-file). Every
// source runs on a thread of its own and hands each event to a sink; the daemon's sink posts it to
// the io_context. None knows anything of BGP.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "k8s-client/config.hpp"
#include "k8s-client/endpoint_slice.hpp"
#include "k8s-client/node.hpp"
#include "k8s-client/service.hpp"

namespace kroute::k8s {

enum class EventType { kAdded, kModified, kDeleted, kSynced };

template <class T>
struct ObjectEvent {
    using Type = EventType;
    Type type = Type::kAdded;
    T object;  // empty for kSynced
};

// kSynced follows every full list (the first one and every relist): the receiver then knows the
// complete set of objects; one it holds that was not re-announced since the previous kSynced is
// gone (the source also emits kDeleted for such objects itself, so receivers may rely on either).
template <class T>
using EventSink = std::function<void(ObjectEvent<T>)>;

template <class T>
class Source {
public:
    virtual ~Source() = default;
    virtual void start(EventSink<T> sink) = 0;  // spawns the thread; returns at once
    virtual void stop() = 0;                    // joins the thread; no sink call after it returns
};

using NodeEvent = ObjectEvent<Node>;
using NodeEventSink = EventSink<Node>;
using NodeSource = Source<Node>;

struct WatchOptions {
    std::chrono::milliseconds backoff_initial{800};
    std::chrono::milliseconds backoff_max{30'000};
    std::chrono::seconds watch_timeout_min{300};  // timeoutSeconds random in [min, 2*min)
    // A failure this long after the previous one starts the backoff afresh (client-go's 2 min),
    // and the LIST page size (client-go tools/pager's 500).
    std::chrono::milliseconds backoff_reset{120'000};
    int page_size = 500;
};

// Reflectors against the API server (list with paging, then watch from the list's
// resourceVersion; client-go reflector semantics, see reflector.hpp).
[[nodiscard]] std::unique_ptr<Source<Node>> make_node_watcher(ClientConfig cfg, WatchOptions opts = {});
[[nodiscard]] std::unique_ptr<Source<Service>> make_service_watcher(ClientConfig cfg, WatchOptions opts = {});
[[nodiscard]] std::unique_ptr<Source<EndpointSlice>> make_endpoint_slice_watcher(ClientConfig cfg,
                                                                                 WatchOptions opts = {});

// Reads FILE (NodeList or List JSON), emits the differences to the previous content whenever the
// file changes (checked every `poll`), followed by kSynced. A broken file is logged and ignored:
// the previous content stays in force.
[[nodiscard]] std::unique_ptr<NodeSource> make_nodes_file_watcher(std::string path,
                                                                  std::chrono::milliseconds poll = std::chrono::milliseconds{500});

}  // namespace kroute::k8s
