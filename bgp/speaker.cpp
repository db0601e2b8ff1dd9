// The Speaker facade: peers (each one or two Sessions, RFC 4271 §6.8), the RIBs and the
// Adj-RIBs-Out, on the io_context thread. Export rules (RFC 4271 §9.2, §5.1): iBGP-learned routes
// are not sent to iBGP peers (no route reflection), the next hop is unchanged over iBGP and ours
// over eBGP, AS_PATH gets our AS towards eBGP peers, LOCAL_PREF goes to iBGP peers only. Each peer's
// import and export policies (bgp/policy.hpp), the well-known communities of RFC 1997 and prefix
// ownership (set_owned_prefixes) decide what enters the RIB and what leaves it.
#include "bgp/speaker.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

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

void prepend_as(PathAttributes& a, std::uint32_t asn) {  // RFC 4271 §5.1.2 b
    if (!a.as_path) a.as_path = std::vector<AsPathSegment>{};
    auto& segs = *a.as_path;
    if (segs.empty() || segs.front().type != AsPathSegment::kAsSequence || segs.front().asns.size() >= 255) {
        segs.insert(segs.begin(), AsPathSegment{AsPathSegment::kAsSequence, {asn}});
    } else {
        segs.front().asns.insert(segs.front().asns.begin(), asn);
    }
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

    asio::io_context& ioc_;
    SpeakerConfig cfg_;
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
    std::map<Prefix, IpAddress> owned_;                     // owned prefix -> owner
    std::map<IpAddress, std::vector<Prefix>> owned_by_;     // owner -> its prefixes (sorted)
    std::set<std::pair<Family, int>> owned_lengths_;      // the lengths owner_of() tries
    std::set<IpAddress> refused_logged_;
    std::mt19937_64 rng_{std::random_device{}()};
    std::unique_ptr<bfd::Service> bfd_;  // with the first peer that asks for BFD
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

    Peer(Impl& sp, PeerConfig cfg) : sp_{sp}, cfg_{std::move(cfg)}, label_{peer_label(cfg_)} {}
    ~Peer() { shutdown(kCeaseAdministrativeShutdown); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    [[nodiscard]] const PeerConfig& config() const noexcept { return cfg_; }
    [[nodiscard]] bool ibgp() const noexcept { return cfg_.remote_asn == sp_.cfg_.asn; }

    void start() {
        if (primary_) return;
        primary_ = make_session();
        primary_->start();
    }

    // Cease to whoever is connected; the sessions flush and close on their own.
    void shutdown(std::uint8_t cease_subcode) {
        for (auto* s : {&primary_, &secondary_}) {
            if (*s) {
                collect_counters(**s);
                auto keep = std::move(*s);
                s->reset();
                keep->dismiss(ManualStop{cease_subcode});
                dismissed_.push_back(keep);
            }
        }
        established_since_.reset();
        adj_rib_out_.clear();
        rejected_.clear();
    }
    // RFC 5882 §3.2: BFD saw the path fail; tear the session down as TCP would, only sooner.
    void bfd_down(const std::string& diag) {
        if (!primary_ || primary_->state() != State::kEstablished) return;
        log::get("bgp")->warn("{}: BFD down ({}), closing the session", label_, diag);
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
        if (!primary_ || primary_->state() != State::kEstablished) return;
        std::map<std::pair<const PathAttributes*, IpAddress>, std::pair<Advert, std::vector<Prefix>>> groups;
        std::vector<Prefix> gone4;
        std::vector<Prefix> gone6;
        for (const auto& [pp, best] : wants) {
            const Prefix& p = *pp;
            auto want = export_route(p, best);
            if (!want && adj_rib_out_.empty()) continue;
            auto it = adj_rib_out_.find(p);
            if (want) {
                if (it != adj_rib_out_.end() && it->second == *want) continue;
                auto& g = groups[{want->attributes.get(), want->next_hop}];
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
            if (advert.next_hop.is_v4()) {
                PathAttributes a = *advert.attributes;
                a.next_hop = advert.next_hop;
                append(encode_announcements(a, list, ctx));
                continue;
            }
            for (std::size_t i = 0; i < list.size(); i += kMpPrefixesPerUpdate) {
                UpdateMessage m;
                m.attributes = *advert.attributes;
                m.mp_reach = MpReach{AfiSafi{kAfiIpv6, kSafiUnicast}, {advert.next_hop},
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

    void sync_all() {
        std::vector<Prefix> all;
        all.reserve(sp_.rib_.prefix_count() + adj_rib_out_.size());
        sp_.rib_.for_each_prefix([&all](const Prefix& p) { all.push_back(p); });
        for (const auto& [p, a] : adj_rib_out_) {
            if (!sp_.rib_.contains(p)) all.push_back(p);
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
        n.last_error = last_error_;
        if (primary_) {
            if (const auto& o = primary_->fsm().peer_open()) n.remote_router_id = o->bgp_id;
            n.negotiated_hold_time = static_cast<std::uint16_t>(primary_->fsm().negotiated_hold_time().count());
            n.messages_received += primary_->messages_received();
            n.messages_sent += primary_->messages_sent();
            if (!primary_->last_error().empty()) n.last_error = primary_->last_error();
        }
        return n;
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
        sync_all();
        // RFC 4724 §2: End-of-RIB after the initial table, per family.
        std::vector<Bytes> eor{encode(Message{UpdateMessage{}}, s.encode_context())};
        if (const auto& o = s.fsm().peer_open(); o && has_family(*o, AfiSafi{kAfiIpv6, kSafiUnicast})) {
            UpdateMessage m;
            m.mp_unreach = MpUnreach{AfiSafi{kAfiIpv6, kSafiUnicast}, {}};
            eor.push_back(encode(Message{std::move(m)}, s.encode_context()));
        }
        s.send(std::move(eor));
    }

    void session_down(Session& s, const std::string& reason) override {
        log::get("bgp")->info("{}: session down: {}", label_, reason.empty() ? s.last_error() : reason);
        established_since_.reset();
        end_of_rib_received_ = false;
        adj_rib_out_.clear();
        rejected_.clear();
        Rib::Changes ch;
        sp_.rib_.drop_peer(cfg_.address, ch);
        sp_.apply(ch);
    }

    void session_update(Session& s, UpdateMessage&& u) override {
        if (primary_.get() != &s) return;
        const bool v6_eor = !u.mp_reach && u.mp_unreach && u.mp_unreach->withdrawn.empty() && u.nlri.empty() &&
                            u.withdrawn.empty();
        if (u.is_end_of_rib() || v6_eor) {
            log::get("bgp")->debug("{}: End-of-RIB received", label_);
            end_of_rib_received_ = true;
            return;
        }
        Rib::Changes ch;
        for (const auto& p : u.withdrawn) withdraw_path(p, ch);
        if (u.mp_unreach) {
            for (const auto& p : u.mp_unreach->withdrawn) withdraw_path(p, ch);
        }
        bool reject = u.treat_as_withdraw.has_value();  // RFC 7606 §2
        if (reject) {
            log::get("bgp")->info("{}: UPDATE treated as withdraw: {}", label_, u.treat_as_withdraw->detail);
        }
        if (!ibgp() && as_path_contains(u.attributes, sp_.cfg_.asn)) reject = true;  // RFC 4271 §9.1.2 loop
        if (ibgp() && u.attributes.originator_id == sp_.cfg_.router_id.v4_host_order()) reject = true;  // RFC 4456 §8
        const auto& open = s.fsm().peer_open();
        const PathSource src{cfg_.address, open ? open->bgp_id : 0, cfg_.remote_asn, !ibgp()};
        std::shared_ptr<const PathAttributes> attrs;
        if (!reject && (!u.nlri.empty() || (u.mp_reach && !u.mp_reach->nlri.empty()))) {
            PathAttributes a = u.attributes;
            a.next_hop.reset();
            if (!ibgp()) a.local_pref.reset();  // RFC 4271 §5.1.5: ignore LOCAL_PREF from eBGP
            attrs = sp_.rib_.attributes().intern(std::move(a));
        }

        if (!u.nlri.empty()) {
            const bool ok = !reject && u.attributes.next_hop.has_value();
            if (ok && plain_import()) {
                import_batch(src, u.nlri, attrs, *u.attributes.next_hop, ch);
            } else {
                for (const auto& p : u.nlri) {
                    if (ok) {
                        import_path(src, p, attrs, *u.attributes.next_hop, ch);
                    } else {
                        withdraw_path(p, ch);
                    }
                }
            }
        }
        if (u.mp_reach) {
            const bool ok = !reject && !u.mp_reach->next_hops.empty() && u.mp_reach->family.safi == kSafiUnicast;
            if (ok && plain_import()) {
                import_batch(src, u.mp_reach->nlri, attrs, u.mp_reach->next_hops.front(), ch);
            } else {
                for (const auto& p : u.mp_reach->nlri) {
                    if (ok) {
                        import_path(src, p, attrs, u.mp_reach->next_hops.front(), ch);
                    } else {
                        withdraw_path(p, ch);
                    }
                }
            }
        }
        sp_.apply(ch);
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
        if (!ibgp() || sp_.owned_.empty()) {
            sp_.rib_.update(src, prefixes, attrs, next_hop, ch);
            return;
        }
        std::vector<Prefix> accepted;
        accepted.reserve(prefixes.size());
        for (const auto& p : prefixes) {
            if (auto owner = sp_.owner_of(p); owner && *owner != cfg_.address) {
                reject_owned(p, *owner, ch);
            } else {
                accepted.push_back(p);
            }
        }
        sp_.rib_.update(src, accepted, attrs, next_hop, ch);
    }

    void import_path(const PathSource& src, const Prefix& p, const std::shared_ptr<const PathAttributes>& attrs,
                     const IpAddress& next_hop, Rib::Changes& ch) {
        if (ibgp()) {
            if (auto owner = sp_.owner_of(p); owner && *owner != cfg_.address) {
                reject_owned(p, *owner, ch);
                return;
            }
        }
        if (!cfg_.import_policy) {
            rejected_.erase(p);
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
            rejected_[p] = Rejection::kPolicy;
            sp_.rib_.withdraw(cfg_.address, p, ch);
            return;
        }
        rejected_.erase(p);
        if (!d.action->modifies()) {
            sp_.rib_.update(src, p, attrs, next_hop, ch);
            return;
        }
        PathAttributes a = *attrs;
        bgp::modify(*d.action, a);
        sp_.rib_.update(src, p, sp_.rib_.attributes().intern(std::move(a)), next_hop, ch);
    }

    void withdraw_path(const Prefix& p, Rib::Changes& ch) {
        rejected_.erase(p);
        sp_.rib_.withdraw(cfg_.address, p, ch);
    }

    void reject_owned(const Prefix& p, const IpAddress& owner, Rib::Changes& ch) {
        if (ownership_logged_.insert(p).second) {
            log::get("bgp")->warn("{}: rejected {}: it belongs to {}, which alone may announce it (prefix ownership)",
                                  label_, p.to_string(), owner.to_string());
        }
        rejected_[p] = Rejection::kOwnership;
        sp_.rib_.withdraw(cfg_.address, p, ch);
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
            std::vector<std::tuple<Prefix, std::shared_ptr<const PathAttributes>, IpAddress>> changed;
            for (const auto& prefix : sp_.rib_.prefixes()) {
                for (const auto& path : sp_.rib_.find(prefix)->paths) {
                    if (path.local || path.peer_address != cfg_.address) continue;
                    const PolicyDecision d = bgp::decide(*cfg_.import_policy, prefix, *path.attributes);
                    if (!d.accept() || d.action->modifies()) changed.emplace_back(prefix, path.attributes, path.next_hop);
                }
            }
            Rib::Changes ch;
            for (const auto& [prefix, attrs, next_hop] : changed) import_path(src, prefix, attrs, next_hop, ch);
            sp_.apply(ch);
        }
        const bool ask = std::any_of(rejected_.begin(), rejected_.end(), [this](const auto& r) {
            return r.second == Rejection::kPolicy &&
                   !(cfg_.import_policy && rejects_whatever_attributes(*cfg_.import_policy, r.first));
        });
        if (ask) refresh_in("import policy changed");
    }

    // Ownership changed: paths refused for it may now be allowed.
    void recheck_ownership() {
        bool allowed_now = false;
        for (const auto& [p, why] : rejected_) {
            if (why != Rejection::kOwnership) continue;
            auto owner = sp_.owner_of(p);
            if (!owner || *owner == cfg_.address) {
                ownership_logged_.erase(p);
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
        (void)s;
        log::get("bgp")->debug("{}: ROUTE-REFRESH for afi {} safi {}", label_, rr.family.afi, rr.family.safi);
        adj_rib_out_.clear();  // RFC 2918 §4: send the whole Adj-RIB-Out again
        sync_all();
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
        return std::make_shared<Session>(sp_.ioc_, std::move(o), this);
    }

    void retire(std::shared_ptr<Session>& s) {
        auto old = std::move(s);
        s.reset();
        collect_counters(*old);
        old->dismiss(ManualStop{});  // cancels its IdleHold: this connection is done
    }

    void collect_counters(const Session& s) {
        messages_in_ += s.messages_received();
        messages_out_ += s.messages_sent();
    }

    std::optional<Advert> export_route(const Prefix& prefix, const Path* best) const {
        if (!best) return std::nullopt;
        const Path& b = *best;
        if (!b.local && b.peer_address == cfg_.address) return std::nullopt;  // not back to its source
        if (!b.local && !b.ebgp && ibgp()) return std::nullopt;                // RFC 4271 §9.2.1 split horizon
        if (!communities_allow_export(b.attributes->communities, ibgp())) return std::nullopt;  // RFC 1997 §3
        const auto& open = primary_->fsm().peer_open();
        const AfiSafi family{prefix.family() == Family::kIpv4 ? kAfiIpv4 : kAfiIpv6, kSafiUnicast};
        if (!open || !has_family(*open, family)) return std::nullopt;

        PathAttributes a = *b.attributes;
        a.next_hop.reset();
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
        IpAddress nh;
        if (ibgp()) {
            nh = b.next_hop;               // RFC 4271 §5.1.3: unchanged over iBGP
        } else {
            prepend_as(a, sp_.cfg_.asn);   // §5.1.2: our AS leftmost, before any the policy prepended
            if (local_address_ && local_address_->family() == prefix.family()) {
                nh = *local_address_;      // next-hop-self
            } else if (b.local && b.next_hop.family() == prefix.family()) {
                nh = b.next_hop;
            } else {
                return std::nullopt;
            }
        }
        if (nh.family() != prefix.family()) return std::nullopt;  // no RFC 8950 next hops
        return Advert{sp_.rib_.attributes().intern(std::move(a)), nh};
    }

    Impl& sp_;
    PeerConfig cfg_;
    std::string label_;
    std::shared_ptr<Session> primary_;
    std::shared_ptr<Session> secondary_;
    std::vector<std::shared_ptr<Session>> dismissed_;
    std::map<Prefix, Advert> adj_rib_out_;
    enum class Rejection : std::uint8_t { kPolicy, kOwnership };
    std::map<Prefix, Rejection> rejected_;  // what the peer announces that we refused
    std::set<Prefix> ownership_logged_;
    bool policy_logged_ = false;
    std::optional<IpAddress> local_address_;
    std::optional<Clock::time_point> established_since_;
    bool end_of_rib_received_ = false;
    std::string last_error_;
    std::uint64_t messages_in_ = 0;
    std::uint64_t messages_out_ = 0;
};

Speaker::Impl::Impl(asio::io_context& ioc, SpeakerConfig cfg)
    : ioc_{ioc}, cfg_{std::move(cfg)}, listener_{ioc, [this](asio::ip::tcp::socket s) { on_accept(std::move(s)); }} {}

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
    std::vector<std::pair<IpAddress, Prefix>> out;  // collected first: the RIB changes below
    if (owned.empty()) return;
    const std::vector<Prefix> all = rib_.prefixes();  // sorted
    for (const auto& o : owned) {
        for (auto it = std::lower_bound(all.begin(), all.end(), o); it != all.end() && o.contains(*it); ++it) {
            const auto owner = owner_of(*it);
            for (const auto& path : rib_.find(*it)->paths) {
                if (!path.local && !path.ebgp && owner && *owner != path.peer_address)
                    out.emplace_back(path.peer_address, *it);
            }
        }
    }
    Rib::Changes ch;
    for (const auto& [peer, prefix] : out) {
        if (auto it = peers_.find(peer); it != peers_.end()) it->second->reject_owned(prefix, *owner_of(prefix), ch);
    }
    apply(ch);
}

void Speaker::Impl::apply(Rib::Changes& changes) {
    if (changes.empty()) return;
    std::vector<Want> wants;
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
    for (auto& [addr, peer] : impl_->peers_) peer->start();
    return {};
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

bool Speaker::restart_complete() const noexcept { return true; }  // TODO(gr): the deferral

void Speaker::stop(std::function<void()> on_done, bool for_restart) {
    (void)for_restart;  // TODO(gr)
    auto& im = *impl_;
    im.running_ = false;
    im.listener_.close();
    auto w = std::make_shared<StopWait>(im.ioc_);
    w->done = std::move(on_done);
    w->deadline = Clock::now() + std::chrono::seconds{1};
    for (auto& [addr, peer] : im.peers_) {
        peer->shutdown(kCeaseAdministrativeShutdown);
        for (auto& s : peer->take_dismissed()) w->sessions.push_back(std::move(s));
    }
    log::get("bgp")->info("speaker stopping: Cease sent to {} peer(s)", im.peers_.size());
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

void Speaker::remove_peer(const IpAddress& address) {
    auto& im = *impl_;
    auto it = im.peers_.find(address);
    if (it == im.peers_.end()) return;
    log::get("bgp")->info("{}: removed", peer_label(it->second->config()));
    it->second->shutdown(kCeasePeerDeconfigured);
    im.peers_.erase(it);
    if (im.bfd_) im.bfd_->remove(address);
    im.set_md5_key(address, {});
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
        for (std::size_t i = 0; i < e.paths.size(); ++i) {
            const Path& p = e.paths[i];
            PathSnapshot ps;
            ps.from_peer = p.local ? IpAddress{} : p.peer_address;
            ps.local = p.local;
            ps.best = e.selection && e.selection->best == i;
            ps.next_hops = ps.best ? e.next_hops() : std::vector<IpAddress>{p.next_hop};
            ps.attributes = *p.attributes;
            if (prefix.family() == Family::kIpv4) ps.attributes.next_hop = p.next_hop;
            if (ps.best) ps.reason = std::string{to_string(e.selection->reason)};
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
