// The Speaker facade: peers (each one or two Sessions, RFC 4271 §6.8), the RIBs and the
// Adj-RIBs-Out, on the io_context thread. Export rules (RFC 4271 §9.2, §5.1): iBGP-learned routes
// are not sent to iBGP peers unless reflected (RFC 4456: from a route-reflector client to every
// iBGP peer, from any iBGP peer to the clients), the next hop is unchanged over iBGP and ours
// over eBGP, AS_PATH gets our AS towards eBGP peers, LOCAL_PREF goes to iBGP peers only.
// Graceful Restart (RFC 4724) in both roles, Enhanced Route Refresh (RFC 7313) and max-prefix
// (RFC 4486 §4) are per peer, below. Each peer's
// import and export policies (bgp/policy.hpp), the well-known communities of RFC 1997 and prefix
// ownership (set_owned_prefixes) decide what enters the RIB and what leaves it.
#include "bgp/speaker.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <unordered_set>

#include "bgp/bfd_session.hpp"
#include "bgp/listener.hpp"
#include "bgp/rib.hpp"
#include "bgp/session.hpp"
#include "common/log.hpp"

namespace kroute::bgp {
namespace {

using Clock = std::chrono::steady_clock;

// Prefixes per UPDATE when we build MP_REACH/MP_UNREACH ourselves: 17 bytes per IPv6 /128 at most,
// well below 4096 bytes with any sane attribute set.
constexpr std::size_t kMpPrefixesPerUpdate = 150;

std::string peer_label(const PeerConfig& p) {
    std::string s = "peer " + p.address.to_string() + " AS" + std::to_string(p.remote_asn);
    if (!p.description.empty()) s += " (" + p.description + ")";
    return s;
}

std::optional<BestRoute> to_best_route(const Prefix& prefix, const std::optional<Path>& best,
                                       const std::vector<IpAddress>& next_hops) {
    if (!best) return std::nullopt;
    return BestRoute{prefix, next_hops, best->local ? IpAddress{} : best->peer_address, best->local};
}

bool as_path_contains(const PathAttributes& a, std::uint32_t asn) {
    if (!a.as_path) return false;
    for (const auto& seg : *a.as_path) {
        for (auto x : seg.asns) {
            if (x == asn) return true;
        }
    }
    return false;
}

// RFC 1997 §3: NO_ADVERTISE goes to no peer; NO_EXPORT to no external one, and NO_EXPORT_SUBCONFED
// neither (we have no confederation, RFC 5065, so every eBGP peer is outside it).
bool communities_allow_export(const std::vector<std::uint32_t>& communities, bool to_ibgp) {
    for (auto c : communities) {
        if (c == kCommunityNoAdvertise) return false;
        if (!to_ibgp && (c == kCommunityNoExport || c == kCommunityNoExportSubconfed)) return false;
    }
    return true;
}

bool has_family(const OpenMessage& open, AfiSafi f) {
    // RFC 4760 §8: no multiprotocol capability at all means IPv4 unicast only.
    if (open.multiprotocol.empty()) return f == AfiSafi{kAfiIpv4, kSafiUnicast};
    return std::find(open.multiprotocol.begin(), open.multiprotocol.end(), f) != open.multiprotocol.end();
}

constexpr AfiSafi kIpv4Unicast{kAfiIpv4, kSafiUnicast};
constexpr AfiSafi kIpv6Unicast{kAfiIpv6, kSafiUnicast};
std::size_t family_index(Family f) noexcept { return f == Family::kIpv4 ? 0 : 1; }
std::optional<std::size_t> family_index(AfiSafi f) noexcept {
    if (f == kIpv4Unicast) return 0;
    if (f == kIpv6Unicast) return 1;
    return std::nullopt;
}
constexpr std::array<AfiSafi, 2> kFamilies{kIpv4Unicast, kIpv6Unicast};

bool contains(const std::vector<std::uint32_t>& v, std::uint32_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

class Speaker::Impl {
public:
    class Peer;
    // A prefix and its best path now (null: gone from the Loc-RIB), for the Adj-RIBs-Out.
    struct Want {
        const Prefix* prefix;
        const Path* best;
    };

    Impl(asio::io_context& ioc, SpeakerConfig cfg);
    ~Impl();

    void on_accept(asio::ip::tcp::socket socket);
    // Best-path changes: tell the daemon, then bring every Adj-RIB-Out in step.
    void apply(Rib::Changes& changes);
    [[nodiscard]] Timers timers_for(const PeerConfig& p) const { return p.timers.value_or(cfg_.timers); }
    // The listener's RFC 2385 key for `peer` (empty removes it); failures are logged, keys never.
    void set_md5_key(const IpAddress& peer, const std::string& key) {
        if (auto r = listener_.set_md5_key(peer, key); !r) log::get("bgp")->error("{}", r.error());
    }

    // RFC 4724 §3: the capability our OPENs carry; nullopt with graceful restart off.
    [[nodiscard]] std::optional<GracefulRestart> gr_capability() const;
    [[nodiscard]] std::uint32_t cluster_id() const noexcept {
        return cfg_.cluster_id.value_or(cfg_.router_id.v4_host_order());
    }
    [[nodiscard]] bool is_rr_client(const IpAddress& peer) const;
    // Restarting speaker (RFC 4724 §4.1): ends the deferral once every peer is ready, or `force`.
    void check_restart_done(const char* force = nullptr);

    asio::io_context& ioc_;
    SpeakerConfig cfg_;
    bool restarting_ = false;            // deferring the initial tables (RFC 4724 §4.1)
    asio::steady_timer deferral_timer_{ioc_};
    Listener listener_;
    Rib rib_;
    std::map<IpAddress, std::unique_ptr<Peer>> peers_;
    BestPathHandler best_handler_;
    PeerStateHandler state_handler_;
    // Prefix ownership: the owner whose owned prefix is the longest one covering `p`, if any.
    [[nodiscard]] std::optional<IpAddress> owner_of(const Prefix& p) const;
    // Paths in the RIB inside `owned` from iBGP peers that may not announce them leave it.
    void enforce_ownership(const std::vector<Prefix>& owned);

    bool running_ = false;
    bool graceful_shutdown_ = false;  // RFC 8326: every route goes out with GRACEFUL_SHUTDOWN
    std::map<Prefix, IpAddress> owned_;                     // owned prefix -> owner
    std::map<IpAddress, std::vector<Prefix>> owned_by_;     // owner -> its prefixes (sorted)
    std::set<std::pair<Family, int>> owned_lengths_;      // the lengths owner_of() tries
    std::set<IpAddress> refused_logged_;
    std::map<IpAddress, std::string> admin_down_;  // peers an operator shut down, and why
    std::mt19937_64 rng_{std::random_device{}()};
    std::unique_ptr<bfd::Service> bfd_;  // with the first peer that asks for BFD
    Rib::Changes spare_changes_;          // storage reused from one UPDATE to the next
    std::vector<Want> spare_wants_;
    void set_bfd(const PeerConfig& p);
};

// One configured neighbour: its sessions (a second one only during a collision), its Adj-RIB-Out.
class Speaker::Impl::Peer final : public SessionOwner {
public:
    struct Advert {
        std::shared_ptr<const PathAttributes> attributes;  // NEXT_HOP left out: see next_hop
        IpAddress next_hop;
        friend bool operator==(const Advert&, const Advert&) = default;
    };

    Peer(Impl& sp, PeerConfig cfg)
        : sp_{sp}, cfg_{std::move(cfg)}, label_{peer_label(cfg_)}, gr_timer_{sp.ioc_}, max_prefix_timer_{sp.ioc_} {}
    ~Peer() { shutdown(kCeaseAdministrativeShutdown); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    [[nodiscard]] const PeerConfig& config() const noexcept { return cfg_; }
    [[nodiscard]] bool ibgp() const noexcept { return cfg_.remote_asn == sp_.cfg_.asn; }

    // The next hop to keep of an MP_REACH_NLRI's global and link-local pair (RFC 2545 §3), as
    // BIRD chooses: the link-local one from a directly connected eBGP peer (it is on the shared
    // link by definition, where the global one may be a loopback the kernel cannot reach in one
    // hop), or when the global one is missing (::) or itself link-local; the global one otherwise.
    [[nodiscard]] const IpAddress& mp_next_hop(const std::vector<IpAddress>& hops) const noexcept {
        if (hops.size() == 2 && hops[1].is_link_local() &&
            ((!ibgp() && cfg_.multihop_ttl < 2) || hops[0].is_unspecified() || hops[0].is_link_local()))
            return hops[1];
        return hops.front();
    }

    void start() {
        if (primary_ || sp_.admin_down_.count(cfg_.address) != 0) return;  // shut down by the operator
        primary_ = make_session();
        primary_->start();
    }

    // Cease to whoever is connected; the sessions flush and close on their own.
    void shutdown(std::uint8_t cease_subcode) { shutdown(ManualStop{cease_subcode}); }
    void shutdown(const ManualStop& stop) {
        for (auto* s : {&primary_, &secondary_}) {
            if (*s) {
                auto keep = std::move(*s);
                s->reset();
                keep->dismiss(stop);
                collect_counters(*keep);  // after dismiss: its NOTIFICATION counted and kept
                dismissed_.push_back(keep);
            }
        }
        if (established_since_) ++flaps_;
        established_since_.reset();
        adj_rib_out_.clear();
        rejected_.clear();
        deferred_ = false;
    }
    // Speaker::stop(for_restart): a peer that negotiated Graceful Restart keeps our routes while
    // we are away if the connection just ends, without NOTIFICATION (RFC 4724 §4.1).
    [[nodiscard]] bool helps_our_restart() const noexcept {
        return primary_ && primary_->state() == State::kEstablished && negotiated_.graceful_restart;
    }
    // Restarting speaker: whether this peer lets the deferral end (RFC 4724 §4.1: every peer has
    // sent End-of-RIB, except those restarting themselves or without the capability).
    [[nodiscard]] bool ready_for_selection() const noexcept {
        if (!primary_ || primary_->state() != State::kEstablished) return false;
        if (!negotiated_.graceful_restart || end_of_rib_received_) return true;
        return negotiated_.peer_graceful_restart && negotiated_.peer_graceful_restart->restart_state;
    }
    // The deferral is over: the table and End-of-RIB go out now.
    void end_deferral() {
        if (!deferred_) return;
        deferred_ = false;
        send_initial();
    }
    // RFC 5882 §3.2: BFD saw the path fail; tear the session down as TCP would, only sooner. Not
    // a control-plane restart (§4.3.2): the peer's routes go now, graceful restart or not, or the
    // helper would keep forwarding into the failed path for the peer's whole restart time (BIRD
    // does the same unless told `bfd graceful`).
    void bfd_down(const std::string& diag) {
        if (!primary_ || primary_->state() != State::kEstablished) return;
        log::get("bgp")->warn("{}: BFD down ({}), closing the session and dropping its routes", label_, diag);
        forwarding_failed_ = true;
        primary_->transport_failed("BFD down: " + diag);
    }
    // Sessions that were dismissed, for stop() to wait on.
    std::vector<std::shared_ptr<Session>> take_dismissed() { return std::exchange(dismissed_, {}); }

    void incoming(asio::ip::tcp::socket socket) {
        if (!primary_) {
            boost::system::error_code ec;
            socket.close(ec);
            return;
        }
        switch (primary_->state()) {
            case State::kIdle:
                // Back-off after an error: the peer's own dial is as good as ours, and refusing it
                // (RFC 4271 §8.2.2) lets two backing-off speakers miss each other forever.
            case State::kActive: primary_->accept(std::move(socket)); return;
            case State::kConnect:  // our dial may already be accepted on the other side: keep both
            case State::kOpenSent:
            case State::kOpenConfirm:
                if (secondary_) {
                    boost::system::error_code ec;
                    socket.close(ec);
                    return;
                }
                // RFC 4271 §6.8: tracked until an OPEN tells us which one to keep.
                secondary_ = make_session(true);
                secondary_->accept(std::move(socket));
                return;
            case State::kEstablished: {
                if (negotiated_.graceful_restart && !secondary_) {
                    // RFC 4724 §4.2: a restarted peer may open a new connection before we noticed
                    // the old one fail; its OPEN decides (session_open_received).
                    secondary_ = make_session(true);
                    secondary_->accept(std::move(socket));
                    return;
                }
                // RFC 4271 §6.8: a collision with an Established connection closes the new one.
                auto extra = make_session(true);
                extra->accept(std::move(socket));
                extra->dismiss(CollisionDump{});
                return;
            }
        }
    }

    // Brings the Adj-RIB-Out in step with the Loc-RIB for `wants` (each prefix with its best path,
    // or null when it left the Loc-RIB) and sends the difference.
    void sync(const std::vector<Want>& wants) {
        if (!primary_ || primary_->state() != State::kEstablished || deferred_) return;
        // Grouped by attribute set, next hop and family: one UPDATE carries one of each.
        std::map<std::tuple<const PathAttributes*, IpAddress, Family>, std::pair<Advert, std::vector<Prefix>>> groups;
        std::vector<Prefix> gone4;
        std::vector<Prefix> gone6;
        for (const auto& [pp, best] : wants) {
            const Prefix& p = *pp;
            auto want = export_route(p, best);
            if (!want && adj_rib_out_.empty()) continue;
            auto it = adj_rib_out_.find(p);
            if (want) {
                if (it != adj_rib_out_.end() && it->second == *want) continue;
                auto& g = groups[{want->attributes.get(), want->next_hop, p.family()}];
                g.first = *want;
                g.second.push_back(p);
                adj_rib_out_[p] = std::move(*want);
            } else if (it != adj_rib_out_.end()) {
                adj_rib_out_.erase(it);
                (p.family() == Family::kIpv4 ? gone4 : gone6).push_back(p);
            }
        }
        const auto ctx = primary_->encode_context();
        std::vector<Bytes> out;
        auto append = [&out](std::vector<Bytes>&& more) {
            for (auto& b : more) out.push_back(std::move(b));
        };
        if (!gone4.empty()) append(encode_withdrawals(gone4, ctx));
        for (std::size_t i = 0; i < gone6.size(); i += kMpPrefixesPerUpdate) {
            UpdateMessage m;
            m.mp_unreach = MpUnreach{AfiSafi{kAfiIpv6, kSafiUnicast},
                                     {gone6.begin() + static_cast<std::ptrdiff_t>(i),
                                      gone6.begin() + static_cast<std::ptrdiff_t>(
                                                          std::min(gone6.size(), i + kMpPrefixesPerUpdate))}};
            out.push_back(encode(Message{std::move(m)}, ctx));
        }
        for (auto& [key, group] : groups) {
            const auto& [advert, list] = group;
            const bool v4 = std::get<2>(key) == Family::kIpv4;
            if (v4 && advert.next_hop.is_v4()) {
                PathAttributes a = *advert.attributes;
                a.next_hop = advert.next_hop;
                append(encode_announcements(a, list, ctx));
                continue;
            }
            for (std::size_t i = 0; i < list.size(); i += kMpPrefixesPerUpdate) {
                UpdateMessage m;
                m.attributes = *advert.attributes;
                // IPv6, or IPv4 with an IPv6 next hop (RFC 8950 §3).
                m.mp_reach = MpReach{v4 ? kIpv4Unicast : kIpv6Unicast, {advert.next_hop},
                                     {list.begin() + static_cast<std::ptrdiff_t>(i),
                                      list.begin() + static_cast<std::ptrdiff_t>(
                                                         std::min(list.size(), i + kMpPrefixesPerUpdate))}};
                out.push_back(encode(Message{std::move(m)}, ctx));
            }
        }
        if (!out.empty()) {
            if (log::enabled(spdlog::level::debug))
                log::get("bgp")->debug("{}: sending {} UPDATE(s) for {} prefix(es)", label_, out.size(), wants.size());
            primary_->send(std::move(out));
        }
    }

    // Operator actions (kroutectl neighbor IP ...).
    [[nodiscard]] bool established() const noexcept { return primary_ && primary_->state() == State::kEstablished; }
    void operator_reset() {
        shutdown(ManualStop{kCeaseAdministrativeReset});
        drop_all();
        start();
    }
    void operator_shutdown(Bytes data) {
        shutdown(ManualStop{kCeaseAdministrativeShutdown, std::move(data)});
        drop_all();
    }
    void operator_refresh_in() { refresh_in("soft reset in, asked by the operator"); }
    // RFC 4271 §9.2 again from nothing: the whole table goes out once more.
    void operator_refresh_out() {
        adj_rib_out_.clear();
        sync_all();
    }

    // The whole Loc-RIB (of one family, if given) against the Adj-RIB-Out.
    void sync_all(std::optional<Family> only = std::nullopt) {
        std::vector<Prefix> all;
        all.reserve(sp_.rib_.prefix_count() + adj_rib_out_.size());
        sp_.rib_.for_each_prefix([&all, only](const Prefix& p) {
            if (!only || p.family() == *only) all.push_back(p);
        });
        for (const auto& [p, a] : adj_rib_out_) {
            if ((!only || p.family() == *only) && !sp_.rib_.contains(p)) all.push_back(p);
        }
        std::vector<Want> wants;
        wants.reserve(all.size());
        for (const auto& p : all) wants.push_back({&p, sp_.rib_.best(p)});
        sync(wants);
    }

    [[nodiscard]] NeighborSnapshot snapshot() const {
        NeighborSnapshot n;
        n.address = cfg_.address;
        n.asn = cfg_.remote_asn;
        n.description = cfg_.description;
        n.state = std::string{to_string(primary_ ? primary_->state() : State::kIdle)};
        if (established_since_) {
            n.uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *established_since_);
        }
        n.prefixes_received = sp_.rib_.adj_rib_in_count(cfg_.address);
        n.prefixes_sent = adj_rib_out_.size();
        n.prefixes_rejected = rejected_.size();
        n.end_of_rib_received = end_of_rib_received_;
        n.messages_received = messages_in_;
        n.messages_sent = messages_out_;
        n.updates_received = updates_in_;
        n.updates_sent = updates_out_;
        n.flaps = flaps_;
        n.last_error = last_error_;
        n.graceful_restart = established_since_ && negotiated_.graceful_restart;
        n.prefixes_stale = stale_[0].size() + stale_[1].size();
        n.route_reflector_client = cfg_.route_reflector_client;
        n.max_prefix_state = max_prefix_state_;
        if (auto it = sp_.admin_down_.find(cfg_.address); it != sp_.admin_down_.end())
            n.admin_shutdown = it->second.empty() ? "shut down" : it->second;
        if (primary_) {
            if (const auto& o = primary_->fsm().peer_open()) n.remote_router_id = o->bgp_id;
            n.negotiated_hold_time = static_cast<std::uint16_t>(primary_->fsm().negotiated_hold_time().count());
            n.messages_received += primary_->messages_received();
            n.messages_sent += primary_->messages_sent();
            n.updates_received += primary_->updates_received();
            n.updates_sent += primary_->updates_sent();
            if (!primary_->last_error().empty()) n.last_error = primary_->last_error();
        }
        // In detail: capabilities, timers, the last NOTIFICATIONs.
        n.timers = sp_.timers_for(cfg_);
        n.open_sent = primary_ ? std::optional<OpenMessage>{primary_->fsm().local_open()} : open_sent_;
        n.open_received = open_received_;
        if (established_since_ || open_received_) n.negotiated = negotiated_;
        if (primary_ && (primary_->state() == State::kOpenConfirm || primary_->state() == State::kEstablished)) {
            n.open_received = primary_->fsm().peer_open();
            n.negotiated = primary_->fsm().negotiated();
            n.negotiated_keepalive = static_cast<std::uint16_t>(primary_->fsm().keepalive_interval().count());
        }
        n.last_notification_sent = notification_sent_;
        n.last_notification_received = notification_received_;
        if (primary_) {
            keep_later(n.last_notification_sent, primary_->last_notification_sent());
            keep_later(n.last_notification_received, primary_->last_notification_received());
        }
        return n;
    }

    static void keep_later(std::optional<NotificationRecord>& into, const std::optional<NotificationRecord>& r) {
        if (r && (!into || r->at >= into->at)) into = r;
    }

    // SessionOwner
    void session_state_changed(Session& s, State from, State to) override {
        (void)from;
        if (to == State::kIdle) {
            // Only the session that carries the peer records its error: a connection closed by
            // collision resolution (RFC 4271 §6.8) is routine, not something for the operator.
            const bool carries_peer = primary_.get() == &s && !(secondary_ && secondary_->state() != State::kIdle);
            if (carries_peer && !s.last_error().empty()) last_error_ = s.last_error();
            if (secondary_.get() == &s) {
                retire(secondary_);
            } else if (primary_.get() == &s && secondary_ && secondary_->state() != State::kIdle) {
                // The other connection carries on (RFC 4271 §6.8).
                auto old = std::move(primary_);
                primary_ = std::move(secondary_);
                secondary_.reset();
                collect_counters(*old);
                old->dismiss(ManualStop{});
                return;
            }
        }
        if (primary_.get() == &s && sp_.state_handler_) sp_.state_handler_(cfg_.address, std::string{to_string(to)});
    }

    void session_open_received(Session& s) override {
        std::shared_ptr<Session>* self = primary_.get() == &s ? &primary_ : secondary_.get() == &s ? &secondary_ : nullptr;
        std::shared_ptr<Session>* other = self == &primary_ ? &secondary_ : &primary_;
        if (!self || !*other) return;
        const State os = (*other)->state();
        std::shared_ptr<Session>* loser = nullptr;
        if (os == State::kEstablished && self == &secondary_ && negotiated_.graceful_restart) {
            // RFC 4724 §4.2: an OPEN on a new connection while the old one is Established: the
            // peer restarted. The old session fails as if TCP had (its routes become stale) and
            // the new one carries on (session_state_changed makes it the primary).
            log::get("bgp")->info("{}: new connection while Established: the peer restarted (RFC 4724 §4.2)", label_);
            (*other)->transport_failed("the peer restarted: new connection with an OPEN");
            return;
        }
        if (os == State::kEstablished) {
            loser = self;
        } else if (os == State::kOpenSent || os == State::kOpenConfirm) {
            // RFC 4271 §6.8: keep the connection opened by the speaker with the higher BGP Identifier.
            const std::uint32_t remote_id = s.fsm().peer_open()->bgp_id;
            const bool keep_ours = sp_.cfg_.router_id.v4_host_order() > remote_id;
            loser = s.outgoing() == keep_ours ? other : self;
        } else {
            return;
        }
        log::get("bgp")->info("{}: connection collision, keeping the connection opened by {}", label_,
                              (*loser)->outgoing() ? "the peer" : "us");
        auto dead = std::move(*loser);
        if (loser == &primary_) {
            primary_ = std::move(secondary_);
        }
        secondary_.reset();
        collect_counters(*dead);
        dead->dismiss(CollisionDump{});
    }

    void session_up(Session& s) override {
        if (secondary_.get() == &s) {  // cannot happen with the collision rules above; stay safe
            auto old = std::move(primary_);
            primary_ = std::move(secondary_);
            if (old) old->dismiss(CollisionDump{});
        }
        established_since_ = Clock::now();
        end_of_rib_received_ = false;
        policy_logged_ = false;
        adj_rib_out_.clear();
        local_address_ = s.local_address();
        negotiated_ = s.fsm().negotiated();
        open_received_ = s.fsm().peer_open();
        max_prefix_warned_ = false;
        resume_stale();
        // RFC 4724 §4.1: while we restart, a peer that kept our routes waits for our table until
        // our own selection is complete; any other peer gets it at once.
        deferred_ = sp_.restarting_ && negotiated_.graceful_restart;
        if (deferred_) {
            log::get("bgp")->info("{}: restarting: our table follows once every peer sent End-of-RIB", label_);
        } else {
            send_initial();
        }
        sp_.check_restart_done();
    }

    // The initial table, then End-of-RIB per family (RFC 4724 §2).
    void send_initial() {
        if (!primary_ || primary_->state() != State::kEstablished) return;
        sync_all();
        std::vector<Bytes> eor;
        for (const auto f : kFamilies) {
            if (negotiated_has(f)) eor.push_back(encode_end_of_rib(f, primary_->encode_context()));
        }
        primary_->send(std::move(eor));
    }

    [[nodiscard]] bool negotiated_has(AfiSafi f) const {
        return std::find(negotiated_.families.begin(), negotiated_.families.end(), f) != negotiated_.families.end();
    }

    void session_down(Session& s, const std::string& reason, bool notification) override {
        log::get("bgp")->info("{}: session down: {}", label_, reason.empty() ? s.last_error() : reason);
        if (established_since_) ++flaps_;
        established_since_.reset();
        end_of_rib_received_ = false;
        adj_rib_out_.clear();
        rejected_.clear();
        deferred_ = false;
        const auto& peer_gr = negotiated_.peer_graceful_restart;
        const bool forwarding_failed = std::exchange(forwarding_failed_, false);
        if (!notification && !forwarding_failed && negotiated_.graceful_restart && peer_gr && peer_gr->restart_time > 0) {
            keep_stale(*peer_gr);
            return;
        }
        drop_all();
    }

    // Every path of the peer leaves the RIB (stale ones too).
    // Soft reconfiguration inbound: every path as received goes through the import step again.
    void reimport_from_copy(const char* why) {
        log::get("bgp")->info("{}: {}: re-applying the import policy to the {} path(s) as received", label_, why,
                              received_.size());
        const OpenMessage* open = primary_ && primary_->fsm().peer_open() ? &*primary_->fsm().peer_open() : nullptr;
        PathSource src{cfg_.address, open ? open->bgp_id : 0, cfg_.remote_asn, !ibgp()};
        Rib::Changes ch;
        for (const auto& [key, path] : received_) {
            src.path_id = key.path_id;
            import_path(src, key.prefix, path.first, path.second, ch);
        }
        sp_.apply(ch);
    }

    void drop_all() {
        received_.clear();
        gr_timer_.cancel();
        stale_[0].clear();
        stale_[1].clear();
        Rib::Changes ch;
        sp_.rib_.drop_peer(cfg_.address, ch);
        sp_.apply(ch);
    }

    // Helper, RFC 4724 §4.2: the peer is restarting. Its routes of the families of its capability
    // stay, marked stale, for its restart time; the other families' leave now.
    void keep_stale(const GracefulRestart& peer_gr) {
        std::array<bool, 2> keep{false, false};
        for (const auto& f : peer_gr.families) {
            if (auto i = family_index(f.family)) keep[*i] = true;
        }
        Rib::Changes ch;
        std::size_t kept = 0;
        for (const auto& k : sp_.rib_.paths_of(cfg_.address)) {
            const auto i = family_index(k.prefix.family());
            if (keep[i]) {
                stale_[i].insert(k);
                ++kept;
            } else {
                stale_[i].erase(k);
                received_.erase(k);
                sp_.rib_.withdraw(cfg_.address, k.prefix, ch, k.path_id);
            }
        }
        sp_.apply(ch);
        log::get("bgp")->info("{}: graceful restart: keeping {} route(s) as stale for up to {} s", label_, kept,
                              peer_gr.restart_time);
        arm_gr_timer(std::chrono::seconds{peer_gr.restart_time}, "restart time");
    }

    // The restarted peer is back (RFC 4724 §4.2): families whose forwarding state it did not keep
    // lose their stale routes now, the others wait for its End-of-RIB (or the stale timer).
    void resume_stale() {
        if (stale_[0].empty() && stale_[1].empty()) {
            gr_timer_.cancel();
            return;
        }
        const auto& gr = negotiated_.peer_graceful_restart;
        for (std::size_t i = 0; i < 2; ++i) {
            if (stale_[i].empty()) continue;
            const bool kept = gr && negotiated_.graceful_restart &&
                              std::any_of(gr->families.begin(), gr->families.end(), [i](const auto& f) {
                                  return f.family == kFamilies[i] && f.forwarding_state;
                              });
            if (!kept) flush_stale(i, "the peer did not keep its forwarding state");
        }
        if (!stale_[0].empty() || !stale_[1].empty())
            arm_gr_timer(sp_.cfg_.graceful_restart.stale_time, "stale time");
    }

    // Stale routes of family `i` that were not announced again leave the RIB.
    void flush_stale(std::size_t i, const char* why) {
        if (stale_[i].empty()) return;
        log::get("bgp")->info("{}: {}: removing {} stale {} route(s)", label_, why, stale_[i].size(),
                              i == 0 ? "IPv4" : "IPv6");
        std::vector<PathKey> gone(stale_[i].begin(), stale_[i].end());
        std::sort(gone.begin(), gone.end());
        stale_[i].clear();
        Rib::Changes ch;
        for (const auto& k : gone) {
            received_.erase(k);
            sp_.rib_.withdraw(cfg_.address, k.prefix, ch, k.path_id);
        }
        sp_.apply(ch);
        if (stale_[0].empty() && stale_[1].empty()) gr_timer_.cancel();
    }

    void arm_gr_timer(std::chrono::seconds after, const char* what) {
        gr_timer_.expires_after(after);
        gr_timer_.async_wait([this, what](boost::system::error_code ec) {
            if (ec) return;
            for (std::size_t i = 0; i < 2; ++i) flush_stale(i, what);
        });
    }

    // Route ROUTE-REFRESH (RFC 7313 §4): BoRR marks the family's routes stale, EoRR removes those
    // not sent again since.
    void begin_refresh(std::size_t i) {
        for (const auto& k : sp_.rib_.paths_of(cfg_.address)) {
            if (family_index(k.prefix.family()) == i) stale_[i].insert(k);
        }
        if (!stale_[i].empty()) arm_gr_timer(sp_.cfg_.graceful_restart.stale_time, "no EoRR within the stale time");
    }

    void unstale(const PathKey& k) {
        auto& st = stale_[family_index(k.prefix.family())];
        if (!st.empty()) st.erase(k);
    }

    void session_update(Session& s, UpdateMessage&& u) override {
        if (primary_.get() != &s) return;
        const bool mp_eor = !u.mp_reach && u.mp_unreach && u.mp_unreach->withdrawn.empty() && u.nlri.empty() &&
                            u.withdrawn.empty();
        if (u.is_end_of_rib() || mp_eor) {
            const AfiSafi f = mp_eor ? u.mp_unreach->family : kIpv4Unicast;
            log::get("bgp")->debug("{}: End-of-RIB received for afi {} safi {}", label_, f.afi, f.safi);
            end_of_rib_received_ = true;
            // RFC 4724 §4.2: what is still stale after End-of-RIB is gone.
            if (auto i = family_index(f)) flush_stale(*i, "End-of-RIB");
            sp_.check_restart_done();
            return;
        }
        // One UPDATE after another: the change list's storage is reused (borrowed, so that a nested
        // call through the best-path handler simply gets a fresh one).
        Rib::Changes ch = std::exchange(sp_.spare_changes_, {});
        ch.clear();
        // RFC 7911 §3: with ADD-PATH each prefix comes with its Path Identifier (parallel vectors).
        auto id_at = [](const std::vector<std::uint32_t>& ids, std::size_t i) { return i < ids.size() ? ids[i] : 0U; };
        for (std::size_t i = 0; i < u.withdrawn.size(); ++i) withdraw_path({u.withdrawn[i], id_at(u.withdrawn_path_ids, i)}, ch);
        if (u.mp_unreach) {
            const auto& w = u.mp_unreach->withdrawn;
            for (std::size_t i = 0; i < w.size(); ++i) withdraw_path({w[i], id_at(u.mp_unreach->path_ids, i)}, ch);
        }
        bool reject = u.treat_as_withdraw.has_value();  // RFC 7606 §2
        if (reject) {
            log::get("bgp")->info("{}: UPDATE treated as withdraw: {}", label_, u.treat_as_withdraw->detail);
        }
        if (!u.discarded_attributes.empty()) {  // RFC 7606 §8: an error discarded is still logged
            std::string codes;
            for (auto c : u.discarded_attributes) codes += (codes.empty() ? "" : ", ") + std::to_string(c);
            log::get("bgp")->info("{}: malformed attribute(s) {} discarded (RFC 7606 attribute discard), the route kept",
                                  label_, codes);
        }
        if (!ibgp() && as_path_contains(u.attributes, sp_.cfg_.asn)) reject = true;  // RFC 4271 §9.1.2 loop
        if (ibgp() && u.attributes.originator_id == sp_.cfg_.router_id.v4_host_order()) reject = true;  // RFC 4456 §8
        if (ibgp() && contains(u.attributes.cluster_list, sp_.cluster_id())) reject = true;             // RFC 4456 §8
        const auto& open = s.fsm().peer_open();
        const PathSource src{cfg_.address, open ? open->bgp_id : 0, cfg_.remote_asn, !ibgp()};
        std::shared_ptr<const PathAttributes> attrs;
        if (!reject && (!u.nlri.empty() || (u.mp_reach && !u.mp_reach->nlri.empty()))) {
            PathAttributes a = u.attributes;
            a.next_hop.reset();
            if (!ibgp()) a.local_pref.reset();  // RFC 4271 §5.1.5: ignore LOCAL_PREF from eBGP
            // RFC 8326 §4: a path about to go (GRACEFUL_SHUTDOWN) is preferred least; the import
            // policy, after this, may still decide otherwise.
            if (contains(a.communities, kCommunityGracefulShutdown)) a.local_pref = 0;
            attrs = sp_.rib_.attributes().intern(std::move(a));
        }

        // One UPDATE's prefixes: into the RIB at once when nothing can refuse some of them and they
        // carry no Path Identifiers, else path by path.
        auto take = [&](const std::vector<Prefix>& nlri, const std::vector<std::uint32_t>& ids, bool ok,
                        const IpAddress* next_hop) {
            if (nlri.empty()) return;
            if (cfg_.soft_reconfiguration_inbound) {
                for (std::size_t i = 0; i < nlri.size(); ++i) {
                    const PathKey k{nlri[i], id_at(ids, i)};
                    if (ok) {
                        received_[k] = {attrs, *next_hop};
                    } else {
                        received_.erase(k);
                    }
                }
            }
            if (ok && ids.empty() && plain_import()) {
                import_batch(src, nlri, attrs, *next_hop, ch);
                return;
            }
            for (std::size_t i = 0; i < nlri.size(); ++i) {
                PathSource one = src;
                one.path_id = id_at(ids, i);
                if (ok) {
                    import_path(one, nlri[i], attrs, *next_hop, ch);
                } else {
                    withdraw_path({nlri[i], one.path_id}, ch);
                }
            }
        };
        const bool v4_ok = !reject && u.attributes.next_hop.has_value();
        take(u.nlri, u.nlri_path_ids, v4_ok, v4_ok ? &*u.attributes.next_hop : nullptr);
        if (u.mp_reach) {
            const bool ok = !reject && !u.mp_reach->next_hops.empty() && u.mp_reach->family.safi == kSafiUnicast;
            take(u.mp_reach->nlri, u.mp_reach->path_ids, ok, ok ? &mp_next_hop(u.mp_reach->next_hops) : nullptr);
        }
        sp_.apply(ch);
        if (ch.capacity() <= 4096) sp_.spare_changes_ = std::move(ch);  // not a table's worth
        check_max_prefixes(u.mp_reach ? u.mp_reach->family : kIpv4Unicast);
    }

    // Max-prefix: what the peer announced and we hold or refused, against its limit.
    void check_max_prefixes(AfiSafi family) {
        if (cfg_.max_prefixes == 0) return;
        const std::size_t n = sp_.rib_.adj_rib_in_count(cfg_.address) + rejected_.size();
        if (n > cfg_.max_prefixes) {
            exceed_max_prefixes(family, n);
        } else if (!max_prefix_warned_ && n * 10 >= std::size_t{cfg_.max_prefixes} * 9) {
            max_prefix_warned_ = true;
            log::get("bgp")->warn("{}: {} prefixes, 90 % of its limit of {}", label_, n, cfg_.max_prefixes);
        }
    }

    // RFC 4486 §4: Cease / Maximum Number of Prefixes Reached, with AFI, SAFI and the limit; the
    // peer's routes go, and the session stays down for max_prefix_restart.
    void exceed_max_prefixes(AfiSafi family, std::size_t n) {
        Bytes data;
        Writer w{data};
        w.u16(family.afi);
        w.u8(family.safi);
        w.u32(cfg_.max_prefixes);
        const auto restart = cfg_.max_prefix_restart;
        log::get("bgp")->error("{}: {} prefixes exceed its limit of {}: closing the session{}", label_, n,
                               cfg_.max_prefixes,
                               restart.count() > 0 ? ", retrying in " + std::to_string(restart.count()) + " s"
                                                   : "; it stays down until reconfigured");
        shutdown(ManualStop{kCeaseMaxPrefixes, std::move(data)});
        drop_all();
        max_prefix_state_ = "limit " + std::to_string(cfg_.max_prefixes) + " exceeded (" + std::to_string(n) +
                            " prefixes)" + (restart.count() > 0 ? ", retried every " + std::to_string(restart.count()) + " s"
                                                                : ", down until reconfigured");
        if (restart.count() == 0) return;
        max_prefix_timer_.expires_after(restart);
        max_prefix_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec || !sp_.running_) return;
            log::get("bgp")->info("{}: max-prefix restart interval over, connecting again", label_);
            max_prefix_state_.clear();
            start();
        });
    }

