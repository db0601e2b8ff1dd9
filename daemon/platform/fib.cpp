// Fib: desired state on the io_context thread, kernel work on a writer thread of its own.
//
//   io_context thread                         writer thread
//   set_route/remove_route ─► Inbox (mutex) ─► slots_, dirty_ ─(batch_delay)─► route_diff ─► netlink
//   snapshot/counters   ◄──── TableView (lists under its lock, counters) ◄── acks, kernel events, dumps
//
// The shared objects are the Inbox (a mutex, held for a vector swap), the eventfd that wakes the
// writer, and the TableView: the writer's per-prefix table is read by snapshot() under its mutex
// (the writer holds it while it changes the table, never while it waits on the kernel), and its
// counters under a mutex of their own, held only for a copy. Everything else is owned by exactly
// one thread: the io_context thread keeps no copy of a million routes.
#include "daemon/platform/fib.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <thread>

#include "common/log.hpp"
#include "daemon/platform/netlink_route_table.hpp"
#include "daemon/platform/route_diff.hpp"

namespace kroute::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A link event (down/up, a device gone) may flush routes without any route notification (IPv4
// does not announce routes removed with their device): re-read the table shortly after, but not
// more often than every kLinkRecheckSpacing while links flap (pod veths come and go all day).
constexpr auto kLinkRecheckDelay = 30ms;
constexpr auto kLinkRecheckSpacing = 200ms;
constexpr auto kDumpRetry = 1s;
constexpr auto kMaxPollWait = 1s;  // the loop wakes at least this often, whatever happens
constexpr std::size_t kPerRouteInfoLimit = 32;

// What one step of the writer adds to its counters.
struct Report {
    std::uint64_t writes = 0;
    std::uint64_t errors = 0;
    std::string last_error;
    std::uint64_t repairs = 0;
    std::optional<double> reconcile_seconds;  // a full reconciliation ended, it took this long
};

// The writer's counters, as FibSnapshot shows them.
struct Stats {
    std::size_t desired = 0;  // prefixes the RIB wants
    std::size_t ours = 0;     // our routes in the kernel, as last read or written
    std::uint64_t writes = 0;
    std::uint64_t errors = 0;
    std::string last_error;
    std::uint64_t repairs = 0;
    std::uint64_t reconciles = 0;
    double reconcile_seconds = 0;
    double last_reconcile_seconds = 0;

    void add(Report& r) {
        writes += r.writes;
        errors += r.errors;
        if (!r.last_error.empty()) last_error = std::move(r.last_error);
        repairs += r.repairs;
        if (r.reconcile_seconds) {
            ++reconciles;
            reconcile_seconds += *r.reconcile_seconds;
            last_reconcile_seconds = *r.reconcile_seconds;
        }
    }
};

// The writer's table as other threads may see it. The writer holds `mutex` while it changes the
// table, and updates `stats` (under `stats_mutex`, held only for the copy) before it lets `mutex`
// go: the lists read under `mutex` and the counters always agree.
struct TableView {
    std::mutex mutex;
    std::mutex stats_mutex;
    Stats stats;
};

std::int64_t since_epoch(Clock::time_point t) { return t.time_since_epoch().count(); }

// io_context thread -> writer, in order (the writer applies them in turn, so the latest desired
// state of a prefix wins). A vector: a million routes cost a million appends, not tree inserts.
using Change = std::pair<Prefix, std::optional<FibRoute>>;
struct Inbox {
    std::mutex mutex;
    std::vector<Change> changes;
    bool sweep = false;
    bool stop = false;
    std::chrono::milliseconds stall{0};  // stall_writer_for_testing
};

// A prefix to look at in the next batch. `change` (when non-zero) is 1 + the index, in the
// writer's pending list, of the RIB's latest desired state for it: the state is applied to the
// prefix's slot by the batch itself, so that a route costs one hash lookup per batch, not two.
struct Candidate {
    Prefix prefix;
    bool fresh = false;
    std::uint32_t change = 0;
};

struct Applied {
    std::vector<RouteOp> ops;
    std::vector<std::error_code> results;
    Clock::duration took{};
};

// A thread of the writer's that has the kernel apply one slice of writes at a time, so that a big
// batch's bookkeeping overlaps its kernel work. start() hands a slice over, wait() takes it back
// with its results; one slice at a time. Started on first use; if no thread can be started, start()
// applies the slice itself.
class Applier {
public:
    explicit Applier(NetlinkRouteTable& table) : table_{table} {}
    ~Applier() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Applier(const Applier&) = delete;
    Applier& operator=(const Applier&) = delete;

    void start(std::vector<RouteOp> ops) {
        if (!thread_.joinable() && !inline_) {
            try {
                thread_ = std::thread([this] { run(); });
            } catch (const std::system_error& e) {
                log::get("fib")->warn("cannot start a thread for kernel writes ({}); writing from the writer thread", e.what());
                inline_ = true;
            }
        }
        if (inline_) {
            done_ = apply(std::move(ops));
            return;
        }
        {
            std::lock_guard lock(mutex_);
            job_ = std::move(ops);
        }
        cv_.notify_all();
    }

    Applied wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return done_.has_value(); });
        Applied out = std::move(*done_);
        done_.reset();
        return out;
    }

