// FakeApiServer: the HTTP/TLS shell around NodeStore. Serves the subset of the Kubernetes API
// that kubectl (v1.20 and v1.32) and kroute use for Nodes: plain discovery, list, watch, get,
// create, update, patch (four flavours), delete, and the /status subresource. Every request
// needs `Authorization: Bearer <token>`. A control endpoint, /fake/faults, injects failures.
//
// Threads: cpp-httplib runs each connection on a worker of a pool of `threads`; one mutex
// guards the store and the fault state; watches block on a condition variable that is
// notified on every write, on fault changes and on stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/expected.hpp"
#include "tests/fake-apiserver/node_store.hpp"

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
    std::string nodes_file;  // optional seed: NodeList / List / array JSON
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
    std::chrono::steady_clock::time_point stall_until{};
    std::uint64_t drop_epoch = 0;
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
    explicit FakeApiServer(ServerOptions opts);

    void install_routes();
    [[nodiscard]] bool admit(const httplib::Request& req, httplib::Response& res);
    void handle_list_or_watch(const httplib::Request& req, httplib::Response& res);
    void handle_watch(const httplib::Request& req, httplib::Response& res);
    void handle_faults(const httplib::Request& req, httplib::Response& res);
    [[nodiscard]] bool pump_watch(WatchState& w, httplib::DataSink& sink);
    [[nodiscard]] std::string fault_report() const;  // with mu_ held

    ServerOptions opts_;
    std::unique_ptr<httplib::SSLServer> http_;
    int port_ = 0;
    std::string url_;

    mutable std::mutex mu_;
    std::condition_variable changed_;
    NodeStore store_;
    FaultState faults_;
    bool stopping_ = false;
    bool running_ = false;  // inside run()
    std::atomic<int> open_watches_{0};
};

}  // namespace kroute::fake_apiserver
