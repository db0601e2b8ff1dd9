// daemon::HostRules: kroute's packet filter rules on the node, in chains of its own, for each
// address family the node routes:
//   filter KROUTE-FORWARD (jumped to first from FORWARD): ACCEPT traffic from and to this node's
//     pod CIDRs, so pods are forwarded even where the FORWARD policy is DROP (Docker, distros);
//   nat KROUTE-POSTROUTING (jumped to first from POSTROUTING), with --enable-pod-egress: traffic
//     from this node's pods to anything but the cluster's pod CIDRs and the nodes' addresses is
//     MASQUERADEd to the node's address, so pods reach networks that have no route back to them.
// Written with iptables-restore --noflush (a declared chain is flushed and refilled in one
// transaction, other chains untouched), through whichever iptables the host uses: nft or legacy,
// chosen as kubernetes-sigs/iptables-wrappers does (kubelet's KUBE-IPTABLES-HINT chain, else the
// backend that holds more rules, nft on a tie), since a DROP in one backend is not undone by an
// ACCEPT in the other.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::daemon {

struct HostRulesSpec {
    std::vector<Prefix> pod_cidrs;          // this node's
    std::vector<Prefix> cluster_cidrs;      // every node's pod CIDRs, or --cluster-cidr
    std::vector<IpAddress> node_addresses;  // every node's
    bool pod_egress = false;
    friend bool operator==(const HostRulesSpec&, const HostRulesSpec&) = default;
};

enum class IptablesBackend { kNft, kLegacy };
[[nodiscard]] std::string_view to_string(IptablesBackend b) noexcept;

// The iptables-restore input for `family` ("" when the spec has no pod CIDR of that family).
// Pure.
[[nodiscard]] std::string render_rules(const HostRulesSpec& spec, Family family);

// iptables-wrappers' choice from the two backends' `-save` output (IPv4 and IPv6 together). Pure.
[[nodiscard]] IptablesBackend choose_backend(std::string_view legacy_save, std::string_view nft_save);

class HostRules {
public:
    // Runs the backends' -save tools and picks one; an error when neither iptables is installed.
    [[nodiscard]] static Expected<HostRules, std::string> detect();
    explicit HostRules(IptablesBackend backend) : backend_{backend} {}

    [[nodiscard]] IptablesBackend backend() const noexcept { return backend_; }
    // Brings kroute's chains and their jumps to `spec`, per family (a family without pod CIDRs
    // gets empty chains). Idempotent.
    [[nodiscard]] Expected<void, std::string> apply(const HostRulesSpec& spec);
    // Removes kroute's chains and jumps, in both backends and both families; nothing else.
    [[nodiscard]] static Expected<void, std::string> cleanup();

private:
    IptablesBackend backend_;
};

// HostRules on a thread of its own (each apply runs iptables-restore, tens of ms): the latest spec
// wins, and it is applied again every `resync` in case someone flushed the tables (a firewall
// reload). Failures are logged once per streak and retried at the next resync.
class HostRulesWriter {
public:
    HostRulesWriter(HostRules rules, std::chrono::milliseconds resync);
    ~HostRulesWriter();  // stops
    HostRulesWriter(const HostRulesWriter&) = delete;
    HostRulesWriter& operator=(const HostRulesWriter&) = delete;

    void set(const HostRulesSpec& spec);  // any thread
    void stop();

private:
    void run();

    HostRules rules_;
    std::chrono::milliseconds resync_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<HostRulesSpec> spec_;
    bool dirty_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kroute::daemon
