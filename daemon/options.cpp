#include "daemon/options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/duration.hpp"

#ifndef KROUTE_VERSION
#define KROUTE_VERSION "0.1.0"
#endif
#ifndef KROUTE_COMMIT
#define KROUTE_COMMIT "unknown"
#endif

namespace kroute::daemon {

const char* kroute_version() noexcept { return KROUTE_VERSION; }
const char* kroute_commit() noexcept { return KROUTE_COMMIT; }
namespace {

Expected<std::chrono::milliseconds, std::string> duration_flag(const std::string& name, const std::string& text,
                                                               std::chrono::milliseconds min) {
    auto d = parse_duration(text);
    if (!d) return unexpected("--" + name + ": '" + text + "' is not a duration (write it as 90s, 5m or 1h30m)");
    if (*d < min) return unexpected("--" + name + ": " + text + " is shorter than the minimum " + format_duration(min));
    return *d;
}

Expected<std::vector<Prefix>, std::string> prefix_list_flag(const std::string& name, const std::string& text) {
    std::vector<Prefix> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        auto p = Prefix::parse(item);
        if (!p) return unexpected("--" + name + ": '" + item + "' is not a CIDR");
        out.push_back(*p);
    }
    return out;
}

// kube-router's string slices: each occurrence is a comma-separated list, and blank items count
// ("pass,,pass": the second peer has none).
std::vector<std::string> items(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        std::size_t start = 0;
        for (;;) {
            auto at = v.find(',', start);
            std::string item = v.substr(start, at == std::string::npos ? std::string::npos : at - start);
            auto b = item.find_first_not_of(" \t\r\n");
            auto e = item.find_last_not_of(" \t\r\n");
            out.push_back(b == std::string::npos ? std::string{} : item.substr(b, e - b + 1));
            if (at == std::string::npos) break;
            start = at + 1;
        }
    }
    return out;
}

