#include "daemon/platform/vxlan.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "daemon/platform/command.hpp"

namespace kroute::daemon {
namespace {

using Json = nlohmann::json;

Expected<std::string, std::string> run(const std::vector<std::string>& argv) {
    auto r = run_command(argv);
    if (!r) return unexpected(std::move(r).error());
    if (r->exit_code != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        return unexpected(cmd + ": " + r->output);
    }
    return std::move(r->output);
}

Expected<Json, std::string> run_json(const std::vector<std::string>& argv) {
    auto out = run(argv);
    if (!out) return unexpected(std::move(out).error());
    auto j = Json::parse(out->empty() ? std::string{"[]"} : *out, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return unexpected(argv.front() + ": unexpected output");
    return j;
}

}  // namespace

std::string vtep_mac(const IpAddress& node) {
    const std::uint8_t* b = node.data() + (node.is_v4() ? 0 : 12);
    char buf[18];
    std::snprintf(buf, sizeof buf, "02:%02x:%02x:%02x:%02x:%02x", node.is_v4() ? 0x6b : 0x6c, b[0], b[1], b[2], b[3]);
    return buf;
}

bool is_vtep_mac(const std::string& mac) { return mac.starts_with("02:6b:") || mac.starts_with("02:6c:"); }

Expected<void, std::string> vxlan_ensure(const VxlanConfig& cfg) {
    auto shown = run_json({"ip", "-d", "-j", "link", "show"});
    if (!shown) return unexpected(std::move(shown).error());
    bool exists = false;
    bool matches = false;
    for (const auto& link : *shown) {
        if (link.value("ifname", "") != cfg.name) continue;
        exists = true;
        const Json info = link.value("linkinfo", Json::object());
        const Json data = info.value("info_data", Json::object());
        matches = info.value("info_kind", "") == "vxlan" && data.value("id", 0U) == cfg.vni &&
                  data.value("port", 0U) == cfg.port && data.value(cfg.local.is_v4() ? "local" : "local6", "") == cfg.local.to_string() &&
                  data.value("link", "") == cfg.underlay_dev && !data.value("learning", true);
    }
    if (exists && !matches) {
        log::get("fib")->info("{} differs from the configuration: recreating it", cfg.name);
        if (auto r = vxlan_remove(cfg.name); !r) return r;
        exists = false;
    }
    if (!exists) {
        auto r = run({"ip", "link", "add", cfg.name, "type", "vxlan", "id", std::to_string(cfg.vni), "dstport",
                      std::to_string(cfg.port), "local", cfg.local.to_string(), "nolearning", "dev", cfg.underlay_dev});
        if (!r) return unexpected(std::move(r).error());
        log::get("fib")->info("created {}: VNI {}, UDP {}, local {} on {}", cfg.name, cfg.vni, cfg.port,
                              cfg.local.to_string(), cfg.underlay_dev);
    }
    if (auto r = run({"ip", "link", "set", cfg.name, "address", vtep_mac(cfg.local), "mtu", std::to_string(cfg.mtu)}); !r)
        return unexpected(std::move(r).error());
    const std::string host_len = cfg.vtep.is_v4() ? "/32" : "/128";
    // nodad: the VTEP address is ours by construction (our podCIDR); no duplicate detection wait.
    std::vector<std::string> addr{"ip", "addr", "replace", cfg.vtep.to_string() + host_len, "dev", cfg.name};
    if (cfg.vtep.is_v6()) addr.push_back("nodad");
    if (auto r = run(addr); !r)
        return unexpected(std::move(r).error());
    if (auto r = run({"ip", "link", "set", cfg.name, "up"}); !r) return unexpected(std::move(r).error());
    return {};
}

Expected<void, std::string> vxlan_set_peers(const std::string& name, const std::vector<VxlanPeer>& peers) {
    std::set<std::pair<std::string, std::string>> want_fdb;    // (mac, dst)
    std::set<std::pair<std::string, std::string>> want_neigh;  // (vtep, mac)
    for (const auto& p : peers) {
        want_fdb.emplace(vtep_mac(p.node), p.node.to_string());
        want_neigh.emplace(p.vtep.to_string(), vtep_mac(p.node));
    }
    auto fdb = run_json({"bridge", "-j", "fdb", "show", "dev", name});
    if (!fdb) return unexpected(std::move(fdb).error());
    std::set<std::pair<std::string, std::string>> have_fdb;
    for (const auto& e : *fdb) {
        const std::string mac = e.value("mac", "");
        const std::string dst = e.value("dst", "");
        if (mac.empty() || dst.empty() || !is_vtep_mac(mac)) continue;  // only entries of ours
        have_fdb.emplace(mac, dst);
    }
    auto neigh = run_json({"ip", "-j", "neigh", "show", "dev", name});
    if (!neigh) return unexpected(std::move(neigh).error());
    std::set<std::pair<std::string, std::string>> have_neigh;
    for (const auto& e : *neigh) {
        const std::string mac = e.value("lladdr", "");
        if (!is_vtep_mac(mac)) continue;
        have_neigh.emplace(e.value("dst", ""), mac);
    }
    for (const auto& [mac, dst] : have_fdb)
        if (!want_fdb.contains({mac, dst}))
            if (auto r = run({"bridge", "fdb", "del", mac, "dev", name, "dst", dst, "self"}); !r) return unexpected(r.error());
    for (const auto& [vtep, mac] : have_neigh)
        if (!want_neigh.contains({vtep, mac}))
            if (auto r = run({"ip", "neigh", "del", vtep, "dev", name}); !r) return unexpected(r.error());
    for (const auto& [mac, dst] : want_fdb)
        if (!have_fdb.contains({mac, dst}))
            if (auto r = run({"bridge", "fdb", "append", mac, "dev", name, "dst", dst, "self", "permanent"}); !r)
                return unexpected(r.error());
    for (const auto& [vtep, mac] : want_neigh)
        if (!have_neigh.contains({vtep, mac}))
            if (auto r = run({"ip", "neigh", "replace", vtep, "lladdr", mac, "dev", name, "nud", "permanent"}); !r)
                return unexpected(r.error());
    return {};
}

Expected<void, std::string> vxlan_remove(const std::string& name) {
    auto shown = run_json({"ip", "-j", "link", "show"});
    if (!shown) return unexpected(std::move(shown).error());
    for (const auto& link : *shown)
        if (link.value("ifname", "") == name) {
            if (auto r = run({"ip", "link", "del", name}); !r) return unexpected(std::move(r).error());
            log::get("fib")->info("deleted {}", name);
        }
    return {};
}

VxlanWriter::VxlanWriter(std::string name, std::chrono::milliseconds retry)
    : name_{std::move(name)}, retry_{retry}, thread_{[this] { run(); }} {}

VxlanWriter::~VxlanWriter() { stop(); }

void VxlanWriter::set(std::vector<VxlanPeer> peers) {
    std::sort(peers.begin(), peers.end());
    {
        std::lock_guard lock{mu_};
        if (peers_ == peers && !failing_) return;
        peers_ = std::move(peers);
        dirty_ = true;
    }
    cv_.notify_all();
}

void VxlanWriter::stop() {
    {
        std::lock_guard lock{mu_};
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void VxlanWriter::run() {
    auto log = log::get("fib");
    std::unique_lock lock{mu_};
    for (;;) {
        cv_.wait_for(lock, retry_, [this] { return stopping_ || dirty_; });
        if (stopping_) return;
        if (!peers_ || (!dirty_ && !failing_)) continue;
        const auto peers = *peers_;
        dirty_ = false;
        lock.unlock();
        auto r = vxlan_set_peers(name_, peers);
        lock.lock();
        if (!r) {
            if (!failing_) log->error("cannot write {}'s forwarding entries: {}; retrying", name_, r.error());
            failing_ = true;
        } else {
            if (failing_) log->info("{}'s forwarding entries are in place again", name_);
            failing_ = false;
        }
    }
}

}  // namespace kroute::daemon