private:
    Applied apply(std::vector<RouteOp> ops) {
        const auto t0 = Clock::now();
        auto results = table_.apply(ops);
        return {std::move(ops), std::move(results), Clock::now() - t0};
    }

    void run() {
        std::unique_lock lock(mutex_);
        while (true) {
            cv_.wait(lock, [this] { return stop_ || job_.has_value(); });
            if (stop_) return;
            auto ops = std::move(*job_);
            job_.reset();
            lock.unlock();
            Applied a = apply(std::move(ops));
            lock.lock();
            done_ = std::move(a);
            cv_.notify_all();
        }
    }

    NetlinkRouteTable& table_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<std::vector<RouteOp>> job_;
    std::optional<Applied> done_;
    bool stop_ = false;
    bool inline_ = false;
    std::thread thread_;
};

class Writer {
public:
    Writer(const FibConfig& cfg, NetlinkRouteTable table, NetlinkEvents events, int wake_fd, Inbox& inbox,
           RouteTable slots, TableView& view, std::atomic<std::int64_t>& heartbeat)
        : cfg_{cfg},
          table_{std::move(table)},
          events_{std::move(events)},
          wake_fd_{wake_fd},
          inbox_{inbox},
          slots_{std::move(slots)},
          view_{view},
          heartbeat_{heartbeat},
          log_{log::get("fib")} {
        recount();
    }

    // Any thread: the desired routes and ours in the kernel, each sorted by prefix.
    void lists(std::vector<FibRoute>& desired, std::vector<FibRoute>& kernel) {
        {
            std::lock_guard lock(view_.mutex);
            desired.reserve(desired_n_);
            kernel.reserve(ours_n_);
            for (const auto& [p, slot] : slots_) {
                if (slot.desired) desired.push_back(*slot.desired);
                if (slot.ours) kernel.push_back(*slot.ours);
            }
        }
        const auto by_prefix = [](const FibRoute& a, const FibRoute& b) { return a.prefix < b.prefix; };
        std::sort(desired.begin(), desired.end(), by_prefix);
        std::sort(kernel.begin(), kernel.end(), by_prefix);
    }

    void run() {
        next_sync_ = Clock::now() + cfg_.sync_period;
        while (true) {
            const auto now = Clock::now();
            heartbeat_.store(since_epoch(now), std::memory_order_relaxed);
            pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {events_.fd(), POLLIN, 0}};
            const int timeout = static_cast<int>(
                std::chrono::ceil<std::chrono::milliseconds>(std::max(next_deadline(now) - now, Clock::duration::zero()))
                    .count());
            const int ready = ::poll(fds, 2, timeout);
            if (ready < 0 && errno != EINTR) {
                log_->error("poll failed: {}", std::strerror(errno));
                std::this_thread::sleep_for(100ms);  // do not spin on a broken poll
            }
            if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
                std::uint64_t count = 0;
                (void)::read(wake_fd_, &count, sizeof count);
            }
            if (!take_inbox()) return;
            if (ready > 0 && (fds[1].revents & (POLLIN | POLLERR)) != 0) read_events();
            step(Clock::now());
        }
    }

