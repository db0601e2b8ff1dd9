#include "tests/fake-apiserver/server.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "tests/fake-apiserver/kubeconfig.hpp"
#include "tests/fake-apiserver/tls_certs.hpp"

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct FakeApiServer::WatchState {
    Scope scope;
    Filter filter;
    std::uint64_t cursor = 0;
    // Wire text sent first: replayed or synthetic events, the 410/504 ERROR, injected text.
    std::vector<std::string> pending;
    bool end_after_pending = false;  // the 410/504 case: ERROR, then end of stream
    bool bookmarks = false;
    Clock::time_point deadline;
    Clock::time_point next_bookmark;
    std::uint64_t epoch = 0;  // drop_watches ends every watch of an older epoch
};

namespace {

std::string now_rfc3339() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string random_uid() {
    // RFC 4122 §4.4 version-4 UUID, as the apiserver's uuid.NewUUID.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const std::uint64_t hi = rng();
    const std::uint64_t lo = rng();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>(hi >> 16 & 0xffff), static_cast<unsigned>(hi & 0xfff),
                  static_cast<unsigned>((lo >> 48 & 0x3fff) | 0x8000),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

void send_json(httplib::Response& res, int code, const json& body) {
    res.status = code;
    res.set_header("Cache-Control", "no-cache, private");
    res.set_content(to_wire(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, e.code, status_json(e));
    if (auto r = e.details.find("retryAfterSeconds"); r != e.details.end() && r->is_number_integer()) {
        res.set_header("Retry-After", std::to_string(r->get<int>()));
    }
}

bool flag_true(const httplib::Request& req, const char* name) {
    const auto v = req.get_param_value(name);
    return v == "true" || v == "1";
}

// `mode`, when given, is applied before the content is written (an existing file keeps its mode
// otherwise).
Expected<std::string, std::string> write_file(const std::filesystem::path& path, const std::string& content,
                                              std::optional<std::filesystem::perms> mode = std::nullopt) {
    if (mode) {
        std::ofstream(path, std::ios::binary | std::ios::app).close();  // exists, still empty or old
        std::error_code ec;
        std::filesystem::permissions(path, *mode, std::filesystem::perm_options::replace, ec);
        if (ec) return unexpected("cannot set the mode of " + path.string() + ": " + ec.message());
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return unexpected("cannot write " + path.string());
    return path.string();
}

Expected<std::string, std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return unexpected("cannot read " + path.string());
    return ss.str();
}

json api_resource(std::string_view name, std::string_view singular, bool namespaced, std::string_view kind,
                  std::initializer_list<const char*> verbs) {
    return {{"name", name}, {"singularName", singular}, {"namespaced", namespaced}, {"kind", kind}, {"verbs", verbs}};
}

const std::initializer_list<const char*> kObjectVerbs{"create", "delete", "get", "list", "patch", "update", "watch"};
const std::initializer_list<const char*> kStatusVerbs{"get", "patch", "update"};

json core_v1_resources() {
    json nodes = api_resource("nodes", "node", false, "Node", kObjectVerbs);
    nodes["shortNames"] = {"no"};
    json services = api_resource("services", "service", true, "Service", kObjectVerbs);
    services["shortNames"] = {"svc"};
    services["categories"] = {"all"};
    return {{"kind", "APIResourceList"},
            {"groupVersion", "v1"},
            {"resources", json::array({std::move(nodes), api_resource("nodes/status", "", false, "Node", kStatusVerbs),
                                       std::move(services),
                                       api_resource("services/status", "", true, "Service", kStatusVerbs)})}};
}

json discovery_group() {
    const json version = {{"groupVersion", "discovery.k8s.io/v1"}, {"version", "v1"}};
    return {{"name", "discovery.k8s.io"}, {"versions", json::array({version})}, {"preferredVersion", version}};
}

json discovery_v1_resources() {
    return {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", "discovery.k8s.io/v1"},
            {"resources",
             json::array({api_resource("endpointslices", "endpointslice", true, "EndpointSlice", kObjectVerbs)})}};
}

// Checked for --token and for a rotated token: both end up in a YAML scalar and a header.
bool valid_token(const std::string& token) {
    return !token.empty() && token.find_first_of("\"\\ \r\n") == std::string::npos;
}

// httplib adds the peer's and its own address to the request headers; they were not sent.
bool sent_header(const std::string& name) {
    return name != "REMOTE_ADDR" && name != "REMOTE_PORT" && name != "LOCAL_ADDR" && name != "LOCAL_PORT";
}

}  // namespace

FakeApiServer::FakeApiServer(ServerOptions opts, ServiceIpRanges service_ips)
    : opts_{std::move(opts)},
      store_{opts_.compaction_window, std::move(service_ips), now_rfc3339, random_uid},
      token_{opts_.token} {}

FakeApiServer::~FakeApiServer() { stop(); }

Expected<std::unique_ptr<FakeApiServer>, std::string> FakeApiServer::create(ServerOptions opts) {
    if (!valid_token(opts.token)) {
        return unexpected(std::string("--token must be non-empty, without quotes, backslashes or spaces"));
    }
    auto service_ips = ServiceIpRanges::parse(opts.service_cluster_ip_range);
    if (!service_ips) return unexpected(service_ips.error());
    std::unique_ptr<FakeApiServer> s{new FakeApiServer(std::move(opts), std::move(*service_ips))};
    const ServerOptions& o = s->opts_;

    for (const auto& [file, resource] : {std::pair{o.nodes_file, Resource::kNodes},
                                         std::pair{o.services_file, Resource::kServices},
                                         std::pair{o.endpointslices_file, Resource::kEndpointSlices}}) {
        if (file.empty()) continue;
        auto text = read_file(file);
        if (!text) return unexpected(text.error());
        const auto doc = parse_json(*text);
        if (!doc) return unexpected(file + ": not valid JSON");
        if (auto r = s->store_.seed(resource, *doc); !r) return unexpected(file + ": " + r.error().message);
    }

    // A CA left in the cert dir by an earlier run is reused (only the server certificate is new):
    // clients holding the old kubeconfig trust the restarted server, as after a control plane
    // restart. A CA that cannot be used is an error, not silently replaced.
    const std::filesystem::path dir{o.cert_dir};
    std::vector<std::string> names{o.listen, "127.0.0.1", "localhost"};
    std::error_code ca_ec;
    const bool have_ca = std::filesystem::exists(dir / "ca.crt", ca_ec) && std::filesystem::exists(dir / "ca.key", ca_ec);
    Expected<CertBundle, std::string> certs = unexpected(std::string("unset"));
    if (have_ca) {
        auto ca_pem = read_file(dir / "ca.crt");
        auto ca_key_pem = read_file(dir / "ca.key");
        if (!ca_pem) return unexpected(ca_pem.error());
        if (!ca_key_pem) return unexpected(ca_key_pem.error());
        certs = make_certificates(names, *ca_pem, *ca_key_pem);
        if (!certs) {
            return unexpected("certificates: reusing the CA in " + o.cert_dir + ": " + certs.error() +
                              " (remove ca.crt and ca.key to start with a fresh CA)");
        }
    } else {
        certs = make_certificates(names);
        if (!certs) return unexpected("certificates: " + certs.error());
    }

    // SSL_CTX_use_certificate/PrivateKey take their own references: the bundle may go.
    s->http_ = std::make_unique<httplib::SSLServer>(certs->cert.get(), certs->key.get());
    if (!s->http_->is_valid()) return unexpected(std::string("TLS context setup failed"));
    const std::size_t threads = o.threads;
    s->http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // Idle keep-alive connections hold a worker until this expires: keep stop() prompt.
    s->http_->set_keep_alive_timeout(2);
    s->http_->set_payload_max_length(3 * 1024 * 1024);  // the apiserver's request body limit (3 MiB)
    // Go's net/http sets TCP_NODELAY on every connection: a watch event goes out at once instead of
    // waiting, under Nagle, for the ACK of the previous chunk (40 ms of delayed ACK).
    s->http_->set_tcp_nodelay(true);
    s->install_routes();

    if (o.port == 0) {
        s->port_ = s->http_->bind_to_any_port(o.listen);
    } else {
        s->port_ = s->http_->bind_to_port(o.listen, o.port) ? o.port : -1;
    }
    if (s->port_ <= 0) return unexpected("cannot listen on " + o.listen + ":" + std::to_string(o.port));
    s->url_ = server_url(o.listen, s->port_);

    std::error_code ec;
    std::filesystem::create_directories(o.cert_dir, ec);
    if (ec) return unexpected("cannot create " + o.cert_dir + ": " + ec.message());
    // The CA key first and private from its creation: the only secret here besides the token.
    for (auto r : {write_file(dir / "ca.key", certs->ca_key_pem, std::filesystem::perms::owner_read |
                                                                     std::filesystem::perms::owner_write),
                   write_file(dir / "ca.crt", certs->ca_pem),
                   write_file(dir / "kubeconfig", render_kubeconfig(s->url_, certs->ca_pem, o.token)),
                   write_file(dir / "port", std::to_string(s->port_) + "\n")}) {
        if (!r) return unexpected(r.error());
    }
    return s;
}

bool FakeApiServer::run() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return true;
        running_ = true;
    }
    const bool ok = http_->listen_after_bind();
    std::lock_guard lock(mu_);
    running_ = false;
    return ok;
}