Expected<std::vector<ExternalPeer>, std::string> peer_routers(const std::vector<std::string>& ip_flags,
                                                              const std::vector<std::string>& asn_flags,
                                                              const std::vector<std::string>& port_flags,
                                                              const std::vector<std::string>& password_flags,
                                                              const std::string& passwords_file) {
    const auto ips = items(ip_flags);
    const auto asns = items(asn_flags);
    const auto ports = items(port_flags);
    auto passwords = items(password_flags);
    const char* passwords_from = "--peer-router-passwords";
    if (password_flags.empty() && !passwords_file.empty()) {  // the flag wins over the file, as in kube-router
        std::ifstream in(passwords_file);
        if (!in) return unexpected("--peer-router-passwords-file: cannot read " + passwords_file);
        std::stringstream ss;
        ss << in.rdbuf();
        passwords = items({ss.str()});  // the flag's format: base64 items separated by commas
        passwords_from = "--peer-router-passwords-file";
    }
    if (ip_flags.empty() && asn_flags.empty() && port_flags.empty() && passwords.empty()) return std::vector<ExternalPeer>{};
    const auto n = std::to_string(ips.size());
    if (ips.size() != asns.size())
        return unexpected("--peer-router-ips and --peer-router-asns: the number of IPs (" + n + ") and ASNs (" +
                          std::to_string(asns.size()) + ") must be equal");
    if (!ports.empty() && ports.size() != ips.size())
        return unexpected("--peer-router-ports: the number of ports (" + std::to_string(ports.size()) +
                          ") should either be zero, or one per peer router (" + n +
                          "); a blank item means the standard BGP port 179, e.g. \"179,,1790\"");
    if (!passwords.empty() && passwords.size() != ips.size())
        return unexpected(std::string{passwords_from} + ": the number of passwords (" + std::to_string(passwords.size()) +
                          ") should either be zero, or one per peer router (" + n +
                          "); use blank items for routers that expect none, e.g. \"cGFzcw==,,cGFzcw==\"");
    std::vector<ExternalPeer> out;
    for (std::size_t i = 0; i < ips.size(); ++i) {
        ExternalPeer p;
        auto ip = IpAddress::parse(ips[i]);
        if (!ip) return unexpected("--peer-router-ips: '" + ips[i] + "' is not an IP address");
        if (ip->is_unspecified()) return unexpected("--peer-router-ips: " + ips[i] + " is not a peer's address");
        for (const auto& q : out) {
            if (q.address == *ip) return unexpected("--peer-router-ips: " + ips[i] + " is listed twice");
        }
        p.address = *ip;
        std::uint64_t asn = 0;
        std::istringstream as(asns[i]);
        if (asns[i].empty() || asns[i].find_first_not_of("0123456789") != std::string::npos || !(as >> asn) ||
            !usable_peer_asn(asn))
            return unexpected("--peer-router-asns: \"" + asns[i] + "\" for " + ips[i] +
                              " is not a usable AS number (reserved ASN numbers: 0, 23456, 64000-64511, 65535, "
                              "65536-131071, 4294967295)");
        p.asn = static_cast<std::uint32_t>(asn);
        if (!ports.empty() && !ports[i].empty()) {
            std::uint64_t port = 0;
            std::istringstream ps(ports[i]);
            if (ports[i].find_first_not_of("0123456789") != std::string::npos || !(ps >> port) || port == 0 || port > 65535)
                return unexpected("--peer-router-ports: '" + ports[i] + "' for " + ips[i] + " is not a port (1-65535)");
            p.port = static_cast<std::uint16_t>(port);
        }
        if (!passwords.empty() && !passwords[i].empty()) {
            auto pw = base64_decode(passwords[i]);  // never echo it: the error names the peer only
            if (!pw) return unexpected(std::string{passwords_from} + ": the password for " + ips[i] + " is not base64");
            if (pw->empty() || pw->size() > 80)
                return unexpected(std::string{passwords_from} + ": the password for " + ips[i] +
                                  " must be 1 to 80 bytes once decoded (RFC 2385, TCP_MD5SIG_MAXKEYLEN)");
            p.password = *pw;
        }
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace

// RFC 4648 §4 base64 with padding, as Go's StdEncoding (which kube-router uses) reads it.
std::optional<std::string> base64_decode(const std::string& in) {
    if (in.size() % 4 != 0) return std::nullopt;
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        std::uint32_t n = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            int v = j >= 4 - static_cast<std::size_t>(pad) ? 0 : value(in[i + j]);
            if (v < 0) return std::nullopt;
            n = (n << 6) | static_cast<std::uint32_t>(v);
        }
        out.push_back(static_cast<char>(n >> 16));
        if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
    }
    return out;
}

// kube-router's validateASN: no AS 0, AS_TRANS (RFC 6793), documentation (RFC 5398), 65535 or
// 4294967295 (RFC 7300), nor the unallocated 64000-64511 / 65536-131071.
bool usable_peer_asn(std::uint64_t asn) {
    return (asn >= 1 && asn <= 23455) || (asn >= 23457 && asn <= 63999) || (asn >= 64512 && asn <= 65534) ||
           (asn >= 131072 && asn <= 4199999999ULL) || (asn >= 4200000000ULL && asn <= 4294967294ULL);
}


