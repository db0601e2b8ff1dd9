// The HTTP list/watch client against an in-process cpp-httplib TLS server on 127.0.0.1 (port 0),
// scripted per request: list replies, watch streams (with chunk boundaries chosen by the test),
// live events pushed while a watch is held open. Waits poll a condition with a deadline.
#include <httplib.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "k8s-client/object_source.hpp"
#include "k8s_test_support.hpp"

using namespace kroute::k8s;
using namespace std::chrono_literals;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

// A self-signed certificate (it is its own CA) for 127.0.0.1 and localhost.
struct TestCert {
    X509* cert = nullptr;
    EVP_PKEY* key = nullptr;
    std::string cert_pem;

    explicit TestCert(const char* cn) {
        key = EVP_EC_gen("P-256");
        cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
        for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                                  std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
            X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
            X509_add_ext(cert, ext, -1);
            X509_EXTENSION_free(ext);
        }
        X509_sign(cert, key, EVP_sha256());
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(bio, cert);
        char* data = nullptr;
        long len = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
        cert_pem.assign(data, static_cast<std::size_t>(len));
        BIO_free(bio);
    }
    ~TestCert() {
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    TestCert(const TestCert&) = delete;
    TestCert& operator=(const TestCert&) = delete;
};

const TestCert& server_cert() {
    static const TestCert cert{"kroute-test-apiserver"};
    return cert;
}

