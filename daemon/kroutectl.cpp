// kroutectl: asks a running kroute over its debug API socket and prints the answer as a table or
// as JSON (-o json, stable keys documented in docs/kroutectl.md).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

struct Request {
    json body;
};

// One request, one reply; errors come back as text for the user.
bool ask(const std::string& socket_path, const json& request, json& reply, std::string& error) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) {
        error = "socket path too long: " + socket_path;
        ::close(fd);
        return false;
    }
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error = "cannot reach kroute at " + socket_path + ": " + std::strerror(errno) +
                (errno == EACCES ? " (the debug API is for root only)" : " (is kroute running? --socket sets the path)");
        ::close(fd);
        return false;
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out = request.dump() + "\n";
    for (std::size_t sent = 0; sent < out.size();) {
        auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            error = std::string("send: ") + std::strerror(errno);
            ::close(fd);
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string in;
    char buf[65536];
    for (;;) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            error = std::string("no answer from kroute: ") + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (n == 0) break;
        in.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    reply = json::parse(in, nullptr, false);
    if (reply.is_discarded()) {
        error = "kroute's answer is not JSON";
        return false;
    }
    if (reply.is_object() && reply.contains("error")) {
        error = reply["error"].get<std::string>();
        return false;
    }
    return true;
}

std::string text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "-";
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : ",") + text(e);
        return out.empty() ? "-" : out;
    }
    return v.dump();
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i)
            std::cout << std::left << std::setw(static_cast<int>(i + 1 == cells.size() ? 0 : width[i] + 2)) << cells[i];
        std::cout << "\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
}

std::string uptime(std::int64_t s, bool established) {
    if (!established) return "-";
    std::ostringstream o;
    if (s >= 86400) o << s / 86400 << "d";
    if (s >= 3600) o << (s % 86400) / 3600 << "h";
    if (s >= 60) o << (s % 3600) / 60 << "m";
    o << s % 60 << "s";
    return o.str();
}

// A capability's or counter's value in a table cell: yes/no, lists joined with commas, families
// with their mode ("ipv4-unicast:receive"), graceful restart as "90s R=0 N=0 ipv4-unicast(F=1)".
std::string compact(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : ",") + compact(e);
        return out.empty() ? "-" : out;
    }
    if (v.is_object()) {
        if (v.contains("restart_time")) {
            std::string out = std::to_string(v["restart_time"].get<int>()) + "s R=" +
                              (v["restart_state"].get<bool>() ? "1" : "0") + " N=" +
                              (v["notification"].get<bool>() ? "1" : "0");
            std::string fams;
            for (const auto& f : v["families"])
                fams += (fams.empty() ? "" : ",") + f["family"].get<std::string>() + "(F=" +
                        (f["forwarding_state"].get<bool>() ? "1" : "0") + ")";
            return out + " " + (fams.empty() ? "no families" : fams);
        }
        std::string out;
        if (v.contains("family")) {
            out = compact(v["family"]);
            for (const auto& [k, e] : v.items())
                if (k != "family") out += ":" + compact(e);
            return out;
        }
        for (const auto& [k, e] : v.items()) out += (out.empty() ? "" : " ") + k + "=" + compact(e);
        return out;
    }
    return v.dump();
}

std::string seconds(const json& v) { return v.is_number() ? std::to_string(v.get<std::int64_t>()) + "s" : "-"; }