void FakeApiServer::stop() {
    bool running = false;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        running = running_;
    }
    changed_.notify_all();
    if (!http_) return;
    // httplib's stop() does nothing until listen_after_bind() has set is_running: a stop() right
    // after run() was entered would be lost and run() would serve forever. So stop again until
    // run() has returned (bounded; on a loaded machine the listener may take a while to start).
    http_->stop();
    for (int i = 0; running && i < 30000; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
        http_->stop();
        std::lock_guard lock(mu_);
        running = running_;
    }
}

bool FakeApiServer::admit(const httplib::Request& req, httplib::Response& res) {
    const bool control = req.path.rfind("/fake/", 0) == 0;
    std::unique_lock lock(mu_);
    if (!control) {
        RequestRecord record{req.method, req.path, {req.params.begin(), req.params.end()}, {}, req.body};
        for (const auto& [name, value] : req.headers) {
            if (sent_header(name)) record.headers.emplace_back(name, value);
        }
        requests_.add(record);
    }
    // cpp-httplib gzips application/json when asked, and its gzip of a chunked body holds data
    // back until the stream ends: a watch would deliver nothing. The apiserver answers watches
    // uncompressed too. Every handler admits before it answers, and the response is encoded after
    // the handler returns; the log above keeps the header. Request is a non-const object inside
    // the server.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    if (req.get_header_value("Authorization") != "Bearer " + token_) {
        lock.unlock();
        send_error(res, unauthorized());
        return false;
    }
    if (control || faults_.fail_next <= 0) return true;
    // fail_match is looked for in the target as sent: path and the still encoded query.
    if (!faults_.fail_match.empty() && req.target.find(faults_.fail_match) == std::string::npos) return true;
    --faults_.fail_next;
    const int code = faults_.fail_status;
    const auto retry_after = faults_.retry_after;
    lock.unlock();
    if (code == 429) {
        // API Priority and Fairness rejects with plain text, not a Status (priority-and-fairness.go).
        res.status = 429;
        res.set_content("Too many requests, please try again later.\n", "text/plain; charset=utf-8");
        res.set_header("Retry-After", std::to_string(retry_after.value_or(1)));
        return false;
    }
    ApiError e{code, reason_for_code(code), "injected fault: " + std::to_string(code), json::object()};
    if (retry_after) e.details["retryAfterSeconds"] = *retry_after;
    send_error(res, e);
    return false;
}

