// Prometheus metrics: the text exposition format 0.0.4 rendered from a MetricsSnapshot, and the
// HTTP server that answers --metrics-path on --metrics-port (cpp-httplib, a thread of its own).
// Every metric is listed in docs/user-guide.md, "Metrics".
//
// Threads: the snapshot is taken on the io_context thread (the speaker, the controller and the
// Fib's io state live there): a scrape posts the collection to the io_context and waits for it at
// most a few seconds (run_on). A stalled core loop makes the scrape answer 503 rather than hang
// or serve stale numbers; /healthz says why. The reflector counters and /proc are read on the
// HTTP thread.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "bgp/speaker.hpp"
#include "common/asio.hpp"
#include "common/expected.hpp"
#include "daemon/platform/fib.hpp"
#include "k8s-client/reflector.hpp"

namespace httplib { class Server; }

namespace kroute::daemon {

// From /proc/self (Prometheus' standard process_* metrics).
struct ProcessStats {
    double cpu_seconds = 0;        // user + system
    double resident_bytes = 0;
    double virtual_bytes = 0;
    double start_time_seconds = 0;  // since the Unix epoch
    double open_fds = 0;
    double max_fds = 0;
};
[[nodiscard]] std::optional<ProcessStats> read_process_stats();

struct MetricsSnapshot {
    std::string version;
    std::string commit;  // empty: no label
    bool bgp_started = false;
    std::size_t rib_prefixes = 0;
    std::size_t nodes_known = 0;
    std::vector<bgp::NeighborSnapshot> peers;
    std::optional<FibSnapshot> fib;  // Fib::counters(); nullopt with --no-fib
    std::size_t routes_desired = 0;  // the controller's (also without a Fib)
    std::vector<k8s::ReflectorCounters> reflectors;
    std::optional<ProcessStats> process;
};

// The exposition text, metric families in a fixed order, series sorted by their labels.
[[nodiscard]] std::string render_metrics(const MetricsSnapshot& s);
// A label value as the text format wants it: \ " and newline escaped.
[[nodiscard]] std::string escape_label_value(std::string_view v);
// RFC 4271 §8.2.2 numbering: Idle 1, Connect 2, Active 3, OpenSent 4, OpenConfirm 5,
// Established 6; 0 for anything else.
[[nodiscard]] int bgp_state_number(std::string_view state);

// Runs `f` on the io_context's thread and waits for its result at most `timeout`; nullopt when
// the loop did not get to it in time (stalled, or stopped). `f` may still run later: it must only
// use what outlives the io_context's run.
template <class F>
std::optional<std::invoke_result_t<F>> run_on(asio::io_context& ioc, F f, std::chrono::milliseconds timeout) {
    using R = std::invoke_result_t<F>;
    if (ioc.stopped()) return std::nullopt;
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    asio::post(ioc, [promise, f = std::move(f)]() mutable { promise->set_value(f()); });
    // In slices, so that a scrape during shutdown does not hold the HTTP thread for the whole timeout.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
        if (ioc.stopped() || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    }
    return future.get();
}

class MetricsServer {
public:
    // Returns the exposition text, or nullopt when it cannot be had now (answered with 503).
    using Collect = std::function<std::optional<std::string>()>;
    MetricsServer();
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    [[nodiscard]] Expected<void, std::string> start(const std::string& address, std::uint16_t port,
                                                    const std::string& path, Collect collect);
    void stop();
    [[nodiscard]] int port() const noexcept { return port_; }  // once started

private:
    int port_ = 0;
    Collect collect_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
};

}  // namespace kroute::daemon
