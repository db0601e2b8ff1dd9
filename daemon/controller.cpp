#include "daemon/controller.hpp"

#include "daemon/node_bgp.hpp"
#include "daemon/services.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cni-writer/atomic_file.hpp"
#include "cni-writer/conflist.hpp"
#include "common/log.hpp"
#include "k8s-client/node_status.hpp"

namespace kroute::daemon {
namespace {

constexpr auto kRetryDelay = std::chrono::seconds(5);
// How long a node may lack a podCIDR before kroute says plainly that none may ever come.
constexpr auto kNoPodCidrPatience = std::chrono::seconds(120);
constexpr auto kSweepCheck = std::chrono::milliseconds(500);

std::string join(const std::vector<Prefix>& ps) {
    std::string out;
    for (const auto& p : ps) out += (out.empty() ? "" : ",") + p.to_string();
    return out;
}

std::string join(const std::vector<IpAddress>& as) {
    std::string out;
    for (const auto& a : as) out += (out.empty() ? "" : ",") + a.to_string();
    return out;
}

}  // namespace

std::optional<LinkOf> link_of(const IpAddress& address) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return std::nullopt;
    std::optional<LinkOf> out;
    auto prefix_length = [](const void* mask, std::size_t len) {
        const auto* m = static_cast<const unsigned char*>(mask);
        int n = 0;
        for (std::size_t i = 0; i < len; ++i) n += std::popcount(static_cast<unsigned>(m[i]));
        return n;
    };
    for (auto* it = list; it != nullptr && !out; it = it->ifa_next) {
        if (it->ifa_addr == nullptr) continue;
        const void* addr = nullptr;
        const void* mask = nullptr;
        std::size_t len = 0;
        if (it->ifa_addr->sa_family == AF_INET && address.is_v4()) {
            addr = &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr;
            if (it->ifa_netmask) mask = &reinterpret_cast<sockaddr_in*>(it->ifa_netmask)->sin_addr;
            len = 4;
        } else if (it->ifa_addr->sa_family == AF_INET6 && address.is_v6()) {
            addr = &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr;
            if (it->ifa_netmask) mask = &reinterpret_cast<sockaddr_in6*>(it->ifa_netmask)->sin6_addr;
            len = 16;
        }
        if (addr == nullptr || std::memcmp(addr, address.data(), len) != 0) continue;
        const int plen = mask ? prefix_length(mask, len) : static_cast<int>(len * 8);
        out = LinkOf{it->ifa_name, Prefix(address, plen), 0};  // canonical: host bits cleared
    }
    freeifaddrs(list);
    if (!out) return std::nullopt;
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    ifreq req{};
    std::strncpy(req.ifr_name, out->name.c_str(), IFNAMSIZ - 1);
    int rc = ::ioctl(fd, SIOCGIFMTU, &req);
    ::close(fd);
    if (rc != 0) return std::nullopt;
    out->mtu = req.ifr_mtu;
    return out;
}

std::optional<int> link_mtu_of(const IpAddress& address) {
    auto link = link_of(address);
    if (!link) return std::nullopt;
    return link->mtu;
}

Controller::Controller(asio::io_context& ioc, Options options, std::string node_name, RouteSink& routes)
    : ioc_{ioc},
      options_{std::move(options)},
      node_name_{std::move(node_name)},
      routes_{routes},
      no_cidr_timer_{ioc},
      retry_timer_{ioc},
      sweep_timer_{ioc} {}

Controller::~Controller() = default;

void Controller::handle(const k8s::NodeEvent& event) {
    auto log = log::get("k8s");
    switch (event.type) {
        case k8s::NodeEvent::Type::kAdded:
        case k8s::NodeEvent::Type::kModified: {
            auto [it, inserted] = nodes_.insert_or_assign(event.object.name, event.object);
            if (inserted)
                log->info("node {} added: address {}, podCIDRs [{}]", event.object.name,
                          event.object.address(Family::kIpv4) ? event.object.address(Family::kIpv4)->to_string() : "none",
                          join(event.object.pod_cidrs));
            else
                log->debug("node {} modified (resourceVersion {})", event.object.name, event.object.resource_version);
            (void)it;
            break;
        }
        case k8s::NodeEvent::Type::kDeleted:
            if (nodes_.erase(event.object.name) > 0) log->info("node {} deleted", event.object.name);
            break;
        case k8s::NodeEvent::Type::kSynced:
            if (!synced_) {
                log->info("node list synced: {} nodes", nodes_.size());
                synced_ = true;
                synced_at_ = std::chrono::steady_clock::now();
            }
            break;
    }
    reconcile();
}

