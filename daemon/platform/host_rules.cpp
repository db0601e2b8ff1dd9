#include "daemon/platform/host_rules.hpp"

#include <algorithm>
#include <sstream>
#include <tuple>

#include "common/log.hpp"
#include "daemon/platform/command.hpp"

namespace kroute::daemon {
namespace {

constexpr const char* kForwardChain = "KROUTE-FORWARD";
constexpr const char* kNatChain = "KROUTE-POSTROUTING";
constexpr const char* kComment = "kroute";

// "iptables-nft", "ip6tables-legacy-restore"...
std::string tool(IptablesBackend b, Family f, const char* suffix = "") {
    return std::string{f == Family::kIpv4 ? "iptables-" : "ip6tables-"} + std::string{to_string(b)} + suffix;
}

std::size_t count_rules(std::string_view save) {
    std::size_t n = 0;
    std::istringstream in{std::string{save}};
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("-A ") && line.find("KUBE-IPTABLES-HINT") == std::string::npos) ++n;
    return n;
}

bool has_hint(std::string_view save) { return save.find(":KUBE-IPTABLES-HINT") != std::string_view::npos; }

std::string save_output(IptablesBackend b) {
    std::string out;
    for (Family f : {Family::kIpv4, Family::kIpv6}) {
        auto r = run_command({tool(b, f, "-save")});
        if (r && r->exit_code == 0) out += r->output;
    }
    return out;
}

// The jump to our chain, first in the built-in chain, unless it is there already.
Expected<void, std::string> ensure_jump(IptablesBackend b, Family f, const char* table, const char* from, const char* to) {
    const std::string bin = tool(b, f);
    auto check = run_command({bin, "-w", "5", "-t", table, "-C", from, "-m", "comment", "--comment", kComment, "-j", to});
    if (!check) return unexpected(check.error());
    if (check->exit_code == 0) return {};
    auto insert = run_command({bin, "-w", "5", "-t", table, "-I", from, "1", "-m", "comment", "--comment", kComment, "-j", to});
    if (!insert) return unexpected(insert.error());
    if (insert->exit_code != 0) return unexpected(bin + " -t " + table + " -I " + from + ": " + insert->output);
    return {};
}

}  // namespace

std::string_view to_string(IptablesBackend b) noexcept { return b == IptablesBackend::kNft ? "nft" : "legacy"; }

std::string render_rules(const HostRulesSpec& spec, Family family) {
    auto of = [family](const auto& list) {
        std::vector<std::string> out;
        for (const auto& x : list)
            if (x.family() == family) out.push_back(x.to_string());
        return out;
    };
    const auto pods = of(spec.pod_cidrs);
    std::ostringstream out;
    out << "*filter\n:" << kForwardChain << " - [0:0]\n";
    for (const auto& p : pods) {
        out << "-A " << kForwardChain << " -s " << p << " -m comment --comment \"kroute: from this node's pods\" -j ACCEPT\n";
        out << "-A " << kForwardChain << " -d " << p << " -m comment --comment \"kroute: to this node's pods\" -j ACCEPT\n";
    }
    out << "COMMIT\n*nat\n:" << kNatChain << " - [0:0]\n";
    if (spec.pod_egress) {
        const auto cluster = of(spec.cluster_cidrs);
        const auto nodes = of(spec.node_addresses);
        const char* host_len = family == Family::kIpv4 ? "/32" : "/128";
        for (const auto& p : pods) {
            for (const auto& c : cluster)
                out << "-A " << kNatChain << " -s " << p << " -d " << c << " -m comment --comment \"kroute: pod to pod\" -j RETURN\n";
            for (const auto& n : nodes)
                out << "-A " << kNatChain << " -s " << p << " -d " << n << host_len
                    << " -m comment --comment \"kroute: pod to node\" -j RETURN\n";
            out << "-A " << kNatChain << " -s " << p
                << " -m comment --comment \"kroute: pod egress\" -j MASQUERADE --random-fully\n";
        }
    }
    out << "COMMIT\n";
    return out.str();
}

IptablesBackend choose_backend(std::string_view legacy_save, std::string_view nft_save) {
    // kubelet leaves a KUBE-IPTABLES-HINT chain in the mangle table of the backend it uses.
    if (has_hint(legacy_save) && !has_hint(nft_save)) return IptablesBackend::kLegacy;
    if (has_hint(nft_save)) return IptablesBackend::kNft;
    return count_rules(legacy_save) > count_rules(nft_save) ? IptablesBackend::kLegacy : IptablesBackend::kNft;
}

