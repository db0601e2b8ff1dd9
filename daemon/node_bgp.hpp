// What a Node's kube-router annotations say about its BGP, parsed (pure): per-node external peers
// (kube-router.io/peers, YAML, or the older kube-router.io/peer.* lists), its AS with
// --nodes-full-mesh=false (node.asn), the AS-path prepend and communities for its announcements to
// external peers (path-prepend.as / repeat-n, node.bgp.communities) and the prefixes it refuses
// (node.bgp.customimportreject). See docs/user-guide.md, "Per-node BGP annotations".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "daemon/options.hpp"
#include "k8s-client/node.hpp"

namespace kroute::daemon {

inline constexpr const char* kPeersAnnotation = "kube-router.io/peers";
inline constexpr const char* kPeerIpsAnnotation = "kube-router.io/peer.ips";
inline constexpr const char* kPeerAsnsAnnotation = "kube-router.io/peer.asns";
inline constexpr const char* kPeerPasswordsAnnotation = "kube-router.io/peer.passwords";
inline constexpr const char* kPeerPortsAnnotation = "kube-router.io/peer.ports";
inline constexpr const char* kPeerLocalIpsAnnotation = "kube-router.io/peer.localips";
inline constexpr const char* kNodeAsnAnnotation = "kube-router.io/node.asn";
inline constexpr const char* kPrependAsAnnotation = "kube-router.io/path-prepend.as";
inline constexpr const char* kPrependRepeatAnnotation = "kube-router.io/path-prepend.repeat-n";
inline constexpr const char* kCommunitiesAnnotation = "kube-router.io/node.bgp.communities";
inline constexpr const char* kImportRejectAnnotation = "kube-router.io/node.bgp.customimportreject";

struct NodeBgp {
    std::vector<ExternalPeer> peers;        // per-node external peers
    std::optional<std::uint32_t> asn;       // node.asn
    std::uint32_t prepend_asn = 0;          // path-prepend.as, repeat_n times (0: none)
    int prepend_count = 0;
    std::vector<std::uint32_t> communities; // node.bgp.communities, sorted, no duplicates
    std::vector<Prefix> import_reject;      // node.bgp.customimportreject
    // One line per annotation that could not be used, naming it and why; the annotation is then
    // ignored as a whole (a peer list half applied would be worse than none).
    std::vector<std::string> errors;
    friend bool operator==(const NodeBgp&, const NodeBgp&) = default;
};

[[nodiscard]] NodeBgp node_bgp(const k8s::Node& node);

}  // namespace kroute::daemon