private:
    // Returns false when asked to stop.
    bool take_inbox() {
        std::vector<Change> changes;
        bool sweep = false;
        std::chrono::milliseconds stall{0};
        {
            std::lock_guard lock(inbox_.mutex);
            if (inbox_.stop) return false;
            changes.swap(inbox_.changes);
            sweep = inbox_.sweep;
            std::swap(stall, inbox_.stall);
        }
        if (stall.count() > 0) std::this_thread::sleep_for(stall);
        const auto now = Clock::now();
        if (!changes.empty()) {
            const auto due = now + cfg_.batch_delay;
            if (!batch_due_ || due < *batch_due_) batch_due_ = due;
            pending_.reserve(pending_.size() + changes.size());
            dirty_.reserve(dirty_.size() + changes.size());
        }
        for (auto& [p, route] : changes) {
            if (!retry_.empty()) retry_.erase(p);  // a new desired state deserves a fresh attempt
            pending_.push_back(std::move(route));
            dirty_.push_back({p, true, static_cast<std::uint32_t>(pending_.size())});
        }
        if (sweep && !sweep_) {
            sweep_ = true;
            log_->info("stale sweep enabled: undesired routes of protocol {} will be removed", cfg_.protocol);
            resync_due_ = now;  // re-read the kernel and sweep now
        }
        return true;
    }

    // `fresh`: the RIB changed the prefix's desired state (a write then is not a repair).
    void mark_dirty(const Prefix& p, Clock::time_point due, bool fresh) {
        dirty_.push_back({p, fresh});
        if (!batch_due_ || due < *batch_due_) batch_due_ = due;
    }

    void read_events() {
        auto batch = events_.read_pending();
        if (!batch) {
            log_->warn("reading kernel route events failed: {}; resynchronising", batch.error().message());
            resync_due_ = Clock::now();
            return;
        }
        const auto now = Clock::now();
        std::unique_lock lock(view_.mutex);
        for (const auto& ev : batch->events) {
            if (ev.kind == KernelEvent::Kind::kNewRoute && ev.route.protocol != cfg_.protocol)
                retry_now_reachable(ev.route.route.prefix, now);
            if (ev.kind == KernelEvent::Kind::kLinkDown || ev.kind == KernelEvent::Kind::kLinkUp) {
                // Up again: only failing routes can gain (those flushed with the link were re-added,
                // or failed and wait for a retry, when it went down).
                const bool worth_a_look = ev.kind == KernelEvent::Kind::kLinkDown || !retry_.empty();
                log_->debug("a link went {}{}", ev.kind == KernelEvent::Kind::kLinkDown ? "down" : "up",
                            worth_a_look ? ": re-reading the table" : "");
                if (worth_a_look && !link_due_)
                    link_due_ = std::max(now + kLinkRecheckDelay, last_link_check_ + kLinkRecheckSpacing);
                continue;
            }
            const auto kind = ev.kind == KernelEvent::Kind::kNewRoute ? EventKind::kNewRoute : EventKind::kDelRoute;
            const Prefix& p = ev.route.route.prefix;
            auto it = slots_.find(p);
            const bool had = it != slots_.end() && it->second.ours;
            if (!apply_event(slots_, kind, ev.route, cfg_.protocol, cfg_.table)) continue;
            it = slots_.find(p);
            const bool has = it != slots_.end() && it->second.ours;
            ours_n_ = ours_n_ + has - had;
            if (ev.route.protocol != cfg_.protocol && (it == slots_.end() || !it->second.foreign))
                occupied_logged_.erase(p);
            // Someone else changed this prefix: look at it with the next batch. (The echoes of
            // our own writes are filtered out in the kernel.)
            mark_dirty(p, now + cfg_.batch_delay, /*fresh=*/false);
        }
        publish();
        lock.unlock();
        if (batch->overflow) {
            log_->warn("kernel route events were lost (socket buffer overflow); resynchronising");
            resync_due_ = now;
        }
    }

    // The RIB's latest desired state for the prefix of `slot`.
    void apply_change(RouteSlot& slot, std::optional<FibRoute>&& route) {
        desired_n_ -= slot.desired.has_value();
        if (route) {
            slot.desired = std::move(*route);
            slot.withdrawn = false;
        } else {
            slot.desired.reset();
            slot.withdrawn = slot.ours.has_value();  // something of ours to delete, even before the sweep
        }
        desired_n_ += slot.desired.has_value();
    }

    void recount() {
        desired_n_ = 0;
        ours_n_ = 0;
        for (const auto& [p, slot] : slots_) {
            desired_n_ += slot.desired.has_value();
            ours_n_ += slot.ours.has_value();
        }
        publish();
    }

    // The counts, and what `r` adds to the counters, for other threads to see. Called with
    // view_.mutex held, at the end of every change to the table.
    void publish(Report* r = nullptr) {
        std::lock_guard lock(view_.stats_mutex);
        view_.stats.desired = desired_n_;
        view_.stats.ours = ours_n_;
        if (r != nullptr) view_.stats.add(*r);
    }

    // A route just appeared (typically the connected route of an address being added, in any
    // table): failing routes whose gateway it covers may now work, so they skip their backoff.
    // IPv6 drops a link's addresses when it goes down; they come back without a link event.
    void retry_now_reachable(const Prefix& appeared, Clock::time_point now) {
        for (auto& [p, retry] : retry_) {
            if (retry.next_at <= now) continue;
            auto d = slots_.find(p);
            if (d == slots_.end() || !d->second.desired) continue;
            const auto& hops = d->second.desired->next_hops;
            if (std::any_of(hops.begin(), hops.end(), [&](const IpAddress& h) { return appeared.contains(h); }))
                retry.next_at = now + cfg_.batch_delay;
        }
    }

    [[nodiscard]] Clock::time_point next_deadline(Clock::time_point now) const {
        Clock::time_point t = std::min(now + kMaxPollWait, next_sync_);
        if (batch_due_ && !dirty_.empty()) t = std::min(t, *batch_due_);
        if (resync_due_) t = std::min(t, *resync_due_);
        if (link_due_) t = std::min(t, *link_due_);
        for (const auto& [p, r] : retry_) t = std::min(t, r.next_at);
        return t;
    }

    void step(Clock::time_point now) {
        const bool link = link_due_ && *link_due_ <= now;
        const bool resync = (resync_due_ && *resync_due_ <= now) || next_sync_ <= now || link;
        if (resync) {
            log_->debug("full reconciliation: {}", link ? "a link changed" : next_sync_ <= now ? "sync period" : "requested");
            if (link) {
                last_link_check_ = now;
                link_due_.reset();
                retry_.clear();  // a link came back: try the failed routes now, not at their backoff
            }
            resync_due_.reset();
            next_sync_ = now + cfg_.sync_period;
            if (full_sync(now)) return;
        }
        bool retry_due = false;
        for (const auto& [p, r] : retry_) {
            if (r.next_at <= now) {
                dirty_.push_back({p, false});
                retry_due = true;
            }
        }
        if (dirty_.empty() || (!retry_due && batch_due_ && *batch_due_ > now)) return;
        const auto sort_start = Clock::now();
        std::vector<Candidate> candidates = take_dirty();
        if (!retry_.empty()) {
            std::erase_if(candidates, [&](const Candidate& c) {
                if (c.change != 0) return false;  // a new desired state is never held back
                auto it = retry_.find(c.prefix);
                return it != retry_.end() && it->second.next_at > now;  // still backing off
            });
        }
        batch_due_.reset();
        flush(candidates, now, Clock::now() - sort_start);
    }

    // The dirty prefixes, each once (fresh if any of its marks was), in prefix order: the kernel's
    // FIB trie takes neighbours much faster than prefixes in hash order.
    // A prefix changed several times keeps its latest change (the highest index).
    std::vector<Candidate> take_dirty() {
        std::vector<Candidate> out;
        out.swap(dirty_);
        std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
            if (a.prefix != b.prefix) return a.prefix < b.prefix;
            if (a.change != b.change) return a.change > b.change;  // the latest change first, so that unique() keeps it
            return a.fresh > b.fresh;  // then the fresh mark
        });
        out.erase(std::unique(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) { return a.prefix == b.prefix; }),
                  out.end());
        return out;
    }

    // Re-reads the table, then reconciles every prefix. False when the dump failed.
    bool full_sync(Clock::time_point now) {
        const auto started = Clock::now();
        auto dump = table_.dump();
        if (!dump) {
            if (dump_error_logged_ != dump.error()) {
                log_->warn("reading table {} failed: {}; retrying", cfg_.table, dump.error().message());
                dump_error_logged_ = dump.error();
            }
            resync_due_ = now + kDumpRetry;
            return false;
        }
        dump_error_logged_.clear();
        const std::vector<Candidate> dirty = take_dirty();
        {
            std::lock_guard lock(view_.mutex);
            load_kernel(slots_, *dump, cfg_.protocol, cfg_.table);
            recount();
            for (const auto& c : dirty)
                if (c.change != 0) apply_change(slots_[c.prefix], std::move(pending_[c.change - 1]));
            publish();
        }
        pending_.clear();
        std::erase_if(occupied_logged_, [&](const Prefix& p) {
            auto it = slots_.find(p);
            return it == slots_.end() || !it->second.foreign;
        });
        std::vector<Candidate> all;
        auto d = dirty.begin();
        for (const auto& p : sorted_prefixes(slots_)) {
            while (d != dirty.end() && d->prefix < p) ++d;
            auto it = retry_.find(p);
            if (it != retry_.end() && it->second.next_at > now) continue;
            all.push_back({p, d != dirty.end() && d->prefix == p && d->fresh});
        }
        batch_due_.reset();
        flush(all, now);
        Report done;
        done.reconcile_seconds = std::chrono::duration<double>(Clock::now() - started).count();
        {
            std::lock_guard lock(view_.mutex);
            publish(&done);
        }
        return true;
    }

    struct OpInfo {
        RouteTable::iterator slot;  // valid until its result is recorded: flush() reserved, nothing rehashes
        bool fresh;
    };
    // Up to kSliceOps writes decided together. In a big batch the applier thread has the kernel
    // take one slice while this thread decides the next and records the one before: the two
    // halves of the work run on two cores.
    struct Slice {
        std::vector<RouteOp> ops;
        std::vector<OpInfo> info;
    };
    struct Tally {
        std::size_t installed = 0;
        std::size_t removed = 0;
        std::size_t failed = 0;
        Clock::duration deciding{};
        Clock::duration kernel{};
        Clock::duration recording{};
    };
    static constexpr std::size_t kSliceOps = 16384;

    // Decides candidates from `pos` on until the slice holds kSliceOps writes or none are left.
    Slice decide_slice(const std::vector<Candidate>& candidates, std::size_t& pos, Tally& t) {
        const auto t0 = Clock::now();
        Slice out;
        std::lock_guard lock(view_.mutex);
        for (; pos < candidates.size() && out.ops.size() < kSliceOps; ++pos) {
            const Candidate& c = candidates[pos];
            auto it = slots_.end();
            if (c.change != 0) {
                it = slots_.try_emplace(c.prefix).first;
                apply_change(it->second, std::move(pending_[c.change - 1]));
            } else {
                it = slots_.find(c.prefix);
            }
            RouteSlot* slot = it == slots_.end() ? nullptr : &it->second;
            const PrefixAction a = slot ? decide(*slot, sweep_) : PrefixAction{};
            switch (a.kind) {
                case PrefixAction::Kind::kReplace:
                    out.ops.push_back({RouteOpKind::kReplace, *a.route});
                    out.info.push_back({it, c.fresh});
                    continue;
                case PrefixAction::Kind::kRemove:
                    // A delete names the prefix only (the kernel matches prefix, table and
                    // protocol); the slot still has the next hops for the log.
                    out.ops.push_back({RouteOpKind::kRemove, FibRoute{c.prefix, {}}});
                    out.info.push_back({it, c.fresh});
                    continue;
                case PrefixAction::Kind::kOccupied:
                    if (occupied_logged_.insert(c.prefix).second)
                        log_->warn("{} is held by a route of protocol {} in table {}: not replacing it",
                                   c.prefix.to_string(), a.occupier, cfg_.table);
                    break;
                case PrefixAction::Kind::kNone: break;
            }
            // Needing nothing, or occupied (looked at again when the foreign route goes away): settled.
            if (!retry_.empty()) retry_.erase(c.prefix);
            if (errors_.size() != 0 && errors_.clear(c.prefix)) log_->info("{}: no longer failing", c.prefix.to_string());
            if (slot && !slot->desired && !slot->ours) slot->withdrawn = false;
            if (slot && slot->empty()) slots_.erase(it);
        }
        publish();
        t.deciding += Clock::now() - t0;
        return out;
    }

    // Takes the kernel's answers for a slice into the table, the counters and the log.
    void record(Slice& slice, const std::vector<std::error_code>& results, Clock::time_point now, bool log_routes,
                spdlog::level::level_enum per_route, Tally& t) {
        const auto t0 = Clock::now();
        std::lock_guard lock(view_.mutex);
        Report report;
        for (std::size_t i = 0; i < slice.ops.size(); ++i) {
            RouteOp& op = slice.ops[i];
            const OpInfo& info = slice.info[i];
            const Prefix& p = op.route.prefix;
            std::error_code ec = results[i];
            if (op.kind == RouteOpKind::kRemove && ec == std::error_code(ESRCH, std::system_category()))
                ec.clear();  // already gone: that is what we wanted
            if (!ec) {
                ++report.writes;
                const bool retried = !retry_.empty() && retry_.erase(p) != 0;
                const bool recovered = errors_.size() != 0 && errors_.clear(p);
                if (op.kind == RouteOpKind::kReplace) {
                    ++t.installed;
                    // Not a new desired state nor a retry: the kernel lost or changed the route.
                    if (!info.fresh && !retried) ++report.repairs;
                    if (log_routes) log_->log(per_route, "installed {}{}", describe(op.route), recovered ? " (after errors)" : "");
                    auto& ours = info.slot->second.ours;
                    ours_n_ += !ours.has_value();
                    ours = std::move(op.route);
                } else {
                    ++t.removed;
                    RouteSlot& slot = info.slot->second;
                    if (log_routes) log_->log(per_route, "removed {}", slot.ours ? describe(*slot.ours) : p.to_string());
                    ours_n_ -= slot.ours.has_value();
                    slot.ours.reset();
                    slot.withdrawn = false;
                    if (slot.empty()) slots_.erase(info.slot);  // last use of info.slot
                }
                continue;
            }
            ++t.failed;
            ++report.errors;
            auto& retry = retry_[p];
            ++retry.failures;
            retry.next_at = now + retry_delay(retry.failures);
            const char* verb = op.kind == RouteOpKind::kReplace ? "installing" : "removing";
            report.last_error = std::string(verb) + " " + (op.kind == RouteOpKind::kReplace ? describe(op.route) : p.to_string()) +
                                ": " + ec.message();
            // Once per prefix and error, not once per attempt: an unreachable gateway retries
            // for as long as it stays unreachable.
            if (errors_.record(p, ec.value()))
                log_->warn("{} {} failed: {} (retrying with backoff)", verb,
                           op.kind == RouteOpKind::kReplace ? describe(op.route) : p.to_string(), ec.message());
        }
        publish(&report);
        t.recording += Clock::now() - t0;
    }

    // Applies the candidates' new desired states (pending_), decides, writes, records the results.
    // `sorting`: how long take_dirty() took, for the batch's log line.
    void flush(const std::vector<Candidate>& candidates, Clock::time_point now, Clock::duration sorting = {}) {
        if (candidates.empty()) {
            pending_.clear();
            return;
        }
        const auto batch_start = Clock::now();
        // Room for every new slot first: no rehash while slices are decided, so the iterators kept
        // stay valid (erasing other elements never invalidates them).
        std::size_t changed = 0;
        for (const auto& c : candidates) changed += c.change != 0;
        if (changed > 0) {
            std::lock_guard lock(view_.mutex);
            slots_.reserve(slots_.size() + changed);
        }
        // Per-route lines at info while batches are small (a cluster's worth of pod CIDRs); a big
        // batch (start-up, a full table from a router) logs its routes at debug and its counts.
        const auto per_route = candidates.size() <= kPerRouteInfoLimit ? spdlog::level::info : spdlog::level::debug;
        const bool log_routes = log_->should_log(per_route);
        Tally t;
        std::size_t pos = 0;
        Slice current = decide_slice(candidates, pos, t);
        if (!current.ops.empty() && pos >= candidates.size()) {  // one slice: no handoff
            const auto k0 = Clock::now();
            const auto results = table_.apply(current.ops);
            t.kernel += Clock::now() - k0;
            record(current, results, now, log_routes, per_route, t);
        } else if (!current.ops.empty()) {
            applier_.start(std::move(current.ops));  // `current.info` stays here
            while (true) {
                Slice next = decide_slice(candidates, pos, t);  // while the kernel takes `current`
                Applied done = applier_.wait();
                t.kernel += done.took;
                current.ops = std::move(done.ops);
                const bool more = !next.ops.empty();
                if (more) applier_.start(std::move(next.ops));  // while `current` is recorded
                record(current, done.results, now, log_routes, per_route, t);
                if (!more) break;
                current.ops.clear();  // `next`'s ops come back from the applier next turn
                current.info = std::move(next.info);
            }
        }
        pending_.clear();
        const auto total = t.installed + t.removed + t.failed;
        if (total > 1) {
            using ms = std::chrono::duration<double, std::milli>;
            log_->info("programmed {} routes, removed {}, {} failed in {:.0f} ms (kernel {:.0f} ms, ours {:.0f} ms: "
                       "sorting {:.0f}, deciding {:.0f}, recording {:.0f})",
                       t.installed, t.removed, t.failed, ms(Clock::now() - batch_start + sorting).count(),
                       ms(t.kernel).count(), ms(sorting + t.deciding + t.recording).count(), ms(sorting).count(),
                       ms(t.deciding).count(), ms(t.recording).count());
        }
    }
    struct Retry {
        unsigned failures = 0;
        Clock::time_point next_at;
    };

    const FibConfig cfg_;
    NetlinkRouteTable table_;
    NetlinkEvents events_;
    const int wake_fd_;
    Inbox& inbox_;
    RouteTable slots_;  // every prefix the RIB wants, we hold, another protocol holds, or we must delete
    TableView& view_;   // changes to slots_ hold its mutex; its counts are published after each
    std::size_t desired_n_ = 0;  // slots with a desired route
    std::size_t ours_n_ = 0;     // slots with our route in the kernel
    std::atomic<std::int64_t>& heartbeat_;
    std::shared_ptr<spdlog::logger> log_;
    Applier applier_{table_};  // after table_

    bool sweep_ = false;
    // To look at with the next batch; true when the RIB changed the desired state since the prefix
    // was last written (a write then is not a repair).
    std::vector<Candidate> dirty_;  // duplicates allowed; take_dirty() merges them
    std::vector<std::optional<FibRoute>> pending_;  // the RIB's desired states not yet applied (Candidate::change)
    std::optional<Clock::time_point> batch_due_;
    std::unordered_map<Prefix, Retry> retry_;
    ErrorMemo errors_;
    std::unordered_set<Prefix> occupied_logged_;
    std::optional<Clock::time_point> resync_due_;
    std::optional<Clock::time_point> link_due_;
    Clock::time_point last_link_check_{};
    Clock::time_point next_sync_{};
    std::error_code dump_error_logged_;
};

}  // namespace