void Controller::reconcile() {
    link_names_.clear();  // addresses and links may have moved
    auto log = log::get("main");
    auto self_it = nodes_.find(node_name_);
    if (self_it == nodes_.end()) {
        if (synced_ && !warned_missing_self_) {
            log->warn("node {} is not in the node list; waiting for it (set --hostname-override or NODE_NAME "
                      "if the name is wrong)", node_name_);
            warned_missing_self_ = true;
        }
        return;
    }
    warned_missing_self_ = false;
    const k8s::Node& self = self_it->second;

    auto address = self.address(session_family());
    if (!address) {
        if (!warned_no_address_)
            log->warn("node {} has no {} InternalIP or ExternalIP yet; waiting", node_name_,
                      session_family() == Family::kIpv4 ? "IPv4" : "IPv6");
        warned_no_address_ = true;
    } else {
        warned_no_address_ = false;
        if (node_address_ && *node_address_ != *address)
            log->warn("node {} address changed from {} to {}; BGP keeps router id {} until restart", node_name_,
                      node_address_->to_string(), address->to_string(), router_id_.to_string());
        node_address_ = address;
    }

    node_address_v6_ = self.address(Family::kIpv6);

    if (self.pod_cidrs.empty()) {
        if (!warned_no_cidr_) {
            log->warn("node {} has no podCIDR yet (kube-controller-manager --allocate-node-cidrs, or the "
                      "kube-router.io/pod-cidrs annotation); waiting", node_name_);
            no_cidr_timer_.expires_after(kNoPodCidrPatience);
            no_cidr_timer_.async_wait([this](boost::system::error_code ec) {
                if (!ec) warn_no_pod_cidr_for_good();
            });
        }
        warned_no_cidr_ = true;
    } else {
        if (warned_no_cidr_) log->info("node {} got podCIDRs [{}]", node_name_, join(self.pod_cidrs));
        warned_no_cidr_ = false;
        no_cidr_timer_.cancel();
    }

    sync_conflist(self);
    self_bgp_ = node_bgp(self);
    for (const auto& e : self_bgp_.errors)
        if (warned_annotations_.insert(e).second) log::get("bgp")->error("{}", e);
    ensure_speaker(self);
    if (speaker_) {
        sync_ownership();  // before peers are added: their first UPDATEs meet it
        sync_originated(self);
        sync_peers(self);
    }
    check_stale_sweep();
    if (speaker_ && service_next_hops_ != std::pair{node_address_of(Family::kIpv4), node_address_of(Family::kIpv6)})
        sync_all_services();
    sync_overlay(self);
    sync_host_rules(self);
    sync_network_condition(self);
}

void Controller::sync_overlay(const k8s::Node& self) {
    if (!options_.enable_overlay || overlay_plumbing_ == nullptr) return;
    bool moved = options_.enable_ipv4 && sync_overlay_family(self, Family::kIpv4, node_address_);
    if (options_.enable_ipv6) moved = sync_overlay_family(self, Family::kIpv6, node_address_v6_) || moved;
    // Routes to the nodes that moved behind the overlay (or out of it) change device and gateway.
    if (!moved || !speaker_) return;
    speaker_->for_each_best_route([this](const bgp::BestRoute& r) {
        if (auto route = installable(r.prefix, r)) routes_.set_route(*route);
    });
}

bool Controller::sync_overlay_family(const k8s::Node& self, Family family, const std::optional<IpAddress>& local) {
    OverlayFamily& state = overlay_[family == Family::kIpv4 ? 0 : 1];
    const auto own = self.pod_cidr(family);
    if (!local || !own) return false;  // our VTEP address is our podCIDR's network address
    auto log = log::get("fib");
    auto link = overlay_plumbing_->underlay(*local);
    if (!link || link->mtu <= vxlan_overhead(family)) {
        if (!std::exchange(state.warned, true))
            log->error("overlay: no usable link holds {} here; no {}", local->to_string(), vxlan_device(family));
        return false;
    }
    VxlanConfig cfg;
    cfg.name = vxlan_device(family);
    cfg.vni = vxlan_vni(family);
    cfg.local = *local;
    cfg.underlay_dev = link->name;
    cfg.mtu = link->mtu - vxlan_overhead(family);
    cfg.vtep = own->address();
    if (cfg != state.device) {
        if (auto r = overlay_plumbing_->ensure(cfg); !r) {
            if (!std::exchange(state.warned, true))
                log->error("overlay: cannot set up {}: {}; retrying on the next change", cfg.name, r.error());
            return false;
        }
        if (std::exchange(state.warned, false)) log->info("overlay: {} is up", cfg.name);
        state.device = cfg;
    }
    std::map<IpAddress, IpAddress> vteps;
    std::vector<VxlanPeer> peers;
    for (const auto& [name, node] : nodes_) {
        if (name == node_name_) continue;
        const auto addr = node.address(family);
        const auto cidr = node.pod_cidr(family);
        if (!addr || !cidr) continue;
        if (options_.overlay_type != "full" && link->subnet.contains(*addr)) continue;  // on our link: direct
        vteps.emplace(*addr, cidr->address());
        peers.push_back({*addr, cidr->address()});
    }
    overlay_plumbing_->set_peers(cfg.name, std::move(peers));
    if (vteps == state.vteps) return false;
    state.vteps = std::move(vteps);
    return true;
}

void Controller::sync_host_rules(const k8s::Node& self) {
    if (plumbing_ == nullptr || self.pod_cidrs.empty()) return;
    HostRulesSpec spec;
    for (const auto& p : self.pod_cidrs)
        if (family_enabled(p.family())) spec.pod_cidrs.push_back(p);
    spec.cluster_cidrs = cluster_cidrs();
    for (const auto& [name, node] : nodes_) {
        spec.node_addresses.insert(spec.node_addresses.end(), node.internal_ips.begin(), node.internal_ips.end());
        spec.node_addresses.insert(spec.node_addresses.end(), node.external_ips.begin(), node.external_ips.end());
    }
    std::sort(spec.node_addresses.begin(), spec.node_addresses.end());
    spec.node_addresses.erase(std::unique(spec.node_addresses.begin(), spec.node_addresses.end()), spec.node_addresses.end());
    spec.pod_egress = options_.enable_pod_egress;
    plumbing_->set_rules(spec);  // the writer drops a spec equal to the last
}

void Controller::warn_no_pod_cidr_for_good() {
    auto it = nodes_.find(node_name_);
    if (it == nodes_.end() || !it->second.pod_cidrs.empty()) return;
    log::get("main")->error(
        "node {} still has no podCIDR after {}s: this cluster does not seem to allocate node CIDRs "
        "(kube-controller-manager without --allocate-node-cidrs, or a cloud IPAM). Set the "
        "kube-router.io/pod-cidrs annotation on the node (kubectl annotate node {} kube-router.io/pod-cidrs=CIDR). "
        "Until then kroute keeps peering and installing other nodes' routes, but writes no CNI config and "
        "announces no pods of this node",
        node_name_, kNoPodCidrPatience.count(), node_name_);
}

