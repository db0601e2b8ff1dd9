// Graceful Restart (RFC 4724) in both roles, Enhanced Route Refresh (RFC 7313), max-prefix
// (RFC 4486 §4) and route reflection (RFC 4456), over loopback TCP with Speakers and hand-driven
// peers. Bounded runs only (speaker_harness.hpp).
#include "speaker_harness.hpp"

#include <algorithm>

using namespace kroute;
using namespace kroute::bgp;
using namespace kroute::bgp::test;
using namespace std::chrono_literals;

namespace {

constexpr AfiSafi kV4{kAfiIpv4, kSafiUnicast};

void with_gr(SpeakerConfig& c) {
    c.graceful_restart.enabled = true;
    c.graceful_restart.restart_time = 30s;
    c.graceful_restart.forwarding_preserved = true;
    c.graceful_restart.stale_time = 5s;
}

// A hand-driven peer at 127.0.0.5 (AS 64512) towards node `a`, which has it configured passive.
PeerConfig raw_peer_config() {
    PeerConfig p;
    p.address = ip("127.0.0.5");
    p.remote_asn = 64512;
    p.passive = true;
    return p;
}

OpenMessage raw_open(std::optional<GracefulRestart> gr, bool enhanced_refresh = false) {
    OpenMessage open;
    open.my_as = 64512;
    open.hold_time = 9;
    open.bgp_id = ip("127.0.0.5").v4_host_order();
    open.four_octet_as = 64512;
    open.multiprotocol = {kV4};
    open.route_refresh = true;
    open.enhanced_route_refresh = enhanced_refresh;
    open.graceful_restart = std::move(gr);
    return open;
}

GracefulRestart peer_gr(std::uint16_t restart_time, bool forwarding_kept, bool restarted = false) {
    return GracefulRestart{.restart_state = restarted, .notification = false, .restart_time = restart_time,
                           .families = {{kV4, forwarding_kept}}};
}

UpdateMessage announce(std::vector<Prefix> nlri) {
    UpdateMessage u;
    u.attributes.origin = Origin::kIgp;
    u.attributes.as_path = std::vector<AsPathSegment>{};
    u.attributes.next_hop = ip("127.0.0.5");
    u.attributes.local_pref = 100;
    u.nlri = std::move(nlri);
    return u;
}

// Connects, says OPEN and KEEPALIVE, and waits until `a` has the session Established.
void bring_up(asio::io_context& ioc, Node& a, SilentPeer& s, const OpenMessage& open) {
    s.connect("127.0.0.5", a.speaker->local_port());
    s.read_some();
    s.send(open);
    s.send(KeepaliveMessage{});
    REQUIRE(run_until(ioc, [&] {
        auto n = a.speaker->neighbors();
        return !n.empty() && n[0].state == "Established";
    }));
}

NeighborSnapshot only_neighbor(const Node& a) {
    auto n = a.speaker->neighbors();
    REQUIRE(n.size() == 1);
    return n[0];
}

// The peer's process ends: TCP closes without a NOTIFICATION. The SilentPeer is kept in the
// test's graveyard (declared after its io_context), since its read handler still runs once.
using Graveyard = std::vector<std::unique_ptr<SilentPeer>>;
void hang_up(Graveyard& graveyard, std::unique_ptr<SilentPeer>& s) {
    s->socket.close();
    graveyard.push_back(std::move(s));
}

bool has_eor(const std::vector<Message>& msgs) {
    return std::any_of(msgs.begin(), msgs.end(), [](const Message& m) {
        auto* u = std::get_if<UpdateMessage>(&m);
        return u && u->is_end_of_rib();
    });
}

}  // namespace

