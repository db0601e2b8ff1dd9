// Speakers over loopback TCP (127.0.0.0/8 only), several in one io_context. No sleeps: the
// io_context runs until a condition holds or a bounded deadline passes.
#include "speaker_harness.hpp"

#include <algorithm>

using namespace kroute;
using namespace kroute::bgp;
using namespace kroute::bgp::test;
using namespace std::chrono_literals;


TEST_CASE("two speakers dialling each other end up with exactly one session", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    mesh({&a, &b});  // both dial at once: the RFC 4271 §6.8 collision case
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && b.established_with(a); }));
    run_for(ioc, 1500ms);  // the losing connection must not come back or flap the winner
    CHECK(a.established_with(b));
    CHECK(b.established_with(a));
    CHECK(a.established[b.address] == 1);
    CHECK(b.established[a.address] == 1);
    auto n = a.neighbor(b);
    REQUIRE(n);
    CHECK(n->remote_router_id == ip("127.0.0.2").v4_host_order());
    CHECK(n->negotiated_hold_time == 3);
    CHECK(n->end_of_rib_received);  // RFC 4724: even an empty table ends with End-of-RIB
    CHECK(n->uptime <= 10s);
    CHECK(n->messages_received > 0);
    // The End-of-RIB is an UPDATE, each way; the collision's dropped connection was no flap.
    CHECK(n->updates_received >= 1);
    CHECK(n->updates_sent >= 1);
    CHECK(n->updates_received < n->messages_received);  // the OPEN and KEEPALIVEs are not UPDATEs
    CHECK(n->flaps == 0);
}

TEST_CASE("routes propagate over iBGP, withdraw follows, split horizon holds", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    Node c{ioc, "127.0.0.3"};
    mesh({&a, &b, &c});
    REQUIRE(run_until(ioc, [&] {
        return a.established_with(b) && a.established_with(c) && b.established_with(c);
    }));

    const auto p = pfx("10.244.1.0/24");
    a.speaker->originate(p, ip("127.0.0.1"));
    CHECK(a.best.count(p) == 1);
    CHECK(a.best[p].local);
    REQUIRE(run_until(ioc, [&] { return b.best.count(p) && c.best.count(p); }));
    CHECK(b.best[p].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});  // iBGP: next hop unchanged
    CHECK(b.best[p].from_peer == ip("127.0.0.1"));
    CHECK_FALSE(b.best[p].local);
    CHECK(c.best[p].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});

    run_for(ioc, 300ms);
    // Split horizon: C heard it from A only, not again from B.
    auto rib = c.speaker->rib(p);
    REQUIRE(rib.size() == 1);
    REQUIRE(rib[0].paths.size() == 1);
    CHECK(rib[0].paths[0].best);
    CHECK(rib[0].paths[0].from_peer == ip("127.0.0.1"));
    CHECK(rib[0].paths[0].attributes.local_pref == 100U);
    CHECK(rib[0].paths[0].reason == "only path");
    CHECK(c.neighbor(a)->prefixes_received == 1);
    CHECK(c.neighbor(b)->prefixes_received == 0);
    CHECK(a.neighbor(b)->prefixes_sent == 1);
    CHECK(b.neighbor(c)->prefixes_sent == 0);
    CHECK(c.speaker->rib_prefix_count() == 1);
    const auto updates_in = c.neighbor(a)->updates_received;
    const auto updates_out = a.neighbor(c)->updates_sent;

    a.speaker->withdraw(p);
    REQUIRE(run_until(ioc, [&] { return !b.best.count(p) && !c.best.count(p); }));
    CHECK(c.speaker->rib_prefix_count() == 0);
    CHECK(c.neighbor(a)->updates_received == updates_in + 1);  // the withdrawal
    CHECK(a.neighbor(c)->updates_sent == updates_out + 1);
}

TEST_CASE("equal iBGP paths give multipath next hops; IPv6 travels in MP_REACH", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    Node c{ioc, "127.0.0.3"};
    mesh({&a, &b, &c});
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && c.established_with(b); }));
    const auto anycast = pfx("10.96.0.0/24");
    a.speaker->originate(anycast, ip("127.0.0.1"));
    c.speaker->originate(anycast, ip("127.0.0.3"));
    const auto v6 = pfx("fd00:10:244:1::/64");
    a.speaker->originate(v6, ip("fd00::1"));
    REQUIRE(run_until(ioc, [&] {
        return b.best.count(anycast) && b.best[anycast].next_hops.size() == 2 && b.best.count(v6);
    }));
    CHECK(b.best[anycast].next_hops == std::vector<IpAddress>{ip("127.0.0.1"), ip("127.0.0.3")});
    CHECK(b.best[anycast].from_peer == ip("127.0.0.1"));  // lower router id
    CHECK(b.best[v6].next_hops == std::vector<IpAddress>{ip("fd00::1")});

    const int calls = b.best_calls;
    c.speaker->withdraw(anycast);
    REQUIRE(run_until(ioc, [&] { return b.best[anycast].next_hops.size() == 1; }));
    CHECK(b.best[anycast].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});
    run_for(ioc, 200ms);
    CHECK(b.best_calls == calls + 1);  // called once: only when the best changed
}

