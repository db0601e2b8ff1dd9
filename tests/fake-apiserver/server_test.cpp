// FakeApiServer over real TLS on 127.0.0.1 (port 0), with cpp-httplib's client.
#include "tests/fake-apiserver/server.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>

using namespace kroute::fake_apiserver;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "test-token";

std::filesystem::path temp_dir() {
    std::random_device rd;
    auto p = std::filesystem::temp_directory_path() / ("fake-apiserver-test-" + std::to_string(rd()));
    std::filesystem::create_directories(p);
    return p;
}

struct Running {
    std::filesystem::path dir = temp_dir();
    std::unique_ptr<FakeApiServer> server;
    std::thread thread;

    explicit Running(ServerOptions o = {}) {
        o.listen = "127.0.0.1";
        o.port = 0;
        o.token = kToken;
        o.cert_dir = dir.string();
        o.log_requests = false;
        o.threads = 16;
        std::ofstream(dir / "nodes.json") << R"({"kind":"NodeList","items":[{"metadata":{"name":"seed-1"}}]})";
        o.nodes_file = (dir / "nodes.json").string();
        auto s = FakeApiServer::create(o);
        REQUIRE(s);
        server = std::move(*s);
        thread = std::thread([this] { server->run(); });
    }
    ~Running() {
        server->stop();
        thread.join();
        std::filesystem::remove_all(dir);
    }
    std::unique_ptr<httplib::SSLClient> client(const char* token = kToken) const {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server->port());
        c->set_ca_cert_path((dir / "ca.crt").c_str());
        c->enable_server_certificate_verification(true);
        if (token) c->set_bearer_token_auth(token);
        c->set_read_timeout(10, 0);
        return c;
    }
    // Polls /fake/faults until `n` watches are open (bounded).
    bool wait_watches(int n) const {
        for (int i = 0; i < 200; ++i) {
            if (server->open_watches() >= n) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
};

Json body_of(const httplib::Result& r) {
    REQUIRE(r);
    return Json::parse(r->body);
}

std::vector<Json> lines(const std::string& stream) {
    std::vector<Json> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = stream.find('\n', start)) != std::string::npos; start = nl + 1) {
        out.push_back(Json::parse(stream.substr(start, nl - start)));
    }
    CHECK(start == stream.size());  // every event ends with a newline
    return out;
}

}  // namespace

TEST_CASE("cert dir holds CA, kubeconfig and port", "[fake-apiserver][server]") {
    Running r;
    for (const char* f : {"ca.crt", "kubeconfig", "port"}) CHECK(std::filesystem::exists(r.dir / f));
    std::ifstream port(r.dir / "port");
    int p = 0;
    port >> p;
    CHECK(p == r.server->port());
    CHECK(r.server->url() == "https://127.0.0.1:" + std::to_string(p));
}

TEST_CASE("every request needs the bearer token", "[fake-apiserver][server]") {
    Running r;
    for (const char* token : {static_cast<const char*>(nullptr), "wrong"}) {
        auto res = r.client(token)->Get("/api/v1/nodes");
        REQUIRE(res);
        CHECK(res->status == 401);
        CHECK(body_of(res)["reason"] == "Unauthorized");
    }
    auto unknown = r.client("wrong")->Get("/nope");
    REQUIRE(unknown);
    CHECK(unknown->status == 401);
}

TEST_CASE("discovery and errors are JSON", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    CHECK(body_of(c->Get("/api"))["kind"] == "APIVersions");
    CHECK(body_of(c->Get("/apis"))["groups"][0]["name"] == "discovery.k8s.io");
    auto v1 = body_of(c->Get("/api/v1"));
    CHECK(v1["resources"][0]["name"] == "nodes");
    CHECK(v1["resources"][1]["name"] == "nodes/status");
    CHECK(body_of(c->Get("/version"))["major"] == "1");
    auto openapi = c->Get("/openapi/v2");
    REQUIRE(openapi);
    CHECK(openapi->status == 404);
    CHECK(body_of(openapi)["reason"] == "NotFound");
    auto missing = c->Get("/api/v1/nodes/nosuch", {{"Accept", "application/vnd.kubernetes.protobuf"}});
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->get_header_value("Content-Type") == "application/json");
    CHECK(body_of(missing)["message"] == "nodes \"nosuch\" not found");
}