json node_json(const std::string& name, const std::string& cidr, const std::string& rv, const std::string& ip) {
    return json{{"metadata", {{"name", name}, {"uid", "uid-" + name}, {"resourceVersion", rv}}},
                {"spec", {{"podCIDR", cidr}, {"podCIDRs", {cidr}}}},
                {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", ip}}}}}}};
}

std::string node_list(const std::vector<json>& items, const std::string& rv, const std::string& cont = "") {
    json list{{"kind", "NodeList"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}, {"items", items}};
    if (!cont.empty()) list["metadata"]["continue"] = cont;
    return list.dump();
}

std::string event(const std::string& type, json object) {
    if (type != "ERROR" && type != "BOOKMARK") {
        object["kind"] = "Node";
        object["apiVersion"] = "v1";
    }
    return json{{"type", type}, {"object", std::move(object)}}.dump() + "\n";
}

std::string bookmark(const std::string& rv) {
    return event("BOOKMARK", json{{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}});
}

std::string status_body(int code, const std::string& reason, const std::string& message) {
    return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
                {"message", message}, {"reason", reason}, {"code", code}}
        .dump();
}

struct Reply {
    int status = 200;
    std::string body;
    httplib::Headers headers;
};

struct WatchScript {
    int status = 200;  // != 200: `body` is the answer
    std::string body;
    std::vector<std::string> chunks;  // written one per chunk, in order
    bool hold = true;                 // then stream live events until the test ends the stream
};

struct Seen {
    bool watch = false;
    std::map<std::string, std::string> params;
    std::string auth;
    std::chrono::steady_clock::time_point at;
};

class FakeApi {
public:
    // `client_ca`: require client certificates signed by it (the store is the server's now).
    explicit FakeApi(X509_STORE* client_ca = nullptr) : server_{server_cert().cert, server_cert().key, client_ca} {
        server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
        server_.Get("/api/v1/nodes", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread{[this] { server_.listen_after_bind(); }};
    }
    ~FakeApi() {
        {
            std::lock_guard lock{mu_};
            closing_ = true;
        }
        cv_.notify_all();
        server_.stop();
        thread_.join();
    }
    FakeApi(const FakeApi&) = delete;
    FakeApi& operator=(const FakeApi&) = delete;

    [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

    void set_nodes(std::vector<json> items, std::string rv) {
        std::lock_guard lock{mu_};
        nodes_ = std::move(items);
        rv_ = std::move(rv);
    }
    void script_list(Reply r) {
        std::lock_guard lock{mu_};
        lists_.push_back(std::move(r));
    }
    void script_watch(WatchScript w) {
        std::lock_guard lock{mu_};
        watches_.push_back(std::move(w));
    }
    // Sent to every watch being held open now.
    void push(std::string ev) {
        {
            std::lock_guard lock{mu_};
            live_.push_back(std::move(ev));
        }
        cv_.notify_all();
    }
    std::vector<Seen> seen(bool watch) {
        std::lock_guard lock{mu_};
        std::vector<Seen> out;
        for (const auto& s : seen_)
            if (s.watch == watch) out.push_back(s);
        return out;
    }
    std::size_t count(bool watch) { return seen(watch).size(); }
    std::size_t held() {
        std::lock_guard lock{mu_};
        return held_;
    }

private:
    void handle(const httplib::Request& req, httplib::Response& res) {
        std::unique_lock lock{mu_};
        Seen s;
        s.watch = req.get_param_value("watch") == "true";
        for (const auto& [k, v] : req.params) s.params[k] = v;
        s.auth = req.get_header_value("Authorization");
        s.at = std::chrono::steady_clock::now();
        seen_.push_back(s);
        if (s.auth != "Bearer " + token_) {
            res.status = 401;
            res.set_content(status_body(401, "Unauthorized", "Unauthorized"), "application/json");
            return;
        }
        if (!s.watch) {
            Reply r{200, node_list(nodes_, rv_), {}};
            if (!lists_.empty()) {
                r = std::move(lists_.front());
                lists_.pop_front();
            }
            res.status = r.status;
            for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
            res.set_content(r.body, "application/json");
            return;
        }
        WatchScript w;
        if (!watches_.empty()) {
            w = std::move(watches_.front());
            watches_.pop_front();
        }
        if (w.status != 200) {
            res.status = w.status;
            res.set_content(w.body, "application/json");
            return;
        }
        auto next_chunk = std::make_shared<std::size_t>(0);
        auto live_seen = std::make_shared<std::size_t>(live_.size());
        auto counted = std::make_shared<bool>(false);
        res.set_chunked_content_provider(
            "application/json", [this, w, next_chunk, live_seen, counted](std::size_t, httplib::DataSink& sink) {
                if (*next_chunk < w.chunks.size()) {
                    const auto& c = w.chunks[(*next_chunk)++];
                    sink.write(c.data(), c.size());
                    return true;
                }
                if (!w.hold) {
                    sink.done();
                    return true;
                }
                std::vector<std::string> out;
                {
                    std::unique_lock l{mu_};
                    if (!*counted) {
                        *counted = true;
                        ++held_;
                    }
                    cv_.wait_for(l, 20ms, [&] { return closing_ || live_.size() > *live_seen; });
                    if (closing_) {
                        --held_;
                        sink.done();
                        return true;
                    }
                    while (*live_seen < live_.size()) out.push_back(live_[(*live_seen)++]);
                }
                for (const auto& e : out)
                    if (!sink.write(e.data(), e.size())) return false;
                return true;
            });
    }

    httplib::SSLServer server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool closing_ = false;
    std::string token_ = "good-token";
    std::vector<json> nodes_;
    std::string rv_ = "1";
    std::deque<Reply> lists_;
    std::deque<WatchScript> watches_;
    std::vector<std::string> live_;
    std::vector<Seen> seen_;
    std::size_t held_ = 0;
};

class Recorder {
public:
    NodeEventSink sink() {
        return [this](NodeEvent ev) {
            std::lock_guard lock{mu_};
            events_.push_back(std::move(ev));
        };
    }
    std::vector<std::pair<NodeEvent::Type, std::string>> summary() {
        std::lock_guard lock{mu_};
        std::vector<std::pair<NodeEvent::Type, std::string>> out;
        for (const auto& e : events_) out.emplace_back(e.type, e.object.name);
        return out;
    }
    std::vector<NodeEvent> events() {
        std::lock_guard lock{mu_};
        return events_;
    }
    std::size_t synced() {
        std::lock_guard lock{mu_};
        return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(), [](const NodeEvent& e) {
            return e.type == NodeEvent::Type::kSynced;
        }));
    }
    std::size_t size() {
        std::lock_guard lock{mu_};
        return events_.size();
    }

private:
    std::mutex mu_;
    std::vector<NodeEvent> events_;
};

ClientConfig config_for(const FakeApi& api, std::string token = "good-token") {
    ClientConfig cfg;
    cfg.server = api.url();
    cfg.ca_pem = server_cert().cert_pem;
    cfg.token = std::move(token);
    return cfg;
}

WatchOptions fast() {
    WatchOptions o;
    o.backoff_initial = 10ms;
    o.backoff_max = 50ms;
    return o;
}

using Type = NodeEvent::Type;
using Summary = std::vector<std::pair<Type, std::string>>;

}  // namespace

