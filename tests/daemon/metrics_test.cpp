// The metrics: the exposition text for a given snapshot (exact), label escaping, and the server's
// answers (200 with the text, 503 when the core loop does not hand over its snapshot in time).
#include "daemon/metrics.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>

using namespace kroute;
using namespace kroute::daemon;
using namespace std::chrono_literals;

namespace {

bgp::NeighborSnapshot peer(const char* address, const char* state, const char* description) {
    bgp::NeighborSnapshot n;
    n.address = *IpAddress::parse(address);
    n.asn = 64512;
    n.description = description;
    n.state = state;
    return n;
}

}  // namespace

TEST_CASE("label values escape backslash, double quote and newline, nothing else", "[daemon][metrics]") {
    CHECK(escape_label_value("node-1") == "node-1");
    CHECK(escape_label_value(R"(a\b)") == R"(a\\b)");
    CHECK(escape_label_value(R"(say "hi")") == R"(say \"hi\")");
    CHECK(escape_label_value("two\nlines") == R"(two\nlines)");
    CHECK(escape_label_value("tab\tand ünïcode") == "tab\tand ünïcode");
}

TEST_CASE("BGP states are numbered as in RFC 4271", "[daemon][metrics]") {
    CHECK(bgp_state_number("Idle") == 1);
    CHECK(bgp_state_number("Connect") == 2);
    CHECK(bgp_state_number("Active") == 3);
    CHECK(bgp_state_number("OpenSent") == 4);
    CHECK(bgp_state_number("OpenConfirm") == 5);
    CHECK(bgp_state_number("Established") == 6);
    CHECK(bgp_state_number("established") == 0);
}