void FakeApiServer::install_routes() {
    auto& h = *http_;
    h.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // an error we already answered with a Status
        if (!admit(req, res)) return;
        if (res.status == 405) {
            send_error(res, method_not_allowed(req.method));
        } else {
            send_error(res, path_not_found());
        }
    });
    h.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_error(res, ApiError{500, "InternalError", "Internal error occurred: " + what, json::object()});
    });
    if (opts_.log_requests) {
        h.set_logger([](const httplib::Request& req, const httplib::Response& res) {
            std::fprintf(stderr, "fake-apiserver: %s %s -> %d\n", req.method.c_str(), req.target.c_str(), res.status);
        });
    }

    h.Get("/version", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        send_json(res, 200,
                  {{"major", "1"},
                   {"minor", "32"},
                   {"gitVersion", "v1.32.0-fake"},
                   {"gitCommit", "0000000000000000000000000000000000000000"},
                   {"gitTreeState", "clean"},
                   {"buildDate", "2024-12-11T00:00:00Z"},
                   {"goVersion", "go1.23.0"},
                   {"compiler", "gc"},
                   {"platform", "linux/amd64"}});
    });
    // Plain discovery only: answering application/json (not the aggregated
    // apidiscovery.k8s.io/v2 type) makes kubectl fall back to GET /api/v1, as v1.20 always does.
    h.Get("/api", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        send_json(res, 200,
                  {{"kind", "APIVersions"},
                   {"versions", {"v1"}},
                   {"serverAddressByClientCIDRs",
                    json::array({{{"clientCIDR", "0.0.0.0/0"},
                                  {"serverAddress", url_.substr(std::string_view("https://").size())}}})}});
    });
    h.Get("/apis", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        send_json(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", json::array({discovery_group()})}});
    });
    h.Get("/api/v1", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        send_json(res, 200, core_v1_resources());
    });
    h.Get("/apis/discovery.k8s.io", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        json group = {{"kind", "APIGroup"}, {"apiVersion", "v1"}};
        group.update(discovery_group());
        send_json(res, 200, group);
    });
    h.Get("/apis/discovery.k8s.io/v1", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        send_json(res, 200, discovery_v1_resources());
    });

    // Every namespace exists: kubectl asks for the namespace after a NotFound, to say whether the
    // object or its namespace is missing. Not listed in discovery, not listable.
    h.Get(R"(/api/v1/namespaces/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        const std::string ns = req.matches[1].str();
        send_json(res, 200,
                  {{"kind", "Namespace"},
                   {"apiVersion", "v1"},
                   {"metadata", {{"name", ns}, {"labels", {{"kubernetes.io/metadata.name", ns}}}}},
                   {"spec", {{"finalizers", {"kubernetes"}}}},
                   {"status", {{"phase", "Active"}}}});
    });
    install_resource_routes(Resource::kNodes, "/api/v1/nodes", "", R"(/api/v1/nodes/([^/]+))");
    install_resource_routes(Resource::kServices, "/api/v1/services", R"(/api/v1/namespaces/([^/]+)/services)",
                            R"(/api/v1/namespaces/([^/]+)/services/([^/]+))");
    install_resource_routes(Resource::kEndpointSlices, "/apis/discovery.k8s.io/v1/endpointslices",
                            R"(/apis/discovery.k8s.io/v1/namespaces/([^/]+)/endpointslices)",
                            R"(/apis/discovery.k8s.io/v1/namespaces/([^/]+)/endpointslices/([^/]+))");

    h.Get("/fake/faults", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        std::lock_guard lock(mu_);
        res.set_content(fault_report(), "application/json");
    });
    h.Post("/fake/faults", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        handle_faults(req, res);
    });
    h.Get("/fake/requests", [this](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        std::lock_guard lock(mu_);
        res.set_content(to_wire(requests_.to_json()), "application/json");
    });
}