    // The import step of one path (RFC 4271 §9.1.1): prefix ownership for iBGP peers, then the
    // import policy. A rejected path is as if withdrawn: it replaces any earlier path from this
    // peer for the prefix (§9: an UPDATE replaces the route it names).
    // No policy and nothing refused earlier: a whole UPDATE goes into the RIB at once (the path
    // interned once), the case of every iBGP mesh session and of a table load.
    [[nodiscard]] bool plain_import() const noexcept { return !cfg_.import_policy && rejected_.empty(); }

    // plain_import()'s case: only prefix ownership may still refuse some of the prefixes.
    void import_batch(const PathSource& src, const std::vector<Prefix>& prefixes,
                      const std::shared_ptr<const PathAttributes>& attrs, const IpAddress& next_hop,
                      Rib::Changes& ch) {
        if (!stale_[0].empty() || !stale_[1].empty()) {
            for (const auto& p : prefixes) unstale({p, 0});
        }
        if (!ibgp() || sp_.owned_.empty()) {
            sp_.rib_.update(src, prefixes, attrs, next_hop, ch);
            return;
        }
        std::vector<Prefix> accepted;
        accepted.reserve(prefixes.size());
        for (const auto& p : prefixes) {
            if (auto owner = sp_.owner_of(p); owner && !may_announce(*owner, *attrs, next_hop)) {
                reject_owned({p, 0}, *owner, ch);
            } else {
                accepted.push_back(p);
            }
        }
        sp_.rib_.update(src, accepted, attrs, next_hop, ch);
    }

