// The reflector's threaded shell around the pure parts (WatchStreamParser, Backoff, the request
// paths) and the transport.
#include "k8s-client/reflector.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "k8s-client/api_request.hpp"
#include "k8s-client/api_status.hpp"
#include "k8s-client/api_transport.hpp"
#include "k8s-client/backoff.hpp"
#include "k8s-client/watch_stream.hpp"

namespace kroute::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kListReadTimeout = 60s;
// The client's read timeout must outlast the server's timeoutSeconds, or every quiet watch would
// end as a read error (cpp-httplib's default is 5 s).
constexpr auto kWatchReadMargin = 30s;
// client-go reflector: a watch that ends this fast having delivered nothing is a failure
// (VeryShortWatchError), so a server that closes at once cannot make us spin.
constexpr auto kVeryShortWatch = 1s;
constexpr std::size_t kMaxListBody = 256U << 20U;
constexpr auto kMaxRetryAfter = std::chrono::seconds{600};
// How often stop() re-interrupts the transport while the thread winds down, and for how long at
// most before it just joins.
constexpr auto kInterruptPeriod = 20ms;
constexpr int kMaxInterrupts = 500;

struct AtomicCounters {
    std::atomic<std::uint64_t> lists{0}, relists{0}, watch_events{0}, closed{0}, expired{0}, failed{0};
};

std::mutex& counters_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::shared_ptr<AtomicCounters>>& counters_registry() {
    static std::map<std::string, std::shared_ptr<AtomicCounters>> r;
    return r;
}
std::shared_ptr<AtomicCounters> counters_for(const std::string& resource) {
    std::lock_guard lock{counters_mutex()};
    auto& c = counters_registry()[resource];
    if (!c) c = std::make_shared<AtomicCounters>();
    return c;
}

}  // namespace

std::vector<ReflectorCounters> reflector_counters() {
    std::vector<ReflectorCounters> out;
    std::lock_guard lock{counters_mutex()};
    for (const auto& [resource, c] : counters_registry()) {
        out.push_back({resource, c->lists.load(), c->relists.load(), c->watch_events.load(), c->closed.load(),
                       c->expired.load(), c->failed.load()});
    }
    return out;
}

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
          counters_{counters_for(plural_)} {}

    ~Impl() { stop(); }

    void start() {
        std::lock_guard lock{mu_};
        if (thread_.joinable()) return;
        stopping_ = false;
        done_ = false;
        if (transport_) transport_->resume();
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
                std::lock_guard lock{transport_mu_};
                if (transport_) transport_->interrupt();
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
        auto transport = ApiTransport::create(cfg_);
        if (!transport) {
            log_->error("cannot watch {}: {}", plural_, transport.error());
        } else {
            {
                std::lock_guard lock{transport_mu_};
                transport_ = std::move(*transport);
                if (stopping()) transport_->interrupt();
            }
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
                    counters_->lists.fetch_add(1, std::memory_order_relaxed);
                    if (listed_) counters_->relists.fetch_add(1, std::memory_order_relaxed);
                    listed_ = true;
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
                case WatchEnd::kClean: counters_->closed.fetch_add(1, std::memory_order_relaxed); break;
                case WatchEnd::kExpired: counters_->expired.fetch_add(1, std::memory_order_relaxed); break;
                case WatchEnd::kFailed: counters_->failed.fetch_add(1, std::memory_order_relaxed); break;
            }
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

    // Logs a non-200 answer; 401/403 only once until the next success (an operator must act).
    ApiStatus report_http_error(const ApiResponse& r, const char* verb) {
        ApiStatus st = parse_api_status_body(r.status, r.body);
        if (r.status == 401 || r.status == 403) {
            if (auth_logged_.insert(r.status).second)
                log_->error("{} {}: {} (server said: {})", verb, plural_, auth_failure_hint(r.status, verb, kind_),
                            st.message);
        } else {
            log_->warn("{} {}: HTTP {}{}{}: {}", verb, plural_, r.status, st.reason.empty() ? "" : " ", st.reason,
                       st.message);
        }
        if (!r.retry_after.empty()) {
            if (auto ra = parse_retry_after(r.retry_after)) st.retry_after = *ra;
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
            auto r = transport_->get(list_path(transport_->url(), kind_, req), kListReadTimeout, [&body](std::string_view chunk) {
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
        auto r = transport_->get(watch_path(transport_->url(), kind_, rv, timeout), timeout + kWatchReadMargin, [&](std::string_view chunk) {
            values.clear();
            if (auto fed = parser.feed(chunk, values); !fed) {
                stream_error = fed.error();
                return false;
            }
            for (auto& v : values) {
                ++result.values;
                counters_->watch_events.fetch_add(1, std::memory_order_relaxed);
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
                // next watch resumes after it. The store keeps the last usable version of a known
                // object (a relist keeps it too) until a change makes it usable again or it is deleted.
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
    bool paginated_ = false;
    bool listed_ = false;
    std::set<int> auth_logged_;
    std::shared_ptr<AtomicCounters> counters_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<bool> stopping_{false};
    bool done_ = false;
    std::thread thread_;

    std::mutex transport_mu_;  // transport_ is set by the thread, interrupted by stop()
    std::unique_ptr<ApiTransport> transport_;
};

Reflector::Reflector(ClientConfig cfg, WatchOptions opts, const ResourceKind& kind, ReflectorStore& store)
    : impl_{std::make_unique<Impl>(std::move(cfg), opts, kind, store)} {}

Reflector::~Reflector() = default;

void Reflector::start() { impl_->start(); }

void Reflector::stop() { impl_->stop(); }

}  // namespace kroute::k8s
