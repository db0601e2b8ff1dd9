// Migration from kube-router: what it leaves on a node and kroute would otherwise live beside —
// its routes (protocol 17, kube-router's "zebra" number, in the main table and its table 77), its
// policy rules into table 77, its IPIP/FoU tunnels (tun-*), and its packet filter chains
// (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*, and the jumps to them). `kroute
// --cleanup-kube-router` runs it once, before kroute takes over. Blocking.
#pragma once

#include <string>
#include <vector>

#include "common/expected.hpp"

namespace kroute::daemon {

inline constexpr int kKubeRouterProtocol = 17;
inline constexpr int kKubeRouterTable = 77;

struct KubeRouterLeftovers {
    int routes = 0;    // removed
    int rules = 0;
    int tunnels = 0;
    int chains = 0;
    std::vector<std::string> errors;  // what could not be removed, and why
};

[[nodiscard]] KubeRouterLeftovers remove_kube_router_leftovers();

// Pure: the iptables-restore input (--noflush) that deletes every jump to, and then every chain
// whose name starts with one of `prefixes`, from one table's iptables-save output. Empty when there
// is nothing to remove.
[[nodiscard]] std::string chain_removal(const std::string& save, const std::vector<std::string>& prefixes, int* chains);

}  // namespace kroute::daemon