TEST_CASE("eBGP: next-hop-self, AS_PATH prepended, no LOCAL_PREF", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node d{ioc, "127.0.0.4", 65001};
    a.peer_with(d, 65001);
    d.peer_with(a, 64512);
    REQUIRE(run_until(ioc, [&] { return a.established_with(d) && d.established_with(a); }));
    const auto p = pfx("10.244.1.0/24");
    a.speaker->originate(p, ip("10.0.0.1"));  // a next hop D cannot use: eBGP sends ours instead
    REQUIRE(run_until(ioc, [&] { return d.best.count(p) == 1; }));
    CHECK(d.best[p].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});
    auto rib = d.speaker->rib(p);
    REQUIRE(rib.size() == 1);
    const auto& attrs = rib[0].paths.at(0).attributes;
    REQUIRE(attrs.as_path);
    REQUIRE(attrs.as_path->size() == 1);
    CHECK(attrs.as_path->front().asns == std::vector<std::uint32_t>{64512});
    CHECK_FALSE(attrs.local_pref);

    // D's own route comes back to A with D's AS; A's route is not echoed back to A (loop).
    const auto q = pfx("192.0.2.0/24");
    d.speaker->originate(q, ip("127.0.0.4"));
    REQUIRE(run_until(ioc, [&] { return a.best.count(q) == 1; }));
    run_for(ioc, 200ms);
    auto arib = a.speaker->rib(p);
    REQUIRE(arib.size() == 1);
    CHECK(arib[0].paths.size() == 1);
    CHECK(arib[0].paths[0].local);
}

TEST_CASE("OPEN with the wrong AS is refused with 2/2 Bad Peer AS", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    a.peer_with(b, 65099);  // B is really 64512
    b.peer_with(a, 64512);
    REQUIRE(run_until(ioc, [&] {
        auto n = b.neighbor(a);
        return n && n->last_error.find("2/2") != std::string::npos;
    }));
    CHECK_FALSE(a.established_with(b));
    CHECK(a.neighbor(b)->last_error.find("Bad Peer AS") != std::string::npos);
}

TEST_CASE("stopping a speaker sends Cease and its routes leave the others", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    Node c{ioc, "127.0.0.3"};
    mesh({&a, &b, &c});
    const auto p = pfx("10.244.1.0/24");
    a.speaker->originate(p, ip("127.0.0.1"));
    REQUIRE(run_until(ioc, [&] { return b.best.count(p) && c.best.count(p); }));
    CHECK(b.neighbor(a)->flaps == 0);
    bool done = false;
    a.speaker->stop([&] { done = true; });
    REQUIRE(run_until(ioc, [&] { return done && !b.best.count(p) && !c.best.count(p); }, 3000ms));
    auto n = b.neighbor(a);
    REQUIRE(n);
    CHECK(n->state != "Established");
    CHECK(n->last_error.find("6/2") != std::string::npos);  // Cease / Administrative Shutdown
    CHECK(n->flaps == 1);  // left Established once
    CHECK(c.neighbor(a)->flaps == 1);
    CHECK(b.neighbor(c)->flaps == 0);
}

TEST_CASE("remove_peer sends Cease/Peer De-configured; set_peer with new config resets", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    mesh({&a, &b});
    const auto p = pfx("10.244.2.0/24");
    b.speaker->originate(p, ip("127.0.0.2"));
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 1; }));

    auto cfg_b = PeerConfig{};
    cfg_b.address = b.address;
    cfg_b.remote_asn = 64512;
    cfg_b.port = b.speaker->local_port();
    cfg_b.local_address = a.address;
    cfg_b.description = "renamed";
    a.speaker->set_peer(cfg_b);  // changed description: reset
    REQUIRE(run_until(ioc, [&] { return b.established[a.address] == 2 && a.best.count(p) == 1; }));
    CHECK(b.neighbor(a)->last_error.find("6/6") != std::string::npos);

    a.speaker->remove_peer(b.address);
    CHECK(a.best.count(p) == 0);  // at once
    CHECK(a.speaker->peers().empty());
    REQUIRE(run_until(ioc, [&] {
        auto n = b.neighbor(a);
        return n && n->last_error.find("6/3") != std::string::npos;
    }));
}