    void import_path(const PathSource& src, const Prefix& p, const std::shared_ptr<const PathAttributes>& attrs,
                     const IpAddress& next_hop, Rib::Changes& ch) {
        const PathKey key{p, src.path_id};
        unstale(key);
        if (ibgp()) {
            if (auto owner = sp_.owner_of(p); owner && !may_announce(*owner, *attrs, next_hop)) {
                reject_owned(key, *owner, ch);
                return;
            }
        }
        if (!cfg_.import_policy) {
            rejected_.erase(key);
            sp_.rib_.update(src, p, attrs, next_hop, ch);
            return;
        }
        const PolicyDecision d = bgp::decide(*cfg_.import_policy, p, *attrs);
        if (!d.accept()) {
            if (!policy_logged_) {  // the first since the session came up; they can be many
                log::get("bgp")->info("{}: import policy {} rejects {} (term {}); more at debug level", label_,
                                      (*cfg_.import_policy).name, p.to_string(), d.term ? d.term->name : "default");
                policy_logged_ = true;
            } else {
                log::get("bgp")->debug("{}: import policy rejects {} (term {})", label_, p.to_string(),
                                       d.term ? d.term->name : "default");
            }
            rejected_[key] = Rejection::kPolicy;
            sp_.rib_.withdraw(cfg_.address, p, ch, src.path_id);
            return;
        }
        rejected_.erase(key);
        if (!d.action->modifies()) {
            sp_.rib_.update(src, p, attrs, next_hop, ch);
            return;
        }
        PathAttributes a = *attrs;
        bgp::modify(*d.action, a);
        sp_.rib_.update(src, p, sp_.rib_.attributes().intern(std::move(a)), next_hop, ch);
    }