TEST_CASE("GR helper: a peer whose connection just ends keeps its routes as stale until its End-of-RIB",
          "[bgp][io][gr]") {
    asio::io_context ioc;
    Graveyard graveyard;
    Node a{ioc, "127.0.0.1", 64512, nullptr, with_gr};
    a.speaker->set_peer(raw_peer_config());
    const auto p1 = pfx("10.244.5.0/24");
    const auto p2 = pfx("10.244.6.0/24");

    auto s = std::make_unique<SilentPeer>(ioc);
    bring_up(ioc, a, *s, raw_open(peer_gr(30, true)));
    s->send(announce({p1, p2}));
    REQUIRE(run_until(ioc, [&] { return a.best.count(p1) && a.best.count(p2); }));
    CHECK(only_neighbor(a).graceful_restart);
    // Our OPEN carried the capability with our restart time and the F bit (RFC 4724 §3).
    const auto first = s->messages().front();
    auto* o = std::get_if<OpenMessage>(&first);
    REQUIRE(o);
    REQUIRE(o->graceful_restart);
    CHECK(o->graceful_restart->restart_time == 30);
    CHECK_FALSE(o->graceful_restart->restart_state);
    REQUIRE_FALSE(o->graceful_restart->families.empty());
    CHECK(o->graceful_restart->families[0].forwarding_state);

    // The peer restarts: TCP ends, no NOTIFICATION (RFC 4724 §4.2).
    hang_up(graveyard, s);
    REQUIRE(run_until(ioc, [&] { return only_neighbor(a).state != "Established"; }));
    run_for(ioc, 500ms);
    CHECK(a.best.count(p1) == 1);
    CHECK(a.best.count(p2) == 1);
    CHECK(only_neighbor(a).prefixes_stale == 2);

    // Back with the forwarding state kept: stale routes wait; p1 comes again, p2 does not.
    s = std::make_unique<SilentPeer>(ioc);
    bring_up(ioc, a, *s, raw_open(peer_gr(30, true, true)));
    s->send(announce({p1}));
    run_for(ioc, 300ms);
    CHECK(a.best.count(p2) == 1);  // still stale, waiting for End-of-RIB
    CHECK(only_neighbor(a).prefixes_stale == 1);
    s->send(UpdateMessage{});      // End-of-RIB
    REQUIRE(run_until(ioc, [&] { return a.best.count(p2) == 0; }));
    CHECK(a.best.count(p1) == 1);
    CHECK(only_neighbor(a).prefixes_stale == 0);
    CHECK(a.best[p1].next_hops == std::vector<IpAddress>{ip("127.0.0.5")});
}

TEST_CASE("GR helper: stale routes go when the restart time passes, when the F bit is clear, or after a NOTIFICATION",
          "[bgp][io][gr]") {
    asio::io_context ioc;
    Graveyard graveyard;
    Node a{ioc, "127.0.0.1", 64512, nullptr, with_gr};
    a.speaker->set_peer(raw_peer_config());
    const auto p1 = pfx("10.244.5.0/24");

    SECTION("the peer does not come back within its restart time") {
        auto s = std::make_unique<SilentPeer>(ioc);
        bring_up(ioc, a, *s, raw_open(peer_gr(2, true)));
        s->send(announce({p1}));
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 1; }));
        hang_up(graveyard, s);
        run_for(ioc, 1000ms);
        CHECK(a.best.count(p1) == 1);
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 0; }, 4000ms));
        CHECK(only_neighbor(a).prefixes_stale == 0);
    }
    SECTION("the peer comes back without having kept its forwarding state") {
        auto s = std::make_unique<SilentPeer>(ioc);
        bring_up(ioc, a, *s, raw_open(peer_gr(30, true)));
        s->send(announce({p1}));
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 1; }));
        hang_up(graveyard, s);
        run_for(ioc, 300ms);
        CHECK(a.best.count(p1) == 1);
        s = std::make_unique<SilentPeer>(ioc);
        bring_up(ioc, a, *s, raw_open(peer_gr(30, false, true)));
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 0; }, 2000ms));
    }
    SECTION("a NOTIFICATION ends the session the ordinary way") {
        auto s = std::make_unique<SilentPeer>(ioc);
        bring_up(ioc, a, *s, raw_open(peer_gr(30, true)));
        s->send(announce({p1}));
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 1; }));
        s->send(NotificationMessage{kCease, kCeaseAdministrativeReset, {}});
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 0; }, 2000ms));
    }
    SECTION("a peer without the capability loses its routes with the connection") {
        auto s = std::make_unique<SilentPeer>(ioc);
        bring_up(ioc, a, *s, raw_open(std::nullopt));
        s->send(announce({p1}));
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 1; }));
        CHECK_FALSE(only_neighbor(a).graceful_restart);
        s->socket.close();
        REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 0; }, 2000ms));
    }
}