void FakeApiServer::install_resource_routes(Resource r, const std::string& all, const std::string& collection,
                                            const std::string& item) {
    auto& h = *http_;
    const ResourceInfo& ri = info(r);
    // The scope of a matched path: the namespace is the first capture of a namespaced path.
    const auto scope_of = [r, namespaced = ri.namespaced](const httplib::Request& req) {
        return Scope{r, namespaced ? req.matches[1].str() : std::string()};
    };
    const auto name_of = [](const httplib::Request& req) { return req.matches[req.matches.size() - 1].str(); };
    const auto create = [this, scope_of](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        std::lock_guard lock(mu_);
        auto c = store_.create(scope_of(req), req.body);
        if (!c) return send_error(res, c.error());
        send_json(res, c->code, c->object);
        changed_.notify_all();
    };

    h.Get(all, [this, r](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        handle_list_or_watch(Scope{r, ""}, req, res);
    });
    if (collection.empty()) {
        h.Post(all, create);
    } else {
        h.Get(collection, [this, scope_of](const httplib::Request& req, httplib::Response& res) {
            if (!admit(req, res)) return;
            handle_list_or_watch(scope_of(req), req, res);
        });
        h.Post(collection, create);
    }

    std::vector<std::pair<std::string, Subresource>> items{{item, Subresource::kNone}};
    if (ri.has_status) items.emplace_back(item + "/status", Subresource::kStatus);
    for (const auto& [pattern, sub] : items) {
        h.Get(pattern, [this, scope_of, name_of](const httplib::Request& req, httplib::Response& res) {
            if (!admit(req, res)) return;
            std::lock_guard lock(mu_);
            auto g = store_.get(scope_of(req), name_of(req));
            if (!g) return send_error(res, g.error());
            send_json(res, 200, *g);
        });
        h.Put(pattern, [this, scope_of, name_of, sub = sub](const httplib::Request& req, httplib::Response& res) {
            if (!admit(req, res)) return;
            std::lock_guard lock(mu_);
            auto u = store_.update(scope_of(req), name_of(req), req.body, sub);
            if (!u) return send_error(res, u.error());
            send_json(res, u->code, u->object);
            changed_.notify_all();
        });
        h.Patch(pattern, [this, scope_of, name_of, sub = sub](const httplib::Request& req, httplib::Response& res) {
            if (!admit(req, res)) return;
            std::lock_guard lock(mu_);
            auto p = store_.patch(scope_of(req), name_of(req), req.get_header_value("Content-Type"), req.body, sub);
            if (!p) return send_error(res, p.error());
            send_json(res, p->code, p->object);
            changed_.notify_all();
        });
    }
    h.Delete(item, [this, scope_of, name_of](const httplib::Request& req, httplib::Response& res) {
        if (!admit(req, res)) return;
        std::lock_guard lock(mu_);
        auto d = store_.remove(scope_of(req), name_of(req));
        if (!d) return send_error(res, d.error());
        send_json(res, 200, *d);
        changed_.notify_all();
    });
}

