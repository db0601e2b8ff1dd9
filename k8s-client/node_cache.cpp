#include "k8s-client/node_cache.hpp"

namespace kroute::k8s {

bool same_content(const Node& a, const Node& b) {
    return a.name == b.name && a.uid == b.uid && a.pod_cidrs == b.pod_cidrs && a.internal_ips == b.internal_ips &&
           a.external_ips == b.external_ips && a.labels == b.labels && a.annotations == b.annotations;
}

std::vector<NodeEvent> NodeCache::replace(std::vector<Node> nodes) {
    std::map<std::string, Node> next;
    for (auto& n : nodes) {
        auto name = n.name;
        next.insert_or_assign(std::move(name), std::move(n));  // a duplicate name: the last one wins
    }
    std::vector<NodeEvent> events;
    for (const auto& [name, old] : nodes_)
        if (!next.contains(name)) events.push_back(NodeEvent{NodeEvent::Type::kDeleted, old});
    for (const auto& [name, node] : next) {
        auto it = nodes_.find(name);
        if (it == nodes_.end())
            events.push_back(NodeEvent{NodeEvent::Type::kAdded, node});
        else if (!same_content(it->second, node))
            events.push_back(NodeEvent{NodeEvent::Type::kModified, node});
    }
    events.push_back(NodeEvent{NodeEvent::Type::kSynced, Node{}});
    nodes_ = std::move(next);
    return events;
}

std::optional<NodeEvent> NodeCache::apply(NodeEvent::Type type, Node node) {
    auto it = nodes_.find(node.name);
    switch (type) {
        case NodeEvent::Type::kDeleted: {
            if (it == nodes_.end()) return std::nullopt;
            nodes_.erase(it);
            return NodeEvent{NodeEvent::Type::kDeleted, std::move(node)};
        }
        case NodeEvent::Type::kAdded:
        case NodeEvent::Type::kModified: {
            if (it == nodes_.end()) {
                nodes_.emplace(node.name, node);
                return NodeEvent{NodeEvent::Type::kAdded, std::move(node)};
            }
            const bool changed = !same_content(it->second, node);
            it->second = node;  // keep the newest resourceVersion either way
            if (!changed) return std::nullopt;
            return NodeEvent{NodeEvent::Type::kModified, std::move(node)};
        }
        case NodeEvent::Type::kSynced:
            break;
    }
    return std::nullopt;
}

}  // namespace kroute::k8s