void Controller::sync_network_condition(const k8s::Node& self) {
    if (!network_ready_) return;
    const auto& cond = self.network_unavailable;
    if (cond && cond->status == "False" && cond->reason == k8s::kNetworkReadyReason) {
        network_ready_sent_ = false;  // done; a later change by someone else is acted on again
        return;
    }
    const bool cni_ready = !options_.enable_cni || (!written_cidrs_.empty() && conflist_error_.empty());
    const bool ready = synced_ && speaker_ && node_address_ && !self.pod_cidrs.empty() && cni_ready;
    if (!ready || network_ready_sent_) return;
    network_ready_sent_ = true;
    network_ready_(node_name_);
}

// The speaker goes (its sessions closed with Cease) and everything it held with it: its routes
// leave the kernel, and the next reconcile starts a new one.
void Controller::stop_speaker(const std::string& why) {
    log::get("bgp")->warn("restarting BGP: {}", why);
    speaker_->for_each_best_route([this](const bgp::BestRoute& r) {
        if (!r.local) routes_.remove_route(r.prefix);
    });
    // Stopped in the background (its NOTIFICATIONs go out), kept alive until it is done.
    bgp::Speaker* old = speaker_.get();
    retired_speakers_.push_back(std::move(speaker_));
    old->stop([this, old] {
        asio::post(ioc_, [this, old] {
            std::erase_if(retired_speakers_, [old](const auto& s) { return s.get() == old; });
        });
    });
    peers_.clear();
    originated_.clear();
    owners_.clear();
    service_refs_.clear();
    service_prefixes_.clear();
    service_next_hops_ = {};
}

std::optional<std::uint32_t> Controller::wanted_asn() const {
    if (options_.nodes_full_mesh) return options_.cluster_asn;
    return self_bgp_.asn;  // --nodes-full-mesh=false: kube-router.io/node.asn, required
}

void Controller::ensure_speaker(const k8s::Node& self) {
    const auto asn = wanted_asn();
    if (!asn) {
        if (!std::exchange(warned_no_asn_, true))
            log::get("bgp")->error("--nodes-full-mesh=false needs this node's AS in the {} annotation "
                                   "(kubectl annotate node {} {}=64513); no BGP until it has one",
                                   kNodeAsnAnnotation, node_name_, kNodeAsnAnnotation);
        return;
    }
    warned_no_asn_ = false;
    if (speaker_ && *asn != asn_) stop_speaker("its AS changed from " + std::to_string(asn_) + " to " + std::to_string(*asn));
    if (speaker_) {
        speaker_->set_cluster_id(rr_cluster_id(self, "kube-router.io/rr.server"));  // follows the annotation
        return;
    }
    asn_ = *asn;
    if (options_.router_id == "generate") {
        if (!node_address_) return;  // waiting for the node's address, logged in reconcile()
        router_id_ = generated_router_id(*node_address_);
    } else if (!options_.router_id.empty()) {
        router_id_ = *IpAddress::parse(options_.router_id);
    } else if (node_address_) {
        // A BGP identifier is 32 bits: an IPv6-only node's is generated from its address.
        router_id_ = node_address_->is_v4() ? *node_address_ : generated_router_id(*node_address_);
    } else {
        return;  // waiting for the node's address, logged in reconcile()
    }
    bgp::SpeakerConfig cfg;
    cfg.asn = asn_;
    cfg.router_id = router_id_;
    cfg.listen_port = options_.bgp_port;
    if (node_address_) cfg.listen_addresses = {*node_address_};
    // An IPv6 InternalIP too: external routers may peer over IPv6 (the session carries IPv4 routes
    // with IPv4 next hops, or IPv6 ones with RFC 8950).
    if (auto v6 = self.address(Family::kIpv6); v6 && v6 != node_address_) cfg.listen_addresses.push_back(*v6);
    cfg.timers.hold_time = std::chrono::duration_cast<std::chrono::seconds>(options_.bgp_holdtime);
    cfg.timers.keepalive = std::chrono::duration_cast<std::chrono::seconds>(options_.bgp_keepalive_time);
    cfg.timers.connect_retry = std::chrono::duration_cast<std::chrono::seconds>(options_.bgp_connect_retry_time);
    auto& gr = cfg.graceful_restart;
    gr.enabled = options_.bgp_graceful_restart;
    gr.restart_time = std::chrono::duration_cast<std::chrono::seconds>(options_.bgp_graceful_restart_time);
    gr.deferral_time = std::chrono::duration_cast<std::chrono::seconds>(options_.bgp_graceful_restart_deferral_time);
    gr.forwarding_preserved = !options_.no_fib;  // the kernel keeps our routes across our restarts
    gr.restarting = gr.enabled && routes_.found_routes_at_start();
    cfg.cluster_id = rr_cluster_id(self, "kube-router.io/rr.server");
    auto speaker = std::make_unique<bgp::Speaker>(ioc_, cfg);
    if (auto started = speaker->start(); !started) {
        log::get("bgp")->error("cannot start the BGP speaker: {}; retrying in {}s", started.error(), kRetryDelay.count());
        arm_retry();
        return;
    }
    speaker->on_best_path_change(
        [this](const Prefix& prefix, const std::optional<bgp::BestRoute>& best,
               const std::optional<bgp::BestRoute>& old) { on_best_path(prefix, best, old); });
    speaker_ = std::move(speaker);
    if (graceful_shutdown_) speaker_->begin_graceful_shutdown();
    log::get("bgp")->info("BGP speaker started: AS {}, router id {}, port {}", cfg.asn, router_id_.to_string(),
                          speaker_->local_port());
}

