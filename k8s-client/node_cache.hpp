// The set of nodes last reported to the sink, and the events that move it to a new state: a full
// list becomes deletions + additions/modifications + kSynced; a watch event becomes at most one
// NodeEvent. Pure code; used by both NodeSources on their own thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "k8s-client/node.hpp"
#include "k8s-client/node_source.hpp"

namespace kroute::k8s {

class NodeCache {
public:
    // A complete list: kDeleted for known nodes absent from `nodes` (client-go's relist deletion
    // detection, delta_fifo.go Replace), kAdded for new ones, kModified for changed ones, then
    // kSynced. Deletions come first so a receiver never sees a name twice.
    [[nodiscard]] std::vector<NodeEvent> replace(std::vector<Node> nodes);

    // One watch event (kAdded, kModified or kDeleted). nullopt when it changes nothing: a node that
    // differs only in resourceVersion (the kubelet's status heartbeats touch fields kroute does not
    // model), or the deletion of a node never reported. An ADDED for a known node is a kModified,
    // a MODIFIED for an unknown one a kAdded.
    [[nodiscard]] std::optional<NodeEvent> apply(NodeEvent::Type type, Node node);

    [[nodiscard]] const std::map<std::string, Node>& nodes() const noexcept { return nodes_; }

private:
    std::map<std::string, Node> nodes_;
};

// Equal in everything kroute uses; resourceVersion ignored.
[[nodiscard]] bool same_content(const Node& a, const Node& b);

}  // namespace kroute::k8s