// kroutectl neighbor IP: the session's facts, then its capabilities, timers, counters and last
// NOTIFICATIONs as tables of their own.
void print_neighbor(const json& n) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : n.items())
        if (!v.is_object() && k.rfind("last_notification_", 0) != 0) rows.push_back({k, text(v)});
    print_table({"KEY", "VALUE"}, rows);
    if (n.contains("capabilities")) {
        rows.clear();
        for (const auto& [k, c] : n["capabilities"].items())
            rows.push_back({k, compact(c["sent"]), compact(c["received"]), compact(c["negotiated"])});
        std::cout << "\n";
        print_table({"CAPABILITY", "SENT", "RECEIVED", "NEGOTIATED"}, rows);
    }
    if (n.contains("timers")) {
        const auto& t = n["timers"];
        std::cout << "\n";
        print_table({"TIMER", "CONFIGURED", "PEER", "NEGOTIATED"},
                    {{"hold time", seconds(t["hold_time"]), seconds(t["peer_hold_time"]), seconds(t["negotiated_hold_time"])},
                     {"keepalive", seconds(t["keepalive"]), "-", seconds(t["negotiated_keepalive"])},
                     {"connect retry", seconds(t["connect_retry"]), "-", "-"}});
    }
    if (n.contains("counters")) {
        const auto& c = n["counters"];
        std::cout << "\n";
        print_table({"COUNTER", "IN", "OUT"},
                    {{"messages", text(c["messages_received"]), text(c["messages_sent"])},
                     {"updates", text(c["updates_received"]), text(c["updates_sent"])},
                     {"prefixes", text(c["prefixes_received"]) + " (accepted " + text(c["prefixes_accepted"]) +
                                      ", rejected " + text(c["prefixes_rejected"]) + ", stale " + text(c["prefixes_stale"]) + ")",
                      text(c["prefixes_sent"])},
                     {"flaps", text(c["flaps"]), "-"}});
    }
    rows.clear();
    for (const char* dir : {"sent", "received"}) {
        const auto& m = n.value(std::string("last_notification_") + dir, json());
        if (m.is_null()) {
            rows.push_back({dir, "-", "-", "-", "-"});
            continue;
        }
        rows.push_back({dir, text(m["time"]) + " (" + text(m["seconds_ago"]) + "s ago)",
                        text(m["code"]) + "/" + text(m["subcode"]), text(m["text"]),
                        m["data"].get<std::string>().empty() ? "-" : text(m["data"])});
    }
    std::cout << "\n";
    print_table({"NOTIFICATION", "WHEN", "CODE", "WHAT", "DATA"}, rows);
}

void print(const std::string& command, const json& reply) {
    if (command == "neighbor" && reply.contains("capabilities")) {
        print_neighbor(reply);
    } else if (command == "status" || command == "config" || command == "neighbor" || command == "node") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& [k, v] : reply.items()) rows.push_back({k, text(v)});
        print_table({"KEY", "VALUE"}, rows);
    } else if (command == "neighbors") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& n : reply)
            rows.push_back({text(n["address"]), text(n["asn"]), text(n["description"]), text(n["state"]),
                            uptime(n["uptime_seconds"].get<std::int64_t>(), n["state"] == "Established"), text(n["prefixes_received"]),
                            text(n["prefixes_sent"]), text(n.value("prefixes_rejected", json(0))), text(n["last_error"])});
        print_table({"NEIGHBOR", "AS", "NODE", "STATE", "UPTIME", "RECEIVED", "SENT", "REJECTED", "LAST ERROR"}, rows);
    } else if (command == "rib") {
        std::vector<std::vector<std::string>> rows;
        // Best first (*>), then the other paths: `*=` when used for multipath with the best; WHY is
        // the step that made the best win, or the one that eliminated the path.
        for (const auto& e : reply)
            for (const auto& p : e["paths"]) {
                const bool best = p["best"].get<bool>();
                const bool multipath = p.value("multipath", false);
                std::string why = best ? "best: " + text(p["reason"]) : p.value("why_not_best", std::string{});
                if (!best && multipath) why += " (multipath)";
                std::string communities = text(p["communities"]);
                if (!p.value("large_communities", json::array()).empty())
                    communities = (communities == "-" ? "" : communities + ",") + text(p["large_communities"]);
                rows.push_back({best ? "*>" : multipath ? "*=" : "* ", text(e["prefix"]), text(p["next_hops"]),
                                text(p["from"]), text(p["local_pref"]), text(p["med"]), text(p["as_path"]),
                                text(p["origin"]), communities, why});
            }
        print_table({"", "PREFIX", "NEXT HOP", "FROM", "LOCPRF", "MED", "AS PATH", "ORIGIN", "COMMUNITIES", "WHY"}, rows);
    } else if (command == "routes") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& r : reply)
            rows.push_back({text(r["prefix"]), text(r["desired_next_hops"]), text(r["kernel_next_hops"]),
                            text(r["state"])});
        print_table({"PREFIX", "DESIRED", "KERNEL", "STATE"}, rows);
    } else {
        std::cout << reply.dump(2) << "\n";
    }
}

