#include "daemon/platform/bridge.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "daemon/platform/command.hpp"

namespace kroute::daemon {
namespace {

using Json = nlohmann::json;

Expected<void, std::string> run(const std::vector<std::string>& argv) {
    auto r = run_command(argv);
    if (!r) return unexpected(std::move(r).error());
    if (r->exit_code != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        return unexpected(cmd + ": " + r->output);
    }
    return {};
}

// The link named `name` as `ip -d -j link show` describes it, or null when there is none.
Expected<Json, std::string> find_link(const std::string& name) {
    auto r = run_command({"ip", "-d", "-j", "link", "show"});
    if (!r) return unexpected(std::move(r).error());
    if (r->exit_code != 0) return unexpected("ip link show: " + r->output);
    auto links = Json::parse(r->output, nullptr, false);
    if (links.is_discarded() || !links.is_array()) return unexpected(std::string{"ip link show: unexpected output"});
    for (const auto& l : links)
        if (l.value("ifname", "") == name) return l;
    return Json{};
}

bool is_bridge(const Json& link) {
    return link.value("linkinfo", Json::object()).value("info_kind", "") == "bridge";
}

}  // namespace

Expected<void, std::string> bridge_ensure(const std::string& name, int mtu) {
    auto link = find_link(name);
    if (!link) return unexpected(std::move(link).error());
    auto log = log::get("cni");
    if (link->is_null()) {
        if (auto r = run({"ip", "link", "add", name, "type", "bridge"}); !r) return r;
        log->info("created {} with MTU {}", name, mtu);
    } else if (!is_bridge(*link)) {
        return unexpected(name + " exists and is not a bridge; pods cannot be wired to it");
    }
    if (link->is_null() || link->value("mtu", 0) != mtu) {
        if (!link->is_null()) log->info("{}: MTU {} -> {}", name, link->value("mtu", 0), mtu);
        if (auto r = run({"ip", "link", "set", name, "mtu", std::to_string(mtu)}); !r) return r;
    }
    return run({"ip", "link", "set", name, "up"});
}

Expected<void, std::string> bridge_remove(const std::string& name) {
    auto link = find_link(name);
    if (!link) return unexpected(std::move(link).error());
    if (link->is_null() || !is_bridge(*link)) return {};
    if (auto r = run({"ip", "link", "del", name}); !r) return r;
    log::get("cni")->info("deleted {}", name);
    return {};
}

}  // namespace kroute::daemon
