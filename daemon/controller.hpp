// daemon::Controller: the one place that knows every module. It turns Node events into the BGP
// peer set, the originated prefixes and the CNI conflist, and best-path changes into kernel routes.
//
// Thread: the io_context thread only. Node events arrive here by asio::post from the node source's
// thread; the Fib's own thread is behind RouteSink.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bgp/speaker.hpp"
#include "common/asio.hpp"
#include "daemon/options.hpp"
#include "daemon/platform/fib.hpp"
#include "daemon/platform/host_rules.hpp"
#include "daemon/node_bgp.hpp"
#include "daemon/platform/vxlan.hpp"
#include "k8s-client/object_source.hpp"

namespace kroute::daemon {

// Where the controller's desired kernel routes go: the netlink Fib, or nowhere (--no-fib).
class RouteSink {
public:
    virtual ~RouteSink() = default;
    virtual void set_route(const FibRoute& route) = 0;
    virtual void remove_route(const Prefix& prefix) = 0;
    virtual void enable_stale_sweep() = 0;
    // Routes of kroute's protocol were in the kernel when kroute started: an earlier run's
    // forwarding state, kept (graceful restart, RFC 4724 §4.1).
    [[nodiscard]] virtual bool found_routes_at_start() const { return false; }
};

// The node's own plumbing (not with --no-fib): its packet filter rules (HostRulesWriter) and its
// pod bridge (bridge_ensure).
class HostPlumbing {
public:
    virtual ~HostPlumbing() = default;
    virtual void set_rules(const HostRulesSpec& spec) = 0;
    // The pod bridge with the pods' MTU; blocking, called when the MTU is first known or changes.
    [[nodiscard]] virtual Expected<void, std::string> ensure_bridge(int mtu) = 0;
};

// The link that holds an address in this network namespace: its name, the subnet the address has
// there, its MTU.
struct LinkOf {
    std::string name;
    Prefix subnet;
    int mtu = 0;
};
[[nodiscard]] std::optional<LinkOf> link_of(const IpAddress& address);

// The overlay's devices and per-node entries: daemon/platform/vxlan, or a test's fake.
class OverlayPlumbing {
public:
    virtual ~OverlayPlumbing() = default;
    // The underlay: the link that holds the node's address (link_of).
    [[nodiscard]] virtual std::optional<LinkOf> underlay(const IpAddress& node_address) = 0;
    // Creates or fixes a device; before any route through it is written. Blocking, rare.
    [[nodiscard]] virtual Expected<void, std::string> ensure(const VxlanConfig& cfg) = 0;
    // The device's remote nodes, exactly (written in the background).
    virtual void set_peers(const std::string& device, std::vector<VxlanPeer> peers) = 0;
};

struct ControllerStatus {
    std::string node;
    std::string router_id;
    std::uint32_t asn = 0;
    bool nodes_synced = false;
    bool speaker_started = false;
    bool stale_sweep_enabled = false;
    std::vector<Prefix> pod_cidrs;
    std::optional<IpAddress> node_address;
    std::string conflist_error;  // last failure writing the conflist, empty when fine
    std::size_t nodes_known = 0;
    // Paths refused: by the BGP import policies and prefix ownership (what peers announce now) plus
    // best paths the FIB refused for their next hop (since start).
    std::size_t routes_rejected = 0;
};

class Controller {
public:
    Controller(asio::io_context& ioc, Options options, std::string node_name, RouteSink& routes);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    void handle(const k8s::NodeEvent& event);
    // Services and their EndpointSlices: the host routes announced to external routers
    // (--advertise-cluster-ip, --advertise-external-ip, --advertise-loadbalancer-ip, annotations).
    void handle(const k8s::ObjectEvent<k8s::Service>& event);
    void handle(const k8s::ObjectEvent<k8s::EndpointSlice>& event);
    // Called with the node's name once its network is up (node list synced, podCIDR and address
    // known, conflist written, speaker running) while its NetworkUnavailable condition is not
    // kroute's False; again if someone sets it back.
    void on_network_ready(std::function<void(const std::string&)> cb) { network_ready_ = std::move(cb); }
    // The node's FORWARD and egress rules follow its podCIDRs, the cluster's and the nodes' addresses.
    void set_host_plumbing(HostPlumbing* plumbing) { plumbing_ = plumbing; }
    // With --enable-overlay: routes to nodes the underlay cannot reach go through VXLAN.
    void set_overlay(OverlayPlumbing* overlay) { overlay_plumbing_ = overlay; }
    // RFC 8326 graceful shutdown before shutdown(): every route goes out again with the
    // GRACEFUL_SHUTDOWN community (also from a speaker started later). False: no speaker yet, so
    // nothing to announce.
    bool begin_graceful_shutdown();
    // Stops BGP (Cease to every peer); on_done once the NOTIFICATIONs are out.
    void shutdown(std::function<void()> on_done);

