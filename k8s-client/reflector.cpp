// The reflector's threaded shell around the pure parts (WatchStreamParser, Backoff, TokenSource,
// the request paths): cpp-httplib with OpenSSL verification done our way.
#include "k8s-client/reflector.hpp"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/log.hpp"
#include "k8s-client/api_request.hpp"
#include "k8s-client/api_status.hpp"
#include "k8s-client/backoff.hpp"
#include "k8s-client/token_source.hpp"
#include "k8s-client/watch_stream.hpp"

namespace kroute::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kConnectTimeout = 10s;
constexpr auto kListReadTimeout = 60s;
// The client's read timeout must outlast the server's timeoutSeconds, or every quiet watch would
// end as a read error (cpp-httplib's default is 5 s).
constexpr auto kWatchReadMargin = 30s;
// client-go reflector: a watch that ends this fast having delivered nothing is a failure
// (VeryShortWatchError), so a server that closes at once cannot make us spin.
constexpr auto kVeryShortWatch = 1s;
constexpr std::size_t kMaxListBody = 256U << 20U;
constexpr auto kMaxRetryAfter = std::chrono::seconds{600};
// How often stop() re-shuts the socket while the thread winds down (it may be between its stop
// check and its next request), and for how long at most before it just joins.
constexpr auto kInterruptPeriod = 20ms;
constexpr int kMaxInterrupts = 500;

struct X509Free {
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, X509Free>;
using BioPtr = std::unique_ptr<BIO, X509Free>;

std::string openssl_error() {
    unsigned long e = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

Expected<std::vector<X509Ptr>, std::string> parse_certs(const std::string& pem, const char* what) {
    std::vector<X509Ptr> out;
    BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) return unexpected(std::string{what} + ": " + openssl_error());
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    ERR_clear_error();  // the loop ends on an expected "no start line"
    if (out.empty()) return unexpected(std::string{what} + ": no PEM certificate found");
    return out;
}

// TLS material parsed once; each request's SSL_CTX gets its own copies (cpp-httplib's
// set_ca_cert_store takes ownership of the store).
struct TlsMaterial {
    std::vector<X509Ptr> ca;
    std::vector<X509Ptr> client_chain;
    PkeyPtr client_key;
};

Expected<TlsMaterial, std::string> parse_tls(const ClientConfig& cfg) {
    TlsMaterial m;
    if (!cfg.ca_pem.empty()) {
        auto ca = parse_certs(cfg.ca_pem, "certificate authority");
        if (!ca) return unexpected(std::move(ca).error());
        m.ca = std::move(*ca);
    }
    if (!cfg.client_cert_pem.empty()) {
        auto chain = parse_certs(cfg.client_cert_pem, "client certificate");
        if (!chain) return unexpected(std::move(chain).error());
        m.client_chain = std::move(*chain);
        BioPtr bio{BIO_new_mem_buf(cfg.client_key_pem.data(), static_cast<int>(cfg.client_key_pem.size()))};
        m.client_key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
        if (!m.client_key) return unexpected("client key: " + openssl_error());
    }
    return m;
}

std::string describe(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection: return "cannot connect";
        case httplib::Error::ConnectionTimeout: return "connect timed out";
        case httplib::Error::Read: return "read failed (timeout or connection closed)";
        case httplib::Error::Write: return "write failed (connection closed; a rejected client certificate?)";
        case httplib::Error::SSLConnection: return "TLS handshake failed";
        case httplib::Error::SSLServerVerification: return "TLS server verification failed";
        case httplib::Error::Canceled: return "canceled";
        default: return httplib::to_string(e);
    }
}

bool is_ip_literal(const std::string& host) { return IpAddress::parse(host).has_value(); }

struct HttpOutcome {
    bool transport_ok = false;
    std::string transport_error;
    int status = 0;
    httplib::Headers headers;
    std::string body;  // non-200 responses, and 200 list bodies
};

}  // namespace

class Reflector::Impl {
public:
    Impl(ClientConfig cfg, WatchOptions opts, const ResourceKind& kind, ReflectorStore& store)
        : cfg_{std::move(cfg)},
          opts_{opts},
          kind_{kind},
          plural_{kind.resource},
          store_{store},
          log_{log::get("k8s")},
          rng_{std::random_device{}()},
          tokens_{cfg_.token, cfg_.token_file} {}

    ~Impl() { stop(); }