TEST_CASE("create, patch, list, delete over HTTP", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    auto created = c->Post("/api/v1/nodes", R"({"metadata":{"name":"n1"}})", "application/json");
    REQUIRE(created);
    CHECK(created->status == 201);
    CHECK(c->Post("/api/v1/nodes", R"({"metadata":{"name":"n1"}})", "application/json")->status == 409);
    auto patched = c->Patch("/api/v1/nodes/n1/status",
                           R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False"}]}})",
                           "application/strategic-merge-patch+json");
    REQUIRE(patched);
    CHECK(patched->status == 200);
    CHECK(body_of(patched)["status"]["conditions"][0]["type"] == "NetworkUnavailable");
    auto list = body_of(c->Get("/api/v1/nodes?limit=500"));
    CHECK(list["items"].size() == 2);
    CHECK(c->Delete("/api/v1/nodes/n1")->status == 200);
    CHECK(c->Get("/api/v1/nodes/n1")->status == 404);
}

TEST_CASE("a watch streams events as they happen and ends at timeoutSeconds", "[fake-apiserver][server]") {
    Running r;
    const std::string rv = body_of(r.client()->Get("/api/v1/nodes"))["metadata"]["resourceVersion"];
    std::string stream;
    std::thread watcher([&] {
        auto c = r.client();
        auto res = c->Get(("/api/v1/nodes?watch=true&resourceVersion=" + rv + "&timeoutSeconds=2").c_str(),
                         [&](const char* data, std::size_t len) {
                             stream.append(data, len);
                             return true;
                         });
        CHECK(res);
        if (res) CHECK(res->get_header_value("Transfer-Encoding") == "chunked");
    });
    REQUIRE(r.wait_watches(1));
    REQUIRE(r.client()->Post("/api/v1/nodes", R"({"metadata":{"name":"n2"}})", "application/json"));
    REQUIRE(r.client()->Patch("/api/v1/nodes/n2", R"({"metadata":{"labels":{"a":"b"}}})",
                             "application/merge-patch+json"));
    const auto started = std::chrono::steady_clock::now();
    watcher.join();
    // Ended by the server's timeoutSeconds, not by the client's 10 s read timeout (a generous
    // bound: a loaded machine delays the end by seconds).
    CHECK(std::chrono::steady_clock::now() - started < 9s);
    const auto events = lines(stream);
    REQUIRE(events.size() == 2);
    CHECK(events[0]["type"] == "ADDED");
    CHECK(events[1]["type"] == "MODIFIED");
    CHECK(events[1]["object"]["metadata"]["labels"]["a"] == "b");
    // The server counts the watch closed when httplib releases the response, just after the last
    // chunk the client has already read: wait for it (bounded) rather than race it.
    for (int i = 0; i < 200 && r.server->open_watches() != 0; ++i) std::this_thread::sleep_for(10ms);
    CHECK(r.server->open_watches() == 0);
}