TEST_CASE("a silent peer is dropped after its hold time with 4/0, its routes with it", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    PeerConfig p;
    p.address = ip("127.0.0.5");
    p.remote_asn = 64512;
    p.passive = true;
    a.speaker->set_peer(p);

    SilentPeer s{ioc};
    s.connect("127.0.0.5", a.speaker->local_port());
    s.read_some();
    OpenMessage open;
    open.my_as = 64512;
    open.hold_time = 3;
    open.bgp_id = ip("127.0.0.5").v4_host_order();
    open.four_octet_as = 64512;
    s.send(open);
    s.send(KeepaliveMessage{});
    REQUIRE(run_until(ioc, [&] {
        auto n = a.speaker->neighbors();
        return !n.empty() && n[0].state == "Established";
    }));
    UpdateMessage u;
    u.attributes.origin = Origin::kIgp;
    u.attributes.as_path = std::vector<AsPathSegment>{};
    u.attributes.next_hop = ip("127.0.0.5");
    u.attributes.local_pref = 100;
    u.nlri = {pfx("10.244.5.0/24")};
    s.send(u);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("10.244.5.0/24")) == 1; }));
    CHECK(a.best[pfx("10.244.5.0/24")].next_hops == std::vector<IpAddress>{ip("127.0.0.5")});

    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(run_until(ioc, [&] { return a.best.empty() && s.closed; }, 6000ms));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 1500ms);  // not before the hold time (3 s from the last message, minus slack)
    auto msgs = s.messages();
    REQUIRE_FALSE(msgs.empty());
    auto* n = std::get_if<NotificationMessage>(&msgs.back());
    REQUIRE(n);
    CHECK(n->code == kHoldTimerExpired);
    CHECK(n->subcode == 0);
    // What A sent before: OPEN with our capabilities, then KEEPALIVEs and End-of-RIB.
    auto* o = std::get_if<OpenMessage>(&msgs.front());
    REQUIRE(o);
    CHECK(o->route_refresh);
    CHECK(o->four_octet_as == 64512U);
    CHECK(o->multiprotocol == std::vector<AfiSafi>{{kAfiIpv4, kSafiUnicast}, {kAfiIpv6, kSafiUnicast}});
    CHECK(std::any_of(msgs.begin(), msgs.end(), [](const Message& m) {
        auto* up = std::get_if<UpdateMessage>(&m);
        return up && up->is_end_of_rib();
    }));
}

TEST_CASE("connections from unknown addresses are refused", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    SilentPeer s{ioc};
    s.connect("127.0.0.9", a.speaker->local_port());
    s.read_some();
    REQUIRE(run_until(ioc, [&] { return s.closed; }, 3000ms));
    CHECK(s.len == 0);
}

TEST_CASE("listen errors are reported; IPv6 loopback listens too", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    SpeakerConfig c;
    c.router_id = ip("127.0.0.2");
    c.listen_addresses = {ip("127.0.0.1")};
    c.listen_port = a.speaker->local_port();  // taken
    Speaker clash{ioc, c};
    auto r = clash.start();
    REQUIRE_FALSE(r);
    CHECK(r.error().find("127.0.0.1") != std::string::npos);

    SpeakerConfig v6;
    v6.router_id = ip("127.0.0.3");
    v6.listen_addresses = {ip("::1")};
    v6.listen_port = 0;
    Speaker six{ioc, v6};
    auto r6 = six.start();
    if (r6) CHECK(six.local_port() != 0);  // hosts without IPv6 loopback: nothing to check
    SpeakerConfig no_id;
    Speaker bad{ioc, no_id};
    CHECK_FALSE(bad.start());
}

// ---- policies, well-known communities, prefix ownership ----

namespace {

PeerConfig config_for(const Node& self, const Node& other, std::uint32_t asn, PolicyRef import = {},
                      PolicyRef exp = {}) {
    PeerConfig p;
    p.address = other.address;
    p.remote_asn = asn;
    p.port = other.speaker->local_port();
    p.local_address = self.address;
    p.description = "node-" + other.address.to_string();
    p.import_policy = std::move(import);
    p.export_policy = std::move(exp);
    return p;
}

std::uint32_t comm(std::uint16_t hi, std::uint16_t lo) { return (std::uint32_t{hi} << 16) | lo; }

// The attributes of the one path `node` holds for `p` (none: nullopt).
std::optional<PathAttributes> attrs_of(const Node& node, const char* p) {
    auto rib = node.speaker->rib(pfx(p));
    if (rib.empty() || rib[0].paths.empty()) return std::nullopt;
    return rib[0].paths[0].attributes;
}

}  // namespace

