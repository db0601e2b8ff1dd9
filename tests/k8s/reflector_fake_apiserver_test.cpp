// The reflector against the real fake-apiserver binary, one behaviour of issue 4 per case: the
// requests themselves (checked against what a real API server expects, k8s-api.md §2-§3, from the
// server's request log, so a client and a fake that agree on something wrong cannot pass), paging
// and a 410 on a continue page, chunk boundaries anywhere, a malformed object and garbage mid-stream,
// token rotation, 429 with Retry-After, 403 said once, bookmarks, and the Service and EndpointSlice
// watchers. Every wait polls a condition with a deadline; the only timing check is a lower bound.
#include <catch2/catch.hpp>

#include <csignal>

#include "fake_apiserver_process.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/reflector.hpp"

using namespace kroute::k8s;
using namespace std::chrono_literals;
using nlohmann::json;
namespace t = kroute::k8s::test;
using t::FakeApiServerProcess;
using t::kWait;
using t::node_json;

namespace {

json node_list(int n) {
    json items = json::array();
    for (int i = 1; i <= n; ++i)
        items.push_back(json::parse(node_json("n" + std::to_string(i), "10.244." + std::to_string(i) + ".0/24",
                                              "172.18.0." + std::to_string(10 + i))));
    return json{{"kind", "NodeList"}, {"apiVersion", "v1"}, {"items", items}};
}

WatchOptions fast() {
    WatchOptions o;
    o.backoff_initial = 20ms;
    o.backoff_max = 200ms;
    return o;
}

// The API requests of the log for `path` (exact), in order.
std::vector<json> requests_for(const FakeApiServerProcess& server, const std::string& path) {
    std::vector<json> out;
    for (const auto& r : server.requests())
        if (r.value("path", "") == path) out.push_back(r);
    return out;
}

bool is_watch(const json& r) { return r["query"].value("watch", "") == "true"; }

// A server with `nodes` nodes, a watcher of them started and synced, its watch open.
struct Setup {
    explicit Setup(int nodes, std::vector<std::string> extra = {}, WatchOptions opts = fast()) : server{dir, std::move(extra)} {
        dir.write("nodes.json", node_list(nodes).dump());
        REQUIRE(server.start(0) > 0);
        auto c = load_kubeconfig(dir.file("certs/kubeconfig"));
        REQUIRE(c);
        cfg = *c;
        watcher = make_node_watcher(cfg, opts);
    }
    void start() {
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return rec.synced() == 1 && server.open_watches() == 1; }, kWait));
    }
    ~Setup() {
        if (watcher) watcher->stop();
        server.kill();
    }
    t::TempDir dir;
    FakeApiServerProcess server;
    ClientConfig cfg;
    t::Recorder<Node> rec;
    std::unique_ptr<Source<Node>> watcher;
};

// Creates node NAME and waits for its event: the watch is live and in step.
void create_and_see(Setup& s, const std::string& name, int octet) {
    const auto from = s.rec.size();
    auto r = s.server.request("POST", "/api/v1/nodes",
                              node_json(name, "10.244." + std::to_string(octet) + ".0/24", "172.18.1." + std::to_string(octet)));
    REQUIRE(r);
    REQUIRE(r->status == 201);
    REQUIRE(t::wait_until([&] { return s.rec.has(from, EventType::kAdded, name); }, kWait));
}

}  // namespace

