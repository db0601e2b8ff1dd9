// kroute-cni-exec: plays kubelet's (libcni's) part with a conflist and the real CNI plugins, for
// tests and demos on machines without a container runtime (Debian has no cnitool).
//
//   kroute-cni-exec add|del|check --conflist FILE --netns PATH|NAME --container-id ID
//       [--ifname eth0] [--cni-path /usr/lib/cni] [--cache-dir DIR]
//       [--port-mappings '[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]']
//       [--runtime-config '{"capability":value}'] [--cni-args 'K=V;K2=V2'] [--timeout SECONDS]
//
// What a runtime must do with a conflist is in the CNI spec (SPEC.md, "Section 5: Execution
// Protocol" and "Section 3: Execution of Network Configurations"):
//  - each plugin gets its own object plus the list's "name" and "cniVersion"; "runtimeConfig"
//    carries a capability argument only to plugins whose "capabilities" declare it;
//  - ADD runs the plugins in order, each with "prevResult" = the previous plugin's result; the
//    last result is the attachment's result, which the runtime caches;
//  - CHECK runs them in order and DEL in reverse order, each with "prevResult" = the cached ADD
//    result; CHECK does not exist before cniVersion 0.4.0; DEL must tolerate being repeated.
// A plugin reports failure with a non-zero exit and {"code","msg","details"} on stdout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cni-writer/atomic_file.hpp"
#include "common/expected.hpp"

extern char** environ;

namespace {

using Json = nlohmann::ordered_json;
using kroute::Expected;
using kroute::unexpected;
using Error = std::string;

struct Options {
    std::string command;
    std::string conflist;
    std::string netns;
    std::string container_id;
    std::string ifname = "eth0";
    std::string cni_path = "/usr/lib/cni";
    std::string cache_dir;
    std::string port_mappings;
    std::string runtime_config;
    std::string cni_args;
    int timeout_seconds = 60;
};

struct PluginRun {
    int exit_code = 0;
    std::string out;
};

// ---- validation ---------------------------------------------------------------------------

// CNI spec: the container ID is alphanumeric plus '_', '.', '-'; it is also part of our cache
// file name, so nothing else may pass.
bool valid_container_id(const std::string& id) {
    if (id.empty()) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
        if (!ok) return false;
    }
    return id != "." && id != "..";
}

bool valid_ifname(const std::string& name) {
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    for (char c : name) {
        if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
    }
    return true;
}

// "0.3.1" -> {0, 3, 1}; missing parts are 0, garbage is nullopt.
std::optional<std::vector<int>> parse_version(const std::string& v) {
    std::vector<int> parts;
    std::stringstream ss(v);
    std::string part;
    while (std::getline(ss, part, '.')) {
        if (part.empty() || part.size() > 4 || part.find_first_not_of("0123456789") != std::string::npos) {
            return std::nullopt;
        }
        parts.push_back(std::stoi(part));
    }
    if (parts.empty() || parts.size() > 3) return std::nullopt;
    parts.resize(3, 0);
    return parts;
}

Expected<Json, Error> read_json_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return unexpected(std::string{"cannot read "} + what + " " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    Json j = Json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) return unexpected(std::string{what} + " " + path + " is not JSON");
    return j;
}

Expected<Json, Error> load_conflist(const std::string& path) {
    auto conf = read_json_file(path, "conflist");
    if (!conf) return conf;
    const Json& c = *conf;
    if (!c.is_object()) return unexpected("conflist " + path + " is not a JSON object");
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty()) {
        return unexpected("conflist " + path + " has no \"name\"");
    }
    if (!c.contains("cniVersion") || !c["cniVersion"].is_string() ||
        !parse_version(c["cniVersion"].get<std::string>())) {
        return unexpected("conflist " + path + " has no valid \"cniVersion\"");
    }
    if (!c.contains("plugins") || !c["plugins"].is_array() || c["plugins"].empty()) {
        return unexpected("conflist " + path + " has no \"plugins\" (a single-plugin .conf is not supported)");
    }
    for (std::size_t i = 0; i < c["plugins"].size(); ++i) {
        const Json& p = c["plugins"][i];
        if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) {
            return unexpected("conflist " + path + ": plugins[" + std::to_string(i) + "] has no string \"type\"");
        }
        const auto type = p["type"].get<std::string>();
        if (type.empty() || type.find('/') != std::string::npos || type == "." || type == "..") {
            return unexpected("conflist " + path + ": plugin type \"" + type + "\" is not a plain file name");
        }
    }
    return conf;
}

// ---- running one plugin ---------------------------------------------------------------------