TEST_CASE("watcher: list, then watch events from the list's resourceVersion", "[k8s][watcher]") {
    t::LogCapture logs;
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1"), node_json("b", "10.244.2.0/24", "95", "10.0.0.2")},
                  "100");
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());

    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kAdded, "b"}, {Type::kSynced, ""}});
    auto first = rec.events().front().object;
    CHECK(first.pod_cidrs == std::vector<kroute::Prefix>{*kroute::Prefix::parse("10.244.1.0/24")});
    CHECK(first.internal_ips == std::vector<kroute::IpAddress>{*kroute::IpAddress::parse("10.0.0.1")});

    auto lists = api.seen(false);
    REQUIRE(lists.size() == 1);
    CHECK(lists[0].params == std::map<std::string, std::string>{{"limit", "500"}, {"resourceVersion", "0"}});
    CHECK(lists[0].auth == "Bearer good-token");

    REQUIRE(t::wait_until([&] { return api.held() == 1; }));
    auto watches = api.seen(true);
    REQUIRE(watches.size() == 1);
    CHECK(watches[0].params.at("resourceVersion") == "100");
    CHECK(watches[0].params.at("allowWatchBookmarks") == "true");
    const int timeout = std::stoi(watches[0].params.at("timeoutSeconds"));
    CHECK(timeout >= 300);
    CHECK(timeout < 600);

    api.push(event("ADDED", node_json("c", "10.244.3.0/24", "101", "10.0.0.3")));
    api.push(event("MODIFIED", node_json("a", "10.244.9.0/24", "102", "10.0.0.1")));
    api.push(event("MODIFIED", node_json("a", "10.244.9.0/24", "103", "10.0.0.1")));  // heartbeat: RV only
    api.push(event("DELETED", node_json("b", "10.244.2.0/24", "104", "10.0.0.2")));
    api.push(bookmark("110"));
    api.push(event("ADDED", node_json("bad", "10.244.300.0/24", "111", "10.0.0.9")));  // skipped, logged
    api.push(event("ADDED", node_json("d", "10.244.4.0/24", "112", "10.0.0.4")));
    REQUIRE(t::wait_until([&] { return rec.size() == 7; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"},
                                   {Type::kAdded, "b"},
                                   {Type::kSynced, ""},
                                   {Type::kAdded, "c"},
                                   {Type::kModified, "a"},
                                   {Type::kDeleted, "b"},
                                   {Type::kAdded, "d"}});
    CHECK(rec.events()[4].object.pod_cidrs.front() == *kroute::Prefix::parse("10.244.9.0/24"));
    CHECK(logs.count("skipping a malformed node: node bad") == 1);
    CHECK(logs.count("10.244.300.0/24") == 1);

    // stop() interrupts the blocked watch (read timeout: minutes) promptly and joins.
    const auto before = std::chrono::steady_clock::now();
    watcher->stop();
    CHECK(std::chrono::steady_clock::now() - before < 5s);
    const auto after_stop = rec.size();
    api.push(event("ADDED", node_json("e", "10.244.5.0/24", "120", "10.0.0.5")));
    CHECK(rec.size() == after_stop);  // no sink call after stop() returned
    CHECK(api.count(false) == 1);
}