TEST_CASE("the exposition text of a snapshot, exactly", "[daemon][metrics]") {
    MetricsSnapshot s;
    s.version = "0.1.0";
    s.rib_prefixes = 3;
    s.nodes_known = 2;
    auto b = peer("172.18.0.12", "Established", "node2");
    b.uptime = 42s;
    b.flaps = 1;
    b.updates_received = 5;
    b.updates_sent = 4;
    b.messages_received = 20;
    b.messages_sent = 18;
    b.prefixes_received = 2;
    b.prefixes_rejected = 1;
    b.prefixes_sent = 1;
    auto a = peer("172.18.0.11", "Active", "rtr \"a\"\\b\nc");
    s.peers = {b, a};  // rendered sorted by address
    FibSnapshot f;
    f.kernel_routes = 2;
    f.writes = 7;
    f.errors = 1;
    f.repairs = 2;
    f.reconciles = 4;
    f.reconcile_seconds = 0.5;
    f.last_reconcile_seconds = 0.125;
    s.fib = f;
    s.routes_desired = 2;
    s.reflectors = {{"services", 1, 0, 0, 0, 0, 0}, {"nodes", 3, 2, 40, 5, 2, 1}};
    ProcessStats p;
    p.cpu_seconds = 1.5;
    p.resident_bytes = 4096;
    p.virtual_bytes = 8192;
    p.start_time_seconds = 1700000000.25;
    p.open_fds = 12;
    p.max_fds = 1024;
    s.process = p;

    const std::string want = R"(# HELP kroute_build_info Always 1; the version of kroute in its label.
# TYPE kroute_build_info gauge
kroute_build_info{version="0.1.0"} 1
# HELP kroute_bgp_rib_prefixes Prefixes in the BGP Loc-RIB.
# TYPE kroute_bgp_rib_prefixes gauge
kroute_bgp_rib_prefixes 3
# HELP kroute_nodes Kubernetes Nodes known to kroute.
# TYPE kroute_nodes gauge
kroute_nodes 2
# HELP kroute_bgp_peer_state BGP session state, RFC 4271 numbering: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established.
# TYPE kroute_bgp_peer_state gauge
kroute_bgp_peer_state{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 3
kroute_bgp_peer_state{peer="172.18.0.12",asn="64512",description="node2"} 6
# HELP kroute_bgp_peer_up 1 while the BGP session is Established, else 0.
# TYPE kroute_bgp_peer_up gauge
kroute_bgp_peer_up{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_up{peer="172.18.0.12",asn="64512",description="node2"} 1
# HELP kroute_bgp_peer_uptime_seconds Time the BGP session has been Established, 0 when it is not.
# TYPE kroute_bgp_peer_uptime_seconds gauge
kroute_bgp_peer_uptime_seconds{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_uptime_seconds{peer="172.18.0.12",asn="64512",description="node2"} 42
# HELP kroute_bgp_peer_flaps_total Times the BGP session left Established, for whatever reason.
# TYPE kroute_bgp_peer_flaps_total counter
kroute_bgp_peer_flaps_total{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_flaps_total{peer="172.18.0.12",asn="64512",description="node2"} 1
# HELP kroute_bgp_peer_updates_received_total UPDATE messages received from the peer (End-of-RIB included).
# TYPE kroute_bgp_peer_updates_received_total counter
kroute_bgp_peer_updates_received_total{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_updates_received_total{peer="172.18.0.12",asn="64512",description="node2"} 5
# HELP kroute_bgp_peer_updates_sent_total UPDATE messages sent to the peer (End-of-RIB included).
# TYPE kroute_bgp_peer_updates_sent_total counter
kroute_bgp_peer_updates_sent_total{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_updates_sent_total{peer="172.18.0.12",asn="64512",description="node2"} 4
# HELP kroute_bgp_peer_messages_received_total BGP messages of every type received from the peer.
# TYPE kroute_bgp_peer_messages_received_total counter
kroute_bgp_peer_messages_received_total{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_messages_received_total{peer="172.18.0.12",asn="64512",description="node2"} 20
# HELP kroute_bgp_peer_messages_sent_total BGP messages of every type sent to the peer.
# TYPE kroute_bgp_peer_messages_sent_total counter
kroute_bgp_peer_messages_sent_total{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_messages_sent_total{peer="172.18.0.12",asn="64512",description="node2"} 18
# HELP kroute_bgp_peer_prefixes_received Paths the peer announces now, accepted or rejected.
# TYPE kroute_bgp_peer_prefixes_received gauge
kroute_bgp_peer_prefixes_received{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_prefixes_received{peer="172.18.0.12",asn="64512",description="node2"} 3
# HELP kroute_bgp_peer_prefixes_accepted Paths from the peer in the RIB (accepted by import policy and prefix ownership).
# TYPE kroute_bgp_peer_prefixes_accepted gauge
kroute_bgp_peer_prefixes_accepted{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_prefixes_accepted{peer="172.18.0.12",asn="64512",description="node2"} 2
# HELP kroute_bgp_peer_prefixes_rejected Paths the peer announces that import policy or prefix ownership refused.
# TYPE kroute_bgp_peer_prefixes_rejected gauge
kroute_bgp_peer_prefixes_rejected{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_prefixes_rejected{peer="172.18.0.12",asn="64512",description="node2"} 1
# HELP kroute_bgp_peer_prefixes_sent Prefixes announced to the peer (its Adj-RIB-Out).
# TYPE kroute_bgp_peer_prefixes_sent gauge
kroute_bgp_peer_prefixes_sent{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_prefixes_sent{peer="172.18.0.12",asn="64512",description="node2"} 1
# HELP kroute_bgp_peer_prefixes_stale Paths kept as stale from the peer's previous session (graceful restart).
# TYPE kroute_bgp_peer_prefixes_stale gauge
kroute_bgp_peer_prefixes_stale{peer="172.18.0.11",asn="64512",description="rtr \"a\"\\b\nc"} 0
kroute_bgp_peer_prefixes_stale{peer="172.18.0.12",asn="64512",description="node2"} 0
# HELP kroute_fib_routes_desired Kernel routes the BGP best paths call for.
# TYPE kroute_fib_routes_desired gauge
kroute_fib_routes_desired 2
# HELP kroute_fib_routes_installed kroute's routes in the kernel (of its route protocol), as last read.
# TYPE kroute_fib_routes_installed gauge
kroute_fib_routes_installed 2
# HELP kroute_fib_writes_total Kernel routes written or deleted.
# TYPE kroute_fib_writes_total counter
kroute_fib_writes_total 7
# HELP kroute_fib_write_errors_total Kernel route writes or deletions that failed (each is retried with backoff).
# TYPE kroute_fib_write_errors_total counter
kroute_fib_write_errors_total 1
# HELP kroute_fib_repairs_total Desired routes written again because the kernel lost them or holds something else.
# TYPE kroute_fib_repairs_total counter
kroute_fib_repairs_total 2
# HELP kroute_fib_reconcile_duration_seconds Full reconciliations of the kernel table (a dump and a repair of every difference): count and total duration.
# TYPE kroute_fib_reconcile_duration_seconds summary
kroute_fib_reconcile_duration_seconds_sum 0.5
kroute_fib_reconcile_duration_seconds_count 4
# HELP kroute_fib_last_reconcile_duration_seconds Duration of the last full reconciliation.
# TYPE kroute_fib_last_reconcile_duration_seconds gauge
kroute_fib_last_reconcile_duration_seconds 0.125
# HELP kroute_k8s_lists_total Complete LISTs of a Kubernetes resource.
# TYPE kroute_k8s_lists_total counter
kroute_k8s_lists_total{resource="nodes"} 3
kroute_k8s_lists_total{resource="services"} 1
# HELP kroute_k8s_relists_total LISTs after the first: the watch could not resume (410 Gone, an ERROR event).
# TYPE kroute_k8s_relists_total counter
kroute_k8s_relists_total{resource="nodes"} 2
kroute_k8s_relists_total{resource="services"} 0
# HELP kroute_k8s_watch_events_total Watch events received (bookmarks included).
# TYPE kroute_k8s_watch_events_total counter
kroute_k8s_watch_events_total{resource="nodes"} 40
kroute_k8s_watch_events_total{resource="services"} 0
# HELP kroute_k8s_watch_restarts_total Watches that ended and were started again, by how they ended: closed (end of stream, timeoutSeconds), expired (410 or an ERROR event: relist), failed (HTTP or transport error, broken stream).
# TYPE kroute_k8s_watch_restarts_total counter
kroute_k8s_watch_restarts_total{resource="nodes",reason="closed"} 5
kroute_k8s_watch_restarts_total{resource="nodes",reason="expired"} 2
kroute_k8s_watch_restarts_total{resource="nodes",reason="failed"} 1
kroute_k8s_watch_restarts_total{resource="services",reason="closed"} 0
kroute_k8s_watch_restarts_total{resource="services",reason="expired"} 0
kroute_k8s_watch_restarts_total{resource="services",reason="failed"} 0
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4096
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 8192
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000.25
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 12
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 1024
)";
    CHECK(render_metrics(s) == want);
}

TEST_CASE("without a Fib, peers, reflectors or /proc, their families are left out", "[daemon][metrics]") {
    MetricsSnapshot s;
    s.version = "0.1.0";
    s.routes_desired = 1;
    const auto text = render_metrics(s);
    CHECK(text.find("kroute_build_info{version=\"0.1.0\"} 1\n") != std::string::npos);
    MetricsSnapshot with_commit;
    with_commit.version = "0.1.0";
    with_commit.commit = "0123456789ab";
    CHECK(render_metrics(with_commit).find("kroute_build_info{version=\"0.1.0\",commit=\"0123456789ab\"} 1\n") != std::string::npos);
    CHECK(text.find("kroute_fib_routes_desired 1\n") != std::string::npos);
    CHECK(text.find("kroute_fib_routes_installed") == std::string::npos);
    CHECK(text.find("kroute_bgp_peer") == std::string::npos);
    CHECK(text.find("kroute_k8s") == std::string::npos);
    CHECK(text.find("process_") == std::string::npos);
}

TEST_CASE("this process's /proc numbers are plausible", "[daemon][metrics]") {
    auto p = read_process_stats();
    REQUIRE(p);
    CHECK(p->resident_bytes > 1e6);
    CHECK(p->virtual_bytes >= p->resident_bytes);
    CHECK(p->open_fds >= 3);
    CHECK(p->max_fds >= p->open_fds);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(p->start_time_seconds <= now + 1);
    CHECK(p->start_time_seconds > now - 3600);
    CHECK(p->cpu_seconds >= 0);
}

TEST_CASE("run_on: the io_context thread's answer, or nothing when it is stalled", "[daemon][metrics]") {
    asio::io_context ioc;
    auto guard = asio::make_work_guard(ioc);
    std::thread loop([&] { ioc.run(); });
    const auto self = std::this_thread::get_id();
    auto on = run_on(ioc, [] { return std::this_thread::get_id(); }, 2000ms);
    REQUIRE(on);
    CHECK(*on != self);
    CHECK(*on == loop.get_id());

    std::atomic<bool> release{false};
    asio::post(ioc, [&] {
        for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);  // a stalled loop
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(run_on(ioc, [] { return 1; }, 200ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    release = true;
    CHECK(run_on(ioc, [] { return 2; }, 2000ms) == 2);
    guard.reset();
    ioc.stop();
    loop.join();
    CHECK_FALSE(run_on(ioc, [] { return 3; }, 100ms));  // stopped
}

TEST_CASE("the metrics server answers its path with the text, 503 when there is none", "[daemon][metrics]") {
    std::atomic<bool> available{true};
    MetricsServer server;
    REQUIRE(server.start("127.0.0.1", 0, "/metrics", [&]() -> std::optional<std::string> {
        if (!available) return std::nullopt;
        return std::string("kroute_up 1\n");
    }));
    REQUIRE(server.port() > 0);
    httplib::Client c("127.0.0.1", server.port());
    auto r = c.Get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "kroute_up 1\n");
    CHECK(r->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(c.Get("/other")->status == 404);
    available = false;
    auto down = c.Get("/metrics");
    REQUIRE(down);
    CHECK(down->status == 503);
    server.stop();
}