    [[nodiscard]] ControllerStatus status() const;
    [[nodiscard]] const Options& options() const noexcept { return options_; }
    [[nodiscard]] bgp::Speaker* speaker() noexcept { return speaker_.get(); }
    [[nodiscard]] const bgp::Speaker* speaker() const noexcept { return speaker_.get(); }
    // The peers as configured on the speaker (nodes and external routers), by address.
    [[nodiscard]] const std::map<IpAddress, bgp::PeerConfig>& peer_configs() const noexcept { return peers_; }
    [[nodiscard]] const std::map<std::string, k8s::Node>& nodes() const noexcept { return nodes_; }
    // Routes the controller asks the kernel for, by prefix: derived from the Loc-RIB on each call
    // (the controller keeps no copy of a table that may hold a million routes).
    [[nodiscard]] std::map<Prefix, FibRoute> desired_routes() const;
    [[nodiscard]] std::size_t desired_route_count() const noexcept { return installed_; }

private:
    void reconcile();
    void ensure_speaker(const k8s::Node& self);
    void sync_conflist(const k8s::Node& self);
    void sync_originated(const k8s::Node& self);
    void sync_peers(const k8s::Node& self);
    void sync_ownership();
    void sync_network_condition(const k8s::Node& self);
    void sync_host_rules(const k8s::Node& self);
    void sync_bridge(int mtu);
    [[nodiscard]] std::optional<std::uint32_t> wanted_asn() const;
    void stop_speaker(const std::string& why);
    // One service's host routes brought to what daemon/services says; all of them when the next
    // hops or the speaker change.
    void sync_service(const std::string& key);
    void sync_all_services();
    void sync_overlay(const k8s::Node& self);
    // One family's device and peers; whether the set of nodes behind it changed.
    bool sync_overlay_family(const k8s::Node& self, Family family, const std::optional<IpAddress>& local);
    // The kernel route for a best path: direct, or through the overlay to a node behind it.
    [[nodiscard]] FibRoute route_for(const Prefix& prefix, const bgp::BestRoute& best) const;
    void warn_no_pod_cidr_for_good();
    // The default policies (see docs/user-guide.md, "What kroute accepts and announces").
    [[nodiscard]] std::shared_ptr<const bgp::Policy> import_policy(bool external) const;
    [[nodiscard]] std::shared_ptr<const bgp::Policy> node_export_policy() const;
    [[nodiscard]] std::shared_ptr<const bgp::Policy> external_export_policy(const k8s::Node& self) const;
    // --cluster-cidr, else the union of every node's podCIDRs.
    [[nodiscard]] std::vector<Prefix> cluster_cidrs() const;
    void on_best_path(const Prefix& prefix, const std::optional<bgp::BestRoute>& best,
                      const std::optional<bgp::BestRoute>& old);
    // The kernel route a best path calls for, if any.
    [[nodiscard]] std::optional<FibRoute> installable(const Prefix& prefix, const std::optional<bgp::BestRoute>& best) const;
    [[nodiscard]] std::optional<std::string> import_rejection(const Prefix& prefix, const bgp::BestRoute& best) const;
    void arm_retry();
    void check_stale_sweep();
    // The cluster id of a kube-router.io/rr.* annotation on `node`; a bad value is logged once.
    [[nodiscard]] std::optional<std::uint32_t> rr_cluster_id(const k8s::Node& node, const char* annotation);
    std::set<std::string> warned_annotations_;