TEST_CASE("watcher: a clean end of the stream re-watches from the last RV without listing", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    // One event split across chunks, mid-string; then a bookmark; then the server ends the stream.
    const std::string added = event("ADDED", node_json("c", "10.244.3.0/24", "101", "10.0.0.3"));
    api.script_watch(WatchScript{200, "", {added.substr(0, 17), added.substr(17) + bookmark("150").substr(0, 5),
                                           bookmark("150").substr(5)},
                                 false});
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return api.count(true) >= 2 && api.held() == 1; }));
    auto watches = api.seen(true);
    CHECK(watches[0].params.at("resourceVersion") == "100");
    CHECK(watches[1].params.at("resourceVersion") == "150");
    CHECK(api.count(false) == 1);
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kSynced, ""}, {Type::kAdded, "c"}});
    watcher->stop();
}

TEST_CASE("watcher: ERROR 410 in the stream relists and reports vanished nodes", "[k8s][watcher]") {
    FakeApi api;
    api.script_list(Reply{200,
                          node_list({node_json("a", "10.244.1.0/24", "90", "10.0.0.1"),
                                     node_json("b", "10.244.2.0/24", "91", "10.0.0.2")},
                                    "100"),
                          {}});
    api.script_list(Reply{200,
                          node_list({node_json("a", "10.244.1.0/24", "190", "10.0.0.1"),
                                     node_json("c", "10.244.3.0/24", "191", "10.0.0.3")},
                                    "200"),
                          {}});
    api.script_watch(WatchScript{200, "", {t::read_text(t::data_path("watch-410-expired-error-event.jsonl"))}, false});
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 2 && api.held() == 1; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"},
                                   {Type::kAdded, "b"},
                                   {Type::kSynced, ""},
                                   {Type::kDeleted, "b"},
                                   {Type::kAdded, "c"},
                                   {Type::kSynced, ""}});
    auto lists = api.seen(false);
    REQUIRE(lists.size() == 2);
    // client-go reflector: relist at the last RV, unpaged, so the watch cache can serve it.
    CHECK(lists[1].params == std::map<std::string, std::string>{{"resourceVersion", "100"}});
    CHECK(api.seen(true).back().params.at("resourceVersion") == "200");
    watcher->stop();
}

TEST_CASE("watcher: HTTP 410 on the list relists with resourceVersion unset", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    api.script_list(Reply{410, status_body(410, "Expired", "The provided continue parameter is too old"), {}});
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
    auto lists = api.seen(false);
    REQUIRE(lists.size() == 2);
    CHECK(lists[0].params.at("resourceVersion") == "0");
    CHECK(lists[1].params == std::map<std::string, std::string>{{"limit", "500"}});  // quorum read
    watcher->stop();
}

TEST_CASE("watcher: 5xx backs off and recovers; Retry-After is honoured", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    api.script_list(Reply{500, "Internal Server Error: etcd is sad", {}});
    api.script_list(Reply{503, status_body(503, "ServiceUnavailable", "try later"), {{"Retry-After", "1"}}});
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
    auto lists = api.seen(false);
    REQUIRE(lists.size() == 3);
    CHECK(lists[2].at - lists[1].at >= 900ms);  // Retry-After: 1 (the backoff alone is 10-40 ms)
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kSynced, ""}});
    watcher->stop();
}

TEST_CASE("watcher: 5xx on the watch re-watches from the same RV without listing", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    api.script_watch(WatchScript{500, status_body(500, "InternalError", "boom"), {}, true});
    api.script_watch(WatchScript{200, "", {"{\"type\":\"ADDED\",garbage}\n"}, true});  // a broken stream
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    // (The fake cannot tell when a client left a held stream, so its held() count is no help here.)
    REQUIRE(t::wait_until([&] { return api.count(true) >= 3; }));
    for (const auto& w : api.seen(true)) CHECK(w.params.at("resourceVersion") == "100");
    CHECK(api.count(false) == 1);
    watcher->stop();
}

