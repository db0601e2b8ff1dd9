// The operator's view of a speaker: RFC 8326 graceful shutdown, a session's detail (capabilities,
// timers, last NOTIFICATIONs) and why each path is or is not the best.
#include "speaker_harness.hpp"

#include <algorithm>

using namespace kroute;
using namespace kroute::bgp;
using namespace kroute::bgp::test;

namespace {

std::optional<PathSnapshot> path_from(const Node& n, const Prefix& p, const IpAddress& from) {
    for (const auto& e : n.speaker->rib(p))
        for (const auto& path : e.paths)
            if (!path.local && path.from_peer == from) return path;
    return std::nullopt;
}

bool has_gshut(const PathSnapshot& p) {
    const auto& c = p.attributes.communities;
    return std::find(c.begin(), c.end(), kCommunityGracefulShutdown) != c.end();
}

}  // namespace

TEST_CASE("graceful shutdown (RFC 8326): routes go out again with 65535:0, receivers prefer them least",
          "[bgp][io][gshut]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};         // AS 64512: the node going down for maintenance
    Node b{ioc, "127.0.0.2"};         // AS 64512: iBGP
    Node c{ioc, "127.0.0.3", 65001};  // an external router, peering with a and with d
    Node d{ioc, "127.0.0.4", 64513};  // another way to the same prefix
    a.peer_with(b);
    b.peer_with(a);
    a.peer_with(c, 65001);
    c.peer_with(a, 64512);
    d.peer_with(c, 65001);
    c.peer_with(d, 64513);
    const auto p = pfx("10.96.0.0/24");
    a.speaker->originate(p, a.address);
    d.speaker->originate(p, d.address);
    // c: both paths one AS long, eBGP; a's wins on its lower router id.
    REQUIRE(run_until(ioc, [&] {
        return b.best.count(p) == 1 && c.best.count(p) == 1 && c.best[p].from_peer == a.address &&
               path_from(c, p, d.address).has_value();
    }));
    CHECK_FALSE(has_gshut(*path_from(c, p, a.address)));
    CHECK_FALSE(has_gshut(*path_from(b, p, a.address)));
    CHECK_FALSE(a.speaker->graceful_shutdown());
    const int b_up = b.established[a.address];
    const int c_up = c.established[a.address];

    a.speaker->begin_graceful_shutdown();
    CHECK(a.speaker->graceful_shutdown());
    // c takes d's path: a's now has the community, and c's import set its LOCAL_PREF to 0 (a sends
    // none over eBGP).
    REQUIRE(run_until(ioc, [&] { return c.best[p].from_peer == d.address; }));
    auto at_c = path_from(c, p, a.address);
    REQUIRE(at_c);
    CHECK(has_gshut(*at_c));
    CHECK(at_c->attributes.local_pref == 0u);
    CHECK(at_c->why_not_best == "lower LOCAL_PREF");
    auto from_d = path_from(c, p, d.address);
    REQUIRE(from_d);
    CHECK(from_d->best);
    CHECK(from_d->reason == "local-pref");
    CHECK_FALSE(has_gshut(*from_d));
    // b (iBGP) gets the community and LOCAL_PREF 0 from a, and keeps the path: it is the only one.
    REQUIRE(run_until(ioc, [&] {
        auto at_b = path_from(b, p, a.address);
        return at_b && has_gshut(*at_b);
    }));
    CHECK(path_from(b, p, a.address)->attributes.local_pref == 0u);

    // The sessions stayed up; a route a originates now goes out with the community too.
    CHECK(b.established[a.address] == b_up);
    CHECK(c.established[a.address] == c_up);
    const auto q = pfx("10.97.0.0/24");
    a.speaker->originate(q, a.address);
    REQUIRE(run_until(ioc, [&] { return path_from(b, q, a.address) && path_from(c, q, a.address); }));
    CHECK(has_gshut(*path_from(b, q, a.address)));
    CHECK(has_gshut(*path_from(c, q, a.address)));
    // Still the only path to q: the lowest preference does not withdraw it.
    CHECK(c.best.count(q) == 1);
    a.speaker->begin_graceful_shutdown();  // twice is once

    // Then the stop as ever: Cease, the routes go.
    bool done = false;
    a.speaker->stop([&] { done = true; });
    REQUIRE(run_until(ioc, [&] { return done && b.best.count(p) == 0 && c.best[p].from_peer == d.address; }, 3000ms));
    CHECK_THAT(b.neighbor(a)->last_error, Catch::Contains("6/2"));
}