TEST_CASE("GR both roles between speakers: a restart keeps the routes, the restarted speaker defers until End-of-RIB",
          "[bgp][io][gr]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512, nullptr, with_gr};
    auto b = std::make_unique<Node>(ioc, "127.0.0.2", 64512, nullptr, with_gr);
    a.peer_with(*b);
    b->peer_with(a);
    REQUIRE(run_until(ioc, [&] { return a.established_with(*b) && b->established_with(a); }));
    const auto pa = pfx("10.244.1.0/24");
    const auto pb = pfx("10.244.2.0/24");
    a.speaker->originate(pa, a.address);
    b->speaker->originate(pb, b->address);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pb) && b->best.count(pa); }));
    CHECK(a.neighbor(*b)->graceful_restart);

    // B stops for a restart: no NOTIFICATION, so A keeps B's route.
    bool stopped = false;
    b->speaker->stop([&] { stopped = true; }, true);
    REQUIRE(run_until(ioc, [&] { return stopped; }));
    const auto port = b->speaker->local_port();
    b.reset();
    REQUIRE(run_until(ioc, [&] { return a.speaker->neighbors().at(0).state != "Established"; }));
    run_for(ioc, 500ms);
    CHECK(a.best.count(pb) == 1);
    CHECK(a.speaker->neighbors().at(0).prefixes_stale == 1);

    // B comes back restarting, with a second configured peer (127.0.0.3) that never answers:
    // the table to A waits for the deferral (2 s), since A kept our routes.
    auto b2 = std::make_unique<Node>(ioc, "127.0.0.2", 64512, nullptr, [port](SpeakerConfig& c) {
        with_gr(c);
        c.listen_port = port;  // where A's configuration points
        c.graceful_restart.restarting = true;
        c.graceful_restart.deferral_time = 2s;
    });
    b2->peer_with(a);
    PeerConfig silent;
    silent.address = ip("127.0.0.3");
    silent.remote_asn = 64512;
    silent.port = 1;  // nothing listens there
    b2->speaker->set_peer(silent);
    REQUIRE(run_until(ioc, [&] { return a.established_with(*b2) && b2->established_with(a); }));
    b2->speaker->originate(pb, b2->address);
    run_for(ioc, 800ms);
    CHECK_FALSE(b2->speaker->restart_complete());
    CHECK(b2->best.count(pa) == 1);          // A's table reached B at once
    CHECK(a.neighbor(*b2)->prefixes_stale == 1);  // B's table has not reached A yet
    REQUIRE(run_until(ioc, [&] { return b2->speaker->restart_complete(); }, 3000ms));
    REQUIRE(run_until(ioc, [&] { return a.neighbor(*b2)->prefixes_stale == 0; }, 2000ms));
    CHECK(a.best.count(pb) == 1);
    CHECK(a.neighbor(*b2)->end_of_rib_received);
}

TEST_CASE("GR restarting speaker: the deferral ends as soon as every peer sent End-of-RIB", "[bgp][io][gr]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512, nullptr, with_gr};
    Node b{ioc, "127.0.0.2", 64512, nullptr, [](SpeakerConfig& c) {
               with_gr(c);
               c.graceful_restart.restarting = true;
               c.graceful_restart.deferral_time = 60s;
           }};
    CHECK_FALSE(b.speaker->restart_complete());
    a.peer_with(b);
    b.peer_with(a);
    const auto pb = pfx("10.244.2.0/24");
    b.speaker->originate(pb, b.address);
    REQUIRE(run_until(ioc, [&] { return b.speaker->restart_complete(); }, 3000ms));
    REQUIRE(run_until(ioc, [&] { return a.best.count(pb) == 1; }, 2000ms));
}