TEST_CASE("watch bookmarks and 410 for a compacted resourceVersion", "[fake-apiserver][server]") {
    ServerOptions o;
    o.bookmark_interval = 200ms;
    Running r(o);
    auto c = r.client();
    std::string stream;
    c->Get("/api/v1/nodes?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" +
              std::to_string(1 + 1),  // the seed's RV: valid, nothing to replay
          [&](const char* d, std::size_t n) {
              stream.append(d, n);
              return true;
          });
    const auto events = lines(stream);
    REQUIRE(events.size() >= 2);
    for (const auto& e : events) CHECK(e["type"] == "BOOKMARK");

    REQUIRE(c->Post("/fake/faults", R"({"compact":true})", "application/json")->status == 200);
    stream.clear();
    auto res = c->Get("/api/v1/nodes?watch=true&resourceVersion=1", [&](const char* d, std::size_t n) {
        stream.append(d, n);
        return true;
    });
    REQUIRE(res);
    CHECK(res->status == 200);
    const auto err = lines(stream);
    REQUIRE(err.size() == 1);
    CHECK(err[0]["type"] == "ERROR");
    CHECK(err[0]["object"]["code"] == 410);
    CHECK(err[0]["object"]["reason"] == "Expired");
}

TEST_CASE("faults: fail_next, drop_watches, stall", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    SECTION("fail_next answers N requests with the status, then recovers") {
        auto set = c->Post("/fake/faults", R"({"fail_next":2,"status":503,"retry_after":3})", "application/json");
        REQUIRE(set);
        CHECK(body_of(set)["fail_next"] == 2);
        for (int i = 0; i < 2; ++i) {
            auto res = c->Get("/api/v1/nodes");
            REQUIRE(res);
            CHECK(res->status == 503);
            CHECK(res->get_header_value("Retry-After") == "3");
            CHECK(body_of(res)["reason"] == "ServiceUnavailable");
        }
        CHECK(c->Get("/api/v1/nodes")->status == 200);
    }
    SECTION("429 is plain text like API Priority and Fairness") {
        REQUIRE(c->Post("/fake/faults", R"({"fail_next":1,"status":429})", "application/json"));
        auto res = c->Get("/api/v1/nodes");
        REQUIRE(res);
        CHECK(res->status == 429);
        CHECK(res->get_header_value("Retry-After") == "1");
        CHECK(res->body == "Too many requests, please try again later.\n");
    }
    SECTION("drop_watches ends open watches at once") {
        std::thread watcher([&] {
            auto wc = r.client();
            CHECK(wc->Get("/api/v1/nodes?watch=true&resourceVersion=0&timeoutSeconds=30"));
        });
        REQUIRE(r.wait_watches(1));
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(c->Post("/fake/faults", R"({"drop_watches":true})", "application/json"));
        watcher.join();
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    }
    SECTION("stall holds events back until it ends") {
        std::string stream;
        std::thread watcher([&] {
            auto wc = r.client();
            wc->Get("/api/v1/nodes?watch=true&resourceVersion=0&timeoutSeconds=3", [&](const char* d, std::size_t n) {
                stream.append(d, n);
                return true;
            });
        });
        REQUIRE(r.wait_watches(1));
        REQUIRE(c->Post("/fake/faults", R"({"stall_watches_ms":60000})", "application/json"));
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"late"}})", "application/json"));
        watcher.join();  // timeoutSeconds ends it while stalled
        CHECK(stream.find("late") == std::string::npos);
    }
    SECTION("bad fault requests are 400") {
        CHECK(c->Post("/fake/faults", R"({"explode":true})", "application/json")->status == 400);
        CHECK(c->Post("/fake/faults", R"({"fail_next":-1})", "application/json")->status == 400);
        CHECK(c->Post("/fake/faults", R"({"fail_next":1,"status":200})", "application/json")->status == 400);
        CHECK(c->Post("/fake/faults", "nope", "application/json")->status == 400);
    }
}

