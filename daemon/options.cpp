#include "daemon/options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <sstream>

#include "common/duration.hpp"

#ifndef KROUTE_VERSION
#define KROUTE_VERSION "0.1.0"
#endif

namespace kroute::daemon {
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

}  // namespace

Expected<ParseOutcome, std::string> parse_options(int argc, const char* const* argv) {
    Options o;
    CLI::App app{"kroute: node-level routing daemon for Kubernetes (BGP, kube-router compatible flags)", "kroute"};
    app.get_formatter()->column_width(44);
    app.set_version_flag("--version", std::string("kroute ") + KROUTE_VERSION);

    if (const char* env = std::getenv("KUBE_ROUTER_CNI_CONF_FILE"); env && *env) o.cni_conf_file = env;

    std::string holdtime = "90s", keepalive = "30s", connect_retry = "2m", sync_period = "5m";
    std::string service_range = "10.96.0.0/12", cluster_cidr;
    std::vector<std::string> peer_ips, peer_asns, peer_ports, peer_passwords;
    std::string peer_passwords_file, overlay_type = "subnet";
    std::uint8_t multihop_ttl = 0;
    bool graceful_restart = false, enable_overlay = false, enable_pod_egress = false, enable_bfd = false;
    bool advertise_cluster_ip = false, advertise_external_ip = false, advertise_lb_ip = false;

    // Kubernetes
    app.add_option("--kubeconfig", o.kubeconfig, "Path to a kubeconfig file (else in-cluster config)");
    app.add_option("--master", o.master, "The API server's address (overrides the kubeconfig's)");
    app.add_option("--hostname-override", o.hostname_override, "This node's name (else env NODE_NAME, else the hostname)");
    app.add_option("--nodes-file", o.nodes_file,
                   "Read Nodes from this JSON file (NodeList, or List as kubectl get nodes -o json prints) instead of the API server; reloaded on change");

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
    app.add_option("--peer-router-ips", peer_ips, "External BGP peers (not built yet)")->delimiter(',');
    app.add_option("--peer-router-asns", peer_asns, "ASNs of the external peers (not built yet)")->delimiter(',');
    app.add_option("--peer-router-ports", peer_ports, "Ports of the external peers (not built yet)")->delimiter(',');
    app.add_option("--peer-router-passwords", peer_passwords, "MD5 passwords of the external peers (not built yet)")->delimiter(',');
    app.add_option("--peer-router-passwords-file", peer_passwords_file, "File of external peers' passwords (not built yet)");
    app.add_option("--peer-router-multihop-ttl", multihop_ttl, "eBGP multihop TTL (not built yet)");
    app.add_flag("--bgp-graceful-restart", graceful_restart, "BGP graceful restart (not built yet)");
    app.add_flag("--enable-bfd", enable_bfd, "BFD for external peers (not built yet)");
    app.add_flag("--advertise-cluster-ip", advertise_cluster_ip, "Advertise service cluster IPs (not built yet)");
    app.add_flag("--advertise-external-ip", advertise_external_ip, "Advertise service external IPs (not built yet)");
    app.add_flag("--advertise-loadbalancer-ip", advertise_lb_ip, "Advertise load-balancer IPs (not built yet)");

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
    app.add_flag("--enable-ipv6", o.enable_ipv6, "IPv6 pod routing (not built yet)");
    app.add_flag("--enable-overlay", enable_overlay, "Tunnel to peers in other subnets (not built yet)");
    app.add_option("--overlay-type", overlay_type, "subnet or full (not built yet)");
    app.add_flag("--enable-pod-egress", enable_pod_egress, "Masquerade pod traffic leaving the cluster (not built yet)");
    app.add_option("--service-cluster-ip-range", service_range, "Service CIDRs: never accepted from peers")->capture_default_str();
    app.add_option("--cluster-cidr", cluster_cidr, "Pod CIDRs of the cluster (default: the union of the nodes' podCIDRs)");

    // Operations
    app.add_option("--health-port", o.health_port, "Port of /healthz; 0 disables it")->capture_default_str();
    app.add_option("--health-addr", o.health_addr, "Address /healthz binds to (default: every address)");
    app.add_option("--metrics-port", o.metrics_port, "Prometheus metrics port (not built yet)");
    app.add_option("--api-socket", o.api_socket, "Unix socket of the local debug API (kroutectl)")->capture_default_str();
    app.add_option("-v,--v", o.verbosity, "Log verbosity: 0 info, 1-2 debug, 3-4 trace")->capture_default_str();

    try {
        app.parse(argc, const_cast<char**>(argv));
    } catch (const CLI::CallForHelp&) {
        return ParseOutcome{std::nullopt, app.help()};
    } catch (const CLI::CallForVersion&) {
        return ParseOutcome{std::nullopt, std::string("kroute ") + KROUTE_VERSION + "\n"};
    } catch (const CLI::ParseError& e) {
        return unexpected(std::string(e.what()));
    }

    auto not_built = [](const std::string& flag, const std::string& issue) {
        return unexpected("--" + flag + " is not built yet in kroute " + KROUTE_VERSION + " (" + issue +
                          "); remove the flag");
    };
    if (!peer_ips.empty() || !peer_asns.empty() || !peer_ports.empty() || !peer_passwords.empty() ||
        !peer_passwords_file.empty() || multihop_ttl != 0)
        return not_built("peer-router-ips", "external peering");
    if (graceful_restart) return not_built("bgp-graceful-restart", "graceful restart");
    if (enable_bfd) return not_built("enable-bfd", "BFD");
    if (advertise_cluster_ip || advertise_external_ip || advertise_lb_ip)
        return not_built("advertise-cluster-ip", "service advertisement");
    if (enable_overlay) return not_built("enable-overlay", "VXLAN overlay");
    if (overlay_type != "subnet" && overlay_type != "full")
        return unexpected("--overlay-type: '" + overlay_type + "' is neither subnet nor full");
    if (enable_pod_egress) return not_built("enable-pod-egress", "pod egress masquerade");
    if (o.enable_ipv6) return not_built("enable-ipv6", "dual-stack");
    if (o.metrics_port != 0) return not_built("metrics-port", "Prometheus metrics");
    if (!o.enable_ipv4) return unexpected("--enable-ipv4=false leaves no address family to route");

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

    if (!o.kubeconfig.empty() && !o.nodes_file.empty())
        return unexpected("--kubeconfig and --nodes-file exclude each other: choose where Nodes come from");
    if (o.cni_conf_file.empty() && o.enable_cni) return unexpected("--cni-conf-file must not be empty");
    return ParseOutcome{o, {}};
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
    return {
        {"kubeconfig", o.kubeconfig},
        {"master", o.master},
        {"nodes-file", o.nodes_file},
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
        {"enable-cni", b(o.enable_cni)},
        {"cni-conf-file", o.cni_conf_file},
        {"cni-conf-template", o.cni_conf_template},
        {"cni-ipam-data-dir", o.cni_ipam_data_dir},
        {"auto-mtu", b(o.auto_mtu)},
        {"mtu", std::to_string(o.mtu)},
        {"no-fib", b(o.no_fib)},
        {"route-protocol", std::to_string(o.route_protocol)},
        {"routes-sync-period", format_duration(o.routes_sync_period)},
        {"enable-ipv4", b(o.enable_ipv4)},
        {"enable-ipv6", b(o.enable_ipv6)},
        {"service-cluster-ip-range", prefixes(o.service_cluster_ip_range)},
        {"cluster-cidr", prefixes(o.cluster_cidr)},
        {"health-port", std::to_string(o.health_port)},
        {"health-addr", o.health_addr},
        {"metrics-port", std::to_string(o.metrics_port)},
        {"api-socket", o.api_socket},
        {"v", std::to_string(o.verbosity)},
    };
}

}  // namespace kroute::daemon
