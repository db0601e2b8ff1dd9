// bgp::Speaker: the BGP speaker as the daemon sees it. Owns the listener, every peer's session,
// the Adj-RIBs-In, the Loc-RIB and the Adj-RIBs-Out. Knows nothing of Kubernetes, CNI or netlink.
//
// Thread: everything here runs on the one io_context thread given to the constructor; no method
// may be called from another thread (post to the io_context instead). Callbacks are invoked on
// that thread too.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/bfd.hpp"
#include "bgp/capabilities.hpp"
#include "bgp/message.hpp"
#include "bgp/policy.hpp"
#include "common/asio.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

struct Timers {
    std::chrono::seconds hold_time{90};      // proposed in OPEN; 0 disables keepalives (RFC 4271 §4.2)
    std::chrono::seconds keepalive{30};      // used as min(keepalive, negotiated hold / 3)
    std::chrono::seconds connect_retry{120};
    friend bool operator==(const Timers&, const Timers&) = default;
};

// Graceful Restart (RFC 4724), both roles, IPv4 and IPv6 unicast.
struct GracefulRestartConfig {
    bool enabled = false;                   // send the capability; help peers that send it
    std::chrono::seconds restart_time{90};  // advertised: how long peers keep our routes (<= 4095 s)
    // Restarting speaker (RFC 4724 §4.1): this start follows a restart with the forwarding state
    // kept (the daemon found its routes in the kernel). Our OPENs then carry the R bit, and the
    // table and End-of-RIB go to each peer that kept our routes once every configured peer has
    // sent its End-of-RIB (or has restarted too, or cannot help), or `deferral_time` passed.
    // Peers that did not keep our routes get the table at once. Not restarting: nothing waits.
    bool restarting = false;
    std::chrono::seconds deferral_time{360};
    bool forwarding_preserved = false;      // F bit: our forwarding state survives our restarts
    // Helper (RFC 4724 §4.2): how long a restarted peer's stale routes wait for its End-of-RIB
    // (also the bound on an Enhanced Route Refresh, RFC 7313 §4).
    std::chrono::seconds stale_time{360};
    friend bool operator==(const GracefulRestartConfig&, const GracefulRestartConfig&) = default;
};

struct SpeakerConfig {
    std::uint32_t asn = 64512;
    IpAddress router_id;                    // IPv4, the BGP Identifier
    std::uint16_t listen_port = 179;        // 0 = an ephemeral port (tests)
    std::vector<IpAddress> listen_addresses;  // empty = every address (dual-stack wildcard)
    Timers timers;                          // default for peers that do not set their own
    bfd::ServiceConfig bfd;                 // BFD's UDP ports, for peers with PeerConfig::bfd
    GracefulRestartConfig graceful_restart;
    // RFC 4456: our CLUSTER_ID as a route reflector (peers with route_reflector_client); unset =
    // the router id.
    std::optional<std::uint32_t> cluster_id;
};

// A policy shared by peers, compared by value: a policy rebuilt with the same content is no change
// (the daemon rebuilds them whenever Nodes change).
struct PolicyRef {
    std::shared_ptr<const Policy> policy;  // null: accept everything unchanged

    PolicyRef() = default;
    PolicyRef(std::shared_ptr<const Policy> p) : policy{std::move(p)} {}  // NOLINT(google-explicit-constructor)
    explicit operator bool() const noexcept { return policy != nullptr; }
    const Policy& operator*() const noexcept { return *policy; }
    friend bool operator==(const PolicyRef& a, const PolicyRef& b) noexcept {
        return a.policy == b.policy || (a.policy && b.policy && *a.policy == *b.policy);
    }
};