void Controller::sync_conflist(const k8s::Node& self) {
    if (!options_.enable_cni || self.pod_cidrs.empty()) return;
    int mtu = options_.mtu;
    if (mtu == 0) {
        mtu = 1500;
        if (options_.auto_mtu && node_address_) {
            auto m = link_mtu_of(*node_address_);
            // A node address on loopback (MTU 65536, kube-router's #1383) is no guide for pods.
            if (m && *m >= 576 && *m <= 65535) mtu = *m;
            else if (m && !warned_mtu_) {
                log::get("cni")->warn("the link of {} has MTU {}, unusable for pods: using 1500 (set --mtu)",
                                      node_address_->to_string(), *m);
                warned_mtu_ = true;
            }
        }
        // A pod's packet to a node behind the overlay must fit the VXLAN device: one veth MTU for
        // both families, so the larger IPv6 encapsulation decides on dual-stack.
        if (options_.enable_overlay) mtu -= vxlan_overhead(options_.enable_ipv6 ? Family::kIpv6 : Family::kIpv4);
    }
    sync_bridge(mtu);
    if (self.pod_cidrs == written_cidrs_ && mtu == written_mtu_ && conflist_error_.empty()) return;

    auto log = log::get("cni");
    std::string template_text;
    if (!options_.cni_conf_template.empty()) {
        std::ifstream in(options_.cni_conf_template);
        if (!in) {
            conflist_error_ = "cannot read template " + options_.cni_conf_template + ": " + std::strerror(errno);
            log->error("{}; retrying in {}s", conflist_error_, kRetryDelay.count());
            arm_retry();
            return;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        template_text = ss.str();
    }
    cni::ConflistOptions copts;
    copts.mtu = mtu;
    copts.ipam_data_dir = options_.cni_ipam_data_dir;
    auto text = cni::render_conflist(template_text, self.pod_cidrs, copts);
    if (!text) {
        conflist_error_ = "cannot render the CNI conflist: " + text.error();
        log->error("{}; retrying in {}s", conflist_error_, kRetryDelay.count());
        arm_retry();
        return;
    }
    auto written = cni::write_file_atomically(options_.cni_conf_file, *text);
    if (!written) {
        conflist_error_ = written.error();
        log->error("cannot write the CNI conflist: {}; the previous file is untouched; retrying in {}s",
                   conflist_error_, kRetryDelay.count());
        arm_retry();
        return;
    }
    conflist_error_.clear();
    written_cidrs_ = self.pod_cidrs;
    written_mtu_ = mtu;
    if (*written == cni::WriteOutcome::kWritten)
        log->info("wrote {} for podCIDRs [{}], mtu {}", options_.cni_conf_file, join(self.pod_cidrs), mtu);
    else
        log->info("{} already up to date for podCIDRs [{}]", options_.cni_conf_file, join(self.pod_cidrs));
}

void Controller::sync_bridge(int mtu) {
    if (plumbing_ == nullptr || mtu == bridge_mtu_) return;
    if (auto r = plumbing_->ensure_bridge(mtu); !r) {
        if (!std::exchange(warned_bridge_, true))
            log::get("cni")->error("cannot set up the pod bridge: {}; retrying on the next change", r.error());
        return;
    }
    warned_bridge_ = false;
    bridge_mtu_ = mtu;
}

// Always originated: the other nodes need them (kube-router's --advertise-pod-cidr only governs
// external peers, which the export policy enforces).
void Controller::sync_originated(const k8s::Node& self) {
    // Each podCIDR goes out with this node's address of its family as next hop: an IPv6 podCIDR
    // (with --enable-ipv6) needs the node's IPv6 InternalIP; it travels over the same session.
    std::map<Prefix, IpAddress> want;
    const auto v4 = node_address_of(Family::kIpv4);
    const auto v6 = node_address_of(Family::kIpv6);
    if (node_address_) {
        for (const auto& p : self.pod_cidrs) {
            const auto& hop = p.family() == Family::kIpv4 ? v4 : v6;
            if (hop) want.emplace(p, *hop);
        }
    }
    if (options_.enable_ipv6 && !v6 && !warned_no_v6_address_ &&
        std::any_of(self.pod_cidrs.begin(), self.pod_cidrs.end(), [](const Prefix& p) { return p.family() == Family::kIpv6; })) {
        log::get("bgp")->warn("node {} has an IPv6 podCIDR but no IPv6 InternalIP or ExternalIP: its IPv6 pods are "
                              "not announced until it has one", node_name_);
        warned_no_v6_address_ = true;
    }
    if (v6) warned_no_v6_address_ = false;
    for (auto it = originated_.begin(); it != originated_.end();) {
        auto w = want.find(it->first);
        if (w == want.end() || w->second != it->second) {  // gone, or its next hop changed
            speaker_->withdraw(it->first);
            log::get("bgp")->info("withdrew {}", it->first.to_string());
            it = originated_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [p, next_hop] : want) {
        if (originated_.emplace(p, next_hop).second) {
            speaker_->originate(p, next_hop);
            log::get("bgp")->info("originated {} with next hop {}", p.to_string(), next_hop.to_string());
        }
    }
}

namespace {

// `p` and every route inside it.
bgp::PrefixRange and_inside(const Prefix& p) { return {p, std::nullopt, p.address().max_prefix_length()}; }

bgp::PolicyTerm reject_term(std::string name, const std::vector<Prefix>& prefixes) {
    bgp::PolicyTerm t;
    t.name = std::move(name);
    bgp::PrefixList list;
    for (const auto& p : prefixes) list.push_back(and_inside(p));
    t.match.prefixes = std::move(list);
    t.action.accept = false;
    return t;
}

}  // namespace

// kroute's mark on the service routes it originates (large community CLUSTER_ASN:0:1, RFC 8092):
// the node-export policy keeps them from the other nodes (each node has the service addresses
// through kube-proxy), the external-export policy lets them out to the routers and strips it.
static bgp::LargeCommunity service_marker(std::uint32_t asn) { return {asn, 0, 1}; }

std::vector<Prefix> Controller::cluster_cidrs() const {
    if (!options_.cluster_cidr.empty()) return options_.cluster_cidr;
    std::set<Prefix> all;
    for (const auto& [name, node] : nodes_) all.insert(node.pod_cidrs.begin(), node.pod_cidrs.end());
    return {all.begin(), all.end()};
}

// Prefix checks live here, in the BGP import policies, so that a refused path never enters the
// RIB; import_rejection() keeps only what depends on the kernel (next hops). From every peer: never
// the default route (kube-router's defaultroutedefinedset: a default from a router would take
// every pod's egress), nothing inside the service range (kube-proxy's; kube-router PR #721) or a
// --peer-router-import-reject range. From external peers, also nothing inside the cluster's pod
// CIDRs (nodes learn those from each other, guarded by prefix ownership). Routes that only cover
// these ranges (10.0.0.0/8) are accepted: longest-prefix match leaves the cluster's own routes in
// charge, and such aggregates are how many sites reach their other networks.
std::shared_ptr<const bgp::Policy> Controller::import_policy(bool external) const {
    auto p = std::make_shared<bgp::Policy>();
    p->name = external ? "external-import" : "node-import";
    bgp::PolicyTerm no_default;
    no_default.name = "default-route";
    no_default.match.prefixes = bgp::PrefixList{{Prefix(IpAddress::v4(0u), 0), std::nullopt, std::nullopt},
                                                {*Prefix::parse("::/0"), std::nullopt, std::nullopt}};
    no_default.action.accept = false;
    p->terms.push_back(std::move(no_default));
    p->terms.push_back(reject_term("service-cluster-ip-range", options_.service_cluster_ip_range));
    if (external) p->terms.push_back(reject_term("cluster-pod-cidrs", cluster_cidrs()));
    if (!options_.peer_router_import_reject.empty())
        p->terms.push_back(reject_term("peer-router-import-reject", options_.peer_router_import_reject));
    if (!self_bgp_.import_reject.empty())
        p->terms.push_back(reject_term("node.bgp.customimportreject", self_bgp_.import_reject));
    return p;
}

// To external peers only what this node owns: its podCIDRs (with --advertise-pod-cidr), exactly;
// never another node's routes nor what other routers sent (kube-router's export policy, PR #72).
std::shared_ptr<const bgp::Policy> Controller::external_export_policy(const k8s::Node& self) const {
    auto p = std::make_shared<bgp::Policy>();
    p->name = "external-export";
    p->default_action.accept = false;
    if (options_.advertise_pod_cidr && !self.pod_cidrs.empty()) {
        bgp::PolicyTerm own;
        own.name = "own-pod-cidrs";
        bgp::PrefixList list;
        for (const auto& c : self.pod_cidrs) list.push_back({c, std::nullopt, std::nullopt});
        own.match.prefixes = std::move(list);
        p->terms.push_back(std::move(own));
    }
    bgp::PolicyTerm services;
    services.name = "service-ips";
    services.match.any_large_community = {service_marker(asn_)};
    services.action.remove_large_communities = {service_marker(asn_)};
    p->terms.push_back(std::move(services));
    // The node's annotations: communities added and the AS path prepended on all it announces.
    for (auto& t : p->terms) {
        t.action.add_communities = self_bgp_.communities;
        t.action.prepend_asn = self_bgp_.prepend_asn;
        t.action.prepend_count = self_bgp_.prepend_count;
    }
    return p;
}

// To the other nodes: everything but the service routes (see service_marker()).
std::shared_ptr<const bgp::Policy> Controller::node_export_policy() const {
    auto p = std::make_shared<bgp::Policy>();
    p->name = "node-export";
    bgp::PolicyTerm services;
    services.name = "service-ips";
    services.match.any_large_community = {service_marker(asn_)};
    services.action.accept = false;
    p->terms.push_back(std::move(services));
    return p;
}

void Controller::handle(const k8s::ObjectEvent<k8s::Service>& event) {
    if (event.type == k8s::EventType::kSynced) return;  // deletions come as events of their own
    const std::string key = k8s::object_key(event.object);
    if (event.type == k8s::EventType::kDeleted)
        services_.erase(key);
    else
        services_[key] = event.object;
    sync_service(key);
}

void Controller::handle(const k8s::ObjectEvent<k8s::EndpointSlice>& event) {
    if (event.type == k8s::EventType::kSynced) return;
    const std::string key = k8s::object_key(event.object);
    std::set<std::string> touched;
    if (auto it = slices_.find(key); it != slices_.end()) {  // the slice's previous service
        const std::string was = it->second.ns + "/" + it->second.service_name;
        slices_of_service_[was].erase(key);
        if (slices_of_service_[was].empty()) slices_of_service_.erase(was);
        touched.insert(was);
        slices_.erase(it);
    }
    if (event.type != k8s::EventType::kDeleted) {
        const std::string svc = event.object.ns + "/" + event.object.service_name;
        slices_.emplace(key, event.object);
        if (!event.object.service_name.empty()) slices_of_service_[svc].insert(key);
        touched.insert(svc);
    }
    for (const auto& svc : touched) sync_service(svc);
}

void Controller::sync_all_services() {
    service_next_hops_ = {node_address_of(Family::kIpv4), node_address_of(Family::kIpv6)};
    // Next hops changed: everything goes out again with the new ones.
    for (const auto& [prefix, refs] : service_refs_) speaker_->withdraw(prefix);
    service_refs_.clear();
    service_prefixes_.clear();
    for (const auto& [key, svc] : services_) sync_service(key);
}

void Controller::sync_service(const std::string& key) {
    if (!speaker_) return;  // sync_all_services() once it runs
    std::set<Prefix> want;
    if (auto it = services_.find(key); it != services_.end()) {
        std::vector<const k8s::EndpointSlice*> slices;
        if (auto s = slices_of_service_.find(key); s != slices_of_service_.end())
            for (const auto& k : s->second) slices.push_back(&slices_.at(k));
        ServiceAdvertising how{options_.advertise_cluster_ip, options_.advertise_external_ip,
                               options_.advertise_load_balancer_ip, options_.enable_ipv6};
        auto r = service_routes(it->second, slices, node_name_, how);
        for (const auto& w : r.warnings)
            if (warned_annotations_.insert(w).second) log::get("bgp")->warn("{}", w);
        for (const auto& p : r.prefixes) {
            const auto& nh = p.family() == Family::kIpv4 ? service_next_hops_.first : service_next_hops_.second;
            if (nh) want.insert(p);
        }
    }
    auto& had = service_prefixes_[key];
    if (had == want) {
        if (want.empty()) service_prefixes_.erase(key);
        return;
    }
    auto log = log::get("bgp");
    for (const auto& p : had) {
        if (want.count(p) != 0) continue;
        if (--service_refs_[p] == 0) {
            service_refs_.erase(p);
            speaker_->withdraw(p);
            log->info("withdrew {} (service {})", p.to_string(), key);
        }
    }
    bgp::PathAttributes marked;
    marked.large_communities = {service_marker(asn_)};
    for (const auto& p : want) {
        if (had.count(p) != 0) continue;
        if (service_refs_[p]++ == 0) {
            const auto& nh = p.family() == Family::kIpv4 ? *service_next_hops_.first : *service_next_hops_.second;
            speaker_->originate(p, nh, marked);
            log->info("advertising {} for service {} to external peers", p.to_string(), key);
        }
    }
    if (want.empty())
        service_prefixes_.erase(key);
    else
        had = std::move(want);
}

// Each node owns its podCIDRs: only it may announce them, or anything inside them, over iBGP.
void Controller::sync_ownership() {
    std::map<IpAddress, std::vector<Prefix>> want;
    for (const auto& [name, node] : nodes_) {
        auto addr = node.address(session_family());  // the address its iBGP session comes from
        if (!addr || node.pod_cidrs.empty()) continue;
        auto& v = want[*addr];
        v.insert(v.end(), node.pod_cidrs.begin(), node.pod_cidrs.end());
    }
    // Releases first, then claims: a podCIDR moving from one node to another is never claimed twice.
    for (const auto& [addr, had] : owners_) {
        auto it = want.find(addr);
        std::vector<Prefix> kept;
        if (it != want.end()) {
            for (const auto& p : had)
                if (std::find(it->second.begin(), it->second.end(), p) != it->second.end()) kept.push_back(p);
        }
        if (kept.size() != had.size()) speaker_->set_owned_prefixes(addr, kept);
    }
    for (const auto& [addr, cidrs] : want) {
        auto it = owners_.find(addr);
        if (it == owners_.end() || it->second != cidrs) speaker_->set_owned_prefixes(addr, cidrs);
    }
    owners_ = std::move(want);
}

std::optional<std::uint32_t> Controller::rr_cluster_id(const k8s::Node& node, const char* annotation) {
    auto it = node.annotations.find(annotation);
    if (it == node.annotations.end()) return std::nullopt;
    auto id = parse_cluster_id(it->second);
    if (!id && warned_annotations_.insert(node.name + "/" + annotation + "=" + it->second).second) {
        log::get("bgp")->warn("node {}: annotation {}=\"{}\" is neither a 32-bit number nor an IPv4 address; ignored",
                              node.name, annotation, it->second);
    }
    return id;
}

// Route reflection as kube-router's annotations say: a kube-router.io/rr.server node peers with
// every node and reflects for the rr.client ones; an rr.client node peers with the rr.server nodes
// only. A node with neither peers with every node but the clients (kube-router would configure
// those sessions too, which then never come up: the clients refuse them).
void Controller::sync_peers(const k8s::Node& self) {
    static constexpr const char* kServer = "kube-router.io/rr.server";
    static constexpr const char* kClient = "kube-router.io/rr.client";
    std::map<IpAddress, bgp::PeerConfig> want;
    if (options_.enable_ibgp) {
        const bgp::PolicyRef node_import = import_policy(false);
        const bgp::PolicyRef node_export = node_export_policy();
        auto self_addr = self.address(session_family());
        const bool self_server = rr_cluster_id(self, kServer).has_value();
        const bool self_client = !self_server && rr_cluster_id(self, kClient).has_value();
        for (const auto& [name, node] : nodes_) {
            if (name == node_name_) continue;
            auto addr = node.address(session_family());
            if (!addr || (self_addr && *addr == *self_addr)) continue;
            // --nodes-full-mesh=false: a mesh of the nodes of our AS only (kube-router's node.asn).
            if (!options_.nodes_full_mesh && node_bgp(node).asn != asn_) continue;
            const bool server = rr_cluster_id(node, kServer).has_value();
            const bool client = !server && rr_cluster_id(node, kClient).has_value();
            if (self_client && !server) continue;
            if (!self_server && !self_client && client) continue;
            bgp::PeerConfig peer;
            peer.route_reflector_client = self_server && client;
            peer.address = *addr;
            peer.remote_asn = asn_;
            peer.port = options_.bgp_port;
            peer.local_address = node_address_;
            peer.description = name;
            peer.import_policy = node_import;
            peer.export_policy = node_export;
            want.emplace(*addr, std::move(peer));
        }
    }
    // The flags' routers, and this node's own from its annotations (the annotation's entry wins for
    // an address in both; kube-router uses the annotations only without --peer-router-ips).
    std::vector<ExternalPeer> routers = self_bgp_.peers;
    for (const auto& ext : options_.peer_routers)
        if (std::none_of(routers.begin(), routers.end(), [&](const ExternalPeer& r) { return r.address == ext.address; }))
            routers.push_back(ext);
    if (!routers.empty()) {
        const bgp::PolicyRef ext_import = import_policy(true);
        const bgp::PolicyRef ext_export = external_export_policy(self);
        for (const auto& ext : routers) {
            bgp::PeerConfig peer;
            peer.address = ext.address;
            peer.remote_asn = ext.asn;  // eBGP when it differs from --cluster-asn
            peer.port = ext.port;       // the hold time is --bgp-holdtime, the speaker's default
            // Over IPv6 from the node's IPv6 address (none: the kernel picks one).
            peer.local_address = ext.local_address ? ext.local_address
                                 : ext.address.is_v6() ? self.address(Family::kIpv6) : node_address_of(Family::kIpv4);
            peer.description = "external";
            peer.md5_password = ext.password;
            // kube-router: multihop only from 2 up; below, eBGP is sent with TTL 1 (directly connected).
            if (options_.peer_router_multihop_ttl >= 2)
                peer.multihop_ttl = static_cast<std::uint8_t>(options_.peer_router_multihop_ttl);
            peer.import_policy = ext_import;
            peer.export_policy = ext_export;
            peer.max_prefixes = ext.max_prefixes;
            peer.soft_reconfiguration_inbound = options_.peer_router_soft_reconfiguration_inbound;
            if (ext.bfd.value_or(options_.enable_bfd)) {
                bgp::bfd::PeerBfdConfig b;
                b.required_min_rx = std::chrono::duration_cast<std::chrono::microseconds>(options_.bfd_min_rx);
                b.desired_min_tx = std::chrono::duration_cast<std::chrono::microseconds>(options_.bfd_min_tx);
                b.detect_mult = static_cast<std::uint8_t>(options_.bfd_multiplier);
                if (ext.bfd_config) b = *ext.bfd_config;  // the annotation's intervals
                b.multihop = options_.peer_router_multihop_ttl >= 2;  // RFC 5883
                peer.bfd = b;
            }
            peer.max_prefix_restart = std::chrono::duration_cast<std::chrono::seconds>(options_.peer_router_max_prefix_restart);
            if (auto it = want.find(ext.address); it != want.end())
                log::get("bgp")->warn("{} is both node {} and a --peer-router-ips entry: peering as an external router",
                                      ext.address.to_string(), it->second.description);
            want[ext.address] = std::move(peer);
        }
    }
    for (auto it = peers_.begin(); it != peers_.end();) {
        if (want.count(it->first) == 0) {
            log::get("bgp")->info("peer {} ({}) removed: its node is gone", it->first.to_string(), it->second.description);
            speaker_->remove_peer(it->first);
            it = peers_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& [addr, peer] : want) {
        auto it = peers_.find(addr);
        if (it != peers_.end() && it->second == peer) continue;
        log::get("bgp")->info("peer {} AS{} ({}) {}", addr.to_string(), peer.remote_asn, peer.description,
                              it == peers_.end() ? "added" : "reconfigured");
        speaker_->set_peer(peer);
        peers_[addr] = peer;
    }
}

// What the BGP import policies cannot know: the kernel would loop a route via this node itself,
// and cannot install one without a next hop. Prefix checks are import_policy()'s.
std::optional<std::string> Controller::import_rejection(const Prefix& prefix, const bgp::BestRoute& best) const {
    // IPv6 routes stay in the RIB (kroutectl rib shows them) until dual-stack routing is built.
    if (prefix.family() == Family::kIpv6 && !options_.enable_ipv6) return "IPv6 routing is off (--enable-ipv6)";
    if (prefix.family() == Family::kIpv4 && !options_.enable_ipv4) return "IPv4 routing is off (--enable-ipv4=false)";
    if (best.next_hops.empty()) return "it has no next hop";
    for (const auto& nh : best.next_hops) {
        if (nh == node_address_ || nh == node_address_v6_) return "its next hop is this node";
        // An IPv4 route via IPv6 (RFC 8950) is installed with RTA_VIA; the kernel has no IPv6 route via IPv4.
        if (prefix.family() == Family::kIpv6 && nh.is_v4())
            return "its next hop " + nh.to_string() + " is IPv4 (an IPv6 route needs an IPv6 next hop)";
    }
    return std::nullopt;
}

std::optional<FibRoute> Controller::installable(const Prefix& prefix, const std::optional<bgp::BestRoute>& best) const {
    if (!best || best->local || import_rejection(prefix, *best)) return std::nullopt;
    return route_for(prefix, *best);
}

FibRoute Controller::route_for(const Prefix& prefix, const bgp::BestRoute& best) const {
    // A node behind the overlay: its gateway is not on the underlay's link, the VTEP is on ours.
    if (best.next_hops.size() == 1 && best.next_hops.front().family() == prefix.family()) {
        const auto& vteps = overlay_[prefix.family() == Family::kIpv4 ? 0 : 1].vteps;
        if (auto it = vteps.find(best.next_hops.front()); it != vteps.end())
            return FibRoute{prefix, {it->second}, vxlan_device(prefix.family()), true};
    }
    // A link-local next hop (RFC 2545, from a directly connected router) means nothing without
    // its interface: the link that holds the address the session runs from.
    for (const auto& hop : best.next_hops)
        if (hop.is_v6() && hop.is_link_local()) {
            const auto& local = best.from_peer.is_v6() ? node_address_v6_ : node_address_;
            if (!local) break;
            auto it = link_names_.find(*local);
            if (it == link_names_.end()) {
                auto link = link_of(*local);
                it = link_names_.emplace(*local, link ? link->name : std::string{}).first;
            }
            if (it->second.empty()) break;  // the kernel refuses it, the Fib logs why
            return FibRoute{prefix, best.next_hops, it->second, false};
        }
    return FibRoute{prefix, best.next_hops, {}, false};
}

std::map<Prefix, FibRoute> Controller::desired_routes() const {
    std::map<Prefix, FibRoute> out;
    if (!speaker_) return out;
    speaker_->for_each_best_route([&](const bgp::BestRoute& r) {
        if (auto route = installable(r.prefix, r)) out.emplace(r.prefix, std::move(*route));
    });
    return out;
}


void Controller::on_best_path(const Prefix& prefix, const std::optional<bgp::BestRoute>& best,
                              const std::optional<bgp::BestRoute>& old) {
    std::optional<FibRoute> now;
    if (best && !best->local) {
        if (auto why = import_rejection(prefix, *best)) {
            ++rejected_;
            const bool v6_off = !family_enabled(prefix.family());  // a table: say it once
            if (v6_off ? !std::exchange(warned_v6_off_, true) : rejection_logged_.insert(prefix).second)
                log::get("fib")->warn("not installing {} from {}: {}{}", prefix.to_string(), best->from_peer.to_string(),
                                      *why, v6_off ? (prefix.family() == Family::kIpv6 ? " (said once for every IPv6 route)" : " (said once for every IPv4 route)") : "");
        } else {
            now = route_for(prefix, *best);
        }
    }
    // The old route is built only to be compared with a new one (a withdrawal needs no route).
    const bool was_installed = old && !old->local && !import_rejection(prefix, *old);
    if (!now) {
        if (!was_installed) return;
        --installed_;
        routes_.remove_route(prefix);
        if (log::enabled(spdlog::level::debug)) log::get("fib")->debug("route {} withdrawn", prefix.to_string());
        return;
    }
    if (was_installed && route_for(prefix, *old) == *now) return;
    if (!was_installed) ++installed_;
    routes_.set_route(*now);
    if (log::enabled(spdlog::level::debug))
        log::get("fib")->debug("route {} via {} (from {})", prefix.to_string(), join(now->next_hops), best->from_peer.to_string());
}

void Controller::arm_retry() {
    if (retry_armed_) return;
    retry_armed_ = true;
    retry_timer_.expires_after(kRetryDelay);
    retry_timer_.async_wait([this](boost::system::error_code ec) {
        retry_armed_ = false;
        if (!ec) reconcile();
    });
}

// Routes of kroute's protocol left in the kernel by an earlier run are justified by nothing until
// the RIB is rebuilt: sweep them only once the node list is synced and every peer has sent its
// End-of-RIB, or after a hold time plus a connect-retry time for peers that never came up.
void Controller::check_stale_sweep() {
    if (sweep_enabled_ || !synced_ || !speaker_) return;
    auto grace = options_.bgp_holdtime + options_.bgp_connect_retry_time;
    bool all_eor = true;
    for (const auto& n : speaker_->neighbors()) all_eor = all_eor && n.end_of_rib_received;
    bool timed_out = synced_at_ && std::chrono::steady_clock::now() - *synced_at_ >= grace;
    // After a graceful restart the speaker's own deferral (RFC 4724 §4.1) decides; it ends on
    // every peer's End-of-RIB or at --bgp-graceful-restart-deferral-time.
    if ((all_eor || timed_out) && speaker_->restart_complete()) {
        sweep_enabled_ = true;
        routes_.enable_stale_sweep();
        log::get("fib")->info("{}: stale kroute routes will now be removed",
                              all_eor ? "End-of-RIB received from every peer" : "End-of-RIB wait timed out");
        return;
    }
    sweep_timer_.expires_after(kSweepCheck);
    sweep_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) check_stale_sweep();
    });
}