TEST_CASE("a restarted peer's new connection while the old one is Established replaces it (RFC 4724 §4.2)",
          "[bgp][io][gr]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512, nullptr, with_gr};
    a.speaker->set_peer(raw_peer_config());
    const auto p1 = pfx("10.244.5.0/24");
    SilentPeer old_conn{ioc};
    bring_up(ioc, a, old_conn, raw_open(peer_gr(30, true)));
    old_conn.send(announce({p1}));
    REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 1; }));

    SilentPeer fresh{ioc};  // the old socket stays open, as after a reboot A has not noticed
    fresh.connect("127.0.0.5", a.speaker->local_port());
    fresh.read_some();
    fresh.send(raw_open(peer_gr(30, true, true)));
    fresh.send(KeepaliveMessage{});
    REQUIRE(run_until(ioc, [&] { return old_conn.closed; }, 3000ms));
    REQUIRE(run_until(ioc, [&] { return only_neighbor(a).state == "Established"; }));
    CHECK(a.best.count(p1) == 1);  // stale, not gone
    CHECK(only_neighbor(a).prefixes_stale == 1);
    fresh.send(UpdateMessage{});
    REQUIRE(run_until(ioc, [&] { return a.best.count(p1) == 0; }, 2000ms));
}

TEST_CASE("Enhanced Route Refresh: BoRR/EoRR from the peer sweep what it did not send again; we frame our answer",
          "[bgp][io][refresh]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    a.speaker->set_peer(raw_peer_config());
    a.speaker->originate(pfx("10.244.1.0/24"), a.address);
    const auto p1 = pfx("10.244.5.0/24");
    const auto p2 = pfx("10.244.6.0/24");
    SilentPeer s{ioc};
    bring_up(ioc, a, s, raw_open(std::nullopt, true));
    s.send(announce({p1, p2}));
    REQUIRE(run_until(ioc, [&] { return a.best.count(p1) && a.best.count(p2); }));

    s.send(RouteRefreshMessage{kV4, kRouteRefreshBorr});
    s.send(announce({p1}));
    run_for(ioc, 300ms);
    CHECK(a.best.count(p2) == 1);
    s.send(RouteRefreshMessage{kV4, kRouteRefreshEorr});
    REQUIRE(run_until(ioc, [&] { return a.best.count(p2) == 0; }, 2000ms));
    CHECK(a.best.count(p1) == 1);

    // A ROUTE-REFRESH with an unknown subtype is ignored (RFC 7313 §5); a plain one is answered
    // with BoRR, the table, EoRR (RFC 7313 §4).
    const auto before = s.messages().size();
    s.send(RouteRefreshMessage{kV4, 7});
    s.send(RouteRefreshMessage{kV4, kRouteRefreshNormal});
    REQUIRE(run_until(ioc, [&] {
        auto m = s.messages();
        return m.size() >= before + 3 && std::holds_alternative<RouteRefreshMessage>(m.back());
    }, 3000ms));
    auto msgs = s.messages();
    std::vector<Message> answer(msgs.begin() + static_cast<std::ptrdiff_t>(before), msgs.end());
    std::erase_if(answer, [](const Message& m) { return std::holds_alternative<KeepaliveMessage>(m); });
    REQUIRE(answer.size() == 3);
    auto* borr = std::get_if<RouteRefreshMessage>(&answer[0]);
    REQUIRE(borr);
    CHECK(borr->subtype == kRouteRefreshBorr);
    auto* table = std::get_if<UpdateMessage>(&answer[1]);
    REQUIRE(table);
    CHECK(table->nlri == std::vector<Prefix>{pfx("10.244.1.0/24")});
    auto* eorr = std::get_if<RouteRefreshMessage>(&answer[2]);
    REQUIRE(eorr);
    CHECK(eorr->subtype == kRouteRefreshEorr);
    CHECK(only_neighbor(a).state == "Established");
}

