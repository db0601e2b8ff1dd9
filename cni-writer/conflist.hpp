// The CNI conflist kubelet reads: bridge + host-local IPAM + portmap, rendered for a node's
// podCIDRs. Pure: (template, podCIDRs, options) -> text. Knows nothing of BGP or Kubernetes.
#pragma once

#include <string>
#include <vector>

#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::cni {

struct ConflistOptions {
    std::string network_name = "kubernetes";  // the conflist's "name"
    std::string cni_version = "0.4.0";
    std::string bridge = "kube-bridge";
    int mtu = 1500;
    std::string ipam_data_dir;  // host-local "dataDir"; empty = the plugin's default
};

// The built-in template: bridge (isGateway, isDefaultGateway, hairpinMode, ipMasq false) with
// host-local IPAM, then portmap (portMappings and snat capabilities).
[[nodiscard]] std::string default_template();

// Renders `template_json` (a conflist; empty = default_template()) for `pod_cidrs`: the bridge
// plugin's mtu and bridge name, and host-local "ranges" with one range set per podCIDR. Keys the
// template has that kroute does not manage are kept as they are. Errors say what is wrong with
// the template (not JSON, no bridge plugin, ...) or the input (no podCIDR).
[[nodiscard]] Expected<std::string, std::string> render_conflist(const std::string& template_json,
                                                                 const std::vector<Prefix>& pod_cidrs,
                                                                 const ConflistOptions& options);

}  // namespace kroute::cni