TEST_CASE("stop() ends open watches promptly", "[fake-apiserver][server]") {
    auto r = std::make_unique<Running>();
    std::thread watcher([&] {
        auto wc = r->client();
        wc->Get("/api/v1/nodes?watch=true&resourceVersion=0");
    });
    REQUIRE(r->wait_watches(1));
    const auto t0 = std::chrono::steady_clock::now();
    r.reset();  // stop + join
    watcher.join();
    CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

TEST_CASE("a restarted server reuses the CA in its cert dir", "[fake-apiserver][server]") {
    const auto dir = temp_dir();
    ServerOptions o;
    o.listen = "127.0.0.1";
    o.token = kToken;
    o.cert_dir = dir.string();
    o.log_requests = false;
    o.threads = 8;
    std::string first_ca;
    {
        auto s = FakeApiServer::create(o);
        REQUIRE(s);
        std::ifstream in(dir / "ca.crt");
        first_ca.assign(std::istreambuf_iterator<char>(in), {});
        REQUIRE(std::filesystem::exists(dir / "ca.key"));
        const auto perms = std::filesystem::status(dir / "ca.key").permissions();
        CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
              std::filesystem::perms::none);
    }
    // The client trusts only the first run's CA (a copy, as an old kubeconfig holds it).
    std::ofstream(dir / "old-ca.crt") << first_ca;

    auto s = FakeApiServer::create(o);
    REQUIRE(s);
    std::thread t([&] { (*s)->run(); });
    {
        std::ifstream in(dir / "ca.crt");
        CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == first_ca);
        httplib::SSLClient c("127.0.0.1", (*s)->port());
        c.set_ca_cert_path((dir / "old-ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_bearer_token_auth(kToken);
        auto r = c.Get("/version");
        REQUIRE(r);
        CHECK(r->status == 200);
    }
    (*s)->stop();
    t.join();

    // A CA key that does not belong to the CA is an error, not a silent new CA.
    std::ofstream(dir / "ca.key", std::ios::trunc) << "not a key\n";
    auto broken = FakeApiServer::create(o);
    REQUIRE_FALSE(broken);
    CHECK(broken.error().find("reusing the CA") != std::string::npos);

    // Without ca.key (an older run's cert dir) a fresh CA is made.
    std::filesystem::remove(dir / "ca.key");
    {
        auto fresh = FakeApiServer::create(o);
        REQUIRE(fresh);
        std::ifstream in(dir / "ca.crt");
        CHECK(std::string(std::istreambuf_iterator<char>(in), {}) != first_ca);
        CHECK(std::filesystem::exists(dir / "ca.key"));
    }
    std::filesystem::remove_all(dir);
}

namespace {

// A watch on its own thread that records each chunk as it arrives.
struct ChunkedWatch {
    std::vector<std::string> chunks;
    std::thread thread;
    ChunkedWatch(const Running& r, std::string path) {
        thread = std::thread([this, &r, path = std::move(path)] {
            auto c = r.client();
            c->Get(path.c_str(), [this](const char* d, std::size_t n) {
                chunks.emplace_back(d, n);
                return true;
            });
        });
    }
    std::string joined() {
        thread.join();
        std::string all;
        for (const auto& c : chunks) all += c;
        return all;
    }
};

}  // namespace

TEST_CASE("services and endpointslices over HTTP, namespaced and across namespaces", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    auto v1 = body_of(c->Get("/api/v1"));
    CHECK(v1["resources"][2]["name"] == "services");
    CHECK(v1["resources"][2]["namespaced"] == true);
    CHECK(v1["resources"][3]["name"] == "services/status");
    CHECK(body_of(c->Get("/apis/discovery.k8s.io/v1"))["resources"][0]["name"] == "endpointslices");
    CHECK(body_of(c->Get("/apis/discovery.k8s.io"))["preferredVersion"]["version"] == "v1");
    CHECK(body_of(c->Get("/api/v1/namespaces/any-name"))["status"]["phase"] == "Active");

    auto created = c->Post("/api/v1/namespaces/demo/services", R"({"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}})",
                           "application/json");
    REQUIRE(created);
    CHECK(created->status == 201);
    CHECK(body_of(created)["spec"]["clusterIP"] == "10.96.0.10");
    auto wrong_ns = c->Post("/api/v1/namespaces/demo/services",
                            R"({"metadata":{"name":"x","namespace":"other"},"spec":{"ports":[{"port":80}]}})",
                            "application/json");
    REQUIRE(wrong_ns);
    CHECK(wrong_ns->status == 400);
    CHECK(c->Post("/api/v1/namespaces/demo/endpointslices", "{}", "application/json")->status == 404);  // wrong group
    auto slice = c->Post("/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices",
                         R"({"metadata":{"name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",)"
                         R"("endpoints":[{"addresses":["10.244.1.5"]}]})",
                         "application/json");
    REQUIRE(slice);
    CHECK(slice->status == 201);

    CHECK(body_of(c->Get("/api/v1/services"))["items"].size() == 1);
    CHECK(body_of(c->Get("/api/v1/namespaces/other/services"))["items"].empty());
    CHECK(body_of(c->Get("/api/v1/namespaces/demo/services/web/status"))["status"]["loadBalancer"] == Json::object());
    CHECK(body_of(c->Get("/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb"))
              ["items"][0]["metadata"]["name"] == "web-1");
    CHECK(c->Get("/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices/web-1/status")->status == 404);
    auto missing = c->Get("/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices/nosuch");
    REQUIRE(missing);
    CHECK(body_of(missing)["message"] == "endpointslices.discovery.k8s.io \"nosuch\" not found");

    const std::string rv = body_of(c->Get("/api/v1/services"))["metadata"]["resourceVersion"];
    ChunkedWatch w(r, "/api/v1/namespaces/demo/services?watch=true&timeoutSeconds=2&resourceVersion=" + rv);
    REQUIRE(r.wait_watches(1));
    REQUIRE(c->Post("/api/v1/namespaces/other/services", R"({"metadata":{"name":"elsewhere"},"spec":{"ports":[{"port":1}]}})",
                    "application/json"));
    REQUIRE(c->Patch("/api/v1/namespaces/demo/services/web", R"({"metadata":{"labels":{"a":"b"}}})",
                     "application/merge-patch+json"));
    auto deleted = c->Delete("/api/v1/namespaces/demo/services/web");
    REQUIRE(deleted);
    CHECK(body_of(deleted)["kind"] == "Service");
    const auto events = lines(w.joined());
    REQUIRE(events.size() == 2);
    CHECK(events[0]["type"] == "MODIFIED");
    CHECK(events[1]["type"] == "DELETED");
    CHECK(events[1]["object"]["kind"] == "Service");
}