Expected<std::string, Error> find_plugin(const std::string& type, const std::string& cni_path) {
    std::stringstream ss(cni_path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + type;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return unexpected("plugin \"" + type + "\" not found in CNI_PATH " + cni_path +
                      " (Debian: apt-get install containernetworking-plugins)");
}

std::vector<std::string> plugin_env(const Options& o, const std::string& cni_command) {
    static const char* const kOurs[] = {"CNI_COMMAND=", "CNI_CONTAINERID=", "CNI_NETNS=", "CNI_IFNAME=",
                                        "CNI_PATH=", "CNI_ARGS="};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view var{*e};
        bool ours = false;
        for (const char* prefix : kOurs) ours = ours || var.rfind(prefix, 0) == 0;
        if (!ours) env.emplace_back(var);  // PATH stays: portmap runs iptables
    }
    env.push_back("CNI_COMMAND=" + cni_command);
    env.push_back("CNI_CONTAINERID=" + o.container_id);
    env.push_back("CNI_NETNS=" + o.netns);
    env.push_back("CNI_IFNAME=" + o.ifname);
    env.push_back("CNI_PATH=" + o.cni_path);
    if (!o.cni_args.empty()) env.push_back("CNI_ARGS=" + o.cni_args);
    return env;
}

// fork/exec with the config on stdin and stdout captured; stderr passes through. Killed after
// the timeout so that a hung plugin cannot hang the caller's test.
Expected<PluginRun, Error> run_plugin(const std::string& binary, const std::vector<std::string>& env,
                                      const std::string& stdin_text, int timeout_seconds) {
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return unexpected(std::string{"pipe: "} + std::strerror(errno));
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(in_pipe[0]);
        ::close(in_pipe[1]);
        return unexpected(std::string{"pipe: "} + std::strerror(errno));
    }
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};

    pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
        return unexpected(std::string{"fork: "} + std::strerror(err));
    }
    if (pid == 0) {
        ::dup2(in_pipe[0], STDIN_FILENO);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::execve(binary.c_str(), argv, envp.data());
        const char msg[] = "kroute-cni-exec: execve failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    int to_child = in_pipe[1];
    int from_child = out_pipe[0];
    ::fcntl(to_child, F_SETFL, O_NONBLOCK);

    std::string out;
    std::size_t written = 0;
    if (stdin_text.empty()) {
        ::close(to_child);
        to_child = -1;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    bool timed_out = false;
    while (from_child >= 0) {  // bounded by the deadline
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd fds[2] = {{from_child, POLLIN, 0}, {to_child, POLLOUT, 0}};
        int n = ::poll(fds, to_child >= 0 ? 2 : 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (to_child >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            ssize_t w = ::write(to_child, stdin_text.data() + written, stdin_text.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdin_text.size();  // EPIPE: it stopped reading
            if (written == stdin_text.size()) {
                ::close(to_child);
                to_child = -1;
            }
        }
        if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            char buf[8192];
            ssize_t r = ::read(from_child, buf, sizeof buf);
            if (r > 0) {
                out.append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(from_child);
                from_child = -1;
            }
        }
    }
    if (to_child >= 0) ::close(to_child);
    if (from_child >= 0) ::close(from_child);
    if (timed_out) ::kill(pid, SIGKILL);  // our own child, by PID
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) return unexpected(binary + " did not finish within " + std::to_string(timeout_seconds) + " s (killed)");
    if (WIFSIGNALED(status)) return unexpected(binary + " was killed by signal " + std::to_string(WTERMSIG(status)));
    return PluginRun{WIFEXITED(status) ? WEXITSTATUS(status) : 1, std::move(out)};
}

// The plugin's error object, as the spec defines it, or its raw output when it is not one.
std::string describe_failure(const PluginRun& run) {
    std::string text = "exit code " + std::to_string(run.exit_code);
    Json err = Json::parse(run.out, nullptr, false);
    if (err.is_object() && (err.contains("code") || err.contains("msg"))) {
        if (err.contains("code")) text += ", CNI error code " + err["code"].dump();
        if (err.contains("msg") && err["msg"].is_string()) text += ": " + err["msg"].get<std::string>();
        if (err.contains("details") && err["details"].is_string() && !err["details"].get<std::string>().empty()) {
            text += " (" + err["details"].get<std::string>() + ")";
        }
    } else if (!run.out.empty()) {
        text += ", output: " + run.out;
    }
    return text;
}

// ---- the conflist ---------------------------------------------------------------------------

Json plugin_config(const Json& list, const Json& plugin, const Json* prev_result, const Json& capability_args) {
    Json conf = plugin;
    conf["name"] = list["name"];
    conf["cniVersion"] = list["cniVersion"];
    if (prev_result != nullptr) conf["prevResult"] = *prev_result;
    // Only capabilities the plugin declares as true, and only those the runtime has values for.
    if (plugin.contains("capabilities") && plugin["capabilities"].is_object()) {
        Json rc = conf.contains("runtimeConfig") && conf["runtimeConfig"].is_object() ? conf["runtimeConfig"]
                                                                                     : Json::object();
        bool any = false;
        for (const auto& cap : plugin["capabilities"].items()) {
            if (cap.value() == true && capability_args.contains(cap.key())) {
                rc[cap.key()] = capability_args[cap.key()];
                any = true;
            }
        }
        if (any) conf["runtimeConfig"] = std::move(rc);
    }
    return conf;
}

std::string cache_file(const Options& o, const Json& list) {
    return o.cache_dir + "/" + list["name"].get<std::string>() + "-" + o.container_id + "-" + o.ifname + ".json";
}

Expected<Json, Error> invoke(const Options& o, const std::string& cni_command, const Json& list, const Json& plugin,
                             const Json* prev_result, const Json& capability_args) {
    const auto type = plugin["type"].get<std::string>();
    auto binary = find_plugin(type, o.cni_path);
    if (!binary) return unexpected(binary.error());
    const std::string stdin_text = plugin_config(list, plugin, prev_result, capability_args).dump();
    auto run = run_plugin(*binary, plugin_env(o, cni_command), stdin_text, o.timeout_seconds);
    if (!run) return unexpected("plugin " + type + " (" + cni_command + "): " + run.error());
    if (run->exit_code != 0) return unexpected("plugin " + type + " (" + cni_command + ") failed: " + describe_failure(*run));
    if (cni_command != "ADD") return Json{};
    Json result = Json::parse(run->out, nullptr, false);
    if (!result.is_object()) {
        return unexpected("plugin " + type + " (ADD) succeeded but printed no result object: " + run->out);
    }
    return result;
}

int cmd_add(const Options& o, const Json& list, const Json& capability_args) {
    Json result;
    const Json* prev = nullptr;
    for (const auto& plugin : list["plugins"]) {
        auto r = invoke(o, "ADD", list, plugin, prev, capability_args);
        if (!r) {
            std::cerr << "kroute-cni-exec: ADD " << o.container_id << ": " << r.error() << "\n";
            return 1;
        }
        result = std::move(*r);
        prev = &result;
    }
    Json cache = {{"kind", "kroute-cni-exec/v1"},
                  {"containerId", o.container_id},
                  {"ifName", o.ifname},
                  {"networkName", list["name"]},
                  {"netns", o.netns},
                  {"capabilityArgs", capability_args},
                  {"cniArgs", o.cni_args},
                  {"result", result}};
    auto written = kroute::cni::write_file_atomically(cache_file(o, list), cache.dump(2) + "\n", 0600);
    if (!written) {
        std::cerr << "kroute-cni-exec: ADD succeeded but caching its result failed: " << written.error() << "\n";
        return 1;
    }
    std::cout << result.dump(2) << "\n";
    return 0;
}

// The cached ADD entry (result, capability args, CNI_ARGS), if any. A cache that cannot be read is
// treated as absent (libcni does the same for DEL), and said.
std::optional<Json> load_cache(const Options& o, const Json& list) {
    const std::string path = cache_file(o, list);
    if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
    auto cache = read_json_file(path, "cache file");
    if (!cache || !cache->is_object() || !cache->contains("result") || !(*cache)["result"].is_object()) {
        std::cerr << "kroute-cni-exec: ignoring unreadable cache file " << path << "\n";
        return std::nullopt;
    }
    return *cache;
}

// libcni gives DEL and CHECK the runtime config of the ADD (kubelet passes the same port mappings
// again): portmap's DEL does nothing without portMappings. Arguments given now take precedence.
void reuse_add_arguments(const Json& cache, Options& o, Json& capability_args) {
    if (cache.contains("capabilityArgs") && cache["capabilityArgs"].is_object()) {
        for (const auto& item : cache["capabilityArgs"].items()) {
            if (!capability_args.contains(item.key())) capability_args[item.key()] = item.value();
        }
    }
    if (o.cni_args.empty() && cache.contains("cniArgs") && cache["cniArgs"].is_string()) {
        o.cni_args = cache["cniArgs"].get<std::string>();
    }
}

int cmd_del(Options o, const Json& list, Json capability_args) {
    auto cache = load_cache(o, list);
    const Json* prev = nullptr;
    if (cache) {
        reuse_add_arguments(*cache, o, capability_args);
        prev = &(*cache)["result"];
    }
    const Json& plugins = list["plugins"];
    for (std::size_t i = plugins.size(); i-- > 0;) {
        auto r = invoke(o, "DEL", list, plugins[i], prev, capability_args);
        if (!r) {
            std::cerr << "kroute-cni-exec: DEL " << o.container_id << ": " << r.error() << "\n";
            return 1;
        }
    }
    std::error_code ec;
    std::filesystem::remove(cache_file(o, list), ec);
    return 0;
}

int cmd_check(Options o, const Json& list, Json capability_args) {
    auto version = parse_version(list["cniVersion"].get<std::string>());
    if (*version < std::vector<int>{0, 4, 0}) {
        std::cerr << "kroute-cni-exec: CHECK needs cniVersion 0.4.0 or later, the conflist has "
                  << list["cniVersion"].get<std::string>() << "\n";
        return 1;
    }
    if (list.contains("disableCheck") && list["disableCheck"] == true) return 0;
    auto cache = load_cache(o, list);
    if (!cache) {
        std::cerr << "kroute-cni-exec: CHECK " << o.container_id << ": no cached ADD result in " << cache_file(o, list)
                  << "\n";
        return 1;
    }
    reuse_add_arguments(*cache, o, capability_args);
    const Json& cached_result = (*cache)["result"];
    for (const auto& plugin : list["plugins"]) {
        auto r = invoke(o, "CHECK", list, plugin, &cached_result, capability_args);
        if (!r) {
            std::cerr << "kroute-cni-exec: CHECK " << o.container_id << ": " << r.error() << "\n";
            return 1;
        }
    }
    return 0;
}

std::string default_cache_dir() {
    const char* tmp = std::getenv("TMPDIR");
    return std::string{tmp != nullptr && *tmp != '\0' ? tmp : "/tmp"} + "/kroute-cni-exec-cache";
}

int run(Options o) {
    if (!valid_container_id(o.container_id)) {
        std::cerr << "kroute-cni-exec: --container-id must be letters, digits, '_', '.' or '-'\n";
        return 1;
    }
    if (!valid_ifname(o.ifname)) {
        std::cerr << "kroute-cni-exec: --ifname \"" << o.ifname << "\" is not a valid interface name\n";
        return 1;
    }
    if (o.netns.find('/') == std::string::npos) o.netns = "/var/run/netns/" + o.netns;  // a bare name, as `ip netns` has it
    if (o.cache_dir.empty()) o.cache_dir = default_cache_dir();

    Json capability_args = Json::object();
    if (!o.runtime_config.empty()) {
        capability_args = Json::parse(o.runtime_config, nullptr, false);
        if (!capability_args.is_object()) {
            std::cerr << "kroute-cni-exec: --runtime-config is not a JSON object\n";
            return 1;
        }
    }
    if (!o.port_mappings.empty()) {
        Json pm = Json::parse(o.port_mappings, nullptr, false);
        if (!pm.is_array()) {
            std::cerr << "kroute-cni-exec: --port-mappings is not a JSON list\n";
            return 1;
        }
        capability_args["portMappings"] = std::move(pm);
    }

    auto list = load_conflist(o.conflist);
    if (!list) {
        std::cerr << "kroute-cni-exec: " << list.error() << "\n";
        return 1;
    }
    if (o.command == "add") return cmd_add(o, *list, capability_args);
    if (o.command == "del") return cmd_del(o, *list, capability_args);
    return cmd_check(o, *list, capability_args);
}

}  // namespace

