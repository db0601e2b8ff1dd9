#include "daemon/platform/kube_router_cleanup.hpp"

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "daemon/platform/command.hpp"
#include "daemon/platform/netlink_route_table.hpp"

namespace kroute::daemon {
namespace {

using Json = nlohmann::json;

const std::vector<std::string> kChainPrefixes{"KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-"};

bool has_prefix(const std::string& name, const std::vector<std::string>& prefixes) {
    for (const auto& p : prefixes)
        if (name.starts_with(p)) return true;
    return false;
}

void remove_routes(KubeRouterLeftovers& out) {
    for (std::uint32_t table : {254U, static_cast<std::uint32_t>(kKubeRouterTable)}) {
        auto t = NetlinkRouteTable::open(static_cast<std::uint8_t>(kKubeRouterProtocol), table);
        if (!t) {
            out.errors.push_back("routing table: " + t.error().message());
            return;
        }
        auto routes = t->dump();
        if (!routes) {
            out.errors.push_back("routing table: " + routes.error().message());
            return;
        }
        std::vector<RouteOp> ops;
        for (const auto& r : *routes)
            if (r.protocol == kKubeRouterProtocol && r.table == table) ops.push_back({RouteOpKind::kRemove, r.route});
        const auto results = t->apply(ops);
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (results[i]) out.errors.push_back("route " + ops[i].route.prefix.to_string() + ": " + results[i].message());
            else ++out.routes;
        }
    }
}

void remove_rules(KubeRouterLeftovers& out) {
    for (const char* family : {"-4", "-6"}) {
        auto shown = run_command({"ip", "-j", family, "rule", "show"});
        if (!shown || shown->exit_code != 0) continue;  // no IPv6, or no ip: nothing of this family
        auto rules = Json::parse(shown->output, nullptr, false);
        if (!rules.is_array()) continue;
        for (const auto& r : rules) {
            const Json table = r.value("table", Json{});
            const bool ours = (table.is_string() && table.get<std::string>() == std::to_string(kKubeRouterTable)) ||
                              (table.is_number() && table.get<int>() == kKubeRouterTable);
            if (!ours || !r.contains("priority")) continue;
            const std::string pref = std::to_string(r["priority"].get<long>());
            auto d = run_command({"ip", family, "rule", "del", "pref", pref, "table", std::to_string(kKubeRouterTable)});
            if (d && d->exit_code == 0) ++out.rules;
            else out.errors.push_back(std::string{"ip rule "} + family + " pref " + pref + ": " + (d ? d->output : d.error()));
        }
    }
}

void remove_tunnels(KubeRouterLeftovers& out) {
    auto shown = run_command({"ip", "-d", "-j", "link", "show"});
    if (!shown || shown->exit_code != 0) {
        out.errors.push_back("ip link show: " + (shown ? shown->output : shown.error()));
        return;
    }
    auto links = Json::parse(shown->output, nullptr, false);
    if (!links.is_array()) return;
    for (const auto& l : links) {
        const std::string name = l.value("ifname", "");
        const std::string kind = l.value("linkinfo", Json::object()).value("info_kind", "");
        if (!name.starts_with("tun") || (kind != "ipip" && kind != "ip6tnl")) continue;
        auto d = run_command({"ip", "link", "del", name});
        if (d && d->exit_code == 0) ++out.tunnels;
        else out.errors.push_back("ip link del " + name + ": " + (d ? d->output : d.error()));
    }
}

void remove_chains(KubeRouterLeftovers& out) {
    for (const char* backend : {"nft", "legacy"}) {
        for (const char* family : {"iptables", "ip6tables"}) {
            const std::string save = std::string{family} + "-" + backend + "-save";
            const std::string restore = std::string{family} + "-" + backend + "-restore";
            auto saved = run_command({save});
            if (!saved || saved->exit_code != 0) continue;  // no such backend here
            int chains = 0;
            const std::string input = chain_removal(saved->output, kChainPrefixes, &chains);
            if (input.empty()) continue;
            auto r = run_command({restore, "-w", "5", "--noflush"}, input);
            if (r && r->exit_code == 0) out.chains += chains;
            else out.errors.push_back(restore + ": " + (r ? r->output : r.error()));
        }
    }
}

}  // namespace

std::string chain_removal(const std::string& save, const std::vector<std::string>& prefixes, int* chains) {
    std::ostringstream out;
    std::string table;
    std::vector<std::string> doomed, jumps;
    auto flush_table = [&] {
        if (!table.empty() && !doomed.empty()) {
            out << '*' << table << '\n';
            for (const auto& j : jumps) out << j << '\n';
            for (const auto& c : doomed) out << "-F " << c << '\n';
            for (const auto& c : doomed) out << "-X " << c << '\n';
            out << "COMMIT\n";
            if (chains) *chains += static_cast<int>(doomed.size());
        }
        doomed.clear();
        jumps.clear();
    };
    std::istringstream in(save);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with('*')) {
            flush_table();
            table = line.substr(1);
        } else if (line.starts_with(':')) {
            const std::string name = line.substr(1, line.find(' ') - 1);
            if (has_prefix(name, prefixes)) doomed.push_back(name);
        } else if (line.starts_with("-A ")) {
            std::istringstream words(line.substr(3));
            std::string chain;
            words >> chain;
            if (has_prefix(chain, prefixes)) continue;  // flushed with its chain
            // A jump (or goto) to a doomed chain from a chain that stays.
            const auto j = line.find(" -j ");
            const auto g = line.find(" -g ");
            const auto at = j != std::string::npos ? j : g;
            if (at == std::string::npos) continue;
            std::istringstream target(line.substr(at + 4));
            std::string name;
            target >> name;
            if (has_prefix(name, prefixes)) jumps.push_back("-D " + line.substr(3));
        } else if (line == "COMMIT") {
            flush_table();
            table.clear();
        }
    }
    flush_table();
    return out.str();
}

KubeRouterLeftovers remove_kube_router_leftovers() {
    KubeRouterLeftovers out;
    remove_routes(out);
    remove_rules(out);
    remove_tunnels(out);
    remove_chains(out);
    return out;
}

}  // namespace kroute::daemon