TEST_CASE("graceful shutdown with graceful restart: peers keep the marked routes as stale, no Cease",
          "[bgp][io][gshut]") {
    asio::io_context ioc;
    auto gr = [](SpeakerConfig& c) {
        c.graceful_restart.enabled = true;
        c.graceful_restart.restart_time = std::chrono::seconds(30);
    };
    Node a{ioc, "127.0.0.1", 64512, nullptr, gr};
    Node b{ioc, "127.0.0.2", 64512, nullptr, gr};
    a.peer_with(b);
    b.peer_with(a, 64512, true);  // passive: no collision, so no NOTIFICATION before the test's
    const auto p = pfx("10.244.1.0/24");
    a.speaker->originate(p, a.address);
    REQUIRE(run_until(ioc, [&] { return b.best.count(p) == 1; }));
    a.speaker->begin_graceful_shutdown();
    REQUIRE(run_until(ioc, [&] {
        auto at_b = path_from(b, p, a.address);
        return at_b && has_gshut(*at_b);
    }));
    bool done = false;
    a.speaker->stop([&] { done = true; }, true);
    REQUIRE(run_until(ioc, [&] { return done && !b.established_with(a) && b.neighbor(a)->prefixes_stale == 1; }));
    auto kept = path_from(b, p, a.address);
    REQUIRE(kept);
    CHECK(has_gshut(*kept));
    CHECK(kept->attributes.local_pref == 0u);
    CHECK_FALSE(b.neighbor(a)->last_notification_received);  // no Cease: graceful restart as before
}