TEST_CASE("faults: inject_watch writes text into the watches of one resource", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    ChunkedWatch services(r, "/api/v1/services?watch=true&timeoutSeconds=2");
    ChunkedWatch nodes(r, "/api/v1/nodes?watch=true&timeoutSeconds=2&resourceVersion=2");
    REQUIRE(r.wait_watches(2));
    auto set = c->Post("/fake/faults", R"({"inject_watch":"{\"type\":\"ADDED\",\"object\":{\"kind\":","resource":"services"})",
                       "application/json");
    REQUIRE(set);
    CHECK(set->status == 200);
    REQUIRE(c->Post("/fake/faults", R"({"inject_watch":"garbage\n"})", "application/json"));
    services.thread.join();
    REQUIRE(services.chunks.size() == 1);
    CHECK(services.chunks[0] == R"({"type":"ADDED","object":{"kind":)");
    CHECK(nodes.joined() == "garbage\n");
    CHECK(c->Post("/fake/faults", R"({"inject_watch":"x","resource":"pods"})", "application/json")->status == 400);
    CHECK(c->Post("/fake/faults", R"({"resource":"nodes"})", "application/json")->status == 400);
}

TEST_CASE("faults: chunk_split tears events, chunk_coalesce joins them", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    SECTION("chunk_split: N bytes a chunk regardless of events") {
        const auto n = GENERATE(1, 7);
        REQUIRE(c->Post("/fake/faults", R"({"chunk_split":)" + std::to_string(n) + "}", "application/json"));
        ChunkedWatch w(r, "/api/v1/nodes?watch=true&timeoutSeconds=1");
        REQUIRE(r.wait_watches(1));
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"n-\"quoted\""}})", "application/json"));
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"n2","labels":{"a":"\u00e9"}}})", "application/json"));
        const auto all = w.joined();
        CHECK(w.chunks.size() > 2);
        for (const auto& chunk : w.chunks) CHECK(chunk.size() <= static_cast<std::size_t>(n));
        const auto events = lines(all);
        REQUIRE(events.size() == 2);  // the seed node and n2 (the quoted name is refused)
        CHECK(events[0]["object"]["metadata"]["name"] == "seed-1");
        CHECK(events[1]["object"]["metadata"]["labels"]["a"] == "\u00e9");
    }
    SECTION("chunk_coalesce: the events one pass picks up in one chunk") {
        REQUIRE(c->Post("/fake/faults", R"({"chunk_coalesce":true,"stall_watches_ms":60000})", "application/json"));
        ChunkedWatch w(r, "/api/v1/nodes?watch=true&timeoutSeconds=2&resourceVersion=2");
        REQUIRE(r.wait_watches(1));
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"a"}})", "application/json"));
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"b"}})", "application/json"));
        REQUIRE(c->Post("/fake/faults", R"({"stall_watches_ms":0})", "application/json"));
        const auto all = w.joined();
        REQUIRE(w.chunks.size() == 1);
        CHECK(lines(all).size() == 2);
    }
    SECTION("0 and false restore one event per chunk") {
        REQUIRE(c->Post("/fake/faults", R"({"chunk_split":7,"chunk_coalesce":true})", "application/json"));
        auto report = body_of(c->Post("/fake/faults", R"({"chunk_split":0,"chunk_coalesce":false})", "application/json"));
        CHECK(report["chunk_split"] == 0);
        CHECK(report["chunk_coalesce"] == false);
        ChunkedWatch w(r, "/api/v1/nodes?watch=true&timeoutSeconds=1");
        const auto all = w.joined();
        REQUIRE(w.chunks.size() == 1);
        CHECK(lines(all).size() == 1);
    }
}

