// NodeStatusWriter: sets the node's NetworkUnavailable condition, as Calico and flannel do, once
// kroute has programmed the node's network (k8s-api.md §6): one strategic-merge PATCH of
// nodes/NAME/status that replaces only that condition (a JSON merge patch would wipe the kubelet's
// Ready and pressure conditions). The request runs on a thread of its own and is retried with
// backoff until the API server accepts it; a newer request replaces a pending one. kroute never
// sets the condition back to True when it stops: its routes outlive it (graceful restart), and a
// rolling update must not taint every node.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "k8s-client/config.hpp"
#include "k8s-client/object_source.hpp"

namespace kroute::k8s {

class ApiTransport;

// The reason kroute writes: other components' conditions are told apart by theirs.
inline constexpr const char* kNetworkReadyReason = "KrouteIsUp";

// The PATCH body: {"status":{"conditions":[{"type":"NetworkUnavailable","status":"False",
// "reason":"KrouteIsUp","message":"kroute is running on this node","lastHeartbeatTime":T,
// "lastTransitionTime":T}]}}, T in RFC 3339 UTC seconds. Pure.
[[nodiscard]] std::string network_available_patch(std::chrono::system_clock::time_point now);

// The path: /api/v1/nodes/NAME/status (NAME percent-encoded).
[[nodiscard]] std::string node_status_path(const std::string& base_path, const std::string& node_name);

class NodeStatusWriter {
public:
    NodeStatusWriter(ClientConfig cfg, WatchOptions backoff);
    ~NodeStatusWriter();  // stops
    NodeStatusWriter(const NodeStatusWriter&) = delete;
    NodeStatusWriter& operator=(const NodeStatusWriter&) = delete;

    // Any thread: NetworkUnavailable=False on `node_name`, now and retried until accepted.
    void set_network_available(const std::string& node_name);
    void stop();

private:
    void run();
    // One attempt; true when done (accepted, or refused for good).
    bool attempt(const std::string& node_name, bool& forbidden_logged, std::optional<std::chrono::seconds>& retry_after);

    WatchOptions backoff_;
    std::unique_ptr<ApiTransport> transport_;  // null: the config is unusable (logged)
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<std::string> pending_;  // the node to patch
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kroute::k8s