TEST_CASE("the requests are what a real API server expects: list, watch, relist, continue pages",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    WatchOptions opts = fast();
    opts.page_size = 2;
    Setup s{5, {}, opts};
    t::LogCapture logs;
    s.start();

    auto nodes = requests_for(s.server, "/api/v1/nodes");
    REQUIRE(nodes.size() >= 2);
    // The first LIST: served from the watch cache (resourceVersion=0), which ignores limit.
    const json& list = nodes[0];
    CHECK(list["method"] == "GET");
    CHECK(list["query"] == json{{"limit", "2"}, {"resourceVersion", "0"}});
    CHECK(list["headers"].value("accept", "") == "application/json");
    CHECK(list["headers"].value("authorization", "") == std::string{"Bearer "} + t::kToken);
    CHECK_THAT(list["headers"].value("user-agent", ""), Catch::StartsWith("kroute/"));
    CHECK(list["content_type"] == "");
    CHECK(list["body"] == "");
    // Then the WATCH from the list's resourceVersion, with bookmarks and a timeout in [300, 600) s.
    const json& watch = nodes[1];
    CHECK(is_watch(watch));
    const json& q = watch["query"];
    CHECK(q.size() == 4);
    CHECK(q.value("allowWatchBookmarks", "") == "true");
    CHECK(q.value("resourceVersion", "") == s.server.faults().value("resource_version", "?"));
    const int timeout = std::stoi(q.value("timeoutSeconds", "0"));
    CHECK(timeout >= 300);
    CHECK(timeout < 600);

    // A 410 inside the watch (compacted while the watcher was behind: its watch stalled over a
    // write): as client-go, the relist asks for the watch's last resourceVersion (from the watch
    // cache, unpaged). Make that LIST expire too (HTTP 410): then the relist asks for the latest
    // state (no resourceVersion), paged by 2, the continue pages carrying no resourceVersion.
    // (The faults apply in order: reset first, then `more`.)
    int generation = 0;  // each write must change something, or it bumps no resourceVersion
    auto fall_behind = [&s, &generation](json more) {
        REQUIRE(s.server.faults(R"({"stall_watches_ms":60000})").value("stall_remaining_ms", 0) > 0);
        const json patch{{"metadata", {{"labels", {{"gen", "g" + std::to_string(++generation)}}}}}};
        REQUIRE(s.server.request("PATCH", "/api/v1/nodes/n1", patch.dump(), "application/merge-patch+json"));
        json f{{"reset", true}, {"clear_requests", true}, {"compact", true}, {"drop_watches", true}};
        f.update(more);
        REQUIRE(s.server.faults(f.dump()).contains("drop_epoch"));
    };
    auto list_queries = [&s] {
        std::vector<json> out;
        for (const auto& r : requests_for(s.server, "/api/v1/nodes"))
            if (!is_watch(r)) out.push_back(r["query"]);
        return out;
    };
    std::string rv = s.server.faults().value("resource_version", "");
    fall_behind(json{{"fail_next", 1}, {"status", 410}, {"fail_match", "nodes?resourceVersion="}});
    REQUIRE(t::wait_until([&] { return s.rec.synced() == 2 && s.server.open_watches() == 1; }, kWait));
    auto lists = list_queries();
    REQUIRE(lists.size() == 4);
    CHECK(lists[0] == json{{"resourceVersion", rv}});  // the watch's last RV, unpaged: refused, 410
    CHECK(lists[1] == json{{"limit", "2"}});           // the latest state, paged
    for (std::size_t i = 2; i < 4; ++i) {
        CHECK(lists[i].value("limit", "") == "2");
        CHECK_FALSE(lists[i].value("continue", "").empty());
        CHECK_FALSE(lists[i].contains("resourceVersion"));
    }
    CHECK(s.rec.names() == std::vector<std::string>{"n1", "n2", "n3", "n4", "n5"});
    CHECK(s.rec.label("n1", "gen") == "g1");  // the write it had missed

    // A continue token the server no longer honours (HTTP 410 on a continue page): the list is
    // started again from its first page, from the latest state, and completes.
    rv = s.server.faults().value("resource_version", "");
    fall_behind(json{{"fail_next", 1}, {"status", 410}, {"fail_match", "continue="}});
    REQUIRE(t::wait_until([&] { return s.rec.synced() == 3 && s.server.open_watches() == 1; }, kWait));
    lists = list_queries();
    REQUIRE(lists.size() == 5);
    // Paged since the server paged it: limit kept with the last RV (client-go's paginatedResult).
    CHECK(lists[0] == json{{"limit", "2"}, {"resourceVersion", rv}});
    CHECK(lists[1].contains("continue"));  // refused, 410
    CHECK(lists[2] == json{{"limit", "2"}});
    CHECK(lists[3].contains("continue"));
    CHECK(lists[4].contains("continue"));
    CHECK(logs.count("HTTP 410") == 2);
    CHECK(s.rec.names() == std::vector<std::string>{"n1", "n2", "n3", "n4", "n5"});
    create_and_see(s, "n9", 9);
}

