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

void print(const std::string& command, const json& reply) {
    if (command == "status" || command == "config" || command == "neighbor" || command == "node") {
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
        for (const auto& e : reply)
            for (const auto& p : e["paths"])
                rows.push_back({p["best"].get<bool>() ? "*>" : "* ", text(e["prefix"]), text(p["next_hops"]),
                                text(p["from"]), text(p["local_pref"]), text(p["med"]), text(p["as_path"]),
                                text(p["origin"]), text(p["reason"])});
        print_table({"", "PREFIX", "NEXT HOP", "FROM", "LOCPRF", "MED", "AS PATH", "ORIGIN", "WHY BEST"}, rows);
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
    auto* nb = add("neighbor", "one BGP session in detail; or act on it: reset, soft-reset in|out, shutdown [--message TEXT], enable");
    nb->add_option("address", address, "the neighbor's address")->required();
    nb->add_option("action", action, "reset | soft-reset in | soft-reset out | shutdown | enable")->expected(0, 2);
    nb->add_option("--message", message, "with shutdown: the message the peer logs (RFC 9003, at most 255 bytes)");
    add("rib", "the Loc-RIB: every path, the best first")->add_option("prefix", prefix, "only this prefix");
    add("routes", "kernel routes: what kroute wants versus what the kernel has");
    add("node", "this node as kroute sees it");
    add("config", "the flags kroute runs with");

    CLI11_PARSE(app, argc, argv);

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