TEST_CASE("watcher: a paged list follows continue tokens", "[k8s][watcher]") {
    FakeApi api;
    api.script_list(Reply{200, node_list({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "300", "tok+/=="), {}});
    api.script_list(Reply{200, node_list({node_json("b", "10.244.2.0/24", "91", "10.0.0.2")}, "300"), {}});
    Recorder rec;
    WatchOptions opts = fast();
    opts.page_size = 1;
    auto watcher = make_node_watcher(config_for(api), opts);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1 && api.held() == 1; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kAdded, "b"}, {Type::kSynced, ""}});
    auto lists = api.seen(false);
    REQUIRE(lists.size() == 2);
    CHECK(lists[0].params == std::map<std::string, std::string>{{"limit", "1"}, {"resourceVersion", "0"}});
    CHECK(lists[1].params == std::map<std::string, std::string>{{"continue", "tok+/=="}, {"limit", "1"}});
    CHECK(api.seen(true).at(0).params.at("resourceVersion") == "300");
    watcher->stop();
}

TEST_CASE("watcher: a wrong token gets 401, logged once, and no events", "[k8s][watcher]") {
    t::LogCapture logs;
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api, "wrong-token"), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return api.count(false) >= 4; }));
    watcher->stop();
    CHECK(rec.size() == 0);
    CHECK(logs.count("401 Unauthorized") == 1);
    CHECK(api.seen(false).front().auth == "Bearer wrong-token");
}

TEST_CASE("watcher: 403 names the missing RBAC rule once, then recovers", "[k8s][watcher]") {
    t::LogCapture logs;
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    const auto forbidden = status_body(403, "Forbidden",
                                       "nodes is forbidden: User \"system:serviceaccount:kube-system:kroute\" cannot "
                                       "list resource \"nodes\" in API group \"\" at the cluster scope");
    for (int i = 0; i < 3; ++i) api.script_list(Reply{403, forbidden, {}});
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
    watcher->stop();
    CHECK(logs.count("grant list and watch on nodes") == 1);
    CHECK(logs.count("cannot list resource") == 1);
}

TEST_CASE("watcher: after a 401 the token file is re-read at once", "[k8s][watcher]") {
    t::TempDir dir;
    dir.write("token", "expired-token");
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    ClientConfig cfg = config_for(api, "");
    cfg.token_file = dir.file("token");
    Recorder rec;
    auto watcher = make_node_watcher(cfg, fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return api.count(false) >= 1; }));
    dir.write("token", "good-token\n");  // the kubelet rotated it; the periodic re-read is a minute away
    REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
    watcher->stop();
    CHECK(api.seen(false).front().auth == "Bearer expired-token");
    CHECK(api.seen(false).back().auth == "Bearer good-token");
}

TEST_CASE("watcher: TLS verification", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    Recorder rec;

    SECTION("a server certificate from another CA is refused before any request") {
        t::LogCapture logs;
        static const TestCert other{"someone-else"};
        ClientConfig cfg = config_for(api);
        cfg.ca_pem = other.cert_pem;
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return logs.count("TLS handshake failed (error:0A000086:SSL routines::certificate verify failed)") >= 2; }));
        watcher->stop();
        CHECK(rec.size() == 0);
        CHECK(api.count(false) == 0);
    }
    SECTION("a rotated CA file is re-read after a failed handshake") {
        t::LogCapture logs;
        static const TestCert old_ca{"old-cluster-ca"};
        t::TempDir dir;
        dir.write("ca.crt", old_ca.cert_pem);
        ClientConfig cfg = config_for(api);
        cfg.ca_pem = old_ca.cert_pem;
        cfg.ca_file = dir.file("ca.crt");
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return logs.count("certificate verify failed") >= 1; }));
        CHECK(rec.size() == 0);
        dir.write("ca.crt", server_cert().cert_pem);
        REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
        watcher->stop();
        CHECK(logs.count("verifying the API server against the new CA") == 1);
    }
    SECTION("tls_server_name must match the certificate") {
        t::LogCapture logs;
        ClientConfig cfg = config_for(api);
        cfg.tls_server_name = "kubernetes.default.svc";
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return logs.count("TLS handshake failed (error:0A000086:SSL routines::certificate verify failed)") >= 2; }));
        watcher->stop();
        CHECK(rec.size() == 0);
    }
    SECTION("tls_server_name that matches (SNI and check by name, connect by IP)") {
        ClientConfig cfg = config_for(api);
        cfg.tls_server_name = "localhost";
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
        watcher->stop();
    }
    SECTION("insecure_skip_tls_verify accepts it without a CA") {
        ClientConfig cfg = config_for(api);
        cfg.ca_pem.clear();
        cfg.insecure_skip_tls_verify = true;
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
        watcher->stop();
    }
}