TEST_CASE("watch framing: bytes one by one, torn strings, several events in one chunk",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    Setup s{1};
    s.start();
    const auto lists_before = s.server.count("GET /api/v1/nodes?limit");

    REQUIRE(s.server.faults(R"({"chunk_split":1})").value("chunk_split", 0) == 1);
    create_and_see(s, "byte-by-byte", 21);
    REQUIRE(s.server.faults(R"({"chunk_split":7})").value("chunk_split", 0) == 7);
    // Escapes and multi-byte UTF-8 in the object, torn by 7-byte chunks.
    const auto from = s.rec.size();
    REQUIRE(s.server.request("PATCH", "/api/v1/nodes/byte-by-byte",
                             R"({"metadata":{"annotations":{"note":"a \"quoted\" \\ nœud ノード"}}})",
                             "application/merge-patch+json"));
    REQUIRE(t::wait_until([&] { return s.rec.has(from, EventType::kModified, "byte-by-byte"); }, kWait));
    CHECK(s.rec.objects().at("byte-by-byte").annotations.at("note") == "a \"quoted\" \\ nœud ノード");

    REQUIRE(s.server.faults(R"({"chunk_split":0,"chunk_coalesce":true,"stall_watches_ms":60000})").value("chunk_coalesce", false));
    for (int i = 0; i < 3; ++i)
        REQUIRE(s.server.request("POST", "/api/v1/nodes", node_json("c" + std::to_string(i), "10.244.3" + std::to_string(i) + ".0/24",
                                                                   "172.18.2." + std::to_string(i))));
    REQUIRE(s.server.faults(R"({"stall_watches_ms":0})").value("stall_remaining_ms", 1) == 0);
    REQUIRE(t::wait_until([&] { return s.rec.objects().size() == 5; }, kWait));
    // All of it through the one watch: no relist.
    CHECK(s.server.count("GET /api/v1/nodes?limit") == lists_before);
    CHECK(s.rec.synced() == 1);
}