TEST_CASE("max-prefix: Cease/1 with AFI, SAFI and the limit, routes gone, retried after the interval",
          "[bgp][io][max-prefix]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    auto cfg = raw_peer_config();
    cfg.max_prefixes = 2;
    cfg.max_prefix_restart = 1s;
    a.speaker->set_peer(cfg);
    SilentPeer s{ioc};
    bring_up(ioc, a, s, raw_open(std::nullopt));
    s.send(announce({pfx("10.244.5.0/24"), pfx("10.244.6.0/24")}));
    REQUIRE(run_until(ioc, [&] { return a.best.size() == 2; }));
    CHECK(only_neighbor(a).state == "Established");  // at the limit is fine
    s.send(announce({pfx("10.244.7.0/24")}));
    REQUIRE(run_until(ioc, [&] { return s.closed; }, 3000ms));
    CHECK(a.best.empty());
    auto msgs = s.messages();
    auto* n = std::get_if<NotificationMessage>(&msgs.back());
    REQUIRE(n);
    CHECK(n->code == kCease);
    CHECK(n->subcode == kCeaseMaxPrefixes);
    CHECK(n->data == Bytes{0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02});  // RFC 4486 §4
    auto snap = only_neighbor(a);
    CHECK(snap.state == "Idle");
    CHECK(snap.max_prefix_state.find("limit 2 exceeded") != std::string::npos);
    // After the restart interval the (passive) peer waits for a connection again.
    REQUIRE(run_until(ioc, [&] { return only_neighbor(a).state == "Active"; }, 3000ms));
    CHECK(only_neighbor(a).max_prefix_state.empty());
    SilentPeer again{ioc};
    bring_up(ioc, a, again, raw_open(std::nullopt));
    REQUIRE(run_until(ioc, [&] { return has_eor(again.messages()); }, 2000ms));
}

TEST_CASE("route reflection: client routes to everyone, non-client routes to clients only, with ORIGINATOR_ID and "
          "CLUSTER_LIST",
          "[bgp][io][rr]") {
    asio::io_context ioc;
    Node rr{ioc, "127.0.0.1", 64512, nullptr, [](SpeakerConfig& c) { c.cluster_id = 0x0a0a0a0a; }};
    Node c1{ioc, "127.0.0.2"};
    Node c2{ioc, "127.0.0.3"};
    Node n1{ioc, "127.0.0.4"};
    Node n2{ioc, "127.0.0.5"};
    auto client = [](PeerConfig& p) { p.route_reflector_client = true; };
    rr.peer_with(c1, 64512, false, client);
    rr.peer_with(c2, 64512, false, client);
    rr.peer_with(n1);
    rr.peer_with(n2);
    for (auto* n : {&c1, &c2, &n1, &n2}) n->peer_with(rr);
    REQUIRE(run_until(ioc, [&] {
        return rr.established_with(c1) && rr.established_with(c2) && rr.established_with(n1) && rr.established_with(n2);
    }));
    // c2 guards c1's podCIDR: only c1 may announce it, yet the reflected path is accepted.
    const auto pc = pfx("10.244.2.0/24");
    const auto pn = pfx("10.244.4.0/24");
    c2.speaker->set_owned_prefixes(c1.address, {pc});
    c1.speaker->originate(pc, c1.address);
    n1.speaker->originate(pn, n1.address);
    REQUIRE(run_until(ioc, [&] { return c2.best.count(pc) && n1.best.count(pc) && n2.best.count(pc); }));
    REQUIRE(run_until(ioc, [&] { return c1.best.count(pn) && c2.best.count(pn); }));
    run_for(ioc, 500ms);
    CHECK(n2.best.count(pn) == 0);  // non-client to non-client: not reflected
    CHECK(c2.best[pc].next_hops == std::vector<IpAddress>{c1.address});  // next hop unchanged
    auto r = n2.speaker->rib(pc);
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].paths.size() == 1);
    CHECK(r[0].paths[0].attributes.originator_id == ip("127.0.0.2").v4_host_order());
    CHECK(r[0].paths[0].attributes.cluster_list == std::vector<std::uint32_t>{0x0a0a0a0a});
    CHECK(rr.neighbor(c1)->route_reflector_client);
    CHECK_FALSE(rr.neighbor(n1)->route_reflector_client);
    // The originator never gets its own route back.
    auto back = c1.speaker->rib(pc);
    REQUIRE(back.size() == 1);
    CHECK(back[0].paths.size() == 1);
    CHECK(back[0].paths[0].local);
}