TEST_CASE("neighbor detail: capabilities sent, received, negotiated; timers; last NOTIFICATIONs with RFC 9003 text",
          "[bgp][io][operator]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512, nullptr, [](SpeakerConfig& c) {
               c.graceful_restart.enabled = true;
               c.graceful_restart.restart_time = std::chrono::seconds(120);
               c.graceful_restart.forwarding_preserved = true;
           }};
    Node b{ioc, "127.0.0.2"};  // no graceful restart
    a.peer_with(b);
    b.peer_with(a, 64512, true);  // passive: no collision, so no NOTIFICATION before the test's
    const auto p = pfx("10.244.2.0/24");
    b.speaker->originate(p, b.address);
    REQUIRE(run_until(ioc, [&] { return a.best.count(p) == 1 && a.established_with(b) && b.established_with(a); }));

    auto n = a.neighbor(b);
    REQUIRE(n);
    REQUIRE(n->open_sent);
    REQUIRE(n->open_received);
    REQUIRE(n->negotiated);
    // Graceful restart: offered by a with its restart time and F bits, not by b, so not negotiated.
    REQUIRE(n->open_sent->graceful_restart);
    CHECK(n->open_sent->graceful_restart->restart_time == 120);
    REQUIRE_FALSE(n->open_sent->graceful_restart->families.empty());
    CHECK(n->open_sent->graceful_restart->families.front().forwarding_state);
    CHECK_FALSE(n->open_received->graceful_restart);
    CHECK_FALSE(n->negotiated->graceful_restart);
    // What both send: 4-octet AS, route refresh, IPv4 unicast, ADD-PATH receive.
    CHECK(n->open_sent->four_octet_as == 64512u);
    CHECK(n->open_received->four_octet_as == 64512u);
    CHECK(n->negotiated->four_octet_as);
    CHECK(n->open_received->route_refresh);
    CHECK(std::find(n->negotiated->families.begin(), n->negotiated->families.end(),
                    AfiSafi{kAfiIpv4, kSafiUnicast}) != n->negotiated->families.end());
    CHECK_FALSE(n->open_sent->add_path.empty());
    CHECK(n->negotiated->add_path_receive.empty());  // both only receive: nothing to use
    // Timers: kFast configured (hold 3 s, keepalive 1 s, connect retry 1 s), 3 and 1 negotiated.
    CHECK(n->timers == kFast);
    CHECK(n->negotiated_hold_time == 3);
    CHECK(n->negotiated_keepalive == 1);
    CHECK(n->open_received->hold_time == 3);
    CHECK_FALSE(n->last_notification_sent);
    CHECK_FALSE(n->last_notification_received);
    CHECK(n->updates_received >= 1);
    CHECK(n->prefixes_received == 1);

    // a shuts the session down with a message: a sent it, b received it, both with the time.
    const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
    REQUIRE(a.speaker->peer_action(b.address, PeerAction::kShutdown, "maintenance window"));
    REQUIRE(run_until(ioc, [&] { return b.neighbor(a)->last_notification_received.has_value(); }));
    const auto sent = a.neighbor(b)->last_notification_sent;
    const auto got = b.neighbor(a)->last_notification_received;
    REQUIRE(sent);
    REQUIRE(got);
    CHECK(sent->message.code == kCease);
    CHECK(sent->message.subcode == kCeaseAdministrativeShutdown);
    CHECK(got->message == sent->message);
    auto text = decode_shutdown_communication(got->message.data);
    REQUIRE(text);
    CHECK(*text == "maintenance window");
    CHECK(got->at >= before);
    CHECK_FALSE(b.neighbor(a)->last_notification_sent);
    // Still there after the session is gone, and the OPENs of the last session too.
    run_for(ioc, 300ms);
    CHECK(a.neighbor(b)->last_notification_sent == sent);
    CHECK(a.neighbor(b)->open_received.has_value());
    CHECK(a.neighbor(b)->negotiated_keepalive == 0);  // no session now
}

TEST_CASE("rib snapshot: each path says why it lost to the best, multipath siblings are marked", "[bgp][io]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    Node c{ioc, "127.0.0.3"};
    Node d{ioc, "127.0.0.4", 65001};
    a.peer_with(b);
    b.peer_with(a);
    a.peer_with(c);
    c.peer_with(a);
    a.peer_with(d, 65001);
    d.peer_with(a, 64512);
    const auto p = pfx("10.244.9.0/24");
    b.speaker->originate(p, b.address);
    c.speaker->originate(p, c.address);
    d.speaker->originate(p, d.address);
    REQUIRE(run_until(ioc, [&] {
        auto e = a.speaker->rib(p);
        return e.size() == 1 && e[0].paths.size() == 3;
    }));
    auto e = a.speaker->rib(p).front();
    // b and c: iBGP, empty AS_PATH; d: eBGP, AS_PATH 65001 (longer). b wins over c on router id,
    // and c is b's multipath sibling.
    REQUIRE(e.paths.front().best);
    CHECK(e.paths.front().from_peer == b.address);
    CHECK(e.paths.front().reason == "router-id");  // the last step that eliminated one
    CHECK(e.paths.front().why_not_best.empty());
    auto lost_c = path_from(a, p, c.address);
    auto lost_d = path_from(a, p, d.address);
    REQUIRE(lost_c);
    REQUIRE(lost_d);
    CHECK(lost_c->why_not_best == "higher router id");
    CHECK(lost_c->multipath);
    CHECK(lost_d->why_not_best == "longer AS_PATH");
    CHECK_FALSE(lost_d->multipath);
}
