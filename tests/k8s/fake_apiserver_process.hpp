// Test support for the k8s client against the real fake-apiserver binary: the server as a child
// process on 127.0.0.1 (port 0 at first, the same port after a restart), its HTTP API and fault
// controls, and a recorder of a source's events. Every wait polls a condition with a deadline.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s-client/object_source.hpp"
#include "k8s_test_support.hpp"

extern char** environ;

namespace kroute::k8s::test {

using namespace std::chrono_literals;
using nlohmann::json;

inline constexpr const char* kToken = "watcher-test-token";
inline constexpr auto kWait = 20s;  // generous: the machine is shared

// One fake-apiserver process; stdout (the ready line) truncated per start, stderr (the request
// log) appended across restarts.
class FakeApiServerProcess {
public:
    // `extra`: more command-line options (--bookmark-interval 1, --services FILE, ...).
    explicit FakeApiServerProcess(const TempDir& dir, std::vector<std::string> extra = {})
        : dir_{dir}, extra_{std::move(extra)} {}
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
        args.insert(args.end(), extra_.begin(), extra_.end());
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
        wait_until(
            [&] {
                const auto text = read_text(out);
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
        std::istringstream in{read_text(log_path())};
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
        c.set_bearer_token_auth(token_);
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

    // After a {"token": NEW} fault: the token the test's own requests carry.
    void use_token(std::string token) { token_ = std::move(token); }

    // The server's record of every API request (GET /fake/requests), oldest first.
    [[nodiscard]] json requests() const {
        auto r = request("GET", "/fake/requests");
        if (!r || r->status != 200) return json::array();
        auto j = json::parse(r->body, nullptr, false);
        return j.is_array() ? j : json::array();
    }

private:
    const TempDir& dir_;
    std::vector<std::string> extra_;
    std::string token_ = kToken;
    pid_t pid_ = -1;
    int port_ = 0;
};

// What the sink received, and the node set it implies.
template <class T>
class Recorder {
public:
    EventSink<T> sink() {
        return [this](ObjectEvent<T> ev) {
            std::lock_guard lock{mu_};
            if (ev.type == EventType::kSynced) {
                ++synced_;
            } else if (ev.type == EventType::kDeleted) {
                objects_.erase(object_key(ev.object));
            } else {
                objects_[object_key(ev.object)] = ev.object;
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
    // True when an event of `type` for `key` came at index >= `from`.
    [[nodiscard]] bool has(std::size_t from, EventType type, const std::string& key) const {
        std::lock_guard lock{mu_};
        for (std::size_t i = from; i < events_.size(); ++i)
            if (events_[i].type == type && object_key(events_[i].object) == key) return true;
        return false;
    }
    [[nodiscard]] std::map<std::string, T> nodes() const { return objects(); }
    [[nodiscard]] std::map<std::string, T> objects() const {
        std::lock_guard lock{mu_};
        return objects_;
    }
    [[nodiscard]] std::string label(const std::string& key, const std::string& label) const {
        std::lock_guard lock{mu_};
        auto n = objects_.find(key);
        if (n == objects_.end()) return "<no object>";
        auto l = n->second.labels.find(label);
        return l == n->second.labels.end() ? "<no label>" : l->second;
    }
    [[nodiscard]] std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [key, object] : objects()) out.push_back(key);
        return out;
    }

private:
    mutable std::mutex mu_;
    std::vector<ObjectEvent<T>> events_;
    std::map<std::string, T> objects_;
    int synced_ = 0;
};


inline std::string node_json(const std::string& name, const std::string& cidr, const std::string& ip) {
    return json{{"apiVersion", "v1"},
                {"kind", "Node"},
                {"metadata", {{"name", name}, {"labels", {{"gen", "1"}}}}},
                {"spec", {{"podCIDR", cidr}, {"podCIDRs", json::array({cidr})}}},
                {"status", {{"addresses", json::array({{{"type", "InternalIP"}, {"address", ip}}})}}}}
        .dump();
}


}  // namespace kroute::k8s::test