    asio::io_context& ioc_;
    Options options_;
    std::string node_name_;
    RouteSink& routes_;
    std::unique_ptr<bgp::Speaker> speaker_;
    bool graceful_shutdown_ = false;  // RFC 8326, once begun: a new speaker starts in it too
    IpAddress router_id_;
    // The node's address that BGP runs from (of session_family()); its IPv6 address, if it has one.
    std::optional<IpAddress> node_address_;
    std::optional<IpAddress> node_address_v6_;

    // The family of the node addresses iBGP sessions run between: IPv4, or IPv6 in an IPv6-only
    // cluster (--enable-ipv4=false).
    [[nodiscard]] Family session_family() const noexcept { return options_.enable_ipv4 ? Family::kIpv4 : Family::kIpv6; }
    [[nodiscard]] bool family_enabled(Family f) const noexcept {
        return f == Family::kIpv4 ? options_.enable_ipv4 : options_.enable_ipv6;
    }
    // The node's address of family `f` where that family is routed; nullopt otherwise.
    [[nodiscard]] std::optional<IpAddress> node_address_of(Family f) const {
        if (!family_enabled(f)) return std::nullopt;
        return f == Family::kIpv4 ? node_address_ : node_address_v6_;
    }

    std::map<std::string, k8s::Node> nodes_;
    bool synced_ = false;
    std::optional<std::chrono::steady_clock::time_point> synced_at_;
    bool sweep_enabled_ = false;

    std::vector<Prefix> written_cidrs_;   // what the conflist on disk was rendered for
    int written_mtu_ = 0;
    std::string conflist_error_;
    std::map<Prefix, IpAddress> originated_;  // with the next hop it was announced with
    std::map<IpAddress, bgp::PeerConfig> peers_;
    std::map<IpAddress, std::vector<Prefix>> owners_;  // node address -> podCIDRs, as the speaker has them
    std::size_t installed_ = 0;  // routes handed to the RouteSink and not removed since
    std::size_t rejected_ = 0;
    std::set<Prefix> rejection_logged_;

    bool warned_missing_self_ = false;
    bool warned_no_cidr_ = false;
    asio::steady_timer no_cidr_timer_;
    std::function<void(const std::string&)> network_ready_;
    HostPlumbing* plumbing_ = nullptr;
    OverlayPlumbing* overlay_plumbing_ = nullptr;
    struct OverlayFamily {
        std::optional<VxlanConfig> device;      // as last ensured
        std::map<IpAddress, IpAddress> vteps;   // node address -> its VTEP, for the nodes behind it
        bool warned = false;
    };
    std::array<OverlayFamily, 2> overlay_;      // [0] IPv4, [1] IPv6
    mutable std::map<IpAddress, std::string> link_names_;  // local address -> its link, for link-local next hops
    bool network_ready_sent_ = false;  // asked, and kroute's False not seen on the node yet
    bool warned_no_address_ = false;
    bool warned_mtu_ = false;
    int bridge_mtu_ = 0;       // as last set on the pod bridge
    NodeBgp self_bgp_;         // this node's BGP annotations, as last read
    std::uint32_t asn_ = 0;    // the running speaker's AS
    std::vector<std::unique_ptr<bgp::Speaker>> retired_speakers_;  // stopping after an AS change
    bool warned_no_asn_ = false;
    std::map<std::string, k8s::Service> services_;                      // "ns/name"
    std::map<std::string, k8s::EndpointSlice> slices_;                  // "ns/name" of the slice
    std::map<std::string, std::set<std::string>> slices_of_service_;    // service key -> slice keys
    std::map<std::string, std::set<Prefix>> service_prefixes_;          // service key -> announced
    std::map<Prefix, int> service_refs_;                                // services announcing a prefix
    std::pair<std::optional<IpAddress>, std::optional<IpAddress>> service_next_hops_;  // as announced with
    bool warned_bridge_ = false;
    bool warned_v6_off_ = false;
    bool warned_no_v6_address_ = false;
    asio::steady_timer retry_timer_;
    bool retry_armed_ = false;
    asio::steady_timer sweep_timer_;
};

// The MTU of the interface that holds `address` in this network namespace, if any.
[[nodiscard]] std::optional<int> link_mtu_of(const IpAddress& address);

}  // namespace kroute::daemon