TEST_CASE("import policy: rejected paths never enter the RIB and replace earlier ones; modifications apply",
          "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node e{ioc, "127.0.0.5", 65002};
    PolicyAction prefer;
    prefer.set_local_pref = 300;
    prefer.add_communities = {comm(64512, 7)};
    auto import = make_policy({term("no-default", {"0.0.0.0/0"}, reject()),
                               term("protected", {"10.96.0.0/12 le 32"}, reject()),
                               term("prefer", {"198.51.100.0/24"}, prefer)});
    a.speaker->set_peer(config_for(a, e, 65002, import));
    e.speaker->set_peer(config_for(e, a, 64512));
    REQUIRE(run_until(ioc, [&] { return a.established_with(e) && e.established_with(a); }));

    const auto via = ip("127.0.0.5");
    for (const char* p : {"0.0.0.0/0", "10.96.1.0/24", "198.51.100.0/24", "192.0.2.0/24"})
        e.speaker->originate(pfx(p), via);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("192.0.2.0/24")) && a.best.count(pfx("198.51.100.0/24")); }));
    run_for(ioc, 200ms);
    CHECK(a.best.size() == 2);
    CHECK(a.speaker->rib_prefix_count() == 2);  // the rejected ones are not even in the RIB
    CHECK(a.neighbor(e)->prefixes_received == 2);
    CHECK(a.neighbor(e)->prefixes_rejected == 2);
    auto preferred = attrs_of(a, "198.51.100.0/24");
    REQUIRE(preferred);
    CHECK(preferred->local_pref == 300U);  // set after LOCAL_PREF from eBGP was dropped (RFC 4271 §5.1.5)
    CHECK(preferred->communities == std::vector<std::uint32_t>{comm(64512, 7)});
    CHECK(attrs_of(a, "192.0.2.0/24")->communities.empty());

    SECTION("a policy change keeps the session and takes effect through ROUTE-REFRESH") {
        auto stricter = make_policy({term("no-test-net", {"192.0.2.0/24"}, reject())});
        a.speaker->set_peer(config_for(a, e, 65002, stricter));
        REQUIRE(run_until(ioc, [&] {
            return !a.best.count(pfx("192.0.2.0/24")) && a.best.count(pfx("0.0.0.0/0")) && a.best.count(pfx("10.96.1.0/24"));
        }));
        CHECK(a.established[e.address] == 1);
        CHECK(e.established[a.address] == 1);
        CHECK(a.neighbor(e)->prefixes_rejected == 1);
        CHECK(attrs_of(a, "198.51.100.0/24")->local_pref == std::nullopt);  // no longer set by policy
        // An equal policy rebuilt from scratch is no change at all.
        a.speaker->set_peer(config_for(a, e, 65002, make_policy({term("no-test-net", {"192.0.2.0/24"}, reject())})));
        run_for(ioc, 200ms);
        CHECK(a.established[e.address] == 1);
    }
    SECTION("a path the policy now rejects withdraws the accepted one (as if withdrawn)") {
        // E re-announces 192.0.2.0/24 with a community the policy matches: the earlier path goes.
        PolicyAction tag;
        tag.add_communities = {comm(65535, 666)};
        PolicyTerm t = term("tag", {"192.0.2.0/24"}, tag);
        std::shared_ptr<const Policy> e_export = std::make_shared<Policy>(Policy{"tag", {t}, PolicyAction{}});
        PolicyTerm blackhole;
        blackhole.name = "blackhole";
        blackhole.match.any_community = {comm(65535, 666)};
        blackhole.action = reject();
        auto a_import = make_policy({blackhole});
        a.speaker->set_peer(config_for(a, e, 65002, a_import));
        REQUIRE(run_until(ioc, [&] { return a.best.size() == 4; }));  // everything, after the refresh
        e.speaker->set_peer(config_for(e, a, 64512, {}, e_export));  // only E's export changes: an UPDATE
        REQUIRE(run_until(ioc, [&] { return !a.best.count(pfx("192.0.2.0/24")); }));
        CHECK(a.best.size() == 3);
        CHECK(a.neighbor(e)->prefixes_rejected == 1);
        CHECK(e.established[a.address] == 1);
    }
}