    // Prefix ownership over iBGP: the owner itself, or a route reflector passing on the owner's
    // path (RFC 4456: ORIGINATOR_ID set, next hop unchanged, so it still points at the owner). Our
    // own clients never reflect: what they send is theirs.
    [[nodiscard]] bool may_announce(const IpAddress& owner, const PathAttributes& a, const IpAddress& next_hop) const {
        if (owner == cfg_.address) return true;
        return !cfg_.route_reflector_client && a.originator_id.has_value() && next_hop == owner;
    }

    void withdraw_path(const PathKey& k, Rib::Changes& ch) {
        if (!received_.empty()) received_.erase(k);
        unstale(k);
        rejected_.erase(k);
        sp_.rib_.withdraw(cfg_.address, k.prefix, ch, k.path_id);
    }

    void reject_owned(const PathKey& k, const IpAddress& owner, Rib::Changes& ch) {
        if (ownership_logged_.insert(k.prefix).second) {
            log::get("bgp")->warn("{}: rejected {}: it belongs to {}, which alone may announce it (prefix ownership)",
                                  label_, k.prefix.to_string(), owner.to_string());
        }
        rejected_[k] = Rejection::kOwnership;
        sp_.rib_.withdraw(cfg_.address, k.prefix, ch, k.path_id);
    }

