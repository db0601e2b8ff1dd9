// The real node watcher (make_node_watcher) against the real fake-apiserver binary, run as a child
// process on 127.0.0.1 (port 0 at first, the same port after a restart): list then watch, writes
// through the server's HTTP API arriving as NodeEvents, and the server's injected faults (dropped
// watches, compaction, failing requests, a restart). The server's request log (its stderr, in a
// file) shows which requests the watcher made. Every wait polls a condition with a deadline.
#include <catch2/catch.hpp>

#include "fake_apiserver_process.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_status.hpp"

using namespace kroute::k8s;
using namespace std::chrono_literals;
using nlohmann::json;
namespace t = kroute::k8s::test;
using t::FakeApiServerProcess;
using t::kWait;
using t::node_json;
using Recorder = t::Recorder<Node>;

TEST_CASE("the node watcher against the fake-apiserver binary: watch, faults, restart", "[k8s][watcher][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);  // a write to the killed server is an error, not our death
    t::TempDir dir;
    dir.write("nodes.json", json{{"kind", "NodeList"},
                                 {"apiVersion", "v1"},
                                 {"items", json::array({json::parse(node_json("n1", "10.244.1.0/24", "172.18.0.11"))})}}
                                .dump());
    FakeApiServerProcess server{dir};
    const int port = server.start(0);
    REQUIRE(port > 0);

    auto cfg = load_kubeconfig(dir.file("certs/kubeconfig"));
    REQUIRE(cfg);
    CHECK(cfg->server == "https://127.0.0.1:" + std::to_string(port));
    WatchOptions opts;
    opts.backoff_initial = 20ms;
    opts.backoff_max = 200ms;
    Recorder rec;
    t::LogCapture logs;  // before the watcher's thread exists
    auto watcher = make_node_watcher(*cfg, opts);
    watcher->start(rec.sink());

    // List, then watch.
    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }, kWait));
    CHECK(rec.names() == std::vector<std::string>{"n1"});
    {
        const auto nodes = rec.nodes();
        const Node& n1 = nodes.at("n1");
        REQUIRE(n1.pod_cidr(kroute::Family::kIpv4));
        CHECK(n1.pod_cidr(kroute::Family::kIpv4)->to_string() == "10.244.1.0/24");
        REQUIRE(n1.address(kroute::Family::kIpv4));
        CHECK(n1.address(kroute::Family::kIpv4)->to_string() == "172.18.0.11");
    }
    REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
    CHECK(server.lists() == 1);

    SECTION("create, patch and delete arrive as events") {
        auto from = rec.size();
        auto r = server.request("POST", "/api/v1/nodes", node_json("n2", "10.244.2.0/24", "172.18.0.12"));
        REQUIRE(r);
        CHECK(r->status == 201);
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kAdded, "n2"); }, kWait));
        CHECK(rec.nodes().at("n2").pod_cidr(kroute::Family::kIpv4)->to_string() == "10.244.2.0/24");

        from = rec.size();
        r = server.request("PATCH", "/api/v1/nodes/n1", R"({"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}})",
                           "application/merge-patch+json");
        REQUIRE(r);
        CHECK(r->status == 200);
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kModified, "n1"); }, kWait));
        CHECK(rec.nodes().at("n1").pod_cidr(kroute::Family::kIpv4)->to_string() == "10.244.9.0/24");

        from = rec.size();
        r = server.request("DELETE", "/api/v1/nodes/n2");
        REQUIRE(r);
        CHECK(r->status == 200);
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kDeleted, "n2"); }, kWait));
        CHECK(rec.names() == std::vector<std::string>{"n1"});
        CHECK(server.lists() == 1);  // all of it through the one watch
        CHECK(rec.synced() == 1);
    }

    SECTION("faults: dropped watches, compaction, failing requests, a restart") {
        // Dropped watches: a clean end of stream. The watcher re-watches from its last
        // resourceVersion (n3's, from an event, not the list's); no relist.
        auto from = rec.size();
        REQUIRE(server.request("POST", "/api/v1/nodes", node_json("n3", "10.244.3.0/24", "172.18.0.13")));
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kAdded, "n3"); }, kWait));
        const std::string rv_before_drop = server.faults().value("resource_version", "");
        REQUIRE_FALSE(rv_before_drop.empty());
        const auto watches_ended = server.count("watch=true");
        REQUIRE(server.faults(R"({"drop_watches":true})").contains("drop_epoch"));
        REQUIRE(t::wait_until([&] { return server.count("watch=true") == watches_ended + 1; }, kWait));
        REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
        from = rec.size();
        REQUIRE(server.request("PATCH", "/api/v1/nodes/n3", R"({"metadata":{"labels":{"gen":"2"}}})",
                               "application/merge-patch+json"));
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kModified, "n3"); }, kWait));
        CHECK(rec.label("n3", "gen") == "2");
        CHECK(server.lists() == 1);
        CHECK(rec.synced() == 1);
        CHECK(logs.count("expired") == 0);

        // Compaction while the watcher is behind: its watch is stalled when n1 changes, the log is
        // compacted past that change and the watch dropped. The re-watch from the old
        // resourceVersion gets 410 Expired: the watcher relists and sees the change in the list.
        REQUIRE(server.faults(R"({"stall_watches_ms":60000})").value("stall_remaining_ms", 0) > 0);
        REQUIRE(server.request("PATCH", "/api/v1/nodes/n1", R"({"metadata":{"labels":{"gen":"2"}}})",
                               "application/merge-patch+json"));
        REQUIRE(server.faults(R"({"reset":true,"compact":true,"drop_watches":true})").contains("drop_epoch"));
        REQUIRE(t::wait_until([&] { return rec.synced() == 2; }, kWait));
        CHECK(rec.label("n1", "gen") == "2");
        CHECK(rec.names() == std::vector<std::string>{"n1", "n3"});
        CHECK(server.lists() >= 2);
        CHECK(logs.count("watch of nodes expired at resourceVersion") == 1);
        // The re-watch after the drop (logged when the compaction step ended it) started from n3's
        // resourceVersion; the first watch had started from the list's.
        CHECK(t::wait_until([&] { return server.count("resourceVersion=" + rv_before_drop + "&timeoutSeconds") == 1; }, kWait));
        REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
        from = rec.size();
        REQUIRE(server.request("PATCH", "/api/v1/nodes/n3", R"({"metadata":{"labels":{"gen":"3"}}})",
                               "application/merge-patch+json"));
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kModified, "n3"); }, kWait));
        CHECK(rec.label("n3", "gen") == "3");
        CHECK(rec.synced() == 2);

        // Three failing requests: the watcher backs off and gets through on the fourth.
        const auto failures = server.count("-> 500");
        REQUIRE(server.faults(R"({"fail_next":3,"status":500,"drop_watches":true})").value("fail_next", 0) == 3);
        REQUIRE(t::wait_until([&] { return server.count("-> 500") == failures + 3; }, kWait));
        REQUIRE(t::wait_until([&] { return server.faults().value("fail_next", -1) == 0 && server.open_watches() == 1; },
                              kWait));
        from = rec.size();
        REQUIRE(server.request("POST", "/api/v1/nodes", node_json("n4", "10.244.4.0/24", "172.18.0.14")));
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kAdded, "n4"); }, kWait));
        CHECK(rec.names() == std::vector<std::string>{"n1", "n3", "n4"});

        // A restart on the same port with the same cert dir: the CA is the same, so the watcher's
        // TLS config still holds. The new server starts from nodes.json at a low resourceVersion:
        // the watcher's re-watch is refused as too large, it relists and drops n3 and n4.
        const int synced = rec.synced();
        server.kill();
        REQUIRE(server.start(port) == port);
        REQUIRE(t::wait_until([&] { return rec.synced() == synced + 1; }, kWait));
        CHECK(rec.names() == std::vector<std::string>{"n1"});
        CHECK(rec.label("n1", "gen") == "1");
        CHECK(logs.count("Too large resource version") >= 1);
        REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
        from = rec.size();
        REQUIRE(server.request("POST", "/api/v1/nodes", node_json("n5", "10.244.5.0/24", "172.18.0.15")));
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kAdded, "n5"); }, kWait));
        CHECK(rec.names() == std::vector<std::string>{"n1", "n5"});
    }

    watcher->stop();
    server.kill();
}