class Fib::Impl {
public:
    // The io_context is not used any more (the writer's counters are read, not posted back); the
    // parameter stays so that a Fib is still made beside the loop it serves.
    Impl([[maybe_unused]] asio::io_context& ioc, FibConfig cfg) : cfg_{cfg} {}

    ~Impl() { stop(); }

    Expected<void, std::string> start() {
        if (thread_.joinable()) return unexpected(std::string("fib: already started"));
        if (stopped_) return unexpected(std::string("fib: stopped; a Fib is started once"));
        auto log = log::get("fib");
        // Subscribe before the dump, so that no change between the two goes unseen.
        auto events = NetlinkEvents::open();
        if (!events) return unexpected("fib: cannot subscribe to kernel route events: " + events.error().message());
        auto table = NetlinkRouteTable::open(cfg_.protocol, cfg_.table);
        if (!table) return unexpected("fib: cannot open a netlink route socket: " + table.error().message());
        if (auto r = events->ignore_sender(table->port_id()); !r)
            return unexpected("fib: cannot filter the echoes of our own writes: " + r.error().message());
        auto dump = table->dump();
        if (!dump) return unexpected("fib: cannot read the kernel's routes: " + dump.error().message());
        RouteTable slots;
        load_kernel(slots, *dump, cfg_.protocol, cfg_.table);
        const auto found = std::count_if(slots.begin(), slots.end(), [](const auto& e) { return e.second.ours.has_value(); });
        const auto foreign = std::count_if(slots.begin(), slots.end(), [](const auto& e) { return e.second.foreign.has_value(); });
        log->info("table {}: found {} routes of protocol {} ({} prefixes held by other protocols)", cfg_.table, found,
                  cfg_.protocol, foreign);

        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ < 0) return unexpected(std::string("fib: eventfd: ") + std::strerror(errno));

