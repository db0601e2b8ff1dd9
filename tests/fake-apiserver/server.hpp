// FakeApiServer: the HTTP/TLS shell around Store. Serves the subset of the Kubernetes API that
// kubectl (v1.20 and v1.32) and kroute use for Nodes, Services (core/v1) and EndpointSlices
// (discovery.k8s.io/v1): plain discovery, list, watch, get, create, update, patch (four
// flavours), delete, and the /status subresources. Every request needs
// `Authorization: Bearer <token>`. Control endpoints: /fake/faults injects failures,
// /fake/requests returns the log of API requests.
//
// Threads: cpp-httplib runs each connection on a worker of a pool of `threads`; one mutex
// guards the store, the fault state, the token, the request log and the set of open watches;
// watches block on a condition variable that is notified on every write, on fault changes and
// on stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/expected.hpp"
#include "tests/fake-apiserver/request_log.hpp"
#include "tests/fake-apiserver/store.hpp"

namespace httplib {
class SSLServer;
class Request;
class Response;
class DataSink;
}  // namespace httplib

namespace kroute::fake_apiserver {

struct ServerOptions {
    std::string listen = "127.0.0.1";
    int port = 0;  // 0: any free port
    std::string token;
    std::string cert_dir;    // ca.crt, kubeconfig and port are written here
    std::string nodes_file;           // optional seeds: NodeList / List / array JSON
    std::string services_file;        // ServiceList / List / array
    std::string endpointslices_file;  // EndpointSliceList / List / array
    std::string service_cluster_ip_range = "10.96.0.0/12";
    std::size_t compaction_window = 1000;
    std::chrono::milliseconds bookmark_interval{10'000};
    std::chrono::seconds default_watch_timeout{1800};  // when the client sends no timeoutSeconds
    std::size_t threads = 64;
    bool log_requests = true;  // one line per request on stderr
};

// What /fake/faults reports (and tests read).
struct FaultState {
    int fail_next = 0;
    int fail_status = 500;
    std::optional<int> retry_after;
    std::string fail_match;  // fail_next counts only requests whose target holds this ("" = all)
    std::chrono::steady_clock::time_point stall_until{};
    std::uint64_t drop_epoch = 0;
    std::size_t chunk_split = 0;  // > 0: watch bytes go out in chunks of this size
    bool chunk_coalesce = false;  // the events one pass of a watch picks up go out as one chunk
};

class FakeApiServer {
public:
    // Seeds the store, makes the certificates, binds the port and writes the cert-dir files.
    [[nodiscard]] static Expected<std::unique_ptr<FakeApiServer>, std::string> create(ServerOptions opts);
    ~FakeApiServer();
    FakeApiServer(const FakeApiServer&) = delete;
    FakeApiServer& operator=(const FakeApiServer&) = delete;

    [[nodiscard]] int port() const noexcept { return port_; }
    [[nodiscard]] const std::string& url() const noexcept { return url_; }
    [[nodiscard]] int open_watches() const noexcept { return open_watches_.load(); }

    // Serves until stop(); false if the listener failed.
    bool run();
    // Any thread, any number of times: ends every watch and makes run() return.
    void stop();

private:
    struct WatchState;
    FakeApiServer(ServerOptions opts, ServiceIpRanges service_ips);

    void install_routes();
    // The list/watch, collection and item routes of one resource. `all` lists and watches across
    // namespaces (the collection of a cluster-scoped resource); `collection` (namespaced only,
    // namespace captured) takes POST too; `item` captures [namespace and] name.
    void install_resource_routes(Resource r, const std::string& all, const std::string& collection,
                                 const std::string& item);
    [[nodiscard]] bool admit(const httplib::Request& req, httplib::Response& res);
    void handle_list_or_watch(const Scope& scope, const httplib::Request& req, httplib::Response& res);
    void handle_watch(const Scope& scope, const httplib::Request& req, httplib::Response& res);
    void handle_faults(const httplib::Request& req, httplib::Response& res);
    [[nodiscard]] bool pump_watch(WatchState& w, httplib::DataSink& sink);
    [[nodiscard]] std::string fault_report() const;  // with mu_ held

    ServerOptions opts_;
    std::unique_ptr<httplib::SSLServer> http_;
    int port_ = 0;
    std::string url_;

    mutable std::mutex mu_;
    std::condition_variable changed_;
    Store store_;
    FaultState faults_;
    std::string token_;  // opts_.token until a fault rotates it
    RequestLog requests_{10'000};
    std::set<WatchState*> watches_;  // open watches, for inject_watch
    bool stopping_ = false;
    bool running_ = false;  // inside run()
    std::atomic<int> open_watches_{0};
};

}  // namespace kroute::fake_apiserver
