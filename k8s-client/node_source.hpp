// Where Node events come from: the API server (NodeWatcher: list, then watch) or a JSON file
// (NodesFileWatcher, for --nodes-file). Both run on a thread of their own and hand each event to a
// sink; the daemon's sink posts it to the io_context. Neither knows anything of BGP.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "k8s-client/config.hpp"
#include "k8s-client/node.hpp"

namespace kroute::k8s {

struct NodeEvent {
    enum class Type { kAdded, kModified, kDeleted, kSynced };
    Type type = Type::kAdded;
    Node node;  // empty for kSynced
};

// kSynced follows every full list (the first one and every relist): the receiver then knows the
// complete set of nodes; a node it holds that was not re-announced since the previous kSynced is
// gone (the source also emits kDeleted for such nodes itself, so receivers may rely on either).
using NodeEventSink = std::function<void(NodeEvent)>;

class NodeSource {
public:
    virtual ~NodeSource() = default;
    virtual void start(NodeEventSink sink) = 0;  // spawns the thread; returns at once
    virtual void stop() = 0;                     // joins the thread; no sink call after it returns
};

struct WatchOptions {
    std::chrono::milliseconds backoff_initial{800};
    std::chrono::milliseconds backoff_max{30'000};
    std::chrono::seconds watch_timeout_min{300};  // timeoutSeconds random in [min, 2*min)
    // Added by k8s-client: a failure this long after the previous one starts the backoff afresh
    // (client-go's 2 min), and the LIST page size (client-go tools/pager's 500).
    std::chrono::milliseconds backoff_reset{120'000};
    int page_size = 500;
};

[[nodiscard]] std::unique_ptr<NodeSource> make_node_watcher(ClientConfig cfg, WatchOptions opts = {});

// Reads FILE (NodeList or List JSON), emits the differences to the previous content whenever the
// file changes (checked every `poll`), followed by kSynced. A broken file is logged and ignored:
// the previous content stays in force.
[[nodiscard]] std::unique_ptr<NodeSource> make_nodes_file_watcher(std::string path,
                                                                  std::chrono::milliseconds poll = std::chrono::milliseconds{500});

}  // namespace kroute::k8s
