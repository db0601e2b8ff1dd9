#include "daemon/health_server.hpp"

#include <httplib.h>

#include "common/log.hpp"

namespace kroute::daemon {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

HealthCheck heartbeat_check(std::string what, std::function<std::chrono::steady_clock::time_point()> last,
                            std::chrono::milliseconds stale_after) {
    return [what = std::move(what), last = std::move(last), stale_after]() -> std::optional<std::string> {
        const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - last());
        if (age <= stale_after) return std::nullopt;
        return what + " stalled for " + std::to_string(age.count()) + " ms";
    };
}

void HealthServer::add_check(HealthCheck check) { checks_.push_back(std::move(check)); }

HealthServer::HealthServer(std::chrono::milliseconds stale_after) : stale_after_{stale_after} { beat(); }

HealthServer::~HealthServer() { stop(); }

void HealthServer::beat() noexcept { last_beat_ms_.store(now_ms(), std::memory_order_relaxed); }

Expected<void, std::string> HealthServer::start(const std::string& address, std::uint16_t port) {
    server_ = std::make_unique<httplib::Server>();
    server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
        std::string failed;
        auto age = now_ms() - last_beat_ms_.load(std::memory_order_relaxed);
        if (age > stale_after_.count()) failed += "core loop stalled for " + std::to_string(age) + " ms\n";
        for (const auto& check : checks_)
            if (auto why = check()) failed += *why + "\n";
        if (failed.empty()) {
            res.set_content("OK\n", "text/plain");
        } else {
            res.status = 500;
            res.set_content(failed, "text/plain");
        }
    });
    const std::string host = address.empty() ? "::" : address;
    // Port 0 (tests): an ephemeral port, see port().
    port_ = port == 0 ? server_->bind_to_any_port(host.c_str()) : (server_->bind_to_port(host.c_str(), port) ? port : -1);
    if (port_ <= 0)
        return unexpected("cannot listen on [" + host + "]:" + std::to_string(port) + " for /healthz");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    log::get("main")->info("health endpoint on [{}]:{}/healthz", host, port_);
    return {};
}

void HealthServer::stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
}

}  // namespace kroute::daemon