bool Controller::begin_graceful_shutdown() {
    graceful_shutdown_ = true;
    if (!speaker_) return false;
    speaker_->begin_graceful_shutdown();
    return true;
}

void Controller::shutdown(std::function<void()> on_done) {
    retry_timer_.cancel();
    sweep_timer_.cancel();
    if (!speaker_) {
        asio::post(ioc_, std::move(on_done));
        return;
    }
    // With graceful restart, peers that negotiated it keep our routes while we are away.
    speaker_->stop(std::move(on_done), options_.bgp_graceful_restart);
}

ControllerStatus Controller::status() const {
    ControllerStatus s;
    s.node = node_name_;
    s.router_id = speaker_ ? router_id_.to_string() : options_.router_id;
    s.asn = asn_ != 0 ? asn_ : options_.cluster_asn;
    s.nodes_synced = synced_;
    s.speaker_started = speaker_ != nullptr;
    s.stale_sweep_enabled = sweep_enabled_;
    if (auto it = nodes_.find(node_name_); it != nodes_.end()) s.pod_cidrs = it->second.pod_cidrs;
    s.node_address = node_address_;
    s.conflist_error = conflist_error_;
    s.nodes_known = nodes_.size();
    s.routes_rejected = rejected_;
    if (speaker_) {
        for (const auto& n : speaker_->neighbors()) s.routes_rejected += n.prefixes_rejected;
    }
    return s;
}

}  // namespace kroute::daemon