        writer_ = std::make_unique<Writer>(cfg_, std::move(*table), std::move(*events), wake_fd_, inbox_,
                                           std::move(slots), view_, heartbeat_);
        try {
            thread_ = std::thread([w = writer_.get()] { w->run(); });
        } catch (const std::system_error& e) {
            writer_.reset();
            ::close(wake_fd_);
            wake_fd_ = -1;
            return unexpected(std::string("fib: cannot start the writer thread: ") + e.what());
        }
        wake();  // routes set before start() wait in the inbox
        return {};
    }

    void stop() {
        stopped_ = true;
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(inbox_.mutex);
            inbox_.stop = true;
        }
        wake();
        thread_.join();
        ::close(wake_fd_);
        wake_fd_ = -1;
    }

    void set_route(const FibRoute& route) {
        FibRoute r = normalized(route);
        if (!installable(r)) {
            // The RIB has no usable next hop for this prefix: as good as withdrawn.
            log::get("fib")->warn("{}: no usable next hop of its family; treating it as removed",
                                  route.prefix.to_string());
            remove_route(route.prefix);
            return;
        }
        // No check against what was sent before: the controller sends changes only, and the
        // writer writes nothing for a desired route the kernel already has.
        send(r.prefix, std::move(r));
    }

    void remove_route(const Prefix& prefix) { send(prefix, std::nullopt); }

    void enable_stale_sweep() {
        if (sweep_) return;
        sweep_ = true;
        {
            std::lock_guard lock(inbox_.mutex);
            inbox_.sweep = true;
        }
        wake();
    }

    [[nodiscard]] FibSnapshot snapshot() const {
        FibSnapshot s = counters();
        if (writer_) writer_->lists(s.desired, s.kernel);  // waits while the writer changes its table
        return s;
    }

    // The snapshot without its route lists (cheap: for metrics).
    [[nodiscard]] FibSnapshot counters() const {
        FibSnapshot s;
        s.sweep_enabled = sweep_;
        std::lock_guard lock(view_.stats_mutex);
        const Stats& st = view_.stats;
        s.writes = st.writes;
        s.errors = st.errors;
        s.last_error = st.last_error;
        s.desired_routes = st.desired;
        s.kernel_routes = st.ours;
        s.repairs = st.repairs;
        s.reconciles = st.reconciles;
        s.reconcile_seconds = st.reconcile_seconds;
        s.last_reconcile_seconds = st.last_reconcile_seconds;
        return s;
    }

    [[nodiscard]] Clock::time_point writer_heartbeat() const noexcept {
        return Clock::time_point{Clock::duration{heartbeat_.load(std::memory_order_relaxed)}};
    }

    void stall_writer_for_testing(std::chrono::milliseconds d) {
        {
            std::lock_guard lock(inbox_.mutex);
            inbox_.stall = d;
        }
        wake();
    }

    [[nodiscard]] std::size_t desired_count() const { return counters().desired_routes; }