Expected<ParseOutcome, std::string> parse_options(int argc, const char* const* argv) {
    Options o;
    CLI::App app{"kroute: node-level routing daemon for Kubernetes (BGP, kube-router compatible flags)", "kroute"};
    app.get_formatter()->column_width(44);
    app.set_version_flag("--version", std::string("kroute ") + KROUTE_VERSION + " (commit " + KROUTE_COMMIT + ")");

    if (const char* env = std::getenv("KUBE_ROUTER_CNI_CONF_FILE"); env && *env) o.cni_conf_file = env;

    std::string holdtime = "90s", keepalive = "30s", connect_retry = "2m", sync_period = "5m";
    std::string service_range = "10.96.0.0/12", cluster_cidr;
    std::vector<std::string> peer_ips, peer_asns, peer_ports, peer_passwords;
    std::string peer_passwords_file, peer_import_reject;
    std::vector<std::string> peer_max_prefixes;
    std::string max_prefix_restart = "60s", gr_time = "90s", gr_deferral = "6m", gshut_time = "10s", bfd_rx = "300ms", bfd_tx = "300ms";

    // Kubernetes
    app.add_option("--kubeconfig", o.kubeconfig, "Path to a kubeconfig file (else in-cluster config)");
    app.add_option("--master", o.master, "The API server's address (overrides the kubeconfig's)");
    app.add_option("--hostname-override", o.hostname_override, "This node's name (else env NODE_NAME, else the hostname)");
    app.add_option("--nodes-file", o.nodes_file,
                   "Read Nodes from this JSON file (NodeList, or List as kubectl get nodes -o json prints) instead of the API server; reloaded on change");
    app.add_option("--set-node-network-unavailable", o.set_node_network_unavailable,
                   "Set this node's NetworkUnavailable condition to False once its network is up (as flannel and Calico do; needs patch on nodes/status)")
        ->capture_default_str();

    // BGP
    app.add_option("--cluster-asn", o.cluster_asn, "ASN of every node's iBGP speaker")->capture_default_str();
    app.add_option("--router-id", o.router_id, "BGP router id: an IPv4 address, or 'generate' (a hash of the node address, as kube-router); default: the node's IPv4 address");
    app.add_option("--bgp-port", o.bgp_port, "BGP port to listen on and to dial other nodes on")->capture_default_str();
    app.add_flag("--enable-ibgp", o.enable_ibgp, "Peer with every other node (iBGP full mesh)")->capture_default_str();
    app.add_flag("--nodes-full-mesh", o.nodes_full_mesh, "Full mesh of all nodes in --cluster-asn")->capture_default_str();
    app.add_flag("--advertise-pod-cidr", o.advertise_pod_cidr, "Advertise this node's pod CIDRs")->capture_default_str();
    app.add_option("--bgp-holdtime", holdtime, "BGP hold time proposed to every peer (3s minimum, or 0)")->capture_default_str();
    app.add_option("--bgp-keepalive-time", keepalive, "BGP keepalive interval (at most hold time / 3)")->capture_default_str();
    app.add_option("--bgp-connect-retry-time", connect_retry, "BGP ConnectRetry timer")->capture_default_str();
    app.add_option("--peer-router-ips", peer_ips, "External BGP routers every node peers with (comma-separated)");
    app.add_option("--peer-router-asns", peer_asns, "Their ASNs, one per --peer-router-ips entry");
    app.add_option("--peer-router-ports", peer_ports, "Their ports: none, or one per peer (blank = 179)");
    app.add_option("--peer-router-passwords", peer_passwords,
                   "Their TCP MD5 passwords, base64: none, or one per peer (blank = none)");
    app.add_option("--peer-router-passwords-file", peer_passwords_file,
                   "A file holding --peer-router-passwords' value (the flag wins)");
    app.add_option("--peer-router-multihop-ttl", o.peer_router_multihop_ttl,
                   "eBGP multihop TTL towards them (2-255; below 2: directly connected)")
        ->check(CLI::Range(0, 255));
    app.add_option("--peer-router-import-reject", peer_import_reject,
                   "CIDRs never accepted from any peer, nor anything inside them (comma-separated)");
    app.add_option("--peer-router-max-prefixes", peer_max_prefixes,
                   "Most prefixes each peer router may send (one for all, or one per peer; 0 = no limit); more "
                   "close its session with Cease / Maximum Number of Prefixes Reached (RFC 4486)");
    app.add_option("--peer-router-max-prefix-restart", max_prefix_restart,
                   "How long such a session stays down before kroute retries (0: until restarted)")->capture_default_str();
    app.add_flag("--peer-router-soft-reconfiguration-inbound", o.peer_router_soft_reconfiguration_inbound,
                 "Keep a copy of what each peer router sends, before policy: policy changes apply without "
                 "ROUTE-REFRESH (memory: one entry per path)")->capture_default_str();
    app.add_flag("--bgp-graceful-restart", o.bgp_graceful_restart,
                 "BGP graceful restart (RFC 4724), both roles, on every session")->capture_default_str();
    app.add_option("--bgp-graceful-restart-time", gr_time,
                   "How long peers keep our routes while we restart (at most 4095s)")->capture_default_str();
    app.add_option("--bgp-graceful-restart-deferral-time", gr_deferral,
                   "After a restart, the longest wait for every peer's End-of-RIB (at most 18h)")->capture_default_str();
    app.add_flag("--bgp-graceful-shutdown", o.bgp_graceful_shutdown,
                 "BGP graceful shutdown (RFC 8326) on SIGTERM: announce every route again with the GRACEFUL_SHUTDOWN "
                 "community (65535:0), wait --bgp-graceful-shutdown-time, then stop")->capture_default_str();
    app.add_option("--bgp-graceful-shutdown-time", gshut_time,
                   "With --bgp-graceful-shutdown: how long peers get to move their traffic away (at most 10m)")
        ->capture_default_str();
    app.add_flag("--enable-bfd", o.enable_bfd,
                 "BFD (RFC 5880) towards the external peers: a path failure closes the BGP session within "
                 "multiplier x interval")->capture_default_str();
    app.add_option("--bfd-min-rx", bfd_rx, "BFD: the slowest rate we want to receive at (e.g. 300ms)")->capture_default_str();
    app.add_option("--bfd-min-tx", bfd_tx, "BFD: the fastest rate we send at")->capture_default_str();
    app.add_option("--bfd-multiplier", o.bfd_multiplier, "BFD detection multiplier")->capture_default_str()
        ->check(CLI::Range(1, 255));
    app.add_flag("--advertise-cluster-ip", o.advertise_cluster_ip,
                 "Announce services' cluster IPs to the external peers (/32, /128; per service: the "
                 "kube-router.io/service.advertise.clusterip annotation)")
        ->capture_default_str();
    app.add_flag("--advertise-external-ip", o.advertise_external_ip,
                 "Announce services' externalIPs to the external peers (annotation kube-router.io/service.advertise.externalip)")
        ->capture_default_str();
    app.add_flag("--advertise-loadbalancer-ip", o.advertise_load_balancer_ip,
                 "Announce services' load-balancer ingress IPs to the external peers (annotation "
                 "kube-router.io/service.advertise.loadbalancerip)")
        ->capture_default_str();

    // Data plane
    app.add_flag("--enable-cni", o.enable_cni, "Write the CNI conflist for this node's pod CIDRs")->capture_default_str();
    app.add_option("--cni-conf-file", o.cni_conf_file, "Where to write the CNI conflist (env KUBE_ROUTER_CNI_CONF_FILE too)")->capture_default_str();
    app.add_option("--cni-conf-template", o.cni_conf_template, "A conflist to use as template (its unknown keys are kept)");
    app.add_option("--cni-ipam-data-dir", o.cni_ipam_data_dir, "host-local IPAM dataDir written into the conflist");
    app.add_flag("--auto-mtu", o.auto_mtu, "Use the MTU of the link holding the node address")->capture_default_str();
    app.add_option("--mtu", o.mtu, "MTU for the pod network (overrides --auto-mtu)");
    app.add_flag("--no-fib", o.no_fib, "Change no kernel state (routes, sysctls); the conflist is still written");
    app.add_option("--route-protocol", o.route_protocol, "Kernel route protocol number of kroute's routes")->capture_default_str()
        ->check(CLI::Range(1, 255));
    app.add_option("--routes-sync-period", sync_period, "Period of the full kernel route reconciliation")->capture_default_str();
    app.add_flag("--enable-ipv4", o.enable_ipv4, "IPv4 pod routing")->capture_default_str();
    app.add_flag("--enable-ipv6", o.enable_ipv6,
                 "IPv6 pod routing on dual-stack nodes: IPv6 podCIDRs announced with the node's IPv6 address as next hop, IPv6 routes installed")
        ->capture_default_str();
    app.add_flag("--enable-overlay", o.enable_overlay,
                 "VXLAN to nodes the underlay cannot route pod traffic to (see --overlay-type)")
        ->capture_default_str();
    app.add_option("--overlay-type", o.overlay_type,
                   "subnet: tunnel only to nodes outside this node's subnet; full: to every node")
        ->capture_default_str();
    app.add_flag("--enable-pod-egress", o.enable_pod_egress,
                 "MASQUERADE pod traffic to anything but the cluster's pod CIDRs and the nodes' addresses")
        ->capture_default_str();
    app.add_flag("--cleanup-config", o.cleanup_config,
                 "Remove kroute's routes, VXLAN devices, pod bridge, packet filter rules and CNI conflist from this node, then exit");
    app.add_flag("--cleanup-kube-router", o.cleanup_kube_router,
                 "Remove what kube-router left on this node (its protocol 17 routes, table 77 rules, tun-* tunnels, "
                 "KUBE-ROUTER-*/KUBE-POD-FW-*/KUBE-NWPLCY-* chains, its conflist), then exit");
    app.add_option("--service-cluster-ip-range", service_range, "Service CIDRs: never accepted from peers")->capture_default_str();
    app.add_option("--cluster-cidr", cluster_cidr, "Pod CIDRs of the cluster (default: the union of the nodes' podCIDRs)");

    // Operations
    app.add_option("--health-port", o.health_port, "Port of /healthz; 0 disables it")->capture_default_str();
    app.add_option("--health-addr", o.health_addr, "Address /healthz binds to (default: every address)");
    app.add_option("--metrics-port", o.metrics_port, "Port of the Prometheus metrics; 0 disables them")->capture_default_str();
    app.add_option("--metrics-addr", o.metrics_addr, "Address the metrics bind to (default: every address)");
    app.add_option("--metrics-path", o.metrics_path, "Path of the Prometheus metrics")->capture_default_str();
    app.add_option("--api-socket", o.api_socket, "Unix socket of the local debug API (kroutectl)")->capture_default_str();
    app.add_option("-v,--v", o.verbosity, "Log verbosity: 0 info, 1-2 debug, 3-4 trace")->capture_default_str();

    try {
        app.parse(argc, const_cast<char**>(argv));
    } catch (const CLI::CallForHelp&) {
        return ParseOutcome{std::nullopt, app.help()};
    } catch (const CLI::CallForVersion&) {
        return ParseOutcome{std::nullopt, std::string("kroute ") + KROUTE_VERSION + " (commit " + KROUTE_COMMIT + ")\n"};
    } catch (const CLI::ParseError& e) {
        return unexpected(std::string(e.what()));
    }

    if (o.overlay_type != "subnet" && o.overlay_type != "full")
        return unexpected("--overlay-type: '" + o.overlay_type + "' is neither subnet nor full");
    if (o.metrics_path.empty() || o.metrics_path[0] != '/' || o.metrics_path == "/healthz")
        return unexpected("--metrics-path: '" + o.metrics_path + "' must start with / (and is not /healthz)");
    if (o.metrics_port != 0 && o.metrics_port == o.health_port &&
        (o.metrics_addr == o.health_addr || o.metrics_addr.empty() || o.health_addr.empty()))
        return unexpected("--metrics-port " + std::to_string(o.metrics_port) + " is --health-port too: give them different ports");
    if (!o.enable_ipv4 && !o.enable_ipv6)
        return unexpected("--enable-ipv4=false without --enable-ipv6 leaves no address family to route");

    if (o.cluster_asn == 0 || o.cluster_asn == 23456)
        return unexpected("--cluster-asn: " + std::to_string(o.cluster_asn) + " is not a usable AS number");
    if (!o.router_id.empty() && o.router_id != "generate" &&
        !(IpAddress::parse(o.router_id) && IpAddress::parse(o.router_id)->is_v4()))
        return unexpected("--router-id: '" + o.router_id + "' is neither an IPv4 address nor 'generate'");
    if (o.mtu != 0 && (o.mtu < 576 || o.mtu > 65535))
        return unexpected("--mtu: " + std::to_string(o.mtu) + " is out of range 576-65535");

    auto hold = duration_flag("bgp-holdtime", holdtime, std::chrono::milliseconds(0));
    if (!hold) return unexpected(hold.error());
    if (*hold != std::chrono::milliseconds(0) && *hold < std::chrono::seconds(3))
        return unexpected("--bgp-holdtime: " + holdtime + " is below 3s (RFC 4271 §4.2: 0 or at least 3s)");
    if (*hold > std::chrono::seconds(65535)) return unexpected("--bgp-holdtime: " + holdtime + " is above 65535s");
    auto ka = duration_flag("bgp-keepalive-time", keepalive, std::chrono::seconds(1));
    if (!ka) return unexpected(ka.error());
    auto cr = duration_flag("bgp-connect-retry-time", connect_retry, std::chrono::seconds(1));
    if (!cr) return unexpected(cr.error());
    auto sp = duration_flag("routes-sync-period", sync_period, std::chrono::seconds(1));
    if (!sp) return unexpected(sp.error());
    o.bgp_holdtime = *hold;
    o.bgp_keepalive_time = *ka;
    o.bgp_connect_retry_time = *cr;
    o.routes_sync_period = *sp;

    auto services = prefix_list_flag("service-cluster-ip-range", service_range);
    if (!services) return unexpected(services.error());
    o.service_cluster_ip_range = *services;
    auto cluster = prefix_list_flag("cluster-cidr", cluster_cidr);
    if (!cluster) return unexpected(cluster.error());
    o.cluster_cidr = *cluster;
    auto reject = prefix_list_flag("peer-router-import-reject", peer_import_reject);
    if (!reject) return unexpected(reject.error());
    o.peer_router_import_reject = *reject;
    auto peers = peer_routers(peer_ips, peer_asns, peer_ports, peer_passwords, peer_passwords_file);
    if (!peers) return unexpected(peers.error());
    o.peer_routers = std::move(*peers);
    const auto limits = items(peer_max_prefixes);
    if (!limits.empty() && limits.size() != 1 && limits.size() != o.peer_routers.size())
        return unexpected("--peer-router-max-prefixes: give one limit for every peer router, or one per peer (" +
                          std::to_string(o.peer_routers.size()) + "), not " + std::to_string(limits.size()));
    for (std::size_t i = 0; i < limits.size(); ++i) {
        std::uint64_t v = 0;
        std::istringstream in(limits[i]);
        if (limits[i].empty() || limits[i].find_first_not_of("0123456789") != std::string::npos || !(in >> v) ||
            v > 0xffffffffu)
            return unexpected("--peer-router-max-prefixes: '" + limits[i] + "' is not a number of prefixes");
        if (limits.size() == 1) {
            for (auto& p : o.peer_routers) p.max_prefixes = static_cast<std::uint32_t>(v);
        } else {
            o.peer_routers[i].max_prefixes = static_cast<std::uint32_t>(v);
        }
    }
    auto mpr = duration_flag("peer-router-max-prefix-restart", max_prefix_restart, std::chrono::milliseconds(0));
    if (!mpr) return unexpected(mpr.error());
    o.peer_router_max_prefix_restart = *mpr;
    auto grt = duration_flag("bgp-graceful-restart-time", gr_time, std::chrono::seconds(1));
    if (!grt) return unexpected(grt.error());
    if (*grt > std::chrono::seconds(4095))  // RFC 4724 §3: 12 bits
        return unexpected("--bgp-graceful-restart-time: " + gr_time + " is above 4095s (RFC 4724: 12 bits of seconds)");
    o.bgp_graceful_restart_time = *grt;
    auto grd = duration_flag("bgp-graceful-restart-deferral-time", gr_deferral, std::chrono::seconds(1));
    if (!grd) return unexpected(grd.error());
    if (*grd > std::chrono::hours(18))
        return unexpected("--bgp-graceful-restart-deferral-time: " + gr_deferral + " is above 18h");
    o.bgp_graceful_restart_deferral_time = *grd;
    auto gst = duration_flag("bgp-graceful-shutdown-time", gshut_time, std::chrono::milliseconds(0));
    if (!gst) return unexpected(gst.error());
    if (*gst > std::chrono::minutes(10))
        return unexpected("--bgp-graceful-shutdown-time: " + gshut_time + " is above 10m");
    o.bgp_graceful_shutdown_time = *gst;
    auto brx = duration_flag("bfd-min-rx", bfd_rx, std::chrono::milliseconds(10));
    if (!brx) return unexpected(brx.error());
    auto btx = duration_flag("bfd-min-tx", bfd_tx, std::chrono::milliseconds(10));
    if (!btx) return unexpected(btx.error());
    if (*brx > std::chrono::seconds(60) || *btx > std::chrono::seconds(60))
        return unexpected("--bfd-min-rx / --bfd-min-tx: at most 60s");
    o.bfd_min_rx = *brx;
    o.bfd_min_tx = *btx;

    if (!o.kubeconfig.empty() && !o.nodes_file.empty())
        return unexpected("--kubeconfig and --nodes-file exclude each other: choose where Nodes come from");
    if (o.cni_conf_file.empty() && o.enable_cni) return unexpected("--cni-conf-file must not be empty");
    return ParseOutcome{o, {}};
}

