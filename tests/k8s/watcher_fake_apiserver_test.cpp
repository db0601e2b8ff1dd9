// The real node watcher (make_node_watcher) against the real fake-apiserver binary, run as a child
// process on 127.0.0.1 (port 0 at first, the same port after a restart): list then watch, writes
// through the server's HTTP API arriving as NodeEvents, and the server's injected faults (dropped
// watches, compaction, failing requests, a restart). The server's request log (its stderr, in a
// file) shows which requests the watcher made. Every wait polls a condition with a deadline.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <vector>

#include "k8s-client/config.hpp"
#include "k8s-client/node_status.hpp"
#include "k8s-client/object_source.hpp"
#include "k8s_test_support.hpp"

extern char** environ;

using namespace kroute::k8s;
using namespace std::chrono_literals;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

constexpr const char* kToken = "watcher-test-token";
constexpr auto kWait = 20s;  // generous: the machine is shared

// One fake-apiserver process; stdout (the ready line) truncated per start, stderr (the request
// log) appended across restarts.
class FakeApiServerProcess {
public:
    explicit FakeApiServerProcess(const t::TempDir& dir) : dir_{dir} {}
    ~FakeApiServerProcess() { kill(); }
    FakeApiServerProcess(const FakeApiServerProcess&) = delete;
    FakeApiServerProcess& operator=(const FakeApiServerProcess&) = delete;

    // Starts the binary and waits for its ready line; the port it reports, or 0.
    int start(int port) {
        const std::string out = dir_.file("stdout");
        const std::string port_s = std::to_string(port);
        const std::string cert_dir = dir_.file("certs");
        const std::string nodes = dir_.file("nodes.json");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        std::vector<std::string> args{KROUTE_FAKE_APISERVER, "--listen", "127.0.0.1", "--port", port_s, "--token",
                                      kToken, "--cert-dir", cert_dir, "--nodes", nodes, "--threads", "16"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, KROUTE_FAKE_APISERVER, &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            pid_ = -1;
            return 0;
        }
        int got = 0;
        t::wait_until(
            [&] {
                const auto text = t::read_text(out);
                if (const auto at = text.find("ready port="); at != std::string::npos && text.find('\n', at) != std::string::npos)
                    got = std::atoi(text.c_str() + at + std::string_view{"ready port="}.size());
                return got != 0 || ::waitpid(pid_, nullptr, WNOHANG) == pid_;  // or it died
            },
            kWait);
        port_ = got;
        return got;
    }

    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    [[nodiscard]] std::string log_path() const { return dir_.file("requests.log"); }
    [[nodiscard]] std::vector<std::string> log_lines() const {
        std::vector<std::string> out;
        std::istringstream in{t::read_text(log_path())};
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }
    // LIST requests the server answered (watches are logged only when they end).
    [[nodiscard]] std::size_t lists() const {
        std::size_t n = 0;
        for (const auto& l : log_lines())
            if (l.find("GET /api/v1/nodes") != std::string::npos && l.find("watch=true") == std::string::npos) ++n;
        return n;
    }
    [[nodiscard]] std::size_t count(const std::string& needle) const {
        std::size_t n = 0;
        for (const auto& l : log_lines())
            if (l.find(needle) != std::string::npos) ++n;
        return n;
    }