TEST_CASE("export policy and the eBGP rules: our AS leftmost, no LOCAL_PREF, no foreign MED", "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node c{ioc, "127.0.0.3", 64512};
    Node d{ioc, "127.0.0.4", 65001};
    Node e{ioc, "127.0.0.5", 65002};
    // A exports to D only its own 10.244.1.0/24 and what E sent, prepended twice with 64999, LOCAL_PREF
    // "set" (never sent to eBGP), a community added.
    PolicyAction to_d;
    to_d.prepend_asn = 64999;
    to_d.prepend_count = 2;
    to_d.set_local_pref = 500;
    to_d.add_communities = {comm(64512, 100)};
    auto a_to_d = make_policy({term("ours", {"10.244.1.0/24", "198.51.100.0/24"}, to_d)}, false);
    PolicyAction med;
    med.set_med = 50;
    std::shared_ptr<const Policy> e_to_a = std::make_shared<Policy>(Policy{"med", {}, med});
    a.speaker->set_peer(config_for(a, c, 64512));
    a.speaker->set_peer(config_for(a, d, 65001, {}, a_to_d));
    a.speaker->set_peer(config_for(a, e, 65002));
    c.speaker->set_peer(config_for(c, a, 64512));
    d.speaker->set_peer(config_for(d, a, 64512));
    e.speaker->set_peer(config_for(e, a, 64512, {}, e_to_a));
    REQUIRE(run_until(ioc, [&] { return a.established_with(c) && a.established_with(d) && a.established_with(e); }));

    a.speaker->originate(pfx("10.244.1.0/24"), ip("127.0.0.1"));
    a.speaker->originate(pfx("10.244.9.0/24"), ip("127.0.0.1"));  // not in the export policy
    e.speaker->originate(pfx("198.51.100.0/24"), ip("127.0.0.5"));
    REQUIRE(run_until(ioc, [&] {
        return d.best.count(pfx("10.244.1.0/24")) && d.best.count(pfx("198.51.100.0/24")) &&
               c.best.count(pfx("198.51.100.0/24"));
    }));
    run_for(ioc, 200ms);
    CHECK_FALSE(d.best.count(pfx("10.244.9.0/24")));
    CHECK(c.best.count(pfx("10.244.9.0/24")));  // no policy towards C

    auto own = attrs_of(d, "10.244.1.0/24");
    REQUIRE(own);
    REQUIRE(own->as_path);
    REQUIRE(own->as_path->size() == 1);
    CHECK(own->as_path->front().asns == std::vector<std::uint32_t>{64512, 64999, 64999});
    CHECK_FALSE(own->local_pref);
    CHECK(own->communities == std::vector<std::uint32_t>{comm(64512, 100)});
    CHECK(d.best[pfx("10.244.1.0/24")].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});  // next-hop-self

    auto from_e_at_a = attrs_of(a, "198.51.100.0/24");
    REQUIRE(from_e_at_a);
    CHECK(from_e_at_a->med == 50U);
    auto at_d = attrs_of(d, "198.51.100.0/24");
    REQUIRE(at_d);
    CHECK_FALSE(at_d->med);  // RFC 4271 §5.1.4: not passed on to another AS
    CHECK(at_d->as_path->front().asns == std::vector<std::uint32_t>{64512, 64999, 64999, 65002});
    CHECK(d.best[pfx("198.51.100.0/24")].next_hops == std::vector<IpAddress>{ip("127.0.0.1")});
    auto at_c = attrs_of(c, "198.51.100.0/24");
    REQUIRE(at_c);
    CHECK(at_c->med == 50U);             // iBGP keeps it
    CHECK(at_c->local_pref == 100U);     // and gets LOCAL_PREF (§5.1.5)
    CHECK(c.best[pfx("198.51.100.0/24")].next_hops == std::vector<IpAddress>{ip("127.0.0.5")});  // unchanged

    SECTION("an export policy change re-sends what differs, without a reset") {
        a.speaker->set_peer(config_for(a, d, 65001, {}, make_policy({term("only-ours", {"10.244.1.0/24"}, PolicyAction{})}, false)));
        REQUIRE(run_until(ioc, [&] { return !d.best.count(pfx("198.51.100.0/24")); }));
        REQUIRE(run_until(ioc, [&] {
            auto x = attrs_of(d, "10.244.1.0/24");
            return x && x->as_path->front().asns == std::vector<std::uint32_t>{64512};
        }));
        CHECK(d.established[a.address] == 1);
    }
}