TEST_CASE("watcher: client certificate authentication", "[k8s][watcher]") {
    static const TestCert client{"system:node:kroute"};
    X509_STORE* client_ca = X509_STORE_new();
    X509_STORE_add_cert(client_ca, client.cert);
    FakeApi api{client_ca};
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    Recorder rec;

    SECTION("with the certificate") {
        ClientConfig cfg = config_for(api);
        cfg.client_cert_pem = client.cert_pem;
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, client.key, nullptr, nullptr, 0, nullptr, nullptr);
        char* data = nullptr;
        long len = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
        cfg.client_key_pem.assign(data, static_cast<std::size_t>(len));
        BIO_free(bio);
        auto watcher = make_node_watcher(cfg, fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return rec.synced() == 1; }));
        watcher->stop();
    }
    SECTION("without it the handshake fails") {
        t::LogCapture logs;
        auto watcher = make_node_watcher(config_for(api), fast());
        watcher->start(rec.sink());
        REQUIRE(t::wait_until([&] { return logs.count("list nodes: ") >= 2; }));
        watcher->stop();
        CHECK(rec.size() == 0);
        CHECK(api.count(false) == 0);
    }
}

TEST_CASE("watcher: stop() cuts a long backoff short", "[k8s][watcher]") {
    FakeApi api;
    for (int i = 0; i < 3; ++i) api.script_list(Reply{500, "down", {}});
    WatchOptions opts;
    opts.backoff_initial = 60s;
    opts.backoff_max = 60s;
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), opts);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return api.count(false) == 1; }));
    const auto before = std::chrono::steady_clock::now();
    watcher->stop();
    CHECK(std::chrono::steady_clock::now() - before < 5s);
    CHECK(api.count(false) == 1);
}

TEST_CASE("watcher: a watch that ends at once without events backs off instead of spinning", "[k8s][watcher]") {
    FakeApi api;
    api.set_nodes({node_json("a", "10.244.1.0/24", "90", "10.0.0.1")}, "100");
    for (int i = 0; i < 1000; ++i) api.script_watch(WatchScript{200, "", {}, false});
    WatchOptions opts = fast();
    opts.backoff_initial = 200ms;
    opts.backoff_max = 200ms;
    t::LogCapture logs;
    Recorder rec;
    auto watcher = make_node_watcher(config_for(api), opts);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return api.count(true) >= 2; }));
    const auto watches = api.seen(true);
    watcher->stop();
    CHECK(watches[1].at - watches[0].at >= 190ms);
    CHECK(logs.count("ended at once without events") >= 1);
    CHECK(api.count(false) == 1);
}

TEST_CASE("watcher: a bad configuration is logged, and stop() still returns", "[k8s][watcher]") {
    t::LogCapture logs;
    ClientConfig cfg;
    cfg.server = "ftp://127.0.0.1";
    Recorder rec;
    auto watcher = make_node_watcher(cfg, fast());
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return logs.count("cannot watch nodes") == 1; }));
    watcher->stop();
    CHECK(rec.size() == 0);

    ClientConfig bad_ca;
    bad_ca.server = "https://127.0.0.1:1";
    bad_ca.ca_pem = "not a certificate";
    auto w2 = make_node_watcher(bad_ca, fast());
    w2->start(rec.sink());
    REQUIRE(t::wait_until([&] { return logs.count("no PEM certificate") == 1; }));
    w2->stop();
}
