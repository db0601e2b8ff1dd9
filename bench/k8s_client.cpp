// The Kubernetes client benchmark (issue 4, "Figures to reach"), see docs/benchmarks.md:
//
//   parse    N copies of a real Node object (the kubeadm fixture, renamed, each with its own
//            podCIDR and address) as the API serves them, in pages of 500: JSON text -> Node
//            models -> the cache, in process; and the cache's heap per node (malloc's in-use
//            bytes with the cache built and every JSON text and tree freed, minus before, / N).
//   list     the same N nodes from the fake API server over TLS: kroute's node watcher from
//            start() to its kSynced event; side by side, client-go (kubectl, paged 500 too) listing
//            the same server: `kubectl get nodes -o name --chunk-size=500`.
//   latency  a node change (a label PATCHed through the API) reaching the watcher's sink: the time
//            from sending the PATCH to the event, M times one after the other.
//
// Usage: k8s_client_bench --fake-apiserver PATH --fixture NODE.json [--kubectl PATH] [-n N]
//                         [-r REPEATS] [-m CHANGES]
// Everything on 127.0.0.1; the server is a child process, killed by PID at the end.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/object_cache.hpp"
#include "k8s-client/object_source.hpp"

extern char** environ;

namespace {

using namespace kroute;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "bench-token";

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string read_file(const std::string& path) {
    std::ifstream in{path, std::ios::binary};
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0.0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// Node i: the fixture renamed, its own uid, podCIDR (10.x.y.0/24) and InternalIP (172.16-31.x.y).
json make_node(const json& fixture, int i) {
    json n = fixture;
    const std::string name = "node-" + std::to_string(100000 + i).substr(1);
    n.erase("kind");
    n.erase("apiVersion");
    auto& md = n["metadata"];
    md["name"] = name;
    md["uid"] = "00000000-0000-4000-8000-" + std::to_string(100000000000LL + i).substr(1);
    md.erase("resourceVersion");
    md["labels"]["kubernetes.io/hostname"] = name;
    const std::string cidr = "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
    n["spec"]["podCIDR"] = cidr;
    n["spec"]["podCIDRs"] = json::array({cidr});
    const std::string ip = "172." + std::to_string(16 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                           std::to_string(i % 256);
    n["status"]["addresses"] = json::array({{{"type", "InternalIP"}, {"address", ip}}, {{"type", "Hostname"}, {"address", name}}});
    return n;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

struct ParseFigures {
    double ms = 0;
    double bytes_per_node = 0;
    std::size_t json_bytes = 0;
};

// In process: pages of 500 as JSON text -> parse_node_list -> ObjectCache::replace.
ParseFigures bench_parse(const std::vector<json>& nodes) {
    std::vector<std::string> pages;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < nodes.size(); i += 500) {
        json page{{"kind", "NodeList"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "1000"}}}, {"items", json::array()}};
        for (std::size_t j = i; j < std::min(nodes.size(), i + 500); ++j) page["items"].push_back(nodes[j]);
        if (i + 500 < nodes.size()) page["metadata"]["continue"] = "c" + std::to_string(i);
        pages.push_back(page.dump());
        bytes += pages.back().size();
    }
    malloc_trim(0);
    const std::size_t before = heap_in_use();
    const auto t0 = Clock::now();
    auto cache = std::make_unique<k8s::NodeCache>();
    {
        std::vector<k8s::Node> all;
        all.reserve(nodes.size());
        for (const auto& text : pages) {
            auto tree = json::parse(text);
            auto list = k8s::parse_node_list(tree);
            if (!list || !list->errors.empty()) {
                std::cerr << "parse failed: " << (list ? list->errors.front() : list.error()) << "\n";
                std::exit(1);
            }
            for (auto& n : list->items) all.push_back(std::move(n));
        }
        auto events = cache->replace(std::move(all));
        if (events.size() != nodes.size() + 1) std::exit(1);
    }
    ParseFigures f;
    f.ms = ms_since(t0);
    malloc_trim(0);
    f.bytes_per_node = static_cast<double>(heap_in_use() - before) / static_cast<double>(nodes.size());
    f.json_bytes = bytes;
    return f;
}

class Child {
public:
    Child() = default;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() { kill(); }
    bool spawn(std::vector<std::string> args, const std::string& out, const std::string& err) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) pid_ = -1;
        return rc == 0;
    }
    int wait() {
        int status = 0;
        if (pid_ > 0) ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

// Records the sink's events; waits are bounded.
class Recorder {
public:
    k8s::NodeEventSink sink() {
        return [this](k8s::NodeEvent ev) {
            std::lock_guard lock{mu_};
            if (ev.type == k8s::EventType::kSynced) {
                ++synced_;
            } else if (ev.object.name == watched_) {
                auto it = ev.object.labels.find("bench");
                if (it != ev.object.labels.end()) {
                    last_label_ = it->second;
                    last_at_ = Clock::now();
                }
            }
            cv_.notify_all();
        };
    }
    bool wait_synced(int n, std::chrono::seconds limit) {
        std::unique_lock lock{mu_};
        return cv_.wait_for(lock, limit, [&] { return synced_ >= n; });
    }
    void watch(std::string name) {
        std::lock_guard lock{mu_};
        watched_ = std::move(name);
    }
    // The time the label reached `value`, or nullopt after `limit`.
    std::optional<Clock::time_point> wait_label(const std::string& value, std::chrono::seconds limit) {
        std::unique_lock lock{mu_};
        if (!cv_.wait_for(lock, limit, [&] { return last_label_ == value; })) return std::nullopt;
        return last_at_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int synced_ = 0;
    std::string watched_;
    std::string last_label_;
    Clock::time_point last_at_{};
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kroute's Kubernetes client benchmark"};
    std::string fake, fixture, kubectl;
    int n = 5000, repeats = 3, changes = 200;
    app.add_option("--fake-apiserver", fake, "the fake-apiserver binary")->required();
    app.add_option("--fixture", fixture, "a Node object (JSON) to copy")->required();
    app.add_option("--kubectl", kubectl, "kubectl, for the client-go anchor (empty: skipped)");
    app.add_option("-n", n, "nodes")->capture_default_str();
    app.add_option("-r", repeats, "repeats of parse and list")->capture_default_str();
    app.add_option("-m", changes, "node changes for the latency figure")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    log::get("k8s")->set_level(spdlog::level::warn);

    const json base = json::parse(read_file(fixture));
    std::vector<json> nodes;
    nodes.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) nodes.push_back(make_node(base, i));

    // parse
    std::vector<double> parse_ms;
    ParseFigures pf;
    for (int r = 0; r < repeats; ++r) {
        pf = bench_parse(nodes);
        parse_ms.push_back(pf.ms);
    }
    std::printf("parse: %d nodes (%.1f MB of JSON in pages of 500) -> cache: median %.0f ms (runs:", n,
                static_cast<double>(pf.json_bytes) / 1e6, median(parse_ms));
    for (double v : parse_ms) std::printf(" %.0f", v);
    std::printf("); cache heap %.0f B/node\n", pf.bytes_per_node);

    // The server, seeded with the same nodes.
    const auto dir = std::filesystem::temp_directory_path() / ("kroute-k8s-bench." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "certs");
    std::filesystem::create_directories(dir / "home");
    {
        std::ofstream out{dir / "nodes.json"};
        out << json{{"kind", "NodeList"}, {"apiVersion", "v1"}, {"items", nodes}}.dump();
    }
    nodes.clear();
    Child server;
    if (!server.spawn({fake, "--listen", "127.0.0.1", "--port", "0", "--token", kToken, "--cert-dir",
                       (dir / "certs").string(), "--nodes", (dir / "nodes.json").string(), "--quiet"},
                      (dir / "server.out").string(), (dir / "server.err").string())) {
        std::cerr << "cannot start " << fake << "\n";
        return 1;
    }
    int port = 0;
    for (auto deadline = Clock::now() + 60s; port == 0 && Clock::now() < deadline;) {
        const auto text = read_file((dir / "server.out").string());
        if (auto at = text.find("ready port="); at != std::string::npos && text.find('\n', at) != std::string::npos)
            port = std::atoi(text.c_str() + at + 11);
        else
            std::this_thread::sleep_for(50ms);
    }
    if (port == 0) {
        std::cerr << "the fake API server did not start: " << read_file((dir / "server.err").string()) << "\n";
        return 1;
    }
    auto cfg = k8s::load_kubeconfig((dir / "certs" / "kubeconfig").string());
    if (!cfg) {
        std::cerr << cfg.error() << "\n";
        return 1;
    }

    // list: kroute
    std::vector<double> list_ms;
    for (int r = 0; r < repeats; ++r) {
        Recorder rec;
        auto watcher = k8s::make_node_watcher(*cfg);
        const auto t0 = Clock::now();
        watcher->start(rec.sink());
        if (!rec.wait_synced(1, 120s)) {
            std::cerr << "the watcher did not sync\n";
            return 1;
        }
        list_ms.push_back(ms_since(t0));
        watcher->stop();
    }
    std::printf("list over TLS from the fake API server, paged 500: kroute median %.0f ms (runs:", median(list_ms));
    for (double v : list_ms) std::printf(" %.0f", v);
    std::printf(")\n");

    // list: client-go (kubectl); a first run fills its discovery cache and is not counted.
    if (!kubectl.empty()) {
        std::vector<double> kc_ms;
        setenv("HOME", (dir / "home").c_str(), 1);
        for (int r = 0; r <= repeats; ++r) {
            Child k;
            const auto t0 = Clock::now();
            if (!k.spawn({kubectl, "--kubeconfig", (dir / "certs" / "kubeconfig").string(), "get", "nodes", "-o", "name",
                          "--chunk-size=500"},
                         (dir / "kubectl.out").string(), (dir / "kubectl.err").string()))
                break;
            const int st = k.wait();
            const double ms = ms_since(t0);
            const auto out = read_file((dir / "kubectl.out").string());
            const auto lines = static_cast<int>(std::count(out.begin(), out.end(), '\n'));
            if (st != 0 || lines != n) {
                std::cerr << "kubectl failed (" << lines << " lines): " << read_file((dir / "kubectl.err").string()) << "\n";
                break;
            }
            if (r > 0) kc_ms.push_back(ms);
        }
        std::printf("list over TLS from the fake API server, paged 500: client-go (kubectl get -o name) median %.0f ms (runs:",
                    median(kc_ms));
        for (double v : kc_ms) std::printf(" %.0f", v);
        std::printf(")\n");
    }

    // latency
    {
        Recorder rec;
        const std::string target = "node-00042";
        rec.watch(target);
        k8s::WatchOptions opts;
        auto watcher = k8s::make_node_watcher(*cfg, opts);
        watcher->start(rec.sink());
        if (!rec.wait_synced(1, 120s)) return 1;
        httplib::SSLClient c{"127.0.0.1", port};
        c.set_ca_cert_path((dir / "certs" / "ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_bearer_token_auth(kToken);
        c.set_keep_alive(true);
        c.set_tcp_nodelay(true);
        // The watch is open once a first change arrives through it.
        std::vector<double> lat;
        for (int i = 0; i <= changes; ++i) {
            const std::string value = "v" + std::to_string(i);
            const auto t0 = Clock::now();
            auto r = c.Patch(("/api/v1/nodes/" + target).c_str(), R"({"metadata":{"labels":{"bench":")" + value + "\"}}}",
                             "application/merge-patch+json");
            if (!r || r->status != 200) {
                std::cerr << "PATCH failed\n";
                return 1;
            }
            auto at = rec.wait_label(value, 30s);
            if (!at) {
                std::cerr << "change " << i << " did not arrive\n";
                return 1;
            }
            if (i > 0) lat.push_back(std::chrono::duration<double, std::milli>(*at - t0).count());
        }
        std::printf("change latency (PATCH sent -> watcher event), %d changes: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                    changes, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1.0));
        watcher->stop();
    }
    server.kill();
    std::filesystem::remove_all(dir);
    return 0;
}