    // Only the policies changed: the session stays (nothing in RFC 4271 asks for a reset).
    void set_policies(const PeerConfig& next) {
        const bool import_changed = !(cfg_.import_policy == next.import_policy);
        const bool export_changed = !(cfg_.export_policy == next.export_policy);
        const PolicyRef old_import = cfg_.import_policy;
        cfg_ = next;
        if (export_changed) sync_all();  // re-decides every route, sends only what differs
        if (import_changed) reimport(old_import);
    }

    // RFC 4271 §9.1.1 again after an import policy change, without a pre-policy Adj-RIB-In: when
    // the old policy changed no path, the RIB holds the paths as received and the new policy is
    // applied to them here; only paths refused earlier that the new policy might accept, or paths
    // an old policy had changed, must come from the peer again (ROUTE-REFRESH). The daemon changes
    // policies whenever Nodes come and go: most changes then cost no message at all.
    void reimport(const PolicyRef& old) {
        if (old && may_modify(*old)) {
            refresh_in("import policy changed");
            return;
        }
        if (primary_ && primary_->state() == State::kEstablished && cfg_.import_policy) {
            const auto& open = primary_->fsm().peer_open();
            const PathSource src{cfg_.address, open ? open->bgp_id : 0, cfg_.remote_asn, !ibgp()};
            std::vector<std::tuple<Prefix, std::shared_ptr<const PathAttributes>, IpAddress, std::uint32_t>> changed;
            for (const auto& prefix : sp_.rib_.prefixes()) {
                const auto entry = sp_.rib_.find(prefix);  // a copy: keep it alive for the loop
                for (const auto& path : entry->paths) {
                    if (path.local || path.peer_address != cfg_.address) continue;
                    const PolicyDecision d = bgp::decide(*cfg_.import_policy, prefix, *path.attributes);
                    if (!d.accept() || d.action->modifies())
                        changed.emplace_back(prefix, path.attributes, path.next_hop, path.path_id);
                }
            }
            Rib::Changes ch;
            for (const auto& [prefix, attrs, next_hop, path_id] : changed) {
                PathSource one = src;
                one.path_id = path_id;
                import_path(one, prefix, attrs, next_hop, ch);
            }
            sp_.apply(ch);
        }
        const bool ask = std::any_of(rejected_.begin(), rejected_.end(), [this](const auto& r) {
            return r.second == Rejection::kPolicy &&
                   !(cfg_.import_policy && rejects_whatever_attributes(*cfg_.import_policy, r.first.prefix));
        });
        if (ask) refresh_in("import policy changed");
    }

    // Ownership changed: paths refused for it may now be allowed.
    void recheck_ownership() {
        bool allowed_now = false;
        for (const auto& [k, why] : rejected_) {
            if (why != Rejection::kOwnership) continue;
            auto owner = sp_.owner_of(k.prefix);
            if (!owner || *owner == cfg_.address) {
                ownership_logged_.erase(k.prefix);
                allowed_now = true;
            }
        }
        if (allowed_now) refresh_in("prefix ownership changed");
    }

    // We keep no pre-policy Adj-RIB-In, so a path refused earlier can only come back from the
    // peer: RFC 2918 §3 ROUTE-REFRESH per family, or, from a peer without the capability, a new
    // session (RFC 2918 §1: the only other way).
    void refresh_in(const char* why) {
        if (!primary_ || primary_->state() != State::kEstablished) return;  // the next session sends all
        if (cfg_.soft_reconfiguration_inbound) {
            reimport_from_copy(why);
            return;
        }
        const auto& open = primary_->fsm().peer_open();
        if (open && open->route_refresh) {
            std::vector<Bytes> out;
            for (const AfiSafi f : {AfiSafi{kAfiIpv4, kSafiUnicast}, AfiSafi{kAfiIpv6, kSafiUnicast}}) {
                if (has_family(*open, f)) out.push_back(encode(Message{RouteRefreshMessage{f, 0}}, primary_->encode_context()));
            }
            log::get("bgp")->info("{}: {}: sending ROUTE-REFRESH", label_, why);
            primary_->send(std::move(out));
            return;
        }
        log::get("bgp")->info("{}: {}, and the peer cannot refresh its routes: resetting the session", label_, why);
        shutdown(kCeaseOtherConfigurationChange);
        Rib::Changes ch;
        sp_.rib_.drop_peer(cfg_.address, ch);
        sp_.apply(ch);
        if (sp_.running_) start();
    }