TEST_CASE("well-known communities: NO_EXPORT and NO_EXPORT_SUBCONFED stay inside, NO_ADVERTISE goes nowhere",
          "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node c{ioc, "127.0.0.3", 64512};
    Node d{ioc, "127.0.0.4", 65001};
    Node e{ioc, "127.0.0.5", 65002};
    // E's routes arrive at A tagged by A's own import policy (RFC 1997 §3 applies to what A holds).
    auto tag = [](std::uint32_t community) {
        PolicyAction act;
        act.add_communities = {community};
        return act;
    };
    auto import = make_policy({term("x", {"192.0.2.0/26"}, tag(kCommunityNoExport)),
                               term("y", {"192.0.2.64/26"}, tag(kCommunityNoAdvertise)),
                               term("w", {"192.0.2.128/26"}, tag(kCommunityNoExportSubconfed))});
    a.speaker->set_peer(config_for(a, c, 64512));
    a.speaker->set_peer(config_for(a, d, 65001));
    a.speaker->set_peer(config_for(a, e, 65002, import));
    c.speaker->set_peer(config_for(c, a, 64512));
    d.speaker->set_peer(config_for(d, a, 64512));
    e.speaker->set_peer(config_for(e, a, 64512));
    REQUIRE(run_until(ioc, [&] { return a.established_with(c) && a.established_with(d) && a.established_with(e); }));
    for (const char* p : {"192.0.2.0/26", "192.0.2.64/26", "192.0.2.128/26", "192.0.2.192/26"})
        e.speaker->originate(pfx(p), ip("127.0.0.5"));
    REQUIRE(run_until(ioc, [&] { return a.best.size() == 4 && c.best.count(pfx("192.0.2.192/26")) && d.best.count(pfx("192.0.2.192/26")); }));
    run_for(ioc, 300ms);
    CHECK(c.best.count(pfx("192.0.2.0/26")));       // NO_EXPORT: iBGP yes
    CHECK_FALSE(d.best.count(pfx("192.0.2.0/26")));  // eBGP no
    CHECK_FALSE(c.best.count(pfx("192.0.2.64/26")));  // NO_ADVERTISE: nobody
    CHECK_FALSE(d.best.count(pfx("192.0.2.64/26")));
    CHECK(c.best.count(pfx("192.0.2.128/26")));       // NO_EXPORT_SUBCONFED: as NO_EXPORT (no confederation)
    CHECK_FALSE(d.best.count(pfx("192.0.2.128/26")));
    CHECK(attrs_of(c, "192.0.2.0/26")->communities == std::vector<std::uint32_t>{kCommunityNoExport});  // passed on
    CHECK(a.neighbor(d)->prefixes_sent == 1);
}

TEST_CASE("prefix ownership: only the owner may announce its prefixes over iBGP", "[bgp][io][ownership]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    Node c{ioc, "127.0.0.3"};
    mesh({&a, &b, &c});
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && a.established_with(c); }));
    a.speaker->set_owned_prefixes(a.address, {pfx("10.244.1.0/24")});
    a.speaker->set_owned_prefixes(b.address, {pfx("10.244.2.0/24")});
    a.speaker->originate(pfx("10.244.1.0/24"), a.address);
    b.speaker->originate(pfx("10.244.2.0/24"), b.address);
    c.speaker->originate(pfx("10.244.2.0/24"), c.address);     // B's
    c.speaker->originate(pfx("10.244.2.128/25"), c.address);   // inside B's
    c.speaker->originate(pfx("10.244.1.0/25"), c.address);     // inside A's own
    c.speaker->originate(pfx("10.244.0.0/16"), c.address);     // covers them: nobody owns it
    c.speaker->originate(pfx("10.244.3.0/24"), c.address);     // C's (nobody claims it yet)
    REQUIRE(run_until(ioc, [&] {
        return a.best.count(pfx("10.244.2.0/24")) && a.best.count(pfx("10.244.0.0/16")) && a.best.count(pfx("10.244.3.0/24"));
    }));
    run_for(ioc, 300ms);
    CHECK(a.best[pfx("10.244.2.0/24")].next_hops == std::vector<IpAddress>{b.address});  // only B's path
    CHECK(a.speaker->rib(pfx("10.244.2.0/24"))[0].paths.size() == 1);
    CHECK_FALSE(a.best.count(pfx("10.244.2.128/25")));
    CHECK_FALSE(a.best.count(pfx("10.244.1.0/25")));
    CHECK(a.neighbor(c)->prefixes_rejected == 3);
    CHECK(a.neighbor(b)->prefixes_rejected == 0);
    // B itself has no ownership set: it takes C's paths (ownership is each speaker's own view).
    CHECK(b.best.count(pfx("10.244.2.128/25")));

    SECTION("a new claim removes paths already in the RIB at once") {
        a.speaker->set_owned_prefixes(b.address, {pfx("10.244.2.0/24"), pfx("10.244.3.0/24")});
        CHECK_FALSE(a.best.count(pfx("10.244.3.0/24")));
        CHECK(a.neighbor(c)->prefixes_rejected == 4);
    }
    SECTION("a released claim brings the refused paths back (ROUTE-REFRESH)") {
        a.speaker->set_owned_prefixes(b.address, {});
        REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("10.244.2.128/25")) == 1; }));
        CHECK(a.speaker->rib(pfx("10.244.2.0/24"))[0].paths.size() == 2);
        CHECK_FALSE(a.best.count(pfx("10.244.1.0/25")));  // still A's own
        CHECK(a.neighbor(c)->prefixes_rejected == 1);
        CHECK(c.established[a.address] == 1);
    }
    SECTION("eBGP peers are not subject to ownership (their import policy is)") {
        Node d{ioc, "127.0.0.4", 65001};
        a.speaker->set_peer(config_for(a, d, 65001));
        d.speaker->set_peer(config_for(d, a, 64512));
        d.speaker->originate(pfx("10.244.2.0/25"), d.address);
        REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("10.244.2.0/25")) == 1; }));
    }
}