int main(int argc, char** argv) {
    // A plugin that exits before reading all of stdin must not kill us with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    Options o;
    CLI::App app{"Runs a CNI conflist with the real plugins, as kubelet/libcni does (ADD, CHECK, DEL)."};
    app.add_option("command", o.command, "add, del or check")
        ->required()
        ->check(CLI::IsMember({"add", "del", "check"}));
    app.add_option("--conflist", o.conflist, "the .conflist file")->required();
    app.add_option("--netns", o.netns, "the pod's network namespace: a path, or a name under /var/run/netns")
        ->required();
    app.add_option("--container-id", o.container_id, "the container ID (also names the cache entry)")->required();
    app.add_option("--ifname", o.ifname, "the interface name inside the pod")->capture_default_str();
    app.add_option("--cni-path", o.cni_path, "where the plugin binaries are (':'-separated)")->capture_default_str();
    app.add_option("--cache-dir", o.cache_dir, "where ADD results are kept for CHECK and DEL (default $TMPDIR/kroute-cni-exec-cache)");
    app.add_option("--port-mappings", o.port_mappings,
                   "JSON list for the portMappings capability, e.g. "
                   "'[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]'");
    app.add_option("--runtime-config", o.runtime_config, "JSON object of other capability arguments");
    app.add_option("--cni-args", o.cni_args, "CNI_ARGS, e.g. 'IgnoreUnknown=1;K8S_POD_NAME=web'");
    app.add_option("--timeout", o.timeout_seconds, "seconds before a plugin is killed")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return run(std::move(o));
    } catch (const std::exception& e) {
        std::cerr << "kroute-cni-exec: " << e.what() << "\n";
        return 1;
    }
}
