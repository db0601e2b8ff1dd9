// kroute: wires the node source, the controller (BGP speaker, CNI writer) and the kernel FIB on
// one io_context thread, plus the debug API and /healthz. See docs/architecture.md.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/asio.hpp"
#include "common/log.hpp"
#include "daemon/api.hpp"
#include "daemon/controller.hpp"
#include "daemon/health_server.hpp"
#include "daemon/options.hpp"
#include "daemon/platform/fib.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_status.hpp"
#include "k8s-client/object_source.hpp"

namespace kroute::daemon {
namespace {

class FibSink final : public RouteSink {
public:
    explicit FibSink(Fib& fib) : fib_{fib}, found_{!fib.snapshot().kernel.empty()} {}  // after Fib::start()
    void set_route(const FibRoute& route) override { fib_.set_route(route); }
    void remove_route(const Prefix& prefix) override { fib_.remove_route(prefix); }
    void enable_stale_sweep() override { fib_.enable_stale_sweep(); }
    [[nodiscard]] bool found_routes_at_start() const override { return found_; }

private:
    Fib& fib_;
    bool found_;
};

// --no-fib: the controller's desired routes are kept (kroutectl routes shows them), the kernel
// is left alone.
class NoFibSink final : public RouteSink {
public:
    void set_route(const FibRoute&) override {}
    void remove_route(const Prefix&) override {}
    void enable_stale_sweep() override {}
};

int run(const Options& options) {
    log::set_verbosity(options.verbosity);
    auto log = log::get("main");
    const std::string name = node_name(options);
    if (name.empty()) {
        log->error("cannot tell this node's name: set --hostname-override or NODE_NAME");
        return 1;
    }
    log->info("kroute starting on node {}", name);
    // One socket per BGP peer: a node of a 1000-node mesh needs more than the usual soft limit of
    // 1024 descriptors. Raise it to the hard limit, as Go programs (kube-router, GoBGP) do at start.
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        const auto was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            log->debug("open files limit raised from {} to {}", was, rl.rlim_cur);
    }

    std::unique_ptr<k8s::NodeSource> source;
    std::unique_ptr<k8s::NodeStatusWriter> status_writer;
    if (!options.nodes_file.empty()) {
        source = k8s::make_nodes_file_watcher(options.nodes_file);
        log->info("reading nodes from {}", options.nodes_file);
    } else {
        auto cfg = k8s::resolve_config(options.kubeconfig, options.master);
        if (!cfg) {
            log->error("cannot configure the Kubernetes client: {}", cfg.error());
            return 1;
        }
        log->info("watching nodes on {}", cfg->server);
        source = k8s::make_node_watcher(*cfg);
        if (options.set_node_network_unavailable)
            status_writer = std::make_unique<k8s::NodeStatusWriter>(*cfg, k8s::WatchOptions{});
    }

    asio::io_context ioc;

    std::unique_ptr<Fib> fib;
    std::unique_ptr<RouteSink> sink;
    if (options.no_fib) {
        log->info("--no-fib: no kernel state will be changed");
        sink = std::make_unique<NoFibSink>();
    } else {
        if (auto fw = enable_forwarding(true, options.enable_ipv6); !fw) {
            log->error("cannot enable IP forwarding: {}", fw.error());
            return 1;
        }
        FibConfig fcfg;
        fcfg.protocol = static_cast<std::uint8_t>(options.route_protocol);
        fcfg.sync_period = options.routes_sync_period;
        fib = std::make_unique<Fib>(ioc, fcfg);
        if (auto started = fib->start(); !started) {
            log->error("cannot open the kernel routing table: {}", started.error());
            return 1;
        }
        sink = std::make_unique<FibSink>(*fib);
    }

    Controller controller(ioc, options, name, *sink);
    if (status_writer)
        controller.on_network_ready([&status_writer](const std::string& node) { status_writer->set_network_available(node); });

    ApiContext api_ctx{controller, [&fib]() -> std::optional<FibSnapshot> {
                           if (!fib) return std::nullopt;
                           return fib->snapshot();
                       }};
    ApiServer api(ioc, options.api_socket, api_ctx);
    if (auto started = api.start(); !started) {
        log->error("{}", started.error());
        return 1;
    }

    HealthServer health;
    if (options.health_port != 0) {
        if (auto started = health.start(options.health_addr, options.health_port); !started) {
            log->error("{}", started.error());
            return 1;
        }
    }
    asio::steady_timer heartbeat(ioc);
    std::function<void()> beat = [&] {
        health.beat();
        heartbeat.expires_after(std::chrono::seconds(2));
        heartbeat.async_wait([&](boost::system::error_code ec) {
            if (!ec) beat();
        });
    };
    beat();

    source->start([&ioc, &controller](k8s::NodeEvent ev) {
        asio::post(ioc, [&controller, ev = std::move(ev)] { controller.handle(ev); });
    });

    bool stopping = false;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signo) {
        if (ec || stopping) return;
        stopping = true;
        log->info("signal {}: stopping (BGP sessions closed with Cease; kernel routes left in place)", signo);
        heartbeat.cancel();
        api.stop();
        controller.shutdown([&ioc] { ioc.stop(); });
    });
    std::signal(SIGPIPE, SIG_IGN);

    ioc.run();
    source->stop();
    if (status_writer) status_writer->stop();
    health.stop();
    if (fib) fib->stop();
    log->info("kroute stopped");
    return 0;
}

}  // namespace
}  // namespace kroute::daemon

int main(int argc, char** argv) {
    auto parsed = kroute::daemon::parse_options(argc, argv);
    if (!parsed) {
        std::cerr << "kroute: " << parsed.error() << "\n";
        return 2;
    }
    if (!parsed->options) {
        std::cout << parsed->message;
        return 0;
    }
    try {
        return kroute::daemon::run(*parsed->options);
    } catch (const std::exception& e) {
        std::cerr << "kroute: fatal: " << e.what() << "\n";
        return 1;
    }
}