TEST_CASE("an import policy change resets a peer that cannot refresh its routes (RFC 2918 absent)", "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    PeerConfig p;
    p.address = ip("127.0.0.5");
    p.remote_asn = 64512;
    p.passive = true;
    p.import_policy = make_policy({term("no-test-net", {"192.0.2.0/24"}, reject())});
    a.speaker->set_peer(p);

    SilentPeer s{ioc};
    s.connect("127.0.0.5", a.speaker->local_port());
    s.read_some();
    OpenMessage open;  // no ROUTE-REFRESH capability
    open.my_as = 64512;
    open.hold_time = 9;
    open.bgp_id = ip("127.0.0.5").v4_host_order();
    open.four_octet_as = 64512;
    s.send(open);
    s.send(KeepaliveMessage{});
    UpdateMessage u;
    u.attributes.origin = Origin::kIgp;
    u.attributes.as_path = std::vector<AsPathSegment>{};
    u.attributes.next_hop = ip("127.0.0.5");
    u.attributes.local_pref = 100;
    u.nlri = {pfx("192.0.2.0/24"), pfx("198.51.100.0/24")};
    s.send(u);
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("198.51.100.0/24")) == 1; }));
    CHECK_FALSE(a.best.count(pfx("192.0.2.0/24")));

    p.import_policy = {};
    a.speaker->set_peer(p);
    REQUIRE(run_until(ioc, [&] { return s.closed; }, 3000ms));
    CHECK(a.best.empty());  // the session's routes went with it
    auto msgs = s.messages();
    REQUIRE_FALSE(msgs.empty());
    auto* n = std::get_if<NotificationMessage>(&msgs.back());
    REQUIRE(n);
    CHECK(n->code == 6);
    CHECK(n->subcode == kCeaseOtherConfigurationChange);
    CHECK(std::none_of(msgs.begin(), msgs.end(), [](const Message& m) { return std::holds_alternative<RouteRefreshMessage>(m); }));
}