void FakeApiServer::handle_list_or_watch(const Scope& scope, const httplib::Request& req, httplib::Response& res) {
    if (flag_true(req, "watch")) return handle_watch(scope, req, res);
    ListOptions o{req.get_param_value("limit"), req.get_param_value("continue"),
                  req.get_param_value("resourceVersion"), req.get_param_value("fieldSelector"),
                  req.get_param_value("labelSelector")};
    std::lock_guard lock(mu_);
    auto r = store_.list(scope, o);
    if (!r) return send_error(res, r.error());
    send_json(res, 200, *r);
}

void FakeApiServer::handle_watch(const Scope& scope, const httplib::Request& req, httplib::Response& res) {
    auto filter = Filter::parse(info(scope.resource), req.get_param_value("fieldSelector"),
                                req.get_param_value("labelSelector"));
    if (!filter) return send_error(res, filter.error());
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.default_watch_timeout);
    if (const auto t = req.get_param_value("timeoutSeconds"); !t.empty()) {
        char* end = nullptr;
        const long secs = std::strtol(t.c_str(), &end, 10);
        if (*end != '\0' || secs < 0) return send_error(res, bad_request("timeoutSeconds: Invalid value: \"" + t + "\""));
        if (secs > 0) timeout = std::chrono::seconds{secs};
    }

    auto w = std::make_shared<WatchState>();
    w->scope = scope;
    w->filter = std::move(*filter);
    w->bookmarks = flag_true(req, "allowWatchBookmarks");
    const auto now = Clock::now();
    w->deadline = now + timeout;
    w->next_bookmark = now + opts_.bookmark_interval;
    {
        std::lock_guard lock(mu_);
        WatchOptions o{req.get_param_value("resourceVersion"), req.get_param_value("fieldSelector"),
                       req.get_param_value("labelSelector"), flag_true(req, "sendInitialEvents")};
        auto start = store_.start_watch(scope, o, w->filter);
        const bool stream_error = !start && (start.error().code == 410 || start.error().code == 504);
        if (!start && !stream_error) return send_error(res, start.error());
        if (start) {
            for (const auto& e : start->events) w->pending.push_back(to_wire(e) + "\n");
            w->cursor = start->cursor;
        } else {
            // Too old (410) or from the future (504): HTTP 200, one ERROR event carrying the
            // Status, then end of stream, as the watch cache answers once the request is admitted.
            w->pending.push_back(to_wire(Store::error_event(start.error())) + "\n");
            w->end_after_pending = true;
        }
        w->epoch = faults_.drop_epoch;
        watches_.insert(w.get());
    }
    ++open_watches_;
    res.status = 200;
    res.set_header("Cache-Control", "no-cache, private");
    // The releaser runs when the response goes, whether or not the provider ever ran.
    res.set_chunked_content_provider(
        "application/json", [this, w](std::size_t, httplib::DataSink& sink) { return pump_watch(*w, sink); },
        [this, w](bool) {
            std::lock_guard lock(mu_);
            watches_.erase(w.get());
            --open_watches_;
        });
}