    void session_route_refresh(Session& s, const RouteRefreshMessage& rr) override {
        if (primary_.get() != &s) return;
        // RFC 7313 §5: an unknown subtype is ignored; so is a family we did not negotiate (RFC
        // 2918 §4: it SHOULD be ignored).
        const auto i = family_index(rr.family);
        if (!rr.is_known_subtype() || !i || !negotiated_has(rr.family)) {
            log::get("bgp")->info("{}: ignoring ROUTE-REFRESH subtype {} for afi {} safi {}", label_, rr.subtype,
                                  rr.family.afi, rr.family.safi);
            return;
        }
        if (rr.subtype == kRouteRefreshBorr) {
            if (negotiated_.enhanced_route_refresh) begin_refresh(*i);
            return;
        }
        if (rr.subtype == kRouteRefreshEorr) {
            if (negotiated_.enhanced_route_refresh) flush_stale(*i, "End of Route Refresh");
            return;
        }
        log::get("bgp")->info("{}: ROUTE-REFRESH for afi {} safi {}: sending the table again", label_, rr.family.afi,
                              rr.family.safi);
        if (deferred_) return;  // the table goes out when the deferral ends anyway
        // RFC 2918 §4: the whole Adj-RIB-Out of the family again; RFC 7313 §4: framed by BoRR/EoRR.
        const Family fam = *i == 0 ? Family::kIpv4 : Family::kIpv6;
        std::erase_if(adj_rib_out_, [fam](const auto& e) { return e.first.family() == fam; });
        const auto ctx = primary_->encode_context();
        if (negotiated_.enhanced_route_refresh)
            primary_->send({encode(Message{RouteRefreshMessage{rr.family, kRouteRefreshBorr}}, ctx)});
        sync_all(fam);
        if (negotiated_.enhanced_route_refresh)
            primary_->send({encode(Message{RouteRefreshMessage{rr.family, kRouteRefreshEorr}}, ctx)});
    }

private:
    // A second connection during a collision is labelled as such in the logs.
    std::shared_ptr<Session> make_session(bool second = false) {
        const Timers t = sp_.timers_for(cfg_);
        FsmConfig f;
        f.local_as = sp_.cfg_.asn;
        f.local_id = sp_.cfg_.router_id.v4_host_order();
        f.remote_as = cfg_.remote_asn;
        f.hold_time = t.hold_time;
        f.keepalive = t.keepalive;
        f.connect_retry = t.connect_retry;
        f.passive = cfg_.passive;
        f.jitter_seed = sp_.rng_();
        f.graceful_restart = sp_.gr_capability();
        // RFC 7911: we take several paths per prefix from any peer that offers to send them (a
        // route server or reflector with add-paths), for ECMP; we send only our best one.
        f.add_path = {{kIpv4Unicast, AddPathMode::kReceive}, {kIpv6Unicast, AddPathMode::kReceive}};
        // RFC 8950: IPv4 routes with IPv6 next hops, both ways (an IPv6-only node's podCIDRs).
        f.extended_next_hop = {{kIpv4Unicast, kAfiIpv6}};
        Session::Options o;
        o.fsm = f;
        o.remote = cfg_.address;
        o.remote_port = cfg_.port;
        o.local_bind = cfg_.local_address;
        o.log_prefix = second ? label_ + " [incoming]" : label_;
        o.md5_password = cfg_.md5_password;
        const std::uint8_t hops = cfg_.multihop_ttl != 0 ? cfg_.multihop_ttl : 1;
        if (cfg_.gtsm) {
            // RFC 5082 §3: send with 255, drop what arrives from further than `hops` away.
            o.ttl = 255;
            o.min_ttl = static_cast<std::uint8_t>(255 - hops + 1);
        } else {
            // eBGP peers are directly connected unless multihop says otherwise; iBGP goes anywhere.
            o.ttl = ibgp() ? std::uint8_t{255} : hops;
        }
        auto session = std::make_shared<Session>(sp_.ioc_, std::move(o), this);
        open_sent_ = session->fsm().local_open();
        return session;
    }

    void retire(std::shared_ptr<Session>& s) {
        auto old = std::move(s);
        s.reset();
        collect_counters(*old);
        old->dismiss(ManualStop{});  // cancels its IdleHold: this connection is done
    }

    void collect_counters(const Session& s) {
        keep_later(notification_sent_, s.last_notification_sent());
        keep_later(notification_received_, s.last_notification_received());
        messages_in_ += s.messages_received();
        messages_out_ += s.messages_sent();
        updates_in_ += s.updates_received();
        updates_out_ += s.updates_sent();
    }

    std::optional<Advert> export_route(const Prefix& prefix, const Path* best) const {
        if (!best) return std::nullopt;
        const Path& b = *best;
        if (!b.local && b.peer_address == cfg_.address) return std::nullopt;  // not back to its source
        // RFC 4271 §9.2.1 split horizon, unless we reflect (RFC 4456 §6): from a client to every
        // iBGP peer, from a non-client to the clients.
        const bool reflect = !b.local && !b.ebgp && ibgp();
        if (reflect && !cfg_.route_reflector_client && !sp_.is_rr_client(b.peer_address)) return std::nullopt;
        if (!communities_allow_export(b.attributes->communities, ibgp())) return std::nullopt;  // RFC 1997 §3
        const auto& open = primary_->fsm().peer_open();
        const AfiSafi family{prefix.family() == Family::kIpv4 ? kAfiIpv4 : kAfiIpv6, kSafiUnicast};
        if (!open || !has_family(*open, family)) return std::nullopt;

        PathAttributes a = *b.attributes;
        a.next_hop.reset();
        if (reflect) {
            // RFC 4456 §8: the originator (set once, by the first reflector) and our cluster first.
            if (!a.originator_id) a.originator_id = b.peer_router_id;
            if (open->bgp_id == *a.originator_id) return std::nullopt;  // it would drop it anyway
            a.cluster_list.insert(a.cluster_list.begin(), sp_.cluster_id());
        }
        if (ibgp()) {
            a.local_pref = b.local_pref(); // §5.1.5: always sent to internal peers
        } else {
            a.local_pref.reset();
            if (!b.local) a.med.reset();   // §5.1.4: a MED learned from one AS is not passed on
            a.originator_id.reset();
            a.cluster_list.clear();
        }
        if (cfg_.export_policy) {          // §9.1.3: the outbound policy sees what the peer would get
            if (!bgp::apply(*cfg_.export_policy, prefix, a)) return std::nullopt;
            if (!ibgp()) a.local_pref.reset();  // §5.1.5: never to an external peer, whatever a policy set
        }
        if (sp_.graceful_shutdown_) {      // RFC 8326 §4: after the policy, which must not lose it
            if (!contains(a.communities, kCommunityGracefulShutdown)) a.communities.push_back(kCommunityGracefulShutdown);
            if (ibgp()) a.local_pref = 0;  // what an iBGP peer honouring it would set anyway
        }
        IpAddress nh;
        if (ibgp()) {
            nh = b.next_hop;               // RFC 4271 §5.1.3: unchanged over iBGP
        } else {
            prepend_as(a, sp_.cfg_.asn);   // §5.1.2: our AS leftmost, before any the policy prepended
            if (local_address_ && next_hop_fits(prefix, *local_address_)) {
                nh = *local_address_;      // next-hop-self
            } else if (b.local && next_hop_fits(prefix, b.next_hop)) {
                nh = b.next_hop;
            } else {
                return std::nullopt;
            }
        }
        if (!next_hop_fits(prefix, nh)) return std::nullopt;
        return Advert{sp_.rib_.attributes().intern(std::move(a)), nh};
    }

    // The next hop's family matches the prefix's, or RFC 8950 lets an IPv4 route have an IPv6 one.
    [[nodiscard]] bool next_hop_fits(const Prefix& prefix, const IpAddress& nh) const noexcept {
        if (nh.family() == prefix.family()) return true;
        return prefix.family() == Family::kIpv4 && nh.family() == Family::kIpv6 && negotiated_.ipv4_with_ipv6_next_hop;
    }

    Impl& sp_;
    PeerConfig cfg_;
    std::string label_;
    std::shared_ptr<Session> primary_;
    std::shared_ptr<Session> secondary_;
    std::vector<std::shared_ptr<Session>> dismissed_;
    std::map<Prefix, Advert> adj_rib_out_;
    enum class Rejection : std::uint8_t { kPolicy, kOwnership };
    std::map<PathKey, Rejection> rejected_;  // what the peer announces that we refused
    std::set<Prefix> ownership_logged_;
    bool policy_logged_ = false;
    std::optional<IpAddress> local_address_;
    std::optional<Clock::time_point> established_since_;
    bool end_of_rib_received_ = false;
    Negotiated negotiated_;  // of the current (or last) Established session
    std::optional<OpenMessage> open_sent_;      // of the last session made (kroutectl neighbor IP)
    std::optional<OpenMessage> open_received_;  // the peer's, of the last Established session
    std::optional<NotificationRecord> notification_sent_;  // the latest of sessions gone
    std::optional<NotificationRecord> notification_received_;
    // Helper (RFC 4724 §4.2) and Enhanced Route Refresh (RFC 7313 §4): the peer's paths kept as
    // stale, per family (IPv4, IPv6) until announced again, End-of-RIB / EoRR, or gr_timer_.
    std::array<std::unordered_set<PathKey, PathKeyHash>, 2> stale_;
    // Soft reconfiguration inbound: the paths as the peer sent them (interned attributes, next hop).
    std::unordered_map<PathKey, std::pair<std::shared_ptr<const PathAttributes>, IpAddress>, PathKeyHash> received_;
    asio::steady_timer gr_timer_;
    bool deferred_ = false;  // restarting speaker: our table waits for the deferral's end
    bool forwarding_failed_ = false;  // the session is closing because BFD went Down: no helper mode
    asio::steady_timer max_prefix_timer_;
    std::string max_prefix_state_;
    bool max_prefix_warned_ = false;
    std::string last_error_;
    std::uint64_t messages_in_ = 0;
    std::uint64_t messages_out_ = 0;
    std::uint64_t updates_in_ = 0;   // of sessions gone (the current one counts its own)
    std::uint64_t updates_out_ = 0;
    std::uint64_t flaps_ = 0;
};