struct PeerConfig {
    IpAddress address;
    std::uint32_t remote_asn = 0;
    std::uint16_t port = 179;               // where we connect to
    std::optional<IpAddress> local_address; // bind before connect
    std::optional<Timers> timers;           // nullopt = the speaker's
    bool passive = false;                   // never connect, only accept
    std::string description;                // e.g. the Kubernetes node name, for logs and kroutectl
    // Transport security and reach, on every connection to and from this peer.
    std::string md5_password;               // RFC 2385 TCP MD5 (at most 80 bytes); empty = none. Never logged.
    std::uint8_t multihop_ttl = 0;          // eBGP: TTL to send with, 0 = 1 (directly connected); iBGP: 255
    bool gtsm = false;                      // RFC 5082: send with TTL 255, accept only TTL >= 256 - hops
                                            // (hops = multihop_ttl, or 1)
    // RFC 4271 §9.1.1 and §9.1.3: every path from this peer passes import_policy before it enters
    // the RIB (a rejected one is as if withdrawn), every route to it passes export_policy (after
    // the standard iBGP/eBGP rules, before our AS is prepended). A change of policy alone keeps the
    // session: what is sent is brought in step, and the peer is asked for its routes again
    // (ROUTE-REFRESH, RFC 2918; a peer without that capability gets its session reset).
    PolicyRef import_policy;
    PolicyRef export_policy;
    // Soft reconfiguration inbound: keep a pre-policy copy of everything the peer announces (its
    // Adj-RIB-In as received), so that a policy or ownership change is re-applied from it, without
    // ROUTE-REFRESH or a session reset. Costs one entry per path; off, as in BIRD and FRR.
    bool soft_reconfiguration_inbound = false;
    std::optional<bfd::PeerBfdConfig> bfd;  // BFD (RFC 5880): its Up -> Down closes an Established session
    // RFC 4456: this iBGP peer is our route-reflector client: routes from it are reflected to every
    // iBGP peer, and routes from other iBGP peers are reflected to it.
    bool route_reflector_client = false;
    // Max-prefix: more prefixes than this from the peer (accepted or refused by policy) close the
    // session with Cease / Maximum Number of Prefixes Reached (RFC 4486 §4); it is retried after
    // max_prefix_restart (0: only when reconfigured). A warning is logged at 90 %. 0 = no limit.
    std::uint32_t max_prefixes = 0;
    std::chrono::seconds max_prefix_restart{60};
    friend bool operator==(const PeerConfig&, const PeerConfig&) = default;
};

// The Loc-RIB's best route for a prefix, as the FIB needs it.
struct BestRoute {
    Prefix prefix;
    std::vector<IpAddress> next_hops;  // one, or several for equal-cost multipath
    IpAddress from_peer;               // unspecified when locally originated
    bool local = false;                // originated by this speaker: nothing to install
    friend bool operator==(const BestRoute&, const BestRoute&) = default;
};

// Snapshots for the debug API (copies, taken on the io_context thread).
struct NeighborSnapshot {
    IpAddress address;
    std::uint32_t asn = 0;
    std::string description;
    std::string state;                 // RFC 4271 spelling: Idle, Connect, Active, OpenSent, OpenConfirm, Established
    std::chrono::seconds uptime{0};    // time in Established, 0 otherwise
    std::uint64_t prefixes_received = 0;
    std::uint64_t prefixes_sent = 0;
    std::uint64_t prefixes_rejected = 0;  // announced by the peer, refused by import policy or ownership
    bool end_of_rib_received = false;  // since the session last came up
    std::uint32_t remote_router_id = 0;
    std::uint16_t negotiated_hold_time = 0;
    std::string last_error;            // last NOTIFICATION sent or received, or socket error
    std::uint64_t messages_received = 0;
    std::uint64_t messages_sent = 0;
    std::uint64_t updates_received = 0;  // UPDATE messages (End-of-RIB included), every session
    std::uint64_t updates_sent = 0;
    std::uint64_t flaps = 0;           // times the session left Established, for whatever reason
    bool graceful_restart = false;     // both sides sent the capability (RFC 4724)
    std::uint64_t prefixes_stale = 0;  // kept from the peer's last session or before its EoRR
    bool route_reflector_client = false;
    std::string max_prefix_state;      // "" or e.g. "limit 1000 exceeded, retry in 42 s"
    std::string admin_shutdown;        // "" or the operator's shutdown message ("shut down" without one)
    // In detail (kroutectl neighbor IP). The OPEN we send now; the peer's and what the two
    // negotiated, of the current session or else the last one that got as far (nullopt before).
    std::optional<OpenMessage> open_sent;
    std::optional<OpenMessage> open_received;
    std::optional<Negotiated> negotiated;
    Timers timers;                       // as configured for this peer
    std::uint16_t negotiated_keepalive = 0;  // seconds; 0 with a hold time of 0, or not negotiated
    // The last NOTIFICATION each way, over every session with this peer.
    std::optional<NotificationRecord> last_notification_sent;
    std::optional<NotificationRecord> last_notification_received;
};

struct PathSnapshot {
    IpAddress from_peer;  // unspecified when local
    std::uint32_t path_id = 0;  // RFC 7911, from an ADD-PATH peer
    bool local = false;
    bool best = false;
    std::vector<IpAddress> next_hops;
    PathAttributes attributes;
    std::string reason;   // why the best one won (best path only), e.g. "router-id"
    // Not the best: the decision step that eliminated it, e.g. "lower LOCAL_PREF" (loss_to_string).
    std::string why_not_best;
    bool multipath = false;  // its next hop is used with the best's (equal down to the router id)
};

struct RibEntrySnapshot {
    Prefix prefix;
    std::vector<PathSnapshot> paths;  // best first
};

// What an operator may do to one session (kroutectl neighbor IP ...).
enum class PeerAction {
    kReset,         // Cease / Administrative Reset (RFC 4486), routes dropped, reconnect at once
    kSoftResetIn,   // ROUTE-REFRESH (RFC 2918), or the soft-reconfiguration copy
    kSoftResetOut,  // the Adj-RIB-Out sent again in full
    kShutdown,      // Cease / Administrative Shutdown with an RFC 9003 message; stays down
    kEnable,        // after kShutdown: connect again
};