    void start() {
        std::lock_guard lock{mu_};
        if (thread_.joinable()) return;
        stopping_ = false;
        done_ = false;
        thread_ = std::thread{[this] { run(); }};
    }

    void stop() {
        {
            std::lock_guard lock{mu_};
            if (!thread_.joinable()) return;
            stopping_ = true;
        }
        cv_.notify_all();
        if (std::this_thread::get_id() == thread_.get_id()) return;  // from the sink: the thread ends after it
        for (int i = 0; i < kMaxInterrupts; ++i) {
            {
                std::lock_guard lock{client_mu_};
                if (active_client_ != nullptr) active_client_->stop();  // shuts the socket: a blocked read returns
            }
            std::unique_lock lock{mu_};
            if (cv_.wait_for(lock, kInterruptPeriod, [this] { return done_; })) break;
        }
        thread_.join();
    }

private:
    enum class ListMode { kAny, kLastRv, kQuorum };

    bool stopping() const { return stopping_.load(); }

    // Sleeps `d` unless stop() comes first; false when stopping.
    bool wait(std::chrono::milliseconds d) {
        std::unique_lock lock{mu_};
        return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
    }

    void run() {
        // A TLS write to a server that went away raises SIGPIPE in the writing thread (OpenSSL's
        // socket BIO uses write(2)): blocked here, it becomes EPIPE, whatever the process does.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        auto url = parse_server_url(cfg_.server);
        auto tls = url ? parse_tls(cfg_) : Expected<TlsMaterial, std::string>{TlsMaterial{}};
        if (!url || !tls) {
            log_->error("cannot watch {}: {}", plural_, !url ? url.error() : tls.error());
        } else {
            url_ = std::move(*url);
            tls_ = std::move(*tls);
            if (!url_.https && (!cfg_.token.empty() || !cfg_.token_file.empty()))
                // client-go applies credentials only over TLS (clientcmd client_config.go).
                log_->warn("server {} is plain http: not sending the bearer token", cfg_.server);
            loop();
        }
        std::lock_guard lock{mu_};
        done_ = true;
        cv_.notify_all();
    }

    void loop() {
        Backoff backoff{opts_.backoff_initial, opts_.backoff_max, opts_.backoff_reset,
                        [this] { return std::uniform_real_distribution<double>{0.0, 1.0}(rng_); }};
        auto fail = [&](std::optional<std::chrono::seconds> retry_after) {
            auto delay = backoff.next(Clock::now());
            if (retry_after) delay = std::max<std::chrono::milliseconds>(delay, std::min(*retry_after, kMaxRetryAfter));
            log_->debug("retrying in {} ms", delay.count());
            return wait(delay);
        };
        std::string rv;
        bool need_list = true;
        ListMode mode = ListMode::kAny;
        while (!stopping()) {
            if (need_list) {
                auto r = list(mode, rv);
                if (stopping()) return;
                if (r.ok) {
                    need_list = false;
                    rv = r.resource_version;
                    mode = ListMode::kLastRv;
                } else {
                    if (r.expired) mode = ListMode::kQuorum;  // reflector.go: relist with RV="" after 410
                    if (!fail(r.retry_after)) return;
                    continue;
                }
            }
            auto w = watch(rv);
            if (stopping()) return;
            switch (w.end) {
                case WatchEnd::kClean:
                    // k8s-api.md §3.3: timeoutSeconds elapsed or the server restarted: resume from the
                    // last RV, no relist. Bookmarks keep it fresh.
                    if (w.values == 0 && w.duration < kVeryShortWatch) {
                        log_->warn("watch of {} ended at once without events; backing off", plural_);
                        if (!fail(std::nullopt)) return;
                    }
                    break;
                case WatchEnd::kExpired:
                    need_list = true;
                    if (!fail(std::nullopt)) return;
                    break;
                case WatchEnd::kFailed:
                    // Re-watch from the same RV: the server replays what we missed, or says 410.
                    if (!fail(w.retry_after)) return;
                    break;
            }
        }
    }