Speaker::Impl::Impl(asio::io_context& ioc, SpeakerConfig cfg)
    : ioc_{ioc},
      cfg_{std::move(cfg)},
      restarting_{cfg_.graceful_restart.enabled && cfg_.graceful_restart.restarting},
      listener_{ioc, [this](asio::ip::tcp::socket s) { on_accept(std::move(s)); }} {}

std::optional<GracefulRestart> Speaker::Impl::gr_capability() const {
    const auto& g = cfg_.graceful_restart;
    if (!g.enabled) return std::nullopt;
    GracefulRestart c;
    c.restart_state = restarting_;  // RFC 4724 §3: R, while our own restart is in progress
    c.restart_time = static_cast<std::uint16_t>(std::clamp<std::int64_t>(g.restart_time.count(), 0, 4095));
    for (const auto f : kFamilies) c.families.push_back({f, g.forwarding_preserved});
    return c;
}

bool Speaker::Impl::is_rr_client(const IpAddress& peer) const {
    auto it = peers_.find(peer);
    return it != peers_.end() && it->second->config().route_reflector_client;
}

void Speaker::Impl::check_restart_done(const char* force) {
    if (!restarting_) return;
    if (!force) {
        for (const auto& [addr, peer] : peers_) {
            if (!peer->ready_for_selection()) return;
        }
    }
    restarting_ = false;
    deferral_timer_.cancel();
    log::get("bgp")->info("graceful restart: {}; sending our tables",
                          force ? force : "End-of-RIB received from every peer");
    for (auto& [addr, peer] : peers_) peer->end_deferral();
}

Speaker::Impl::~Impl() {
    listener_.close();
    peers_.clear();  // each Peer sends Cease on its way out
}

void Speaker::Impl::set_bfd(const PeerConfig& p) {
    if (!p.bfd) {
        if (bfd_) bfd_->remove(p.address);
        return;
    }
    if (!bfd_) {
        bfd_ = std::make_unique<bfd::Service>(ioc_, cfg_.bfd);
        bfd_->on_state_change([this](const bfd::StateChange& c) {
            auto it = peers_.find(c.peer);
            if (it != peers_.end() && c.from == bfd::State::kUp && c.to == bfd::State::kDown)
                it->second->bfd_down(bfd::to_string(c.diag));
        });
    }
    if (auto r = bfd_->add({.peer = p.address, .local = p.local_address, .timers = *p.bfd}); !r)
        log::get("bgp")->error("{}: {}", peer_label(p), r.error());
}

void Speaker::Impl::on_accept(asio::ip::tcp::socket socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return;
    const IpAddress from = to_ip(ep.address());
    auto it = peers_.find(from);
    if (!running_ || it == peers_.end()) {
        if (refused_logged_.insert(from).second) {
            log::get("bgp")->warn("refused a BGP connection from {}: not a configured peer", from.to_string());
        }
        socket.close(ec);
        return;
    }
    it->second->incoming(std::move(socket));
}

std::optional<IpAddress> Speaker::Impl::owner_of(const Prefix& p) const {
    for (auto it = owned_lengths_.rbegin(); it != owned_lengths_.rend(); ++it) {  // longest first
        if (it->first != p.family() || it->second > p.length()) continue;
        if (auto o = owned_.find(Prefix(p.address(), it->second)); o != owned_.end()) return o->second;
    }
    return std::nullopt;
}

void Speaker::Impl::enforce_ownership(const std::vector<Prefix>& owned) {
    std::vector<std::pair<IpAddress, PathKey>> out;  // collected first: the RIB changes below
    if (owned.empty()) return;
    const std::vector<Prefix> all = rib_.prefixes();  // sorted
    for (const auto& o : owned) {
        for (auto it = std::lower_bound(all.begin(), all.end(), o); it != all.end() && o.contains(*it); ++it) {
            const auto owner = owner_of(*it);
            const auto entry = rib_.find(*it);  // a copy: keep it alive for the loop
            for (const auto& path : entry->paths) {
                if (path.local || path.ebgp || !owner || *owner == path.peer_address) continue;
                const bool reflected = path.attributes->originator_id && path.next_hop == *owner &&
                                       !is_rr_client(path.peer_address);  // as Peer::may_announce
                if (!reflected) out.emplace_back(path.peer_address, PathKey{*it, path.path_id});
            }
        }
    }
    Rib::Changes ch;
    for (const auto& [peer, key] : out) {
        if (auto it = peers_.find(peer); it != peers_.end()) it->second->reject_owned(key, *owner_of(key.prefix), ch);
    }
    apply(ch);
}

void Speaker::Impl::apply(Rib::Changes& changes) {
    if (changes.empty()) return;
    std::vector<Want> wants = std::exchange(spare_wants_, {});  // reused storage, as spare_changes_
    wants.clear();
    wants.reserve(changes.size());
    for (const auto& c : changes) {
        auto before = to_best_route(c.prefix, c.old_best, c.old_next_hops);
        auto after = to_best_route(c.prefix, c.new_best, c.new_next_hops);
        if (before != after) {
            if (log::enabled(spdlog::level::debug))
                log::get("bgp")->debug("best path for {}: {}", c.prefix.to_string(),
                                   after ? after->next_hops.front().to_string() : std::string{"none"});
            if (best_handler_) best_handler_(c.prefix, after, before);
        }
        wants.push_back({&c.prefix, c.new_best ? &*c.new_best : nullptr});
    }
    for (auto& [addr, peer] : peers_) peer->sync(wants);
    if (wants.capacity() <= 4096) spare_wants_ = std::move(wants);
}

// ---- Speaker ----

Speaker::Speaker(asio::io_context& ioc, SpeakerConfig cfg) : impl_{std::make_unique<Impl>(ioc, std::move(cfg))} {}

Speaker::~Speaker() = default;

Expected<void, std::string> Speaker::start() {
    if (impl_->running_) return {};
    if (!impl_->cfg_.router_id.is_v4() || impl_->cfg_.router_id.is_unspecified()) {
        return unexpected(std::string{"router id must be a non-zero IPv4 address"});
    }
    auto r = impl_->listener_.listen(impl_->cfg_.listen_addresses, impl_->cfg_.listen_port);
    if (!r) return r;
    impl_->running_ = true;
    if (impl_->restarting_) {
        log::get("bgp")->info("graceful restart: restarting with the forwarding state kept; tables to peers that "
                              "kept our routes wait for every peer's End-of-RIB, at most {} s",
                              impl_->cfg_.graceful_restart.deferral_time.count());
        impl_->deferral_timer_.expires_after(impl_->cfg_.graceful_restart.deferral_time);
        impl_->deferral_timer_.async_wait([im = impl_.get()](boost::system::error_code ec) {
            if (!ec) im->check_restart_done("the deferral timer expired");
        });
    }
    for (auto& [addr, peer] : impl_->peers_) peer->start();
    return {};
}

bool Speaker::restart_complete() const noexcept { return !impl_->restarting_; }

void Speaker::begin_graceful_shutdown() {
    auto& im = *impl_;
    if (im.graceful_shutdown_) return;
    im.graceful_shutdown_ = true;
    log::get("bgp")->info("graceful shutdown (RFC 8326): announcing every route again with GRACEFUL_SHUTDOWN "
                          "(65535:0) to {} peer(s)", im.peers_.size());
    for (auto& [addr, peer] : im.peers_) peer->sync_all();
}

bool Speaker::graceful_shutdown() const noexcept { return impl_->graceful_shutdown_; }

void Speaker::set_cluster_id(std::optional<std::uint32_t> cluster_id) {
    auto& im = *impl_;
    if (im.cfg_.cluster_id == cluster_id) return;
    im.cfg_.cluster_id = cluster_id;
    log::get("bgp")->info("route reflector cluster id now {}", IpAddress::v4(im.cluster_id()).to_string());
    for (auto& [addr, peer] : im.peers_) peer->sync_all();
}

namespace {

struct StopWait {
    explicit StopWait(asio::io_context& ioc) : timer{ioc} {}
    asio::steady_timer timer;
    std::vector<std::shared_ptr<Session>> sessions;
    std::function<void()> done;
    Clock::time_point deadline;
};

void poll_stop(const std::shared_ptr<StopWait>& w) {
    const bool drained = std::all_of(w->sessions.begin(), w->sessions.end(),
                                     [](const std::shared_ptr<Session>& s) { return s->drained(); });
    if (drained || Clock::now() >= w->deadline) {
        w->sessions.clear();
        if (w->done) w->done();
        return;
    }
    w->timer.expires_after(std::chrono::milliseconds{10});
    w->timer.async_wait([w](boost::system::error_code) { poll_stop(w); });
}

}  // namespace

void Speaker::stop(std::function<void()> on_done, bool for_restart) {
    auto& im = *impl_;
    im.running_ = false;
    im.listener_.close();
    auto w = std::make_shared<StopWait>(im.ioc_);
    w->done = std::move(on_done);
    w->deadline = Clock::now() + std::chrono::seconds{1};
    std::size_t silent = 0;
    for (auto& [addr, peer] : im.peers_) {
        const bool keep = for_restart && peer->helps_our_restart();
        silent += keep ? 1 : 0;
        peer->shutdown(ManualStop{kCeaseAdministrativeShutdown, {}, keep});
        for (auto& s : peer->take_dismissed()) w->sessions.push_back(std::move(s));
    }
    im.deferral_timer_.cancel();
    if (silent > 0) {
        log::get("bgp")->info("speaker stopping for a graceful restart: {} peer(s) keep our routes, Cease to {}",
                              silent, im.peers_.size() - silent);
    } else {
        log::get("bgp")->info("speaker stopping: Cease sent to {} peer(s)", im.peers_.size());
    }
    asio::post(im.ioc_, [w] { poll_stop(w); });
}

