// fake-apiserver: a Kubernetes API server for Nodes, Services and EndpointSlices, for kroute's
// tests and demo.
//   fake-apiserver --listen ADDR --port N --token TOKEN --cert-dir DIR [--nodes FILE]
//                  [--services FILE] [--endpointslices FILE] [--service-cluster-ip-range CIDR[,CIDR]]
//                  [--compaction-window N] [--bookmark-interval S] [--watch-timeout S] [--quiet]
// Writes DIR/ca.crt, DIR/kubeconfig and DIR/port, then prints "ready port=N url=https://ADDR:N".
// SIGTERM/SIGINT stop it (watches end cleanly) within a few seconds.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <pthread.h>

#include <CLI/CLI.hpp>

#include "tests/fake-apiserver/server.hpp"

int main(int argc, char** argv) {
    using kroute::fake_apiserver::FakeApiServer;
    kroute::fake_apiserver::ServerOptions opts;
    long bookmark_s = 10;
    long watch_timeout_s = 1800;
    bool quiet = false;

    CLI::App app{"Fake Kubernetes API server (Nodes, Services, EndpointSlices) for kroute's tests"};
    app.add_option("--listen", opts.listen, "address to listen on")->capture_default_str();
    app.add_option("--port", opts.port, "port; 0 picks a free one")->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_option("--token", opts.token, "bearer token every request must carry")->required();
    app.add_option("--cert-dir", opts.cert_dir, "where ca.crt, kubeconfig and port are written")->required();
    app.add_option("--nodes", opts.nodes_file, "initial Nodes: NodeList, List or array JSON");
    app.add_option("--services", opts.services_file, "initial Services: ServiceList, List or array JSON");
    app.add_option("--endpointslices", opts.endpointslices_file,
                   "initial EndpointSlices: EndpointSliceList, List or array JSON");
    app.add_option("--service-cluster-ip-range", opts.service_cluster_ip_range,
                   "CIDR, or two of different families (dual-stack, primary first), Services get their ClusterIPs from (lowest free from the 10th address)")
        ->capture_default_str();
    app.add_option("--compaction-window", opts.compaction_window,
                   "events kept for watch replay; older resourceVersions get 410 Expired")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
    app.add_option("--bookmark-interval", bookmark_s, "seconds between BOOKMARK events (allowWatchBookmarks)")
        ->capture_default_str()
        ->check(CLI::Range(1L, 3600L));
    app.add_option("--watch-timeout", watch_timeout_s, "seconds a watch lasts when the client sends no timeoutSeconds")
        ->capture_default_str()
        ->check(CLI::Range(1L, 86'400L));
    app.add_option("--threads", opts.threads, "HTTP worker threads (each open watch holds one)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{8}, std::size_t{1024}));
    app.add_flag("--quiet", quiet, "no request log on stderr");
    CLI11_PARSE(app, argc, argv);
    opts.bookmark_interval = std::chrono::seconds{bookmark_s};
    opts.default_watch_timeout = std::chrono::seconds{watch_timeout_s};
    opts.log_requests = !quiet;

    // Signals are taken by one thread with sigwait; block them before any other thread exists.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client that went away is a failed write, not a death

    auto server = FakeApiServer::create(std::move(opts));
    if (!server) {
        std::fprintf(stderr, "fake-apiserver: %s\n", server.error().c_str());
        return 1;
    }
    FakeApiServer& s = **server;

    std::thread([&s, signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        std::fprintf(stderr, "fake-apiserver: signal %d, stopping\n", sig);
        s.stop();
        // Idle keep-alive connections release their workers within the keep-alive timeout (2 s);
        // anything slower than this is stuck, and a test waiting on us must not hang.
        std::this_thread::sleep_for(std::chrono::seconds{5});
        std::fprintf(stderr, "fake-apiserver: shutdown took too long, exiting\n");
        std::_Exit(0);
    }).detach();

    std::printf("ready port=%d url=%s\n", s.port(), s.url().c_str());
    std::fflush(stdout);
    const bool ok = s.run();
    std::fprintf(stderr, "fake-apiserver: stopped\n");
    std::fflush(stderr);
    // The signal thread may still be in sigwait (run() failed): leave without joining it.
    std::_Exit(ok ? 0 : 1);
}