// `kroutectl completion bash`: a completion script for bash (bash-completion loads it from
// /usr/share/bash-completion/completions/kroutectl; or `source <(kroutectl completion bash)`).
// Commands, options, neighbor actions, and the neighbors' addresses and the RIB's prefixes from the
// running kroute (asked with the same --socket), quietly nothing when it does not answer.
std::string bash_completion(const std::vector<std::string>& commands) {
    std::string words;
    for (const auto& c : commands) words += (words.empty() ? "" : " ") + c;
    return R"BASH(# bash completion for kroutectl (kroutectl completion bash)
_kroutectl_ask() {
    # $1: neighbors or rib; prints the addresses or prefixes the running kroute has.
    local key=address
    [[ $1 == rib ]] && key=prefix
    kroutectl "${_kroutectl_socket[@]}" "$1" -o json 2>/dev/null |
        sed -n 's/^ *"'"$key"'": "\([^"]*\)".*/\1/p'
}

_kroutectl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands=")BASH" + words + R"BASH("
    local i w cmd='' args=()
    _kroutectl_socket=()
    COMPREPLY=()
    case $prev in
        -o|--output) mapfile -t COMPREPLY < <(compgen -W "table json" -- "$cur"); return 0 ;;
        --socket) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
        --message) return 0 ;;
    esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            --socket) _kroutectl_socket=(--socket "${COMP_WORDS[i+1]}"); ((i++)) ;;
            --socket=*) _kroutectl_socket=("$w") ;;
            -o|--output|--message) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$w; else args+=("$w"); fi ;;
        esac
    done
    if [[ $cur == -* ]]; then
        local opts="-o --output --help"
        [[ -z $cmd ]] && opts="--socket $opts"
        [[ $cmd == neighbor ]] && opts="$opts --message"
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return 0
    fi
    case $cmd in
        "") mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur") ;;
        neighbor)
            case ${#args[@]} in
                0) mapfile -t COMPREPLY < <(compgen -W "$(_kroutectl_ask neighbors)" -- "$cur") ;;
                1) mapfile -t COMPREPLY < <(compgen -W "reset soft-reset shutdown enable" -- "$cur") ;;
                2) [[ ${args[1]} == soft-reset ]] && mapfile -t COMPREPLY < <(compgen -W "in out" -- "$cur") ;;
            esac ;;
        rib) [[ ${#args[@]} -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "$(_kroutectl_ask rib)" -- "$cur") ;;
        completion) [[ ${#args[@]} -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "bash" -- "$cur") ;;
    esac
    return 0
}
complete -F _kroutectl kroutectl
)BASH";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kroutectl: look inside a running kroute", "kroutectl"};
    std::string socket_path = "/run/kroute/kroute.sock";
    std::string output = "table";
    app.add_option("--socket", socket_path, "kroute's debug API socket")->capture_default_str();
    app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
    app.require_subcommand(1);

    json request;
    std::string command;
    auto add = [&](const std::string& name, const std::string& help) {
        auto* sub = app.add_subcommand(name, help);
        sub->add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));
        sub->callback([&command, name] { command = name; });
        return sub;
    };
    add("status", "the node, its BGP speaker and counts");
    add("neighbors", "BGP sessions: state, uptime, prefixes received and sent");
    std::string address, prefix, message;
    std::vector<std::string> action;
    auto* nb = add("neighbor", "one BGP session in detail (capabilities, timers, counters, last NOTIFICATIONs); or act on it: reset, soft-reset in|out, shutdown [--message TEXT], enable");
    nb->add_option("address", address, "the neighbor's address")->required();
    nb->add_option("action", action, "reset | soft-reset in | soft-reset out | shutdown | enable")->expected(0, 2);
    nb->add_option("--message", message, "with shutdown: the message the peer logs (RFC 9003, at most 255 bytes)");
    add("rib", "the Loc-RIB: every path with its attributes, the best first, and why each other one lost")
        ->add_option("prefix", prefix, "only this prefix");
    add("routes", "kernel routes: what kroute wants versus what the kernel has");
    add("node", "this node as kroute sees it");
    add("config", "the flags kroute runs with");
    std::string shell;
    auto* completion = app.add_subcommand("completion", "print a shell completion script: bash");
    completion->add_option("shell", shell, "the shell")->required()->check(CLI::IsMember({"bash"}));
    completion->callback([&command] { command = "completion"; });

    CLI11_PARSE(app, argc, argv);

    if (command == "completion") {
        std::vector<std::string> names;
        const CLI::App& all = app;
        for (const auto* sub : all.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
        std::cout << bash_completion(names);
        return 0;
    }
    request["command"] = command;
    if (!address.empty()) request["address"] = address;
    if (!prefix.empty()) request["prefix"] = prefix;
    if (!action.empty()) request["action"] = action[0];
    if (action.size() > 1) request["direction"] = action[1];
    if (!message.empty()) request["message"] = message;

    json reply;
    std::string error;
    if (!ask(socket_path, request, reply, error)) {
        std::cerr << "kroutectl: " << error << "\n";
        return 1;
    }
    if (reply.is_object() && reply.contains("error")) {
        std::cerr << "kroutectl: " << reply["error"].get<std::string>() << "\n";
        return 1;
    }
    if (output == "json") std::cout << reply.dump(2) << "\n";
    else print(command, reply);
    return 0;
}