void Speaker::set_peer(const PeerConfig& peer) {
    auto& im = *impl_;
    if (auto it = im.peers_.find(peer.address); it != im.peers_.end()) {
        if (it->second->config() == peer) return;
        PeerConfig same_session = peer;
        same_session.import_policy = it->second->config().import_policy;
        same_session.export_policy = it->second->config().export_policy;
        if (same_session == it->second->config()) {
            log::get("bgp")->info("{}: policies changed", peer_label(peer));
            it->second->set_policies(peer);
            return;
        }
        log::get("bgp")->info("{}: reconfigured, resetting the session", peer_label(peer));
        it->second->shutdown(kCeaseOtherConfigurationChange);
        im.peers_.erase(it);
        Rib::Changes ch;
        im.rib_.drop_peer(peer.address, ch);
        im.apply(ch);
    } else {
        log::get("bgp")->info("{}: added", peer_label(peer));
    }
    im.set_md5_key(peer.address, peer.md5_password);
    auto p = std::make_unique<Impl::Peer>(im, peer);
    auto* raw = p.get();
    im.peers_.emplace(peer.address, std::move(p));
    im.refused_logged_.erase(peer.address);
    if (im.running_) raw->start();
    im.set_bfd(peer);
}

Expected<std::string, std::string> Speaker::peer_action(const IpAddress& address, PeerAction action,
                                                        const std::string& message) {
    auto& im = *impl_;
    auto it = im.peers_.find(address);
    if (it == im.peers_.end()) return unexpected("no peer " + address.to_string());
    auto& peer = *it->second;
    const std::string label = peer_label(peer.config());
    auto log = log::get("bgp");
    switch (action) {
        case PeerAction::kReset:
            if (im.admin_down_.count(address) != 0) return unexpected(label + " is shut down: enable it first");
            log->warn("{}: reset by the operator (Cease / Administrative Reset)", label);
            peer.operator_reset();
            return std::string{"reset: Cease / Administrative Reset sent, reconnecting"};
        case PeerAction::kSoftResetIn:
            if (!peer.established()) return unexpected(label + " is not Established");
            peer.operator_refresh_in();
            return std::string{"soft reset in: routes asked for again (ROUTE-REFRESH, or the soft-reconfiguration copy)"};
        case PeerAction::kSoftResetOut:
            if (!peer.established()) return unexpected(label + " is not Established");
            log->info("{}: soft reset out by the operator: sending the table again", label);
            peer.operator_refresh_out();
            return std::string{"soft reset out: the table sent again"};
        case PeerAction::kShutdown: {
            auto data = encode_shutdown_communication(message);  // RFC 9003
            if (!data) return unexpected(std::string{"shutdown message: "} + std::string{to_string(data.error())});
            log->warn("{}: shut down by the operator{}", label, message.empty() ? "" : ": \"" + message + "\"");
            im.admin_down_[address] = message;
            peer.operator_shutdown(std::move(*data));
            Rib::Changes ch;
            im.rib_.drop_peer(address, ch);
            im.apply(ch);
            im.check_restart_done();
            return std::string{"shut down: Cease / Administrative Shutdown sent; stays down until enabled"};
        }
        case PeerAction::kEnable:
            if (im.admin_down_.erase(address) == 0) return unexpected(label + " is not shut down");
            log->info("{}: enabled by the operator", label);
            if (im.running_) peer.start();
            return std::string{"enabled: connecting"};
    }
    return unexpected(std::string{"unknown action"});
}

void Speaker::remove_peer(const IpAddress& address) {
    auto& im = *impl_;
    auto it = im.peers_.find(address);
    if (it == im.peers_.end()) return;
    log::get("bgp")->info("{}: removed", peer_label(it->second->config()));
    im.admin_down_.erase(address);
    it->second->shutdown(kCeasePeerDeconfigured);
    im.peers_.erase(it);
    if (im.bfd_) im.bfd_->remove(address);
    im.set_md5_key(address, {});
    im.check_restart_done();
    Rib::Changes ch;
    im.rib_.drop_peer(address, ch);
    im.apply(ch);
}

std::vector<IpAddress> Speaker::peers() const {
    std::vector<IpAddress> out;
    for (const auto& [addr, p] : impl_->peers_) out.push_back(addr);
    return out;
}

void Speaker::originate(const Prefix& prefix, const IpAddress& next_hop) {
    Rib::Changes ch;
    impl_->rib_.originate(prefix, next_hop, ch);
    impl_->apply(ch);
}

void Speaker::originate(const Prefix& prefix, const IpAddress& next_hop, const PathAttributes& base) {
    Rib::Changes ch;
    impl_->rib_.originate(prefix, next_hop, base, ch);
    impl_->apply(ch);
}

void Speaker::withdraw(const Prefix& prefix) {
    Rib::Changes ch;
    impl_->rib_.withdraw_local(prefix, ch);
    impl_->apply(ch);
}

void Speaker::set_owned_prefixes(const IpAddress& owner, std::vector<Prefix> prefixes) {
    auto& im = *impl_;
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    auto& mine = im.owned_by_[owner];
    if (mine == prefixes) {
        if (mine.empty()) im.owned_by_.erase(owner);
        return;
    }
    for (const auto& p : mine) {
        auto it = im.owned_.find(p);
        if (it == im.owned_.end() || it->second != owner) continue;
        im.owned_.erase(it);
        for (const auto& [other, theirs] : im.owned_by_) {  // a second claimant takes it over
            if (other != owner && std::binary_search(theirs.begin(), theirs.end(), p)) {
                im.owned_.emplace(p, other);
                break;
            }
        }
    }
    for (const auto& p : prefixes) {
        auto [it, inserted] = im.owned_.try_emplace(p, owner);
        if (!inserted && it->second != owner) {
            log::get("bgp")->warn("{} is claimed by both {} and {}; {} keeps it", p.to_string(), it->second.to_string(),
                                  owner.to_string(), it->second.to_string());
        }
    }
    mine = prefixes;
    if (mine.empty()) im.owned_by_.erase(owner);
    im.owned_lengths_.clear();
    for (const auto& [p, o] : im.owned_) im.owned_lengths_.emplace(p.family(), p.length());
    im.enforce_ownership(prefixes);
    for (auto& [addr, peer] : im.peers_) peer->recheck_ownership();
}

void Speaker::on_best_path_change(BestPathHandler handler) { impl_->best_handler_ = std::move(handler); }

void Speaker::on_peer_state_change(PeerStateHandler handler) { impl_->state_handler_ = std::move(handler); }

std::vector<NeighborSnapshot> Speaker::neighbors() const {
    std::vector<NeighborSnapshot> out;
    for (const auto& [addr, p] : impl_->peers_) out.push_back(p->snapshot());
    return out;
}

std::vector<RibEntrySnapshot> Speaker::rib(const std::optional<Prefix>& only) const {
    std::vector<RibEntrySnapshot> out;
    auto add = [&out](const Prefix& prefix, const RibEntry& e) {
        RibEntrySnapshot r{prefix, {}};
        const auto why = explain(e.paths);  // the same elimination as e.selection's
        for (std::size_t i = 0; i < e.paths.size(); ++i) {
            const Path& p = e.paths[i];
            PathSnapshot ps;
            ps.from_peer = p.local ? IpAddress{} : p.peer_address;
            ps.local = p.local;
            ps.path_id = p.path_id;
            ps.best = e.selection && e.selection->best == i;
            ps.next_hops = ps.best ? e.next_hops() : std::vector<IpAddress>{p.next_hop};
            ps.attributes = *p.attributes;
            if (prefix.family() == Family::kIpv4) ps.attributes.next_hop = p.next_hop;
            if (ps.best) ps.reason = std::string{to_string(e.selection->reason)};
            if (why && !ps.best && why->lost_at[i]) ps.why_not_best = std::string{loss_to_string(*why->lost_at[i])};
            if (e.selection) {
                const auto& mp = e.selection->multipath;
                ps.multipath = mp.size() > 1 && std::find(mp.begin(), mp.end(), i) != mp.end();
            }
            if (ps.best) {
                r.paths.insert(r.paths.begin(), std::move(ps));
            } else {
                r.paths.push_back(std::move(ps));
            }
        }
        out.push_back(std::move(r));
    };
    if (only) {
        if (auto e = impl_->rib_.find(*only)) add(*only, *e);
        return out;
    }
    for (const auto& prefix : impl_->rib_.prefixes()) add(prefix, *impl_->rib_.find(prefix));
    return out;
}

std::size_t Speaker::rib_prefix_count() const { return impl_->rib_.prefix_count(); }

void Speaker::for_each_best_route(const std::function<void(const BestRoute&)>& f) const {
    const Rib& rib = impl_->rib_;
    rib.for_each_prefix([&](const Prefix& p) {
        const Path& b = *rib.best(p);
        f(BestRoute{p, rib.next_hops(p), b.local ? IpAddress{} : b.peer_address, b.local});
    });
}

const SpeakerConfig& Speaker::config() const noexcept { return impl_->cfg_; }

std::uint16_t Speaker::local_port() const noexcept { return impl_->listener_.port(); }

}  // namespace kroute::bgp