class Speaker {
public:
    // (prefix, new best or nullopt when the prefix left the Loc-RIB, the previous best or nullopt
    // when the prefix is new): the subscriber needs no copy of the RIB to know what changed.
    using BestPathHandler =
        std::function<void(const Prefix&, const std::optional<BestRoute>&, const std::optional<BestRoute>&)>;
    using PeerStateHandler = std::function<void(const IpAddress& peer, const std::string& state)>;

    Speaker(asio::io_context& ioc, SpeakerConfig cfg);
    ~Speaker();
    Speaker(const Speaker&) = delete;
    Speaker& operator=(const Speaker&) = delete;

    // Binds the listener(s). An error says which address/port and why.
    [[nodiscard]] Expected<void, std::string> start();
    // Sends Cease (Administrative Shutdown) to every established peer, closes everything, then
    // calls on_done (on the io_context) once the NOTIFICATIONs were written or after 1 s.
    // `for_restart` (RFC 4724 §4.1, with graceful_restart.enabled): the sessions that negotiated
    // Graceful Restart are closed without a NOTIFICATION, so that those peers keep our routes as
    // stale until we are back; the others still get Cease.
    void stop(std::function<void()> on_done, bool for_restart = false);
    // RFC 8326 graceful shutdown, for planned maintenance before stop(): from now on every route
    // goes out with the GRACEFUL_SHUTDOWN community (65535:0) added, and to iBGP peers with
    // LOCAL_PREF 0 as well, so that peers move their traffic to other paths while ours still
    // work; what was sent already is sent again at once. Nothing else changes (sessions, routes
    // received, graceful restart). Cannot be undone: stop() follows.
    void begin_graceful_shutdown();
    [[nodiscard]] bool graceful_shutdown() const noexcept;
    // Restarting speaker: the initial table has gone out (every peer sent End-of-RIB, or the
    // deferral timer fired). Immediately true when not restarting.
    [[nodiscard]] bool restart_complete() const noexcept;

    // Adds a peer, or reconfigures it (a changed config resets the session).
    void set_peer(const PeerConfig& peer);
    // An operator's action on one session; what was done, or why it cannot be done (no such peer,
    // not Established, a message over 255 octets of UTF-8).
    [[nodiscard]] Expected<std::string, std::string> peer_action(const IpAddress& address, PeerAction action,
                                                                 const std::string& message = {});
    // Sends Cease (Peer De-configured) and drops the peer and every route learned from it.
    void remove_peer(const IpAddress& address);
    [[nodiscard]] std::vector<IpAddress> peers() const;

    // Local routes, announced to every peer with the given next hop (iBGP: unchanged on the way).
    void originate(const Prefix& prefix, const IpAddress& next_hop);
    // With communities and large communities of the caller's (origin IGP, empty AS_PATH); export
    // policies see them like any other route's.
    void originate(const Prefix& prefix, const IpAddress& next_hop, const PathAttributes& base);
    void withdraw(const Prefix& prefix);

    // Prefix ownership, a guard of kroute's own: only `owner` may announce `prefixes`, or anything
    // inside them, over iBGP (a Kubernetes node owns its podCIDRs). A path for such a prefix from any
    // other iBGP peer is rejected as if withdrawn, and logged once per peer and prefix. `owner` is a
    // peer's address or this speaker's own. Replaces the owner's earlier set; empty removes it.
    // Paths already in the RIB that break the new ownership leave it at once; paths refused
    // earlier that it now allows are asked for again (ROUTE-REFRESH).
    void set_owned_prefixes(const IpAddress& owner, std::vector<Prefix> prefixes);
    // RFC 4456 CLUSTER_ID as a route reflector (nullopt: the router id); reflected routes already
    // sent are sent again with the new one.
    void set_cluster_id(std::optional<std::uint32_t> cluster_id);

    void on_best_path_change(BestPathHandler handler);
    void on_peer_state_change(PeerStateHandler handler);

    [[nodiscard]] std::vector<NeighborSnapshot> neighbors() const;
    [[nodiscard]] std::vector<RibEntrySnapshot> rib(const std::optional<Prefix>& only = std::nullopt) const;
    [[nodiscard]] std::size_t rib_prefix_count() const;
    // Every Loc-RIB best route, in no particular order (cheaper than rib() for a whole table).
    void for_each_best_route(const std::function<void(const BestRoute&)>& f) const;
    [[nodiscard]] const SpeakerConfig& config() const noexcept;
    // The port actually bound (useful with listen_port = 0).
    [[nodiscard]] std::uint16_t local_port() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kroute::bgp
