#include "k8s-client/node_status.hpp"

#include <pthread.h>

#include <csignal>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "k8s-client/api_request.hpp"
#include "k8s-client/api_status.hpp"
#include "k8s-client/api_transport.hpp"
#include "k8s-client/backoff.hpp"

namespace kroute::k8s {
namespace {

constexpr auto kPatchTimeout = std::chrono::seconds{30};
constexpr auto kMaxRetryAfter = std::chrono::seconds{600};

std::string rfc3339(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

std::string network_available_patch(std::chrono::system_clock::time_point now) {
    const std::string t = rfc3339(now);
    nlohmann::json condition{{"type", "NetworkUnavailable"},
                             {"status", "False"},
                             {"reason", kNetworkReadyReason},
                             {"message", "kroute is running on this node"},
                             {"lastHeartbeatTime", t},
                             {"lastTransitionTime", t}};
    return nlohmann::json{{"status", {{"conditions", nlohmann::json::array({condition})}}}}.dump();
}

std::string node_status_path(const std::string& base_path, const std::string& node_name) {
    return base_path + "/api/v1/nodes/" + url_encode(node_name) + "/status";
}

NodeStatusWriter::NodeStatusWriter(ClientConfig cfg, WatchOptions backoff) : backoff_{backoff} {
    auto transport = ApiTransport::create(std::move(cfg));
    if (transport)
        transport_ = std::move(*transport);
    else
        log::get("k8s")->error("cannot update node status: {}", transport.error());
    thread_ = std::thread{[this] { run(); }};
}

NodeStatusWriter::~NodeStatusWriter() { stop(); }

void NodeStatusWriter::set_network_available(const std::string& node_name) {
    {
        std::lock_guard lock{mu_};
        pending_ = node_name;
    }
    cv_.notify_all();
}

void NodeStatusWriter::stop() {
    {
        std::lock_guard lock{mu_};
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (transport_) transport_->interrupt();
    if (thread_.joinable()) thread_.join();
}

bool NodeStatusWriter::attempt(const std::string& node_name, bool& forbidden_logged,
                               std::optional<std::chrono::seconds>& retry_after) {
    auto log = log::get("k8s");
    const std::string body = network_available_patch(std::chrono::system_clock::now());
    auto r = transport_->patch(node_status_path(transport_->url().base_path, node_name),
                               "application/strategic-merge-patch+json", body, kPatchTimeout);
    if (!r.transport_ok) {
        log->warn("set NetworkUnavailable=False on node {}: {}", node_name, r.transport_error);
        return false;
    }
    if (r.status == 200) {
        log->info("node {}: NetworkUnavailable=False ({})", node_name, kNetworkReadyReason);
        return true;
    }
    ApiStatus st = parse_api_status_body(r.status, r.body);
    if (!r.retry_after.empty()) retry_after = parse_retry_after(r.retry_after);
    if (r.status == 404) {
        log->warn("set NetworkUnavailable=False: node {} not found; not retrying until it is seen again", node_name);
        return true;
    }
    if (r.status == 403) {
        if (!forbidden_logged)
            log->error("set NetworkUnavailable=False on node {}: the API server forbids it (403): grant patch on "
                       "nodes/status to kroute's service account (ClusterRole rule: apiGroups [\"\"], resources "
                       "[\"nodes/status\"], verbs [\"patch\"]), or run with --set-node-network-unavailable=false "
                       "(server said: {})", node_name, st.message);
        forbidden_logged = true;
        return false;
    }
    log->warn("set NetworkUnavailable=False on node {}: HTTP {} {}: {}", node_name, r.status, st.reason, st.message);
    return false;
}

void NodeStatusWriter::run() {
    sigset_t pipe;  // as the reflector: a TLS write to a closed socket must be EPIPE, not SIGPIPE
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::mt19937_64 rng{std::random_device{}()};
    Backoff backoff{backoff_.backoff_initial, backoff_.backoff_max, backoff_.backoff_reset,
                    [&rng] { return std::uniform_real_distribution<double>{0.0, 1.0}(rng); }};
    bool forbidden_logged = false;
    std::unique_lock lock{mu_};
    for (;;) {
        cv_.wait(lock, [this] { return stopping_ || pending_.has_value(); });
        if (stopping_) return;
        const std::string node = *pending_;
        lock.unlock();
        std::optional<std::chrono::seconds> retry_after;
        const bool done = transport_ == nullptr || attempt(node, forbidden_logged, retry_after);
        lock.lock();
        if (done) {
            if (pending_ == node) pending_.reset();  // unless a newer request came meanwhile
            continue;
        }
        auto delay = backoff.next(std::chrono::steady_clock::now());
        if (retry_after) delay = std::max<std::chrono::milliseconds>(delay, std::min(*retry_after, kMaxRetryAfter));
        cv_.wait_for(lock, delay, [this] { return stopping_; });
    }
}

}  // namespace kroute::k8s