std::optional<std::uint32_t> parse_cluster_id(const std::string& text) {
    if (text.empty()) return std::nullopt;
    if (text.find_first_not_of("0123456789") == std::string::npos) {
        if (text.size() > 10) return std::nullopt;
        const std::uint64_t v = std::stoull(text);
        if (v > 0xffffffffu) return std::nullopt;
        return static_cast<std::uint32_t>(v);
    }
    auto ip = IpAddress::parse(text);
    if (!ip || !ip->is_v4()) return std::nullopt;
    return ip->v4_host_order();
}

IpAddress generated_router_id(const IpAddress& node_address) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : node_address.to_string()) {
        h ^= c;
        h *= 16777619u;
    }
    return IpAddress::v4(h == 0 ? 1 : h);  // RFC 6286: the identifier must not be 0
}

std::string node_name(const Options& options) {
    if (!options.hostname_override.empty()) return options.hostname_override;
    if (const char* env = std::getenv("NODE_NAME"); env && *env) return env;
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) return buf;
    return {};
}

std::vector<std::pair<std::string, std::string>> describe(const Options& o) {
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    auto prefixes = [](const std::vector<Prefix>& ps) {
        std::string out;
        for (const auto& p : ps) out += (out.empty() ? "" : ",") + p.to_string();
        return out;
    };
    auto peer_field = [&o](auto field) {
        std::string out;
        for (std::size_t i = 0; i < o.peer_routers.size(); ++i) out += (i ? "," : "") + field(o.peer_routers[i]);
        return out;
    };
    return {
        {"kubeconfig", o.kubeconfig},
        {"master", o.master},
        {"nodes-file", o.nodes_file},
        {"set-node-network-unavailable", b(o.set_node_network_unavailable)},
        {"hostname-override", o.hostname_override},
        {"cluster-asn", std::to_string(o.cluster_asn)},
        {"router-id", o.router_id},
        {"bgp-port", std::to_string(o.bgp_port)},
        {"enable-ibgp", b(o.enable_ibgp)},
        {"nodes-full-mesh", b(o.nodes_full_mesh)},
        {"advertise-pod-cidr", b(o.advertise_pod_cidr)},
        {"bgp-holdtime", format_duration(o.bgp_holdtime)},
        {"bgp-keepalive-time", format_duration(o.bgp_keepalive_time)},
        {"bgp-connect-retry-time", format_duration(o.bgp_connect_retry_time)},
        {"peer-router-ips", peer_field([](const ExternalPeer& p) { return p.address.to_string(); })},
        {"peer-router-asns", peer_field([](const ExternalPeer& p) { return std::to_string(p.asn); })},
        {"peer-router-ports", peer_field([](const ExternalPeer& p) { return std::to_string(p.port); })},
        // Only whether each peer has one: the passwords themselves are never shown.
        {"peer-router-passwords", peer_field([](const ExternalPeer& p) { return std::string(p.password.empty() ? "" : "(set)"); })},
        {"peer-router-multihop-ttl", std::to_string(o.peer_router_multihop_ttl)},
        {"peer-router-import-reject", prefixes(o.peer_router_import_reject)},
        {"peer-router-max-prefixes", peer_field([](const ExternalPeer& p) { return std::to_string(p.max_prefixes); })},
        {"peer-router-max-prefix-restart", format_duration(o.peer_router_max_prefix_restart)},
        {"peer-router-soft-reconfiguration-inbound", b(o.peer_router_soft_reconfiguration_inbound)},
        {"bgp-graceful-restart", b(o.bgp_graceful_restart)},
        {"enable-bfd", b(o.enable_bfd)},
        {"bfd-min-rx", format_duration(o.bfd_min_rx)},
        {"bfd-min-tx", format_duration(o.bfd_min_tx)},
        {"bfd-multiplier", std::to_string(o.bfd_multiplier)},
        {"bgp-graceful-restart-time", format_duration(o.bgp_graceful_restart_time)},
        {"bgp-graceful-restart-deferral-time", format_duration(o.bgp_graceful_restart_deferral_time)},
        {"bgp-graceful-shutdown", b(o.bgp_graceful_shutdown)},
        {"bgp-graceful-shutdown-time", format_duration(o.bgp_graceful_shutdown_time)},
        {"enable-cni", b(o.enable_cni)},
        {"cni-conf-file", o.cni_conf_file},
        {"cni-conf-template", o.cni_conf_template},
        {"cni-ipam-data-dir", o.cni_ipam_data_dir},
        {"auto-mtu", b(o.auto_mtu)},
        {"mtu", std::to_string(o.mtu)},
        {"no-fib", b(o.no_fib)},
        {"enable-pod-egress", b(o.enable_pod_egress)},
        {"enable-overlay", b(o.enable_overlay)},
        {"advertise-cluster-ip", b(o.advertise_cluster_ip)},
        {"advertise-external-ip", b(o.advertise_external_ip)},
        {"advertise-loadbalancer-ip", b(o.advertise_load_balancer_ip)},
        {"overlay-type", o.overlay_type},
        {"route-protocol", std::to_string(o.route_protocol)},
        {"routes-sync-period", format_duration(o.routes_sync_period)},
        {"enable-ipv4", b(o.enable_ipv4)},
        {"enable-ipv6", b(o.enable_ipv6)},
        {"service-cluster-ip-range", prefixes(o.service_cluster_ip_range)},
        {"cluster-cidr", prefixes(o.cluster_cidr)},
        {"health-port", std::to_string(o.health_port)},
        {"health-addr", o.health_addr},
        {"metrics-port", std::to_string(o.metrics_port)},
        {"metrics-addr", o.metrics_addr},
        {"metrics-path", o.metrics_path},
        {"api-socket", o.api_socket},
        {"v", std::to_string(o.verbosity)},
    };
}

}  // namespace kroute::daemon