    [[nodiscard]] httplib::Result request(const std::string& method, const std::string& path, const std::string& body = {},
                                          const char* content_type = "application/json") const {
        httplib::SSLClient c{"127.0.0.1", port_};
        c.set_ca_cert_path(dir_.file("certs/ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_bearer_token_auth(kToken);
        c.set_read_timeout(10, 0);
        if (method == "POST") return c.Post(path.c_str(), body, content_type);
        if (method == "PATCH") return c.Patch(path.c_str(), body, content_type);
        if (method == "DELETE") return c.Delete(path.c_str());
        return c.Get(path.c_str());
    }
    [[nodiscard]] json faults(const std::string& body = {}) const {
        auto r = body.empty() ? request("GET", "/fake/faults") : request("POST", "/fake/faults", body);
        if (!r || r->status != 200) return json::object();
        auto j = json::parse(r->body, nullptr, false);
        return j.is_object() ? j : json::object();
    }
    [[nodiscard]] int open_watches() const {
        const auto f = faults();
        return f.value("open_watches", -1);
    }

private:
    const t::TempDir& dir_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// What the sink received, and the node set it implies.
class Recorder {
public:
    NodeEventSink sink() {
        return [this](NodeEvent ev) {
            std::lock_guard lock{mu_};
            if (ev.type == NodeEvent::Type::kSynced) {
                ++synced_;
            } else if (ev.type == NodeEvent::Type::kDeleted) {
                nodes_.erase(ev.object.name);
            } else {
                nodes_[ev.object.name] = ev.object;
            }
            events_.push_back(std::move(ev));
        };
    }
    [[nodiscard]] int synced() const {
        std::lock_guard lock{mu_};
        return synced_;
    }
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock{mu_};
        return events_.size();
    }
    // True when an event of `type` for `name` came at index >= `from`.
    [[nodiscard]] bool has(std::size_t from, NodeEvent::Type type, const std::string& name) const {
        std::lock_guard lock{mu_};
        for (std::size_t i = from; i < events_.size(); ++i)
            if (events_[i].type == type && events_[i].object.name == name) return true;
        return false;
    }
    [[nodiscard]] std::map<std::string, Node> nodes() const {
        std::lock_guard lock{mu_};
        return nodes_;
    }
    [[nodiscard]] std::string label(const std::string& node, const std::string& key) const {
        std::lock_guard lock{mu_};
        auto n = nodes_.find(node);
        if (n == nodes_.end()) return "<no node>";
        auto l = n->second.labels.find(key);
        return l == n->second.labels.end() ? "<no label>" : l->second;
    }
    [[nodiscard]] std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, node] : nodes()) out.push_back(name);
        return out;
    }

private:
    mutable std::mutex mu_;
    std::vector<NodeEvent> events_;
    std::map<std::string, Node> nodes_;
    int synced_ = 0;
};

std::string node_json(const std::string& name, const std::string& cidr, const std::string& ip) {
    return json{{"apiVersion", "v1"},
                {"kind", "Node"},
                {"metadata", {{"name", name}, {"labels", {{"gen", "1"}}}}},
                {"spec", {{"podCIDR", cidr}, {"podCIDRs", json::array({cidr})}}},
                {"status", {{"addresses", json::array({{{"type", "InternalIP"}, {"address", ip}}})}}}}
        .dump();
}

}  // namespace

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
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kAdded, "n2"); }, kWait));
        CHECK(rec.nodes().at("n2").pod_cidr(kroute::Family::kIpv4)->to_string() == "10.244.2.0/24");

        from = rec.size();
        r = server.request("PATCH", "/api/v1/nodes/n1", R"({"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}})",
                           "application/merge-patch+json");
        REQUIRE(r);
        CHECK(r->status == 200);
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kModified, "n1"); }, kWait));
        CHECK(rec.nodes().at("n1").pod_cidr(kroute::Family::kIpv4)->to_string() == "10.244.9.0/24");

        from = rec.size();
        r = server.request("DELETE", "/api/v1/nodes/n2");
        REQUIRE(r);
        CHECK(r->status == 200);
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kDeleted, "n2"); }, kWait));
        CHECK(rec.names() == std::vector<std::string>{"n1"});
        CHECK(server.lists() == 1);  // all of it through the one watch
        CHECK(rec.synced() == 1);
    }

    SECTION("faults: dropped watches, compaction, failing requests, a restart") {
        // Dropped watches: a clean end of stream. The watcher re-watches from its last
        // resourceVersion (n3's, from an event, not the list's); no relist.
        auto from = rec.size();
        REQUIRE(server.request("POST", "/api/v1/nodes", node_json("n3", "10.244.3.0/24", "172.18.0.13")));
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kAdded, "n3"); }, kWait));
        const std::string rv_before_drop = server.faults().value("resource_version", "");
        REQUIRE_FALSE(rv_before_drop.empty());
        const auto watches_ended = server.count("watch=true");
        REQUIRE(server.faults(R"({"drop_watches":true})").contains("drop_epoch"));
        REQUIRE(t::wait_until([&] { return server.count("watch=true") == watches_ended + 1; }, kWait));
        REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
        from = rec.size();
        REQUIRE(server.request("PATCH", "/api/v1/nodes/n3", R"({"metadata":{"labels":{"gen":"2"}}})",
                               "application/merge-patch+json"));
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kModified, "n3"); }, kWait));
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
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kModified, "n3"); }, kWait));
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
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kAdded, "n4"); }, kWait));
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
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kAdded, "n5"); }, kWait));
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
        REQUIRE(t::wait_until([&] { return rec.has(from, NodeEvent::Type::kModified, "n1"); }, kWait));
        CHECK(rec.nodes().at("n1").network_unavailable == Node::Condition{"False", kNetworkReadyReason});

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