TEST_CASE("a stricter import policy applies to the RIB at once; a looser one asks with ROUTE-REFRESH", "[bgp][io][policy]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    PeerConfig p;
    p.address = ip("127.0.0.5");
    p.remote_asn = 64512;
    p.passive = true;
    p.import_policy = make_policy({term("no-default", {"0.0.0.0/0"}, reject())});
    a.speaker->set_peer(p);

    SilentPeer s{ioc};
    s.connect("127.0.0.5", a.speaker->local_port());
    s.read_some();
    OpenMessage open;
    open.my_as = 64512;
    open.hold_time = 9;
    open.bgp_id = ip("127.0.0.5").v4_host_order();
    open.four_octet_as = 64512;
    open.route_refresh = true;  // RFC 2918 capability
    s.send(open);
    s.send(KeepaliveMessage{});
    UpdateMessage u;
    u.attributes.origin = Origin::kIgp;
    u.attributes.as_path = std::vector<AsPathSegment>{};
    u.attributes.next_hop = ip("127.0.0.5");
    u.attributes.local_pref = 100;
    u.nlri = {pfx("0.0.0.0/0"), pfx("192.0.2.0/24"), pfx("198.51.100.0/24")};
    s.send(u);
    REQUIRE(run_until(ioc, [&] { return a.best.size() == 2; }));
    auto refreshes = [&] {
        auto msgs = s.messages();
        return std::count_if(msgs.begin(), msgs.end(),
                             [](const Message& m) { return std::holds_alternative<RouteRefreshMessage>(m); });
    };

    // Stricter (the cluster grew): 192.0.2.0/24 leaves at once, and nothing is asked of the peer.
    p.import_policy = make_policy({term("no-default", {"0.0.0.0/0"}, reject()), term("grown", {"192.0.2.0/24"}, reject())});
    a.speaker->set_peer(p);
    CHECK_FALSE(a.best.count(pfx("192.0.2.0/24")));
    CHECK(a.best.count(pfx("198.51.100.0/24")));
    CHECK(a.speaker->neighbors().at(0).prefixes_rejected == 2);
    run_for(ioc, 200ms);
    CHECK(refreshes() == 0);

    // Looser (a node left): 192.0.2.0/24 may be accepted again, only the peer has it: ROUTE-REFRESH.
    p.import_policy = make_policy({term("no-default", {"0.0.0.0/0"}, reject())});
    a.speaker->set_peer(p);
    REQUIRE(run_until(ioc, [&] { return refreshes() == 1; }, 1000ms));
    auto msgs = s.messages();
    auto it = std::find_if(msgs.begin(), msgs.end(), [](const Message& m) { return std::holds_alternative<RouteRefreshMessage>(m); });
    CHECK(std::get<RouteRefreshMessage>(*it).family == AfiSafi{kAfiIpv4, kSafiUnicast});
    s.send(u);  // the peer answers with its table again
    REQUIRE(run_until(ioc, [&] { return a.best.count(pfx("192.0.2.0/24")) == 1; }, 1000ms));
    CHECK(a.speaker->neighbors().at(0).prefixes_rejected == 1);
    CHECK(a.speaker->neighbors().at(0).state == "Established");
}

TEST_CASE("operator actions: reset, soft reset in and out, shutdown with an RFC 9003 message, enable",
          "[bgp][io][operator]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"}, b{ioc, "127.0.0.2"};
    mesh({&a, &b});
    const auto p = pfx("10.244.2.0/24");
    b.speaker->originate(p, b.address);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 1 && a.established_with(b) && b.established_with(a); }));

    // No such peer, or not in a state for it: an error, nothing done.
    CHECK_FALSE(a.speaker->peer_action(ip("127.0.0.9"), PeerAction::kReset));
    CHECK_FALSE(a.speaker->peer_action(b.address, PeerAction::kEnable));
    CHECK_FALSE(a.speaker->peer_action(b.address, PeerAction::kShutdown, std::string(256, 'x')));
    CHECK(a.established_with(b));

    // Soft resets keep the session: in asks b again (b receives a ROUTE-REFRESH), out sends again.
    const auto b_in = b.neighbor(a)->messages_received;
    const auto b_was_up = b.established[a.address];
    REQUIRE(a.speaker->peer_action(b.address, PeerAction::kSoftResetIn));
    REQUIRE(a.speaker->peer_action(b.address, PeerAction::kSoftResetOut));
    REQUIRE(run_until(ioc, [&] { return b.neighbor(a)->messages_received >= b_in + 2; }));
    CHECK(b.established[a.address] == b_was_up);
    CHECK(a.best.count(p) == 1);

    // Reset: Cease / Administrative Reset at b, and the session comes back by itself.
    REQUIRE(a.speaker->peer_action(b.address, PeerAction::kReset));
    REQUIRE(run_until(ioc, [&] { return b.established[a.address] == b_was_up + 1 && a.best.count(p) == 1; }));
    CHECK_THAT(b.neighbor(a)->last_error, Catch::Contains("Administrative Reset"));

    // Shutdown with a message: b logs it, a drops b's routes and stays down, even when b dials.
    auto done = a.speaker->peer_action(b.address, PeerAction::kShutdown, "maintenance window, ticket 42");
    REQUIRE(done);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 0 && !b.established_with(a); }));
    CHECK_THAT(b.neighbor(a)->last_error, Catch::Contains("maintenance window, ticket 42"));
    run_for(ioc, 2500ms);  // several connect-retry rounds of b's
    CHECK_FALSE(a.established_with(b));
    CHECK(a.neighbor(b)->admin_shutdown == "maintenance window, ticket 42");
    CHECK_FALSE(a.speaker->peer_action(b.address, PeerAction::kReset));  // enable first
    REQUIRE(a.speaker->peer_action(b.address, PeerAction::kEnable));
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && a.best.count(p) == 1; }));
    CHECK(a.neighbor(b)->admin_shutdown.empty());
}