private:
    void send(const Prefix& prefix, std::optional<FibRoute> route) {
        bool was_empty = false;
        {
            std::lock_guard lock(inbox_.mutex);
            was_empty = inbox_.changes.empty();
            inbox_.changes.emplace_back(prefix, std::move(route));
        }
        if (was_empty) wake();  // one wakeup per batch, not per route
    }

    void wake() {
        if (wake_fd_ < 0) return;  // not started: the writer takes the inbox when it starts
        const std::uint64_t one = 1;
        (void)::write(wake_fd_, &one, sizeof one);
    }

    const FibConfig cfg_;
    bool sweep_ = false;
    Inbox inbox_;
    mutable TableView view_;  // read by the const snapshot()/counters(): its mutexes lock
    std::unique_ptr<Writer> writer_;  // after start(); its thread_ is joined before it goes
    int wake_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
    std::atomic<std::int64_t> heartbeat_{0};
};

Fib::Fib(asio::io_context& ioc, FibConfig cfg) : impl_{std::make_unique<Impl>(ioc, cfg)} {}
Fib::~Fib() = default;
Expected<void, std::string> Fib::start() { return impl_->start(); }
void Fib::stop() { impl_->stop(); }
void Fib::set_route(const FibRoute& route) { impl_->set_route(route); }
void Fib::remove_route(const Prefix& prefix) { impl_->remove_route(prefix); }
void Fib::enable_stale_sweep() { impl_->enable_stale_sweep(); }
FibSnapshot Fib::snapshot() const { return impl_->snapshot(); }
FibSnapshot Fib::counters() const { return impl_->counters(); }
std::chrono::steady_clock::time_point Fib::writer_heartbeat() const noexcept { return impl_->writer_heartbeat(); }
void Fib::stall_writer_for_testing(std::chrono::milliseconds d) { impl_->stall_writer_for_testing(d); }
std::size_t Fib::desired_count() const { return impl_->desired_count(); }

}  // namespace kroute::daemon
