// /healthz on --health-port, kube-router's meaning: 200 while the core loop is alive. The HTTP
// server runs on a thread of its own (cpp-httplib is blocking); the io_context thread proves it is
// alive by calling beat() from a timer.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/expected.hpp"

namespace httplib { class Server; }

namespace kroute::daemon {

class HealthServer {
public:
    explicit HealthServer(std::chrono::milliseconds stale_after = std::chrono::seconds(20));
    ~HealthServer();
    [[nodiscard]] Expected<void, std::string> start(const std::string& address, std::uint16_t port);
    void stop();
    void beat() noexcept;  // any thread

private:
    std::chrono::milliseconds stale_after_;
    std::atomic<std::int64_t> last_beat_ms_{0};
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
};

}  // namespace kroute::daemon