TEST_CASE("faults: token rotation and fail_match", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    SECTION("the old token is refused once a new one is set") {
        REQUIRE(c->Post("/fake/faults", R"({"token":"rotated"})", "application/json")->status == 200);
        CHECK(c->Get("/api/v1/nodes")->status == 401);
        CHECK(r.client("rotated")->Get("/api/v1/nodes")->status == 200);
        CHECK(r.client("rotated")->Post("/fake/faults", R"({"token":"bad token"})", "application/json")->status == 400);
    }
    SECTION("fail_match fails only the requests whose target holds it") {
        REQUIRE(c->Post("/fake/faults", R"({"fail_next":1,"status":410,"fail_match":"continue="})", "application/json"));
        auto page = body_of(c->Get("/api/v1/nodes?limit=1"));
        CHECK(c->Get("/api/v1/nodes")->status == 200);
        REQUIRE(c->Post("/api/v1/nodes", R"({"metadata":{"name":"n2"}})", "application/json"));
        auto p1 = body_of(c->Get("/api/v1/nodes?limit=1"));
        auto p2 = c->Get(("/api/v1/nodes?limit=1&continue=" + p1["metadata"]["continue"].get<std::string>()).c_str());
        REQUIRE(p2);
        CHECK(p2->status == 410);
        CHECK(body_of(p2)["reason"] == "Expired");
        CHECK(body_of(c->Get("/fake/faults"))["fail_next"] == 0);

        REQUIRE(c->Post("/fake/faults", R"({"fail_next":1,"fail_match":"watch=true"})", "application/json"));
        CHECK(c->Get("/api/v1/nodes")->status == 200);
        CHECK(c->Get("/api/v1/nodes?watch=true&timeoutSeconds=1")->status == 500);
        CHECK(c->Post("/fake/faults", R"({"fail_match":"x"})", "application/json")->status == 400);
    }
}