bool FakeApiServer::pump_watch(WatchState& w, httplib::DataSink& sink) {
    std::vector<std::string> out;  // wire text: one compact JSON event per line, as json.Encoder writes
    bool end = false;
    std::size_t split = 0;
    bool coalesce = false;
    {
        std::unique_lock lock(mu_);
        // Every pass either returns events, ends the stream, or waits with a deadline no later
        // than the watch's own: the loop cannot outlive the watch.
        for (;;) {
            if (stopping_ || w.epoch != faults_.drop_epoch) {
                end = true;
                break;
            }
            const auto now = Clock::now();
            if (now >= w.deadline) {
                // The apiserver sends a last bookmark shortly before the deadline (cache_watcher.go).
                if (w.bookmarks && !w.end_after_pending) {
                    out.push_back(to_wire(Store::bookmark(w.scope.resource, w.cursor)) + "\n");
                }
                end = true;
                break;
            }
            if (now < faults_.stall_until) {
                changed_.wait_until(lock, std::min(faults_.stall_until, w.deadline));
                continue;
            }
            if (!w.pending.empty()) {
                out = std::move(w.pending);
                w.pending.clear();
                end = w.end_after_pending;
                break;
            }
            auto events = store_.events_since(w.scope, w.cursor, w.filter);
            if (!events) {
                out.push_back(to_wire(Store::error_event(events.error())) + "\n");
                end = true;
                break;
            }
            if (!events->empty()) {
                for (const auto& e : *events) out.push_back(to_wire(e) + "\n");
                break;
            }
            if (w.bookmarks && now >= w.next_bookmark) {
                out.push_back(to_wire(Store::bookmark(w.scope.resource, w.cursor)) + "\n");
                w.next_bookmark = now + opts_.bookmark_interval;
                break;
            }
            changed_.wait_until(lock, w.bookmarks ? std::min(w.deadline, w.next_bookmark) : w.deadline);
        }
        split = faults_.chunk_split;
        coalesce = faults_.chunk_coalesce;
    }
    // Each sink.write is one HTTP chunk. By default that is one event (or one injected text);
    // the chunking faults reproduce what a real apiserver's flushes and the proxies between may
    // do: several events in one chunk, or an event torn at any byte.
    if (split > 0 || coalesce) {
        std::string all;
        for (const auto& piece : out) all += piece;
        const std::size_t step = split > 0 ? split : std::max<std::size_t>(all.size(), 1);
        for (std::size_t off = 0; off < all.size(); off += step) {
            if (!sink.write(all.data() + off, std::min(step, all.size() - off))) return false;
        }
    } else {
        for (const auto& piece : out) {
            if (!sink.write(piece.data(), piece.size())) return false;
        }
    }
    if (end) sink.done();
    return true;
}

std::string FakeApiServer::fault_report() const {
    const auto now = Clock::now();
    const auto stall_ms = faults_.stall_until > now
                              ? std::chrono::duration_cast<std::chrono::milliseconds>(faults_.stall_until - now).count()
                              : 0;
    json r = {{"fail_next", faults_.fail_next},
              {"status", faults_.fail_status},
              {"retry_after", faults_.retry_after ? json(*faults_.retry_after) : json()},
              {"fail_match", faults_.fail_match},
              {"stall_remaining_ms", stall_ms},
              {"drop_epoch", faults_.drop_epoch},
              {"chunk_split", faults_.chunk_split},
              {"chunk_coalesce", faults_.chunk_coalesce},
              {"open_watches", open_watches_.load()},
              {"resource_version", std::to_string(store_.resource_version())},
              {"compacted_resource_version", std::to_string(store_.compacted_rv())},
              {"nodes", store_.size(Resource::kNodes)},
              {"services", store_.size(Resource::kServices)},
              {"endpointslices", store_.size(Resource::kEndpointSlices)},
              {"requests_logged", requests_.size()}};
    return to_wire(r);
}