Expected<HostRules, std::string> HostRules::detect() {
    if (!run_command({"iptables-nft-save", "--version"}) && !run_command({"iptables-legacy-save", "--version"}))
        return unexpected(std::string{"neither iptables-nft nor iptables-legacy is installed (Debian: apt-get install iptables)"});
    const auto backend = choose_backend(save_output(IptablesBackend::kLegacy), save_output(IptablesBackend::kNft));
    log::get("main")->info("packet filter rules through iptables-{}", to_string(backend));
    return HostRules{backend};
}

Expected<void, std::string> HostRules::apply(const HostRulesSpec& spec) {
    for (Family f : {Family::kIpv4, Family::kIpv6}) {
        const bool any = std::any_of(spec.pod_cidrs.begin(), spec.pod_cidrs.end(),
                                     [f](const Prefix& p) { return p.family() == f; });
        if (!any) continue;  // a family the node does not route: nothing of ours there
        const std::string restore = tool(backend_, f, "-restore");
        auto r = run_command({restore, "-w", "5", "--noflush"}, render_rules(spec, f));
        if (!r) return unexpected(r.error());
        if (r->exit_code != 0) return unexpected(restore + ": " + r->output);
        if (auto j = ensure_jump(backend_, f, "filter", "FORWARD", kForwardChain); !j) return j;
        if (auto j = ensure_jump(backend_, f, "nat", "POSTROUTING", kNatChain); !j) return j;
    }
    return {};
}

Expected<void, std::string> HostRules::cleanup() {
    std::string errors;
    for (IptablesBackend b : {IptablesBackend::kNft, IptablesBackend::kLegacy}) {
        for (Family f : {Family::kIpv4, Family::kIpv6}) {
            const std::string bin = tool(b, f);
            for (auto [table, from, chain] : {std::tuple{"filter", "FORWARD", kForwardChain},
                                              std::tuple{"nat", "POSTROUTING", kNatChain}}) {
                // Every jump (there may be several after a crash mid-insert), then the chain.
                for (int i = 0; i < 16; ++i) {
                    auto d = run_command({bin, "-w", "5", "-t", table, "-D", from, "-m", "comment", "--comment", kComment,
                                          "-j", chain});
                    if (!d || d->exit_code != 0) break;
                }
                auto exists = run_command({bin, "-w", "5", "-t", table, "-S", chain});
                if (!exists || exists->exit_code != 0) continue;  // not there, or no such backend
                for (const char* op : {"-F", "-X"}) {
                    auto r = run_command({bin, "-w", "5", "-t", table, op, chain});
                    if (r && r->exit_code != 0) errors += bin + " -t " + table + " " + op + " " + chain + ": " + r->output;
                }
            }
        }
    }
    if (!errors.empty()) return unexpected(errors);
    return {};
}

HostRulesWriter::HostRulesWriter(HostRules rules, std::chrono::milliseconds resync)
    : rules_{rules}, resync_{resync}, thread_{[this] { run(); }} {}

HostRulesWriter::~HostRulesWriter() { stop(); }

void HostRulesWriter::set(const HostRulesSpec& spec) {
    {
        std::lock_guard lock{mu_};
        if (spec_ == spec) return;
        spec_ = spec;
        dirty_ = true;
    }
    cv_.notify_all();
}

void HostRulesWriter::stop() {
    {
        std::lock_guard lock{mu_};
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void HostRulesWriter::run() {
    auto log = log::get("main");
    bool failing = false;
    std::unique_lock lock{mu_};
    for (;;) {
        cv_.wait_for(lock, resync_, [this] { return stopping_ || dirty_; });
        if (stopping_) return;
        if (!spec_) continue;
        const HostRulesSpec spec = *spec_;
        const bool changed = std::exchange(dirty_, false);
        lock.unlock();
        auto r = rules_.apply(spec);
        lock.lock();
        if (!r) {
            if (!failing) log->error("cannot write kroute's packet filter rules: {}; retrying every {}s", r.error(),
                                     std::chrono::duration_cast<std::chrono::seconds>(resync_).count());
            failing = true;
        } else {
            if (failing) log->info("kroute's packet filter rules are in place again");
            else if (changed) log->debug("packet filter rules written");
            failing = false;
        }
    }
}

}  // namespace kroute::daemon