TEST_CASE("the request log records API requests, not /fake/ ones", "[fake-apiserver][server]") {
    Running r;
    auto c = r.client();
    REQUIRE(c->Get("/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Dseed-1", {{"Accept", "application/json"}}));
    REQUIRE(c->Patch("/api/v1/nodes/seed-1?fieldManager=kubectl-patch", R"({"spec":{"unschedulable":true}})",
                     "application/strategic-merge-patch+json"));
    REQUIRE(r.client("wrong")->Get("/api/v1/nodes"));
    auto log = body_of(c->Get("/fake/requests"));
    REQUIRE(log.size() == 3);
    CHECK(log[0]["method"] == "GET");
    CHECK(log[0]["path"] == "/api/v1/nodes");
    CHECK(log[0]["query"].size() == 2);
    CHECK(log[0]["query"]["limit"] == "500");
    CHECK(log[0]["query"]["fieldSelector"] == "metadata.name=seed-1");
    CHECK(log[0]["headers"]["authorization"] == std::string("Bearer ") + kToken);
    CHECK(log[0]["headers"]["accept"] == "application/json");
    CHECK_FALSE(log[0]["headers"].contains("remote_addr"));
    CHECK(log[1]["method"] == "PATCH");
    CHECK(log[1]["content_type"] == "application/strategic-merge-patch+json");
    CHECK(log[1]["body"] == R"({"spec":{"unschedulable":true}})");
    CHECK(log[1]["query"]["fieldManager"] == "kubectl-patch");
    CHECK(log[2]["headers"]["authorization"] == "Bearer wrong");

    REQUIRE(c->Post("/fake/faults", R"({"clear_requests":true})", "application/json"));
    CHECK(body_of(c->Get("/fake/requests")).empty());
}

TEST_CASE("--service-cluster-ip-range: the mixed fixture needs the dual-stack range", "[fake-apiserver][server]") {
    const std::string fixture = KROUTE_TEST_DATA_DIR "/k8s/service-list-mixed.json";
    SECTION("single-stack (the default): refused at start, naming the file and the rule") {
        const auto dir = temp_dir();
        ServerOptions o;
        o.token = kToken;
        o.cert_dir = dir.string();
        o.services_file = fixture;
        auto s = FakeApiServer::create(o);
        REQUIRE_FALSE(s);
        CHECK(s.error() == fixture + ": Service \"web\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not "
                                     "configured on this cluster");
        o.service_cluster_ip_range = "10.96.0.0/12,10.0.0.0/16";
        auto same_family = FakeApiServer::create(o);
        REQUIRE_FALSE(same_family);
        CHECK_THAT(same_family.error(), Catch::Contains("one CIDR of each family"));
        std::filesystem::remove_all(dir);
    }
    SECTION("dual-stack: seeded as given, new Services get both families") {
        ServerOptions o;
        o.services_file = fixture;
        o.service_cluster_ip_range = "10.96.0.0/12,fd00:10:96::/112";
        Running r{o};
        auto c = r.client();
        Json web = body_of(c->Get("/api/v1/namespaces/shop/services/web"));
        CHECK(web["spec"]["clusterIPs"] == Json::array({"fd00:10:96::5c1", "10.96.44.7"}));
        CHECK(web["spec"]["clusterIP"] == "fd00:10:96::5c1");
        auto created = c->Post("/api/v1/namespaces/shop/services",
                               R"({"metadata":{"name":"api"},"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"RequireDualStack"}})",
                               "application/json");
        REQUIRE(created);
        CHECK(created->status == 201);
        Json api = Json::parse(created->body);
        CHECK(api["spec"]["clusterIPs"] == Json::array({"10.96.0.10", "fd00:10:96::a"}));
        CHECK(api["spec"]["ipFamilies"] == Json::array({"IPv4", "IPv6"}));
    }
}