TEST_CASE("ADD-PATH receive: several paths per prefix from one peer, ECMP over them, withdrawn one by one",
          "[bgp][io][add-path]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    a.speaker->set_peer(raw_peer_config());
    auto open = raw_open(std::nullopt);
    open.add_path = {{kV4, AddPathMode::kSend}};  // a route server offering to send several paths
    SilentPeer s{ioc};
    bring_up(ioc, a, s, open);
    const auto first = s.messages().front();
    auto* ours = std::get_if<OpenMessage>(&first);
    REQUIRE(ours);
    CHECK(std::find(ours->add_path.begin(), ours->add_path.end(), AddPathFamily{kV4, AddPathMode::kReceive}) !=
          ours->add_path.end());

    const EncodeContext ctx{.four_octet_as = true, .extended_message = false, .add_path = {kV4}};
    const auto p = pfx("203.0.113.0/24");
    auto via = [&](const char* nh, std::uint32_t id) {
        auto u = announce({p});
        u.attributes.next_hop = ip(nh);
        u.nlri_path_ids = {id};
        s.send(u, ctx);
    };
    via("127.0.0.7", 1);
    via("127.0.0.8", 2);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) && a.best[p].next_hops.size() == 2; }));
    CHECK(a.best[p].next_hops == std::vector<IpAddress>{ip("127.0.0.7"), ip("127.0.0.8")});
    CHECK(only_neighbor(a).prefixes_received == 2);
    UpdateMessage w;
    w.withdrawn = {p};
    w.withdrawn_path_ids = {1};
    s.send(w, ctx);
    REQUIRE(run_until(ioc, [&] { return a.best[p].next_hops == std::vector<IpAddress>{ip("127.0.0.8")}; }));
    w.withdrawn_path_ids = {2};
    s.send(w, ctx);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 0; }));
    CHECK(only_neighbor(a).state == "Established");
}

TEST_CASE("RFC 8950: IPv4 routes with IPv6 next hops, in and out, only where negotiated", "[bgp][io][rfc8950]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    a.speaker->set_peer(raw_peer_config());
    auto open = raw_open(std::nullopt);
    open.multiprotocol = {kV4, {kAfiIpv6, kSafiUnicast}};
    open.extended_next_hop = {{kV4, kAfiIpv6}};
    SilentPeer s{ioc};
    bring_up(ioc, a, s, open);
    const auto first = s.messages().front();
    auto* ours = std::get_if<OpenMessage>(&first);
    REQUIRE(ours);
    CHECK(ours->extended_next_hop == std::vector<ExtendedNextHop>{{kV4, kAfiIpv6}});

    // In: an IPv6-only node's IPv4 podCIDR.
    UpdateMessage u = announce({});
    u.attributes.next_hop.reset();
    const auto p = pfx("10.244.5.0/24");
    u.mp_reach = MpReach{kV4, {ip("fd00::5")}, {p}};
    s.send(u);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 1; }));
    CHECK(a.best[p].next_hops == std::vector<IpAddress>{ip("fd00::5")});

    // Out: our IPv4 route with an IPv6 next hop goes in MP_REACH_NLRI (AFI 1) to this peer.
    const auto own = pfx("10.244.1.0/24");
    a.speaker->originate(own, ip("fd00::1"));
    DecodeContext enh{};
    enh.ipv4_with_ipv6_next_hop = true;
    auto got_own = [&] {
        for (const auto& m : s.messages(enh)) {
            auto* up = std::get_if<UpdateMessage>(&m);
            if (up && up->mp_reach && up->mp_reach->family == kV4 && up->mp_reach->nlri == std::vector<Prefix>{own})
                return up->mp_reach->next_hops == std::vector<IpAddress>{ip("fd00::1")};
        }
        return false;
    };
    REQUIRE(run_until(ioc, got_own, 3000ms));
    CHECK(only_neighbor(a).prefixes_sent == 1);
}

