#include "daemon/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <httplib.h>

#include "common/log.hpp"

namespace kroute::daemon {
namespace {

// One metric family: HELP and TYPE, then its samples; nothing at all when it has no sample.
class Family {
public:
    Family(std::string name, const char* type, const char* help) : name_{std::move(name)}, type_{type}, help_{help} {}

    // labels: name/value pairs, in the order given.
    template <class V>
    Family& add(const std::vector<std::pair<std::string, std::string>>& labels, V value, std::string_view suffix = {}) {
        std::string line = name_;
        line.append(suffix);
        if (!labels.empty()) {
            line += '{';
            for (std::size_t i = 0; i < labels.size(); ++i) {
                if (i != 0) line += ',';
                line += labels[i].first;
                line += "=\"";
                line += escape_label_value(labels[i].second);
                line += '"';
            }
            line += '}';
        }
        line += ' ';
        line += fmt::format("{}", value);
        line += '\n';
        samples_.push_back(std::move(line));
        return *this;
    }

    void write(std::string& out) const {
        if (samples_.empty()) return;
        out += "# HELP " + name_ + " " + help_ + "\n";
        out += "# TYPE " + name_ + " " + type_ + "\n";
        for (const auto& s : samples_) out += s;
    }

private:
    std::string name_;
    std::string type_;
    std::string help_;
    std::vector<std::string> samples_;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

Labels peer_labels(const bgp::NeighborSnapshot& n) {
    return {{"peer", n.address.to_string()}, {"asn", std::to_string(n.asn)}, {"description", n.description}};
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '"': out += "\\\""; break;
            case '\n': out += "\\n"; break;
            default: out += c;
        }
    }
    return out;
}

int bgp_state_number(std::string_view state) {
    static constexpr std::string_view kStates[] = {"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"};
    for (int i = 0; i < 6; ++i)
        if (state == kStates[i]) return i + 1;
    return 0;
}

std::string render_metrics(const MetricsSnapshot& s) {
    std::string out;
    Labels build{{"version", s.version}};
    if (!s.commit.empty()) build.emplace_back("commit", s.commit);
    Family("kroute_build_info", "gauge", "Always 1; the version of kroute in its label.").add(build, 1).write(out);

    Family("kroute_bgp_rib_prefixes", "gauge", "Prefixes in the BGP Loc-RIB.").add({}, s.rib_prefixes).write(out);
    Family("kroute_nodes", "gauge", "Kubernetes Nodes known to kroute.").add({}, s.nodes_known).write(out);

    std::vector<const bgp::NeighborSnapshot*> peers;
    for (const auto& n : s.peers) peers.push_back(&n);
    std::sort(peers.begin(), peers.end(), [](const auto* a, const auto* b) { return a->address < b->address; });
    Family state("kroute_bgp_peer_state", "gauge",
                 "BGP session state, RFC 4271 numbering: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established.");
    Family up("kroute_bgp_peer_up", "gauge", "1 while the BGP session is Established, else 0.");
    Family uptime("kroute_bgp_peer_uptime_seconds", "gauge", "Time the BGP session has been Established, 0 when it is not.");
    Family flaps("kroute_bgp_peer_flaps_total", "counter", "Times the BGP session left Established, for whatever reason.");
    Family upd_in("kroute_bgp_peer_updates_received_total", "counter", "UPDATE messages received from the peer (End-of-RIB included).");
    Family upd_out("kroute_bgp_peer_updates_sent_total", "counter", "UPDATE messages sent to the peer (End-of-RIB included).");
    Family msg_in("kroute_bgp_peer_messages_received_total", "counter", "BGP messages of every type received from the peer.");
    Family msg_out("kroute_bgp_peer_messages_sent_total", "counter", "BGP messages of every type sent to the peer.");
    Family pfx_in("kroute_bgp_peer_prefixes_received", "gauge", "Paths the peer announces now, accepted or rejected.");
    Family pfx_acc("kroute_bgp_peer_prefixes_accepted", "gauge", "Paths from the peer in the RIB (accepted by import policy and prefix ownership).");
    Family pfx_rej("kroute_bgp_peer_prefixes_rejected", "gauge", "Paths the peer announces that import policy or prefix ownership refused.");
    Family pfx_out("kroute_bgp_peer_prefixes_sent", "gauge", "Prefixes announced to the peer (its Adj-RIB-Out).");
    Family pfx_stale("kroute_bgp_peer_prefixes_stale", "gauge", "Paths kept as stale from the peer's previous session (graceful restart).");
    for (const auto* n : peers) {
        const auto l = peer_labels(*n);
        state.add(l, bgp_state_number(n->state));
        up.add(l, n->state == "Established" ? 1 : 0);
        uptime.add(l, n->uptime.count());
        flaps.add(l, n->flaps);
        upd_in.add(l, n->updates_received);
        upd_out.add(l, n->updates_sent);
        msg_in.add(l, n->messages_received);
        msg_out.add(l, n->messages_sent);
        pfx_in.add(l, n->prefixes_received + n->prefixes_rejected);
        pfx_acc.add(l, n->prefixes_received);
        pfx_rej.add(l, n->prefixes_rejected);
        pfx_out.add(l, n->prefixes_sent);
        pfx_stale.add(l, n->prefixes_stale);
    }
    for (const auto* f : {&state, &up, &uptime, &flaps, &upd_in, &upd_out, &msg_in, &msg_out, &pfx_in, &pfx_acc,
                          &pfx_rej, &pfx_out, &pfx_stale})
        f->write(out);

    Family("kroute_fib_routes_desired", "gauge", "Kernel routes the BGP best paths call for.").add({}, s.routes_desired).write(out);
    if (s.fib) {
        const auto& f = *s.fib;
        Family("kroute_fib_routes_installed", "gauge", "kroute's routes in the kernel (of its route protocol), as last read.")
            .add({}, f.kernel_routes)
            .write(out);
        Family("kroute_fib_writes_total", "counter", "Kernel routes written or deleted.").add({}, f.writes).write(out);
        Family("kroute_fib_write_errors_total", "counter", "Kernel route writes or deletions that failed (each is retried with backoff).")
            .add({}, f.errors)
            .write(out);
        Family("kroute_fib_repairs_total", "counter",
               "Desired routes written again because the kernel lost them or holds something else.")
            .add({}, f.repairs)
            .write(out);
        Family("kroute_fib_reconcile_duration_seconds", "summary",
               "Full reconciliations of the kernel table (a dump and a repair of every difference): count and total duration.")
            .add({}, f.reconcile_seconds, "_sum")
            .add({}, f.reconciles, "_count")
            .write(out);
        Family("kroute_fib_last_reconcile_duration_seconds", "gauge", "Duration of the last full reconciliation.")
            .add({}, f.last_reconcile_seconds)
            .write(out);
    }

    std::vector<k8s::ReflectorCounters> refl = s.reflectors;
    std::sort(refl.begin(), refl.end(), [](const auto& a, const auto& b) { return a.resource < b.resource; });
    Family lists("kroute_k8s_lists_total", "counter", "Complete LISTs of a Kubernetes resource.");
    Family relists("kroute_k8s_relists_total", "counter", "LISTs after the first: the watch could not resume (410 Gone, an ERROR event).");
    Family events("kroute_k8s_watch_events_total", "counter", "Watch events received (bookmarks included).");
    Family restarts("kroute_k8s_watch_restarts_total", "counter",
                    "Watches that ended and were started again, by how they ended: closed (end of stream, timeoutSeconds), "
                    "expired (410 or an ERROR event: relist), failed (HTTP or transport error, broken stream).");
    for (const auto& r : refl) {
        const Labels l{{"resource", r.resource}};
        lists.add(l, r.lists);
        relists.add(l, r.relists);
        events.add(l, r.watch_events);
        restarts.add(Labels{{"resource", r.resource}, {"reason", "closed"}}, r.watch_restarts_closed);
        restarts.add(Labels{{"resource", r.resource}, {"reason", "expired"}}, r.watch_restarts_expired);
        restarts.add(Labels{{"resource", r.resource}, {"reason", "failed"}}, r.watch_restarts_failed);
    }
    for (const auto* f : {&lists, &relists, &events, &restarts}) f->write(out);

    if (s.process) {
        const auto& p = *s.process;
        Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.").add({}, p.cpu_seconds).write(out);
        Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.").add({}, p.resident_bytes).write(out);
        Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.").add({}, p.virtual_bytes).write(out);
        Family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
            .add({}, p.start_time_seconds)
            .write(out);
        Family("process_open_fds", "gauge", "Number of open file descriptors.").add({}, p.open_fds).write(out);
        Family("process_max_fds", "gauge", "Maximum number of open file descriptors.").add({}, p.max_fds).write(out);
    }
    return out;
}

std::optional<ProcessStats> read_process_stats() {
    ProcessStats p;
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // The command name is in parentheses and may hold spaces: fields are counted after the last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x && f.size() < 30;) f.push_back(x);
    // From field 3 (state) on: utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() < 22) return std::nullopt;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    try {
        p.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
        const double start_ticks = std::stod(f[22 - 3]);
        p.virtual_bytes = std::stod(f[23 - 3]);
        p.resident_bytes = std::stod(f[24 - 3]) * page;
        std::ifstream proc_stat("/proc/stat");
        for (std::string line; std::getline(proc_stat, line);) {
            if (line.rfind("btime ", 0) == 0) {
                p.start_time_seconds = std::stod(line.substr(6)) + start_ticks / ticks;
                break;
            }
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (DIR* d = ::opendir("/proc/self/fd")) {
        double n = 0;
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
        p.open_fds = n - 1;  // not the directory's own descriptor
    }
    if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = static_cast<double>(rl.rlim_cur);
    return p;
}

MetricsServer::MetricsServer() = default;
MetricsServer::~MetricsServer() { stop(); }

Expected<void, std::string> MetricsServer::start(const std::string& address, std::uint16_t port, const std::string& path,
                                                 Collect collect) {
    collect_ = std::move(collect);
    server_ = std::make_unique<httplib::Server>();
    server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_->Get(path, [this](const httplib::Request&, httplib::Response& res) {
        auto text = collect_();
        if (!text) {
            res.status = 503;
            res.set_content("kroute's core loop did not answer in time (see /healthz)\n", "text/plain");
            return;
        }
        res.set_content(std::move(*text), "text/plain; version=0.0.4; charset=utf-8");
    });
    const std::string host = address.empty() ? "::" : address;
    // Port 0 (tests): an ephemeral port, see port().
    port_ = port == 0 ? server_->bind_to_any_port(host.c_str()) : (server_->bind_to_port(host.c_str(), port) ? port : -1);
    if (port_ <= 0)
        return unexpected("cannot listen on [" + host + "]:" + std::to_string(port) + " for " + path);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    log::get("main")->info("metrics on [{}]:{}{}", host, port_, path);
    return {};
}

void MetricsServer::stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
}

}  // namespace kroute::daemon
