// kroute's command line: kube-router's flag names and meanings wherever kube-router has the flag
// (../docs/flags.md lists them all). Parsing never exits the process: it returns the options or
// an error text (or a help/version text to print).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/expected.hpp"
#include "bgp/bfd.hpp"
#include "common/ip.hpp"

namespace kroute::daemon {

// One of --peer-router-ips with its ASN, port and password (kube-router's global peers): every
// node peers with each of them.
struct ExternalPeer {
    IpAddress address;
    std::uint32_t asn = 0;
    std::uint16_t port = 179;
    std::string password;  // RFC 2385 TCP MD5 key, base64-decoded; empty = none. Never shown or logged.
    std::uint32_t max_prefixes = 0;  // --peer-router-max-prefixes: 0 = no limit
    std::optional<IpAddress> local_address;  // kube-router.io/peers localip; else the node's address
    std::optional<bool> bfd;                 // the annotation's bfd.enabled; else --enable-bfd
    std::optional<bgp::bfd::PeerBfdConfig> bfd_config;  // its intervals and multiplier; else the flags'
    friend bool operator==(const ExternalPeer&, const ExternalPeer&) = default;
};

// RFC 4648 §4 base64 with padding, as Go's StdEncoding (kube-router's) reads it.
[[nodiscard]] std::optional<std::string> base64_decode(const std::string& in);
// kube-router's validateASN: an AS a peer may have.
[[nodiscard]] bool usable_peer_asn(std::uint64_t asn);

struct Options {
    // Kubernetes
    std::string kubeconfig;
    std::string master;
    std::string hostname_override;
    std::string nodes_file;  // instead of the API server
    bool set_node_network_unavailable = true;  // NetworkUnavailable=False once the node's network is up

    // BGP
    std::uint32_t cluster_asn = 64512;
    std::string router_id;   // empty = the node's IPv4 address; "generate" = generated_router_id()
    std::uint16_t bgp_port = 179;
    bool enable_ibgp = true;
    bool nodes_full_mesh = true;
    bool advertise_pod_cidr = true;
    bool advertise_cluster_ip = false;        // services' cluster IPs to external peers
    bool advertise_external_ip = false;       // their spec.externalIPs
    bool advertise_load_balancer_ip = false;  // their status.loadBalancer ingress IPs
    std::chrono::milliseconds bgp_holdtime{std::chrono::seconds(90)};
    std::chrono::milliseconds bgp_keepalive_time{std::chrono::seconds(30)};
    std::chrono::milliseconds bgp_connect_retry_time{std::chrono::seconds(120)};
    std::vector<ExternalPeer> peer_routers;        // --peer-router-ips, -asns, -ports, -passwords(-file)
    int peer_router_multihop_ttl = 0;              // eBGP multihop TTL for them; below 2 = directly connected
    std::vector<Prefix> peer_router_import_reject; // never accepted from any peer, nor anything inside
    std::chrono::milliseconds peer_router_max_prefix_restart{std::chrono::seconds(60)};  // 0 = stay down
    bool peer_router_soft_reconfiguration_inbound = false;  // keep what they send, pre-policy
    // RFC 4724 graceful restart, on every session (kube-router's flags and defaults).
    bool bgp_graceful_restart = false;
    std::chrono::milliseconds bgp_graceful_restart_time{std::chrono::seconds(90)};
    std::chrono::milliseconds bgp_graceful_restart_deferral_time{std::chrono::seconds(360)};
    // RFC 8326 graceful shutdown on SIGTERM: routes announced again with GRACEFUL_SHUTDOWN
    // (65535:0), then this long for peers to move away, then the usual stop.
    bool bgp_graceful_shutdown = false;
    std::chrono::milliseconds bgp_graceful_shutdown_time{std::chrono::seconds(10)};
    // BFD (RFC 5880/5881; 5883 with --peer-router-multihop-ttl >= 2) towards the external peers.
    bool enable_bfd = false;
    std::chrono::milliseconds bfd_min_rx{300};
    std::chrono::milliseconds bfd_min_tx{300};
    int bfd_multiplier = 3;

    // Data plane
    bool enable_cni = true;
    std::string cni_conf_file = "/etc/cni/net.d/10-kuberouter.conflist";
    std::string cni_conf_template;
    std::string cni_ipam_data_dir;
    bool auto_mtu = true;
    int mtu = 0;  // 0 = auto (or 1500 without --auto-mtu)
    bool no_fib = false;
    bool enable_overlay = false;     // VXLAN to nodes the underlay cannot reach (kube-router: true, IPIP)
    std::string overlay_type = "subnet";  // subnet | full
    bool enable_pod_egress = true;   // MASQUERADE pod traffic leaving the cluster (kube-router's default)
    bool cleanup_config = false;     // remove what kroute made on this node, then exit
    bool cleanup_kube_router = false;  // remove what kube-router left on this node, then exit
    int route_protocol = 52;
    std::chrono::milliseconds routes_sync_period{std::chrono::minutes(5)};
    bool enable_ipv4 = true;
    bool enable_ipv6 = false;
    std::vector<Prefix> service_cluster_ip_range{Prefix(IpAddress::v4(0x0a600000u), 12)};  // 10.96.0.0/12
    std::vector<Prefix> cluster_cidr;

    // Operations
    std::uint16_t health_port = 20244;
    std::string health_addr;   // empty = every address
    std::uint16_t metrics_port = 0;  // 0 = no metrics endpoint (kube-router's default)
    std::string metrics_addr;  // empty = every address
    std::string metrics_path = "/metrics";
    std::string api_socket = "/run/kroute/kroute.sock";
    int verbosity = 0;
};

struct ParseOutcome {
    std::optional<Options> options;  // set when kroute should run
    std::string message;             // help / version text (exit 0) when options is empty
};

// argv as main() gets it; env is consulted for NODE_NAME and KUBE_ROUTER_CNI_CONF_FILE.
[[nodiscard]] Expected<ParseOutcome, std::string> parse_options(int argc, const char* const* argv);

// The node name: --hostname-override, else env NODE_NAME, else the hostname.
[[nodiscard]] std::string node_name(const Options& options);
// "0.1.0": what --version prints after "kroute ".
[[nodiscard]] const char* kroute_version() noexcept;
// The git commit kroute was built from ("unknown" outside a git checkout; -DKROUTE_GIT_COMMIT=...).
[[nodiscard]] const char* kroute_commit() noexcept;

// kube-router's `--router-id generate`: FNV-1a (32 bit) of the node address's text, as a BGP
// identifier, so that nodes without an IPv4 address still get a stable, distinct one.
[[nodiscard]] IpAddress generated_router_id(const IpAddress& node_address);

// kube-router's route-reflector cluster id, as in the kube-router.io/rr.server and rr.client
// annotations: a 32-bit number or a dotted IPv4 address; nullopt when it is neither.
[[nodiscard]] std::optional<std::uint32_t> parse_cluster_id(const std::string& text);

// The options as JSON-able text pairs, for `kroutectl config` (secrets never included).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> describe(const Options& options);

}  // namespace kroute::daemon