TEST_CASE("NetworkUnavailable=False by a strategic-merge PATCH of nodes/status, retried, kubelet's conditions kept",
          "[k8s][node-status][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    t::TempDir dir;
    json n1 = json::parse(node_json("n1", "10.244.1.0/24", "172.18.0.11"));
    n1["status"]["conditions"] = json::array({
        {{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}},
        {{"type", "NetworkUnavailable"}, {"status", "True"}, {"reason", "NoRouteCreated"}},
    });
    dir.write("nodes.json", json{{"kind", "NodeList"}, {"items", json::array({n1})}}.dump());
    FakeApiServerProcess server{dir};
    REQUIRE(server.start(0) > 0);
    auto cfg = load_kubeconfig(dir.file("certs/kubeconfig"));
    REQUIRE(cfg);
    WatchOptions opts;
    opts.backoff_initial = 20ms;
    opts.backoff_max = 200ms;
    t::LogCapture logs;

    // The node watcher sees the condition (status and reason) change.
    Recorder rec;
    auto watcher = make_node_watcher(*cfg, opts);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1 && server.open_watches() == 1; }, kWait));
    CHECK(rec.nodes().at("n1").network_unavailable == Node::Condition{"True", "NoRouteCreated"});

    auto conditions = [&server] {
        auto r = server.request("GET", "/api/v1/nodes/n1/status");
        if (!r || r->status != 200) return json::array();
        return json::parse(r->body)["status"].value("conditions", json::array());
    };
    auto condition = [&](const std::string& type) {
        for (const auto& c : conditions())
            if (c.value("type", "") == type) return c;
        return json::object();
    };

    {
        NodeStatusWriter writer{*cfg, opts};
        // Two failures first: the writer backs off and retries until the server accepts.
        REQUIRE(server.faults(R"({"fail_next":2,"status":500})").value("fail_next", 0) == 2);
        const auto from = rec.size();
        writer.set_network_available("n1");
        REQUIRE(t::wait_until([&] { return condition("NetworkUnavailable").value("status", "") == "False"; }, kWait));
        const json c = condition("NetworkUnavailable");
        CHECK(c.value("reason", "") == kNetworkReadyReason);
        CHECK(c.value("message", "") == "kroute is running on this node");
        CHECK(c.value("lastTransitionTime", "").size() == std::string{"2024-05-01T10:00:00Z"}.size());
        // Only that condition was replaced: the kubelet's Ready is untouched.
        CHECK(condition("Ready").value("reason", "") == "KubeletReady");
        CHECK(conditions().size() == 2);
        // (the test's own GETs may take one of the injected failures)
        CHECK(server.count("PATCH /api/v1/nodes/n1/status -> 500") >= 1);
        CHECK(server.count("PATCH /api/v1/nodes/n1/status -> 200") == 1);
        REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kModified, "n1"); }, kWait));
        CHECK(rec.nodes().at("n1").network_unavailable == Node::Condition{"False", kNetworkReadyReason});
        // The request as flannel and Calico send it (k8s-api.md §6), from the server's log.
        json patch;
        for (const auto& r : server.requests())
            if (r.value("method", "") == "PATCH" && r.value("path", "") == "/api/v1/nodes/n1/status") patch = r;
        REQUIRE(patch.is_object());
        CHECK(patch["content_type"] == "application/strategic-merge-patch+json");
        CHECK(patch["headers"].value("accept", "") == "application/json");
        CHECK(patch["headers"].value("authorization", "") == std::string{"Bearer "} + t::kToken);
        CHECK(patch["query"].empty());
        const json sent = json::parse(patch.value("body", "{}"));
        REQUIRE(sent["status"]["conditions"].size() == 1);
        CHECK(sent["status"]["conditions"][0].value("type", "") == "NetworkUnavailable");
        CHECK(sent.size() == 1);  // nothing but status.conditions

        // Forbidden (no nodes/status patch in the ClusterRole): said once, with the rule, retried.
        REQUIRE(server.faults(R"({"fail_next":3,"status":403})").value("fail_next", 0) == 3);
        writer.set_network_available("n1");
        REQUIRE(t::wait_until([&] { return server.count("PATCH /api/v1/nodes/n1/status -> 200") == 2; }, kWait));
        CHECK(server.count("PATCH /api/v1/nodes/n1/status -> 403") >= 1);
        CHECK(logs.count("resources [\"nodes/status\"], verbs [\"patch\"]") == 1);

        // A node that does not exist: 404, logged, not retried.
        writer.set_network_available("ghost");
        REQUIRE(t::wait_until([&] { return logs.count("node ghost not found") == 1; }, kWait));
        std::this_thread::sleep_for(300ms);  // more than the backoff: a retry would show
        CHECK(server.count("PATCH /api/v1/nodes/ghost/status") == 1);
    }
    watcher->stop();
    server.kill();
}