TEST_CASE("RFC 2545 next hop pairs: the link-local one from a directly connected eBGP peer, the global one over iBGP",
          "[bgp][io][ipv6]") {
    const AfiSafi v6{kAfiIpv6, kSafiUnicast};
    auto route_via = [&](std::uint32_t peer_as, std::uint8_t multihop_ttl, std::vector<IpAddress> hops) {
        asio::io_context ioc;
        Node a{ioc, "127.0.0.1"};
        auto cfg = raw_peer_config();
        cfg.remote_asn = peer_as;
        cfg.multihop_ttl = multihop_ttl;
        a.speaker->set_peer(cfg);
        auto open = raw_open(std::nullopt);
        open.my_as = static_cast<std::uint16_t>(peer_as);
        open.four_octet_as = peer_as;
        open.multiprotocol = {kV4, v6};
        SilentPeer s{ioc};
        bring_up(ioc, a, s, open);
        UpdateMessage u = announce({});
        u.attributes.next_hop.reset();
        if (peer_as != 64512) {
            u.attributes.local_pref.reset();
            u.attributes.as_path = std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {peer_as}}};
        }
        const auto p = pfx("2001:db8:7::/48");
        u.mp_reach = MpReach{v6, std::move(hops), {p}};
        s.send(u);
        REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 1; }));
        return a.best[p].next_hops;
    };
    const auto global = ip("fd00::5");
    const auto ll = ip("fe80::5");
    // eBGP, directly connected: the link-local address, on the shared link by definition.
    CHECK(route_via(65001, 0, {global, ll}) == std::vector<IpAddress>{ll});
    // eBGP multihop and iBGP: the global one, resolved through the table.
    CHECK(route_via(65001, 2, {global, ll}) == std::vector<IpAddress>{global});
    CHECK(route_via(64512, 0, {global, ll}) == std::vector<IpAddress>{global});
    // No global address (::): the link-local one, whatever the session.
    CHECK(route_via(64512, 0, {ip("::"), ll}) == std::vector<IpAddress>{ll});
    // Global only: as sent.
    CHECK(route_via(65001, 0, {global}) == std::vector<IpAddress>{global});
}

TEST_CASE("RFC 8950: a peer without the capability gets no IPv4 route with an IPv6 next hop", "[bgp][io][rfc8950]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    a.speaker->set_peer(raw_peer_config());
    SilentPeer s{ioc};
    bring_up(ioc, a, s, raw_open(std::nullopt));
    a.speaker->originate(pfx("10.244.1.0/24"), ip("fd00::1"));
    a.speaker->originate(pfx("10.244.2.0/24"), ip("127.0.0.1"));
    REQUIRE(run_until(ioc, [&] { return only_neighbor(a).prefixes_sent == 1; }, 3000ms));
    run_for(ioc, 300ms);
    CHECK(only_neighbor(a).prefixes_sent == 1);  // only the one with an IPv4 next hop
}

TEST_CASE("soft reconfiguration inbound: a policy change is re-applied from the copy as received, no refresh, no reset",
          "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    auto cfg = raw_peer_config();
    cfg.soft_reconfiguration_inbound = true;
    cfg.import_policy = make_policy({term("no-test-net", {"192.0.2.0/24"}, reject())});
    a.speaker->set_peer(cfg);
    auto open = raw_open(std::nullopt);
    open.route_refresh = false;  // the peer could not answer a ROUTE-REFRESH
    SilentPeer s{ioc};
    bring_up(ioc, a, s, open);
    s.send(announce({pfx("192.0.2.0/24"), pfx("198.51.100.0/24")}));
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("198.51.100.0/24")) == 1; }));
    CHECK(a.best.count(pfx("192.0.2.0/24")) == 0);
    UpdateMessage w;
    w.withdrawn = {pfx("198.51.100.0/24")};
    s.send(w);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("198.51.100.0/24")) == 0; }));

    cfg.import_policy = {};  // looser: what was refused comes back from the copy
    a.speaker->set_peer(cfg);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("192.0.2.0/24")) == 1; }, 3000ms));
    CHECK(a.best.count(pfx("198.51.100.0/24")) == 0);  // withdrawn stays withdrawn
    CHECK(only_neighbor(a).state == "Established");
    CHECK_FALSE(s.closed);
    const auto msgs = s.messages();
    CHECK(std::none_of(msgs.begin(), msgs.end(), [](const Message& m) { return std::holds_alternative<RouteRefreshMessage>(m); }));

    cfg.import_policy = make_policy({term("no-test-net", {"192.0.2.0/24"}, reject())});  // stricter again
    a.speaker->set_peer(cfg);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("192.0.2.0/24")) == 0; }, 3000ms));
    CHECK(only_neighbor(a).state == "Established");
}
