// kroute: wires the node source, the controller (BGP speaker, CNI writer) and the kernel FIB on
// one io_context thread, plus the debug API, /healthz and the metrics. See docs/architecture.md.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "common/asio.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "daemon/api.hpp"
#include "daemon/controller.hpp"
#include "daemon/health_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/options.hpp"
#include "daemon/platform/bridge.hpp"
#include "daemon/platform/fib.hpp"
#include "daemon/platform/host_rules.hpp"
#include "daemon/platform/kube_router_cleanup.hpp"
#include "daemon/platform/netlink_route_table.hpp"
#include "daemon/platform/vxlan.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_status.hpp"
#include "k8s-client/object_source.hpp"

namespace kroute::daemon {
namespace {

// /healthz fails when the FIB writer thread has not gone round its loop (it does at least every
// second, idle or not) for this long: stuck in a netlink call. Generous: a batch of a million
// routes takes seconds.
constexpr auto kWriterStaleAfter = std::chrono::seconds(60);
// A scrape waits this long for the io_context thread's snapshot, then answers 503.
constexpr auto kScrapeTimeout = std::chrono::seconds(5);

class FibSink final : public RouteSink {
public:
    explicit FibSink(Fib& fib) : fib_{fib}, found_{fib.counters().kernel_routes != 0} {}  // after Fib::start()
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

class RulesSink final : public HostPlumbing {
public:
    explicit RulesSink(HostRulesWriter* writer) : writer_{writer} {}  // null: no packet filter here
    void set_rules(const HostRulesSpec& spec) override {
        if (writer_ != nullptr) writer_->set(spec);
    }
    Expected<void, std::string> ensure_bridge(int mtu) override { return bridge_ensure(kPodBridge, mtu); }

private:
    HostRulesWriter* writer_;
};

// The overlay's devices for real: created on the io_context thread (rare, before any route through
// them), their per-node entries written by a VxlanWriter thread per device.
class OverlaySink final : public OverlayPlumbing {
public:
    explicit OverlaySink(std::chrono::milliseconds retry) : retry_{retry} {}
    std::optional<LinkOf> underlay(const IpAddress& node_address) override { return link_of(node_address); }
    Expected<void, std::string> ensure(const VxlanConfig& cfg) override { return vxlan_ensure(cfg); }
    void set_peers(const std::string& device, std::vector<VxlanPeer> peers) override {
        auto& w = writers_[device];
        if (!w) w = std::make_unique<VxlanWriter>(device, retry_);
        w->set(std::move(peers));
    }
    void stop() {
        for (auto& [device, w] : writers_) w->stop();
    }

private:
    std::chrono::milliseconds retry_;
    std::map<std::string, std::unique_ptr<VxlanWriter>> writers_;
};

// The overlay's devices that the configuration does not want (the overlay turned off, or IPv6
// off): their routes would blackhole nothing, but they are kroute's and stale.
void remove_unwanted_overlay(const Options& options) {
    for (Family f : {Family::kIpv4, Family::kIpv6}) {
        const bool wanted = options.enable_overlay && (f == Family::kIpv4 ? options.enable_ipv4 : options.enable_ipv6);
        if (wanted) continue;
        if (auto r = vxlan_remove(vxlan_device(f)); !r)
            log::get("fib")->error("cannot remove the unused {}: {}", vxlan_device(f), r.error());
    }
}

// --cleanup-config: what kroute made on this node goes, and nothing else: its routes (by their
// protocol), its VXLAN devices, the pod bridge, its packet filter chains and their jumps, its CNI
// conflist.
int cleanup(const Options& options) {
    auto log = log::get("main");
    int rc = 0;
    if (auto table = NetlinkRouteTable::open(static_cast<std::uint8_t>(options.route_protocol), 254); !table) {
        log->error("cleanup: cannot open the routing table: {}", table.error().message());
        rc = 1;
    } else if (auto routes = table->dump(); !routes) {
        log->error("cleanup: cannot read the routing table: {}", routes.error().message());
        rc = 1;
    } else {
        std::vector<RouteOp> ops;
        for (const auto& r : *routes)
            if (r.protocol == options.route_protocol) ops.push_back({RouteOpKind::kRemove, r.route});
        std::size_t failed = 0;
        for (const auto& e : table->apply(ops))
            if (e) ++failed;
        log->info("cleanup: removed {} routes of protocol {}{}", ops.size() - failed, options.route_protocol,
                  failed != 0 ? fmt::format(" ({} could not be removed)", failed) : std::string{});
        if (failed != 0) rc = 1;
    }
    for (const char* device : {kVxlanDevice, kVxlanDevice6})
        if (auto r = vxlan_remove(device); !r) {
            log->error("cleanup: {}: {}", device, r.error());
            rc = 1;
        }
    if (auto r = bridge_remove(kPodBridge); !r) {
        log->error("cleanup: {}: {}", kPodBridge, r.error());
        rc = 1;
    }
    if (auto r = HostRules::cleanup(); !r) {
        log->error("cleanup: packet filter rules: {}", r.error());
        rc = 1;
    } else {
        log->info("cleanup: removed kroute's packet filter chains");
    }
    std::error_code ec;
    if (std::filesystem::remove(options.cni_conf_file, ec))
        log->info("cleanup: removed {}", options.cni_conf_file);
    else if (ec) {
        log->error("cleanup: cannot remove {}: {}", options.cni_conf_file, ec.message());
        rc = 1;
    }
    return rc;
}

// --cleanup-kube-router: the migration's one step on each node, before kroute takes over.
int cleanup_kube_router(const Options& options) {
    auto log = log::get("main");
    const auto left = remove_kube_router_leftovers();
    log->info("kube-router cleanup: removed {} routes of protocol {}, {} rules into table {}, {} tunnels, {} packet "
              "filter chains", left.routes, kKubeRouterProtocol, left.rules, kKubeRouterTable, left.tunnels, left.chains);
    int rc = left.errors.empty() ? 0 : 1;
    for (const auto& e : left.errors) log->error("kube-router cleanup: {}", e);
    // Its conflist (kroute writes its own there when it starts) and the older single-plugin file.
    const auto dir = std::filesystem::path(options.cni_conf_file).parent_path();
    for (const auto& f : {std::filesystem::path(options.cni_conf_file), dir / "10-kuberouter.conf"}) {
        std::error_code ec;
        if (std::filesystem::remove(f, ec))
            log->info("kube-router cleanup: removed {}", f.string());
        else if (ec) {
            log->error("kube-router cleanup: cannot remove {}: {}", f.string(), ec.message());
            rc = 1;
        }
    }
    return rc;
}

int run(const Options& options) {
    log::set_verbosity(options.verbosity);
    auto log = log::get("main");
    if (options.cleanup_config) return cleanup(options);
    if (options.cleanup_kube_router) return cleanup_kube_router(options);
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
    std::unique_ptr<k8s::Source<k8s::Service>> service_source;
    std::unique_ptr<k8s::Source<k8s::EndpointSlice>> slice_source;
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
        // Services and their EndpointSlices, for service advertisement (flags or annotations).
        service_source = k8s::make_service_watcher(*cfg);
        slice_source = k8s::make_endpoint_slice_watcher(*cfg);
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
        if (auto fw = enable_forwarding(options.enable_ipv4, options.enable_ipv6); !fw) {
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

    std::unique_ptr<HostRulesWriter> rules_writer;
    std::unique_ptr<RulesSink> rules_sink;
    if (!options.no_fib) {
        if (auto rules = HostRules::detect(); !rules) {
            log->error("no packet filter rules: {}; pods may not be forwarded where FORWARD drops, and get no egress "
                       "masquerade", rules.error());
        } else {
            rules_writer = std::make_unique<HostRulesWriter>(*rules, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                         options.routes_sync_period));
        }
        rules_sink = std::make_unique<RulesSink>(rules_writer.get());
        if (auto bnf = enable_bridge_netfilter(options.enable_ipv6); !bnf)
            log->error("{}; bridged pod traffic may bypass iptables (kube-proxy, network policies)", bnf.error());
    }

    std::unique_ptr<OverlaySink> overlay;
    if (!options.no_fib) {
        remove_unwanted_overlay(options);
        if (options.enable_overlay)
            overlay = std::make_unique<OverlaySink>(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(5)));
    }

