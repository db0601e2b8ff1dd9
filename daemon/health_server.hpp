// /healthz on --health-port, kube-router's meaning: 200 while the core loop is alive. The HTTP
// server runs on a thread of its own (cpp-httplib is blocking); the io_context thread (the BGP
// speaker, the controller) proves it is alive by calling beat() from a timer. More checks can be
// added (the FIB writer thread's heartbeat): /healthz answers 500 with every failing check's
// reason, one a line, as soon as one fails.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/expected.hpp"

namespace httplib { class Server; }

namespace kroute::daemon {

// A check: nullopt when fine, else why not. Called on the HTTP thread.
using HealthCheck = std::function<std::optional<std::string>()>;

// Fails when `last()` (a heartbeat another thread refreshes) is older than `stale_after`:
// "WHAT stalled for N ms".
[[nodiscard]] HealthCheck heartbeat_check(std::string what, std::function<std::chrono::steady_clock::time_point()> last,
                                          std::chrono::milliseconds stale_after);

class HealthServer {
public:
    explicit HealthServer(std::chrono::milliseconds stale_after = std::chrono::seconds(20));
    ~HealthServer();
    void add_check(HealthCheck check);  // before start()
    [[nodiscard]] Expected<void, std::string> start(const std::string& address, std::uint16_t port);
    void stop();
    void beat() noexcept;  // any thread
    [[nodiscard]] int port() const noexcept { return port_; }  // once started

private:
    std::chrono::milliseconds stale_after_;
    std::vector<HealthCheck> checks_;
    std::atomic<std::int64_t> last_beat_ms_{0};
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
};

}  // namespace kroute::daemon