    // One GET. `on_ok_chunk` receives a 200 body's bytes (false aborts); other bodies go to the outcome.
    HttpOutcome get(const std::string& path, std::chrono::seconds read_timeout,
                    const std::function<bool(std::string_view)>& on_ok_chunk) {
        HttpOutcome out;
        std::unique_ptr<httplib::ClientImpl> cli;
        if (url_.https) {
            auto made = make_tls_client();
            if (!made) {
                out.transport_error = made.error();
                return out;
            }
            cli = std::move(*made);
        } else {
            cli = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
        }
        cli->set_connection_timeout(kConnectTimeout);
        cli->set_read_timeout(read_timeout);
        cli->set_write_timeout(kConnectTimeout);
        cli->set_url_encode(false);  // list_path/watch_path encode their values themselves
        cli->set_keep_alive(false);
        httplib::Headers headers{{"Accept", "application/json"}, {"User-Agent", "kroute/0.1"}};
        std::string token;
        if (url_.https) token = tokens_.token(Clock::now());
        if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);

        {
            std::lock_guard lock{client_mu_};
            active_client_ = cli.get();
        }
        if (stopping()) cli->stop();
        auto res = cli->Get(
            path, headers,
            [&out](const httplib::Response& r) {
                out.status = r.status;
                out.headers = r.headers;
                return true;
            },
            [&](const char* data, std::size_t len) {
                if (stopping()) return false;
                if (out.status == 200) return on_ok_chunk(std::string_view{data, len});
                if (out.body.size() < (1U << 20U)) out.body.append(data, len);
                return true;
            });
        {
            std::lock_guard lock{client_mu_};
            active_client_ = nullptr;
        }
        out.transport_ok = static_cast<bool>(res);
        if (!res) {
            out.transport_error = describe(res.error());
            if (res.error() == httplib::Error::SSLServerVerification || res.error() == httplib::Error::SSLConnection) {
                auto ssl_err = openssl_error();
                out.transport_error += " (" + ssl_err + ")";
                reload_ca();
            }
        }
        return out;
    }

    // The cluster CA may have been rotated under us: take the file's current content if it changed.
    void reload_ca() {
        if (cfg_.ca_file.empty()) return;
        std::ifstream in{cfg_.ca_file, std::ios::binary};
        std::ostringstream buf;
        if (in) buf << in.rdbuf();
        std::string pem = buf.str();
        if (!in || pem.empty() || pem == cfg_.ca_pem) return;
        auto certs = parse_certs(pem, "certificate authority");
        if (!certs) {
            log_->warn("{}: {}; keeping the previous CA", cfg_.ca_file, certs.error());
            return;
        }
        log_->info("{} changed: verifying the API server against the new CA", cfg_.ca_file);
        cfg_.ca_pem = std::move(pem);
        tls_.ca = std::move(*certs);
    }

    Expected<std::unique_ptr<httplib::ClientImpl>, std::string> make_tls_client() {
        // Verify with OpenSSL during the handshake (chain against our CA, name via
        // X509_VERIFY_PARAM): cpp-httplib's own check would also trust the system roots next to the
        // cluster CA. Its verification is off so it leaves the SSL_CTX's verify mode alone.
        const std::string& verify_name = cfg_.tls_server_name.empty() ? url_.host : cfg_.tls_server_name;
        // SNI is the client's host: use the server name when the URL holds an IP literal, mapped back
        // to that IP for the connect.
        const bool sni_override = !cfg_.tls_server_name.empty() && is_ip_literal(url_.host);
        auto cli = std::make_unique<httplib::SSLClient>(sni_override ? cfg_.tls_server_name : url_.host, url_.port);
        if (sni_override) cli->set_hostname_addr_map({{cfg_.tls_server_name, url_.host}});
        SSL_CTX* ctx = cli->ssl_context();
        if (ctx == nullptr) return unexpected("TLS setup: " + openssl_error());
        cli->enable_server_certificate_verification(false);
        if (cfg_.insecure_skip_tls_verify) {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        } else {
            if (!tls_.ca.empty()) {
                X509_STORE* store = X509_STORE_new();
                for (const auto& c : tls_.ca) X509_STORE_add_cert(store, c.get());
                SSL_CTX_set_cert_store(ctx, store);  // the context owns it now
            } else {
                SSL_CTX_set_default_verify_paths(ctx);
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
            X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
            const int ok = is_ip_literal(verify_name) ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                                                      : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), 0);
            if (ok != 1) return unexpected("TLS setup: cannot verify name " + verify_name + ": " + openssl_error());
        }
        if (!tls_.client_chain.empty()) {
            if (SSL_CTX_use_certificate(ctx, tls_.client_chain.front().get()) != 1 ||
                SSL_CTX_use_PrivateKey(ctx, tls_.client_key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
                return unexpected("client certificate: " + openssl_error());
            for (std::size_t i = 1; i < tls_.client_chain.size(); ++i) {
                X509_up_ref(tls_.client_chain[i].get());
                SSL_CTX_add_extra_chain_cert(ctx, tls_.client_chain[i].get());
            }
        }
        return std::unique_ptr<httplib::ClientImpl>{std::move(cli)};
    }

    // Logs a non-200 answer; 401/403 only once until the next success (an operator must act).
    ApiStatus report_http_error(const HttpOutcome& r, const char* verb) {
        ApiStatus st = parse_api_status_body(r.status, r.body);
        if (r.status == 401) tokens_.invalidate();  // rotated token: re-read the file right away
        if (r.status == 401 || r.status == 403) {
            if (auth_logged_.insert(r.status).second)
                log_->error("{} {}: {} (server said: {})", verb, plural_, auth_failure_hint(r.status, verb, kind_),
                            st.message);
        } else {
            log_->warn("{} {}: HTTP {}{}{}: {}", verb, plural_, r.status, st.reason.empty() ? "" : " ", st.reason,
                       st.message);
        }
        if (r.headers.count("Retry-After") != 0U) {
            if (auto ra = parse_retry_after(r.headers.find("Retry-After")->second)) st.retry_after = *ra;
        }
        return st;
    }

    struct ListResult {
        bool ok = false;
        bool expired = false;
        std::string resource_version;
        std::optional<std::chrono::seconds> retry_after;
    };

    ListResult list(ListMode mode, const std::string& last_rv) {
        ListResult result;
        ListRequest req;
        req.limit = opts_.page_size;
        switch (mode) {
            case ListMode::kAny: req.resource_version = "0"; break;
            case ListMode::kQuorum: req.resource_version.clear(); break;
            case ListMode::kLastRv:
                req.resource_version = last_rv;
                // reflector.go list(): with RV=N a limit would force an Exact read from etcd; unpaged
                // the watch cache serves it — unless the server paged us before.
                if (!paginated_) req.limit = 0;
                break;
        }
        store_.begin_list();
        std::size_t skipped = 0;
        bool first_page = true;
        for (int page = 0; page < 100000 && !stopping(); ++page) {
            std::string body;
            auto r = get(list_path(url_, kind_, req), kListReadTimeout, [&body](std::string_view chunk) {
                if (body.size() + chunk.size() > kMaxListBody) return false;
                body.append(chunk);
                return true;
            });
            if (stopping()) return result;
            if (!r.transport_ok) {
                log_->warn("list {}: {}", plural_, r.transport_error);
                return result;
            }
            if (r.status != 200) {
                auto st = report_http_error(r, "list");
                result.expired = r.status == 410 || (r.status == 504 && st.message.find("Too large resource version") != std::string::npos);
                result.retry_after = st.retry_after;
                return result;
            }
            auth_logged_.clear();
            auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
            body = std::string{};  // a page may be megabytes: not kept next to its parsed form
            if (json.is_discarded()) {
                log_->warn("list {}: the response is not JSON", plural_);
                return result;
            }
            auto parsed = store_.list_page(json);
            if (!parsed) {
                log_->warn("list {}: {}", plural_, parsed.error());
                return result;
            }
            for (const auto& e : parsed->errors) log_->warn("list {}: skipping a malformed {}: {}", plural_, kind_.what, e);
            skipped += parsed->errors.size();
            if (first_page) result.resource_version = parsed->resource_version;
            first_page = false;
            if (parsed->continue_token.empty()) {
                // The list's RV (the last page carries the snapshot's RV too).
                if (!parsed->resource_version.empty()) result.resource_version = parsed->resource_version;
                result.ok = true;
                break;
            }
            paginated_ = true;
            req.continue_token = parsed->continue_token;
        }
        if (!result.ok) return result;
        const std::size_t count = store_.end_list();
        log_->info("listed {} {} at resourceVersion {}{}", count, plural_, result.resource_version,
                   skipped != 0 ? fmt::format(" ({} malformed, skipped)", skipped) : std::string{});
        return result;
    }

    enum class WatchEnd { kClean, kExpired, kFailed };
    struct WatchResult {
        WatchEnd end = WatchEnd::kFailed;
        std::size_t values = 0;
        Clock::duration duration{};
        std::optional<std::chrono::seconds> retry_after;
    };

    WatchResult watch(std::string& rv) {
        WatchResult result;
        const auto min_s = std::max<std::chrono::seconds::rep>(opts_.watch_timeout_min.count(), 1);
        const std::chrono::seconds timeout{
            std::uniform_int_distribution<std::chrono::seconds::rep>{min_s, 2 * min_s - 1}(rng_)};
        WatchStreamParser parser;
        std::vector<nlohmann::json> values;
        bool relist = false;
        std::string stream_error;
        const auto started = Clock::now();
        log_->debug("watching {} from resourceVersion {} for {}s", plural_, rv, timeout.count());
        auto r = get(watch_path(url_, kind_, rv, timeout), timeout + kWatchReadMargin, [&](std::string_view chunk) {
            values.clear();
            if (auto fed = parser.feed(chunk, values); !fed) {
                stream_error = fed.error();
                return false;
            }
            for (auto& v : values) {
                ++result.values;
                if (!handle_event(std::move(v), rv)) {
                    relist = true;
                    return false;  // the server ends the stream after the ERROR anyway
                }
                if (stopping()) return false;
            }
            return true;
        });
        result.duration = Clock::now() - started;
        if (relist) {
            result.end = WatchEnd::kExpired;
            return result;
        }
        if (!stream_error.empty()) {
            log_->warn("watch {}: {}", plural_, stream_error);
            return result;
        }
        if (stopping()) return result;
        if (!r.transport_ok) {
            // A read timeout or reset mid-stream; kroute keeps the RV and re-watches.
            log_->warn("watch {}: {}", plural_, r.transport_error);
            return result;
        }
        if (r.status != 200) {
            auto st = report_http_error(r, "watch");
            result.retry_after = st.retry_after;
            result.end = is_expired(st) ? WatchEnd::kExpired : WatchEnd::kFailed;
            return result;
        }
        auth_logged_.clear();
        if (!parser.at_value_boundary()) {
            log_->warn("watch {}: the stream ended inside an event", plural_);
            return result;
        }
        result.end = WatchEnd::kClean;
        return result;
    }

    // One watch value; false on an ERROR that means "relist".
    bool handle_event(nlohmann::json value, std::string& rv) {
        auto ev = parse_watch_event(std::move(value));
        if (!ev) {
            log_->warn("watch {}: skipping a malformed event: {}", plural_, ev.error());
            return true;
        }
        switch (ev->type) {
            case WatchEvent::Type::kError:
                if (is_expired(ev->status))
                    log_->info("watch of {} expired at resourceVersion {} ({}): relisting", plural_, rv,
                               ev->status.message);
                else
                    // client-go ends the watch on any ERROR and relists.
                    log_->warn("watch {}: the server sent an error: {} {}: {}; relisting", plural_, ev->status.code,
                               ev->status.reason, ev->status.message);
                return false;
            case WatchEvent::Type::kBookmark:
                if (!ev->resource_version.empty()) rv = ev->resource_version;
                return true;
            case WatchEvent::Type::kAdded:
            case WatchEvent::Type::kModified:
            case WatchEvent::Type::kDeleted: {
                // The event's RV is the stream's position even when its object is unusable: the
                // next watch resumes after it, and the object comes back with its next change or relist.
                if (!ev->resource_version.empty()) rv = ev->resource_version;
                const auto type = ev->type == WatchEvent::Type::kAdded      ? EventType::kAdded
                                  : ev->type == WatchEvent::Type::kModified ? EventType::kModified
                                                                            : EventType::kDeleted;
                if (auto applied = store_.apply(type, ev->object); !applied)
                    log_->warn("watch {}: skipping a malformed {}: {}", plural_, kind_.what, applied.error());
                return true;
            }
        }
        return true;
    }

    ClientConfig cfg_;
    WatchOptions opts_;
    ResourceKind kind_;
    std::string plural_;
    ReflectorStore& store_;
    std::shared_ptr<spdlog::logger> log_;
    std::mt19937_64 rng_;
    TokenSource tokens_;
    ServerUrl url_;
    TlsMaterial tls_;
    bool paginated_ = false;
    std::set<int> auth_logged_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<bool> stopping_{false};
    bool done_ = false;
    std::thread thread_;

    std::mutex client_mu_;
    httplib::ClientImpl* active_client_ = nullptr;
};

Reflector::Reflector(ClientConfig cfg, WatchOptions opts, const ResourceKind& kind, ReflectorStore& store)
    : impl_{std::make_unique<Impl>(std::move(cfg), opts, kind, store)} {}

Reflector::~Reflector() = default;

void Reflector::start() { impl_->start(); }

void Reflector::stop() { impl_->stop(); }

}  // namespace kroute::k8s