    Controller controller(ioc, options, name, *sink);
    if (rules_sink) controller.set_host_plumbing(rules_sink.get());
    if (overlay) controller.set_overlay(overlay.get());
    if (status_writer)
        controller.on_network_ready([&status_writer](const std::string& node) { status_writer->set_network_available(node); });

    ApiContext api_ctx{controller, [&fib](bool lists) -> std::optional<FibSnapshot> {
                           if (!fib) return std::nullopt;
                           return lists ? fib->snapshot() : fib->counters();
                       }};
    api_ctx.peer_action = [&controller](const IpAddress& a, bgp::PeerAction what, const std::string& message)
        -> Expected<std::string, std::string> {
        if (controller.speaker() == nullptr) return unexpected(std::string{"no BGP speaker is running yet"});
        return controller.speaker()->peer_action(a, what, message);
    };
    ApiServer api(ioc, options.api_socket, api_ctx);
    if (auto started = api.start(); !started) {
        log->error("{}", started.error());
        return 1;
    }

    HealthServer health;
    if (fib)
        health.add_check(heartbeat_check("FIB writer thread", [&fib] { return fib->writer_heartbeat(); },
                                         std::chrono::duration_cast<std::chrono::milliseconds>(kWriterStaleAfter)));
    if (options.health_port != 0) {
        if (auto started = health.start(options.health_addr, options.health_port); !started) {
            log->error("{}", started.error());
            return 1;
        }
    }
    MetricsServer metrics;
    if (options.metrics_port != 0) {
        auto collect = [&ioc, &controller, &fib]() -> std::optional<std::string> {
            auto snap = run_on(
                ioc,
                [&controller, &fib] {
                    MetricsSnapshot s;
                    s.version = kroute_version();
                    s.commit = kroute_commit();
                    const auto st = controller.status();
                    s.bgp_started = st.speaker_started;
                    s.nodes_known = st.nodes_known;
                    if (const auto* speaker = controller.speaker()) {
                        s.peers = speaker->neighbors();
                        s.rib_prefixes = speaker->rib_prefix_count();
                    }
                    s.routes_desired = controller.desired_route_count();
                    if (fib) s.fib = fib->counters();
                    return s;
                },
                std::chrono::duration_cast<std::chrono::milliseconds>(kScrapeTimeout));
            if (!snap) return std::nullopt;
            snap->reflectors = k8s::reflector_counters();
            snap->process = read_process_stats();
            return render_metrics(*snap);
        };
        if (auto started = metrics.start(options.metrics_addr, options.metrics_port, options.metrics_path, collect);
            !started) {
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
    if (service_source)
        service_source->start([&ioc, &controller](k8s::ObjectEvent<k8s::Service> ev) {
            asio::post(ioc, [&controller, ev = std::move(ev)] { controller.handle(ev); });
        });
    if (slice_source)
        slice_source->start([&ioc, &controller](k8s::ObjectEvent<k8s::EndpointSlice> ev) {
            asio::post(ioc, [&controller, ev = std::move(ev)] { controller.handle(ev); });
        });

    // SIGTERM (or SIGINT): with --bgp-graceful-shutdown, first RFC 8326's announcement and a wait
    // for peers to move their traffic away (a second signal cuts the wait short), then the stop.
    bool stopping = false;
    bool draining = false;
    asio::steady_timer drain_timer(ioc);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    auto stop_now = [&] {
        if (stopping) return;
        stopping = true;
        log->info("stopping (BGP sessions closed{}; kernel routes left in place)",
                  options.bgp_graceful_restart ? " without NOTIFICATION where graceful restart was negotiated, Cease elsewhere"
                                               : " with Cease");
        drain_timer.cancel();
        heartbeat.cancel();
        api.stop();
        controller.shutdown([&ioc] { ioc.stop(); });
    };
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int signo) {
        if (ec || stopping) return;
        if (draining) {
            log->info("signal {}: not waiting for the graceful shutdown any longer", signo);
            stop_now();
            return;
        }
        if (options.bgp_graceful_shutdown && controller.begin_graceful_shutdown()) {
            draining = true;
            log->info("signal {}: BGP graceful shutdown (RFC 8326): routes announced again with GRACEFUL_SHUTDOWN "
                      "(65535:0); stopping in {}", signo, format_duration(options.bgp_graceful_shutdown_time));
            drain_timer.expires_after(options.bgp_graceful_shutdown_time);
            drain_timer.async_wait([&](boost::system::error_code tec) {
                if (!tec) stop_now();
            });
            signals.async_wait(on_signal);
            return;
        }
        log->info("signal {}", signo);
        stop_now();
    };
    signals.async_wait(on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    ioc.run();
    source->stop();
    if (service_source) service_source->stop();
    if (slice_source) slice_source->stop();
    if (status_writer) status_writer->stop();
    if (rules_writer) rules_writer->stop();
    if (overlay) overlay->stop();
    metrics.stop();
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