void FakeApiServer::handle_faults(const httplib::Request& req, httplib::Response& res) {
    const json body = parse_json(req.body).value_or(json());
    if (!body.is_object()) return send_error(res, bad_request("faults: expected a JSON object"));
    // Validate everything before changing anything.
    for (const auto& [key, value] : body.items()) {
        const bool is_bool_key = key == "drop_watches" || key == "compact" || key == "reset" ||
                                 key == "chunk_coalesce" || key == "clear_requests";
        const bool is_int_key = key == "fail_next" || key == "status" || key == "retry_after" ||
                                key == "stall_watches_ms" || key == "chunk_split";
        const bool is_string_key = key == "inject_watch" || key == "resource" || key == "token" || key == "fail_match";
        if (!is_bool_key && !is_int_key && !is_string_key) return send_error(res, bad_request("faults: unknown key " + key));
        if (is_bool_key && !value.is_boolean()) return send_error(res, bad_request("faults: " + key + " must be a boolean"));
        if (is_int_key && (!value.is_number_integer() || value.get<long long>() < 0 || value.get<long long>() > 86'400'000)) {
            return send_error(res, bad_request("faults: " + key + " must be a non-negative integer"));
        }
        if (is_string_key && !value.is_string()) return send_error(res, bad_request("faults: " + key + " must be a string"));
    }
    if (auto s = body.find("status"); s != body.end() && (s->get<int>() < 400 || s->get<int>() > 599)) {
        return send_error(res, bad_request("faults: status must be 400..599"));
    }
    if (body.contains("fail_match") && !body.contains("fail_next")) {
        return send_error(res, bad_request("faults: fail_match goes with fail_next"));
    }
    if (body.contains("resource") && !body.contains("inject_watch")) {
        return send_error(res, bad_request("faults: resource goes with inject_watch"));
    }
    const auto target = resource_named(body.value("resource", "nodes"));
    if (!target) return send_error(res, bad_request("faults: resource must be nodes, services or endpointslices"));
    if (auto t = body.find("token"); t != body.end() && !valid_token(t->get<std::string>())) {
        return send_error(res, bad_request("faults: token must be non-empty, without quotes, backslashes or spaces"));
    }
    std::string report;
    {
        std::lock_guard lock(mu_);
        if (body.value("reset", false)) {
            FaultState cleared;
            cleared.drop_epoch = faults_.drop_epoch;
            faults_ = cleared;
        }
        if (body.value("drop_watches", false)) ++faults_.drop_epoch;
        if (body.value("compact", false)) store_.compact();
        if (body.value("clear_requests", false)) requests_.clear();
        if (auto v = body.find("fail_next"); v != body.end()) {
            faults_.fail_next = v->get<int>();
            faults_.fail_status = body.value("status", 500);
            faults_.retry_after = body.contains("retry_after") ? std::optional<int>(body["retry_after"].get<int>())
                                                               : std::nullopt;
            faults_.fail_match = body.value("fail_match", "");
        }
        if (auto v = body.find("stall_watches_ms"); v != body.end()) {
            faults_.stall_until = Clock::now() + std::chrono::milliseconds{v->get<long long>()};
        }
        if (auto v = body.find("chunk_split"); v != body.end()) faults_.chunk_split = v->get<std::size_t>();
        if (auto v = body.find("chunk_coalesce"); v != body.end()) faults_.chunk_coalesce = v->get<bool>();
        if (auto v = body.find("token"); v != body.end()) token_ = v->get<std::string>();
        if (auto v = body.find("inject_watch"); v != body.end()) {
            for (WatchState* w : watches_) {
                if (w->scope.resource == *target) w->pending.push_back(v->get<std::string>());
            }
        }
        report = fault_report();
    }
    changed_.notify_all();
    res.set_content(report, "application/json");
}

}  // namespace kroute::fake_apiserver