TEST_CASE("a malformed object is skipped with one line; garbage ends the stream, the re-watch resumes",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    Setup s{1};
    t::LogCapture logs;
    s.start();
    const auto lists_before = s.server.count("GET /api/v1/nodes?limit");
    const std::string rv = s.server.faults().value("resource_version", "");

    // A broken node object (a podCIDR that is no CIDR) inside a well-formed event.
    json bad{{"type", "ADDED"},
             {"object", {{"kind", "Node"}, {"apiVersion", "v1"},
                         {"metadata", {{"name", "broken"}, {"resourceVersion", rv}}},
                         {"spec", {{"podCIDR", "10.244.300.0/24"}}}}}};
    REQUIRE(s.server.faults(json{{"inject_watch", bad.dump() + "\n"}}.dump()).contains("drop_epoch"));
    create_and_see(s, "after-bad", 31);
    CHECK(logs.count("skipping a malformed node: node broken: spec.podCIDR: invalid CIDR \"10.244.300.0/24\"") == 1);
    CHECK_FALSE(s.rec.objects().contains("broken"));

    // Garbage between events: the stream cannot be trusted past it; the watcher re-watches from its
    // last resourceVersion (no relist) and misses nothing.
    const auto watches = s.server.count("watch=true");
    REQUIRE(s.server.faults(R"({"inject_watch":"not json at all\n"})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return s.server.count("watch=true") > watches && s.server.open_watches() == 1; }, kWait));
    create_and_see(s, "after-garbage", 32);
    CHECK(logs.count("between values") == 1);
    CHECK(s.server.count("GET /api/v1/nodes?limit") == lists_before);
    CHECK(s.rec.names() == std::vector<std::string>{"after-bad", "after-garbage", "n1"});
}

TEST_CASE("a known object made malformed keeps its last usable version, through a relist too; deleted, it goes",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    Setup s{2};
    t::LogCapture logs;
    s.start();
    // n1's kube-router.io/pod-cidr annotation set to no CIDR: the MODIFIED event does not parse.
    const auto watches = s.server.count("watch=true");
    REQUIRE(s.server.request("PATCH", "/api/v1/nodes/n1",
                             R"({"metadata":{"annotations":{"kube-router.io/pod-cidr":"10.244.1.0/33"}}})",
                             "application/merge-patch+json"));
    const std::string line = "skipping a malformed node: node n1: metadata.annotations[\"kube-router.io/pod-cidr\"]: "
                             "invalid CIDR \"10.244.1.0/33\"";
    REQUIRE(t::wait_until([&] { return logs.count(line) == 1; }, kWait));
    const auto from = s.rec.size();
    // A relist (the watch refused with 410): the list has n1 malformed; n1 is not taken for deleted.
    REQUIRE(s.server.faults(R"({"fail_next":1,"status":410,"fail_match":"watch=true"})").contains("drop_epoch"));
    REQUIRE(s.server.faults(R"({"drop_watches":true})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return s.rec.synced() == 2 && s.server.open_watches() == 1; }, kWait));
    CHECK(s.server.count("watch=true") > watches);
    CHECK(logs.count("list nodes: skipping a malformed node: items[0]: node n1:") == 1);
    CHECK(logs.count("node n1: keeping its last usable version") == 1);
    CHECK_FALSE(s.rec.has(from, EventType::kDeleted, "n1"));
    REQUIRE(s.rec.objects().contains("n1"));
    CHECK(s.rec.objects().at("n1").pod_cidrs == std::vector<kroute::Prefix>{*kroute::Prefix::parse("10.244.1.0/24")});
    // Deleted while malformed: the DELETED event's object does not parse, its name is enough.
    REQUIRE(s.server.request("DELETE", "/api/v1/nodes/n1"));
    REQUIRE(t::wait_until([&] { return s.rec.has(from, EventType::kDeleted, "n1"); }, kWait));
    CHECK(s.rec.names() == std::vector<std::string>{"n2"});
}

TEST_CASE("a rotated token: the 401 makes the watcher re-read its token file at once",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    t::TempDir dir;
    dir.write("nodes.json", node_list(1).dump());
    FakeApiServerProcess server{dir};
    REQUIRE(server.start(0) > 0);
    auto cfg = load_kubeconfig(dir.file("certs/kubeconfig"));
    REQUIRE(cfg);
    // In-cluster style: the token comes from a file that the kubelet rewrites.
    cfg->token.clear();
    dir.write("token", t::kToken);
    cfg->token_file = dir.file("token");
    t::LogCapture logs;
    t::Recorder<Node> rec;
    auto watcher = make_node_watcher(*cfg, fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1 && server.open_watches() == 1; }, kWait));

    // The kubelet writes the new token; the server stops taking the old one; the watch ends.
    dir.write("token", "rotated-token");
    REQUIRE(server.faults(R"({"token":"rotated-token"})").contains("drop_epoch"));
    server.use_token("rotated-token");
    REQUIRE(server.faults(R"({"drop_watches":true})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return server.open_watches() == 1; }, kWait));
    const auto from = rec.size();
    REQUIRE(server.request("POST", "/api/v1/nodes", node_json("n7", "10.244.7.0/24", "172.18.0.17")));
    REQUIRE(t::wait_until([&] { return rec.has(from, EventType::kAdded, "n7"); }, kWait));
    // One refusal with the old token, said once, then the new token from the file.
    CHECK(server.count("-> 401") >= 1);
    CHECK(logs.count("rejected our credentials") == 1);
    bool old_then_new = false;
    std::string last_auth;
    for (const auto& r : server.requests()) {
        const std::string auth = r["headers"].value("authorization", "");
        if (last_auth == std::string{"Bearer "} + t::kToken && auth == "Bearer rotated-token") old_then_new = true;
        last_auth = auth;
    }
    CHECK(old_then_new);
    watcher->stop();
    server.kill();
}

TEST_CASE("429 with Retry-After is honoured; a 403 is said once, with the missing RBAC rule",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    Setup s{1};
    t::LogCapture logs;
    s.start();

    // API Priority and Fairness: 429, Retry-After 2. The backoff alone would retry in < 0.5 s.
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(s.server.faults(R"({"fail_next":1,"status":429,"retry_after":2,"fail_match":"watch=true","drop_watches":true})")
                .value("fail_next", 0) == 1);
    REQUIRE(t::wait_until([&] { return s.server.count("-> 429") == 1; }, kWait));
    REQUIRE(t::wait_until([&] { return s.server.faults().value("fail_next", -1) == 0 && s.server.open_watches() == 1; },
                          kWait));
    CHECK(std::chrono::steady_clock::now() - t0 >= 1900ms);
    create_and_see(s, "after-429", 41);

    // Forbidden three times (an RBAC rule missing, then granted): one error line naming the rule.
    REQUIRE(s.server.faults(R"({"fail_next":3,"status":403,"drop_watches":true})").value("fail_next", 0) == 3);
    REQUIRE(t::wait_until([&] { return s.server.count("-> 403") == 3; }, kWait));
    REQUIRE(t::wait_until([&] { return s.server.open_watches() == 1; }, kWait));
    create_and_see(s, "after-403", 42);
    CHECK(logs.count("grant list and watch on nodes to kroute's service account (ClusterRole rule: apiGroups [\"\"], "
                     "resources [\"nodes\"]") == 1);
}

TEST_CASE("bookmarks move the watch's resourceVersion past other kinds' writes", "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    Setup s{1, {"--bookmark-interval", "1"}};
    s.start();
    // Writes to Services bump the one resourceVersion; the node watch sees only bookmarks of it.
    for (int i = 0; i < 3; ++i) {
        auto r = s.server.request("POST", "/api/v1/namespaces/default/services",
                                  json{{"apiVersion", "v1"}, {"kind", "Service"},
                                       {"metadata", {{"name", "svc" + std::to_string(i)}}},
                                       {"spec", {{"ports", {{{"port", 80}}}}}}}.dump());
        REQUIRE(r);
        REQUIRE(r->status == 201);
    }
    const std::string rv = s.server.faults().value("resource_version", "");
    std::this_thread::sleep_for(2500ms);  // two bookmark periods
    REQUIRE(s.server.faults(R"({"clear_requests":true,"drop_watches":true})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return s.server.open_watches() == 1; }, kWait));
    auto nodes = requests_for(s.server, "/api/v1/nodes");
    REQUIRE_FALSE(nodes.empty());
    CHECK(is_watch(nodes[0]));
    CHECK(nodes[0]["query"].value("resourceVersion", "") == rv);
}

TEST_CASE("the Service and EndpointSlice watchers: every namespace, events, the right paths",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    t::TempDir dir;
    dir.write("nodes.json", node_list(1).dump());
    dir.write("services.json", t::read_text(t::data_path("service-list-mixed.json")));
    dir.write("slices.json", t::read_text(t::data_path("endpointslice-list.json")));
    FakeApiServerProcess server{dir, {"--services", dir.file("services.json"), "--endpointslices", dir.file("slices.json"),
                                      "--service-cluster-ip-range", "10.96.0.0/12,fd00:10:96::/112"}};
    REQUIRE(server.start(0) > 0);
    auto cfg = load_kubeconfig(dir.file("certs/kubeconfig"));
    REQUIRE(cfg);
    t::Recorder<Service> services;
    t::Recorder<EndpointSlice> slices;
    auto sw = make_service_watcher(*cfg, fast());
    auto ew = make_endpoint_slice_watcher(*cfg, fast());
    sw->start(services.sink());
    ew->start(slices.sink());
    REQUIRE(t::wait_until([&] { return services.synced() == 1 && slices.synced() == 1 && server.open_watches() == 2; },
                          kWait));
    CHECK(services.names() == std::vector<std::string>{"default/kubernetes", "shop/db", "shop/legacy", "shop/web"});
    CHECK(services.objects().at("shop/web").load_balancer_ips.size() == 1);
    CHECK(slices.names() == std::vector<std::string>{"shop/empty-abc", "shop/web-7xk2p", "shop/web-v6"});
    CHECK(slices.objects().at("shop/web-7xk2p").endpoints.size() == 3);

    // A new Service gets its ClusterIP from the server; the change arrives with it.
    auto from = services.size();
    auto r = server.request("POST", "/api/v1/namespaces/blue/services",
                            json{{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "api"}}},
                                 {"spec", {{"ports", {{{"port", 443}}}}}}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    REQUIRE(t::wait_until([&] { return services.has(from, EventType::kAdded, "blue/api"); }, kWait));
    CHECK(services.objects().at("blue/api").cluster_ips.size() == 1);

    // The load balancer's address changes (status subresource): a modification.
    from = services.size();
    r = server.request("PATCH", "/api/v1/namespaces/shop/services/web/status",
                       R"({"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.99"}]}}})", "application/merge-patch+json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    REQUIRE(t::wait_until([&] { return services.has(from, EventType::kModified, "shop/web"); }, kWait));
    CHECK(services.objects().at("shop/web").load_balancer_ips.front().to_string() == "198.51.100.99");

    // An endpoint goes away: the slice is modified; then the slice is deleted.
    from = slices.size();
    r = server.request("PATCH", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-7xk2p",
                       R"({"endpoints":[{"addresses":["10.244.1.5"],"nodeName":"node1"}]})", "application/merge-patch+json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    REQUIRE(t::wait_until([&] { return slices.has(from, EventType::kModified, "shop/web-7xk2p"); }, kWait));
    CHECK(slices.objects().at("shop/web-7xk2p").endpoints.size() == 1);
    from = slices.size();
    r = server.request("DELETE", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-v6");
    REQUIRE(r);
    REQUIRE(t::wait_until([&] { return slices.has(from, EventType::kDeleted, "shop/web-v6"); }, kWait));

    // Both listed and watched every namespace's collection.
    bool services_watch = false, slices_watch = false;
    for (const auto& req : server.requests()) {
        if (req["path"] == "/api/v1/services" && is_watch(req)) services_watch = true;
        if (req["path"] == "/apis/discovery.k8s.io/v1/endpointslices" && is_watch(req)) slices_watch = true;
    }
    CHECK(services_watch);
    CHECK(slices_watch);
    sw->stop();
    ew->stop();
    server.kill();
}

namespace {
ReflectorCounters node_counters() {
    for (auto& c : reflector_counters())
        if (c.resource == "nodes") return c;
    return ReflectorCounters{"nodes"};
}
}  // namespace

TEST_CASE("the reflector counts lists, relists, events and watch restarts by how they ended",
          "[k8s][reflector][fake-apiserver]") {
    std::signal(SIGPIPE, SIG_IGN);
    const auto before = node_counters();  // process-wide: the other cases added to them too
    Setup s{2};
    s.start();
    auto c = node_counters();
    CHECK(c.lists == before.lists + 1);
    CHECK(c.relists == before.relists);
    CHECK(c.watch_restarts_closed == before.watch_restarts_closed);

    // The server ends the watch: re-watched from the same resourceVersion, no relist.
    REQUIRE(s.server.faults(R"({"drop_watches":true})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return node_counters().watch_restarts_closed == before.watch_restarts_closed + 1; }, kWait));
    create_and_see(s, "n9", 9);
    c = node_counters();
    CHECK(c.relists == before.relists);
    CHECK(c.watch_restarts_expired == before.watch_restarts_expired);
    CHECK(c.watch_events > before.watch_events);

    // Behind a compaction: the re-watch gets a 410 ERROR, the reflector lists again.
    REQUIRE(s.server.faults(R"({"stall_watches_ms":60000})").value("stall_remaining_ms", 0) > 0);
    REQUIRE(s.server.request("PATCH", "/api/v1/nodes/n1", R"({"metadata":{"labels":{"gen":"g1"}}})",
                             "application/merge-patch+json"));
    REQUIRE(s.server.faults(R"({"reset":true,"compact":true,"drop_watches":true})").contains("drop_epoch"));
    REQUIRE(t::wait_until([&] { return s.rec.synced() == 2 && s.server.open_watches() == 1; }, kWait));
    c = node_counters();
    CHECK(c.lists == before.lists + 2);
    CHECK(c.relists == before.relists + 1);
    CHECK(c.watch_restarts_expired == before.watch_restarts_expired + 1);
    CHECK(c.watch_restarts_closed == before.watch_restarts_closed + 2);
    CHECK(c.watch_restarts_failed == before.watch_restarts_failed);
}
