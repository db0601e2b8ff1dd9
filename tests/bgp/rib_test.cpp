// Adj-RIB-In + Loc-RIB: best-path changes are emitted exactly when the best or its next hops change.
#include "bgp/rib.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace kroute;
using namespace kroute::bgp;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

PathSource ibgp(const char* addr, std::uint32_t id) { return PathSource{ip(addr), id, 64512, false}; }

std::shared_ptr<const PathAttributes> attrs(Rib& rib, const char* next_hop, std::uint32_t local_pref = 100,
                                            std::vector<std::uint32_t> as_path = {}) {
    PathAttributes a;
    a.origin = Origin::kIgp;
    a.as_path = std::vector<AsPathSegment>{};
    if (!as_path.empty()) a.as_path->push_back({AsPathSegment::kAsSequence, std::move(as_path)});
    a.next_hop = ip(next_hop);
    a.local_pref = local_pref;
    return rib.attributes().intern(a);
}

}  // namespace

TEST_CASE("attribute sets are interned and swept", "[bgp][rib]") {
    AttributeStore store;
    PathAttributes a;
    a.origin = Origin::kIgp;
    a.local_pref = 100;
    auto x = store.intern(a);
    auto y = store.intern(a);
    CHECK(x.get() == y.get());
    a.local_pref = 200;
    auto z = store.intern(a);
    CHECK(z.get() != x.get());
    CHECK(store.size() == 2);
    x.reset();
    y.reset();
    CHECK(store.size() == 1);
}

TEST_CASE("first path, better path, withdraw, drop peer", "[bgp][rib]") {
    Rib rib;
    Rib::Changes ch;
    const auto p = pfx("10.244.2.0/24");

    rib.update(ibgp("10.0.0.2", 2), p, attrs(rib, "10.0.0.2"), ip("10.0.0.2"), ch);
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].prefix == p);
    CHECK_FALSE(ch[0].old_best);
    REQUIRE(ch[0].new_best);
    CHECK(ch[0].new_next_hops == std::vector<IpAddress>{ip("10.0.0.2")});
    CHECK(rib.prefix_count() == 1);
    CHECK(rib.adj_rib_in_count(ip("10.0.0.2")) == 1);

    SECTION("the same path again changes nothing") {
        ch.clear();
        rib.update(ibgp("10.0.0.2", 2), p, attrs(rib, "10.0.0.2"), ip("10.0.0.2"), ch);
        CHECK(ch.empty());
    }
    SECTION("a worse path from another peer changes nothing; its withdrawal neither") {
        ch.clear();
        rib.update(ibgp("10.0.0.3", 3), p, attrs(rib, "10.0.0.3", 50), ip("10.0.0.3"), ch);
        CHECK(ch.empty());
        CHECK(rib.find(p)->paths.size() == 2);
        rib.withdraw(ip("10.0.0.3"), p, ch);
        CHECK(ch.empty());
    }
    SECTION("a better path replaces the best") {
        ch.clear();
        rib.update(ibgp("10.0.0.3", 3), p, attrs(rib, "10.0.0.3", 200), ip("10.0.0.3"), ch);
        REQUIRE(ch.size() == 1);
        CHECK(ch[0].old_best->peer_address == ip("10.0.0.2"));
        CHECK(ch[0].new_best->peer_address == ip("10.0.0.3"));
        CHECK(ch[0].new_next_hops == std::vector<IpAddress>{ip("10.0.0.3")});
    }
    SECTION("an equal path adds a multipath next hop, sorted") {
        ch.clear();
        rib.update(ibgp("10.0.0.1", 9), p, attrs(rib, "10.0.0.1"), ip("10.0.0.1"), ch);
        REQUIRE(ch.size() == 1);
        CHECK(ch[0].new_best->peer_address == ip("10.0.0.2"));  // router id 2 < 9
        CHECK(ch[0].new_next_hops == std::vector<IpAddress>{ip("10.0.0.1"), ip("10.0.0.2")});
        CHECK(ch[0].old_next_hops == std::vector<IpAddress>{ip("10.0.0.2")});
    }
    SECTION("withdraw of the only path removes the prefix") {
        ch.clear();
        rib.withdraw(ip("10.0.0.2"), p, ch);
        REQUIRE(ch.size() == 1);
        CHECK_FALSE(ch[0].new_best);
        CHECK(ch[0].new_next_hops.empty());
        CHECK(rib.prefix_count() == 0);
        CHECK(!rib.find(p));
    }
    SECTION("withdraw of an unknown prefix is ignored") {
        ch.clear();
        rib.withdraw(ip("10.0.0.2"), pfx("10.9.0.0/16"), ch);
        rib.withdraw(ip("10.0.0.99"), p, ch);
        CHECK(ch.empty());
        CHECK(rib.prefix_count() == 1);
    }
    SECTION("dropping a peer removes all its routes at once, falling back to others") {
        const auto q = pfx("10.244.3.0/24");
        rib.update(ibgp("10.0.0.2", 2), q, attrs(rib, "10.0.0.2"), ip("10.0.0.2"), ch);
        rib.update(ibgp("10.0.0.3", 3), p, attrs(rib, "10.0.0.3"), ip("10.0.0.3"), ch);
        ch.clear();
        rib.drop_peer(ip("10.0.0.2"), ch);
        REQUIRE(ch.size() == 2);
        CHECK(ch[0].prefix == p);
        CHECK(ch[0].new_best->peer_address == ip("10.0.0.3"));
        CHECK(ch[1].prefix == q);
        CHECK_FALSE(ch[1].new_best);
        CHECK(rib.adj_rib_in_count(ip("10.0.0.2")) == 0);
        CHECK(rib.prefix_count() == 1);
    }
    SECTION("implicit withdraw: a new path from the same peer replaces the old one") {
        ch.clear();
        rib.update(ibgp("10.0.0.2", 2), p, attrs(rib, "10.0.0.22"), ip("10.0.0.22"), ch);
        REQUIRE(ch.size() == 1);
        CHECK(rib.find(p)->paths.size() == 1);
        CHECK(ch[0].new_next_hops == std::vector<IpAddress>{ip("10.0.0.22")});
    }
}

TEST_CASE("local routes win and are withdrawn on their own", "[bgp][rib]") {
    Rib rib;
    Rib::Changes ch;
    const auto p = pfx("10.244.1.0/24");
    rib.update(ibgp("10.0.0.2", 2), p, attrs(rib, "10.0.0.2", 500), ip("10.0.0.2"), ch);
    ch.clear();
    rib.originate(p, ip("10.0.0.1"), ch);
    REQUIRE(ch.size() == 1);
    REQUIRE(ch[0].new_best);
    CHECK(ch[0].new_best->local);
    CHECK(ch[0].new_next_hops == std::vector<IpAddress>{ip("10.0.0.1")});
    auto e = rib.find(p);
    REQUIRE(e);
    CHECK(e->selection->reason == Reason::kLocal);

    ch.clear();
    rib.originate(p, ip("10.0.0.1"), ch);  // idempotent
    CHECK(ch.empty());

    rib.withdraw_local(p, ch);
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].new_best->peer_address == ip("10.0.0.2"));
    ch.clear();
    rib.withdraw_local(p, ch);
    CHECK(ch.empty());
}

TEST_CASE("IPv6 prefixes live in the same Loc-RIB", "[bgp][rib]") {
    Rib rib;
    Rib::Changes ch;
    rib.update(ibgp("10.0.0.2", 2), pfx("fd00:10:244:2::/64"), attrs(rib, "10.0.0.2"), ip("fd00::2"), ch);
    rib.update(ibgp("10.0.0.2", 2), pfx("10.244.2.0/24"), attrs(rib, "10.0.0.2"), ip("10.0.0.2"), ch);
    CHECK(ch.size() == 2);
    CHECK(rib.prefix_count() == 2);
    CHECK(rib.find(pfx("fd00:10:244:2::/64"))->next_hops() == std::vector<IpAddress>{ip("fd00::2")});
}

// The table's growth and backward-shift deletion, against a plain model: many prefixes from
// three peers, announced and withdrawn in a fixed pseudo-random order (seeded, so reproducible).
TEST_CASE("many prefixes from several peers match a reference model", "[bgp][rib]") {
    Rib rib;
    Rib::Changes ch;
    const IpAddress peers[] = {ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")};
    std::map<Prefix, std::set<int>> model;
    std::uint64_t x = 88172645463325252ull;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    for (int step = 0; step < 60000; ++step) {
        const auto r = next();
        const int peer = static_cast<int>(r % 3);
        const bool v6 = (r >> 8) % 8 == 0;
        const auto n = static_cast<std::uint32_t>((r >> 16) % 5000);
        const Prefix p = v6 ? Prefix(IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, static_cast<std::uint8_t>(n >> 8),
                                                    static_cast<std::uint8_t>(n), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
                                     48)
                            : Prefix(IpAddress::v4(0x0b000000u | n << 8), 24);
        if ((r >> 40) % 3 != 0) {
            rib.update(PathSource{peers[peer], static_cast<std::uint32_t>(peer + 2), 64512, false}, p,
                       attrs(rib, "10.0.0.2", 100 + static_cast<std::uint32_t>(peer)), peers[peer], ch);
            model[p].insert(peer);
        } else {
            rib.withdraw(peers[peer], p, ch);
            if (auto it = model.find(p); it != model.end()) {
                it->second.erase(peer);
                if (it->second.empty()) model.erase(it);
            }
        }
        ch.clear();
    }
    CHECK(rib.prefix_count() == model.size());
    for (int peer = 0; peer < 3; ++peer) {
        std::size_t held = 0;
        for (const auto& [p, s] : model) held += s.count(peer);
        CHECK(rib.adj_rib_in_count(peers[peer]) == held);
    }
    for (const auto& [p, s] : model) {
        auto e = rib.find(p);
        REQUIRE(e);
        CHECK(e->paths.size() == s.size());
        // The highest LOCAL_PREF wins: 100 + peer index.
        CHECK(e->best()->peer_address == peers[*s.rbegin()]);
    }
    CHECK(rib.prefixes().size() == model.size());

    rib.drop_peer(peers[2], ch);
    ch.clear();
    rib.drop_peer(peers[1], ch);
    rib.drop_peer(peers[0], ch);
    CHECK(rib.prefix_count() == 0);
    CHECK(rib.path_count() == 0);
}

TEST_CASE("ADD-PATH: one peer's paths are told apart by Path Identifier (RFC 7911 §3)", "[bgp][rib][add-path]") {
    Rib rib;
    Rib::Changes ch;
    const auto p = pfx("10.244.9.0/24");
    PathSource one = ibgp("10.0.0.2", 2);
    one.path_id = 1;
    PathSource two = one;
    two.path_id = 2;
    rib.update(one, p, attrs(rib, "10.0.0.7"), ip("10.0.0.7"), ch);
    rib.update(two, p, attrs(rib, "10.0.0.8"), ip("10.0.0.8"), ch);
    // Two equal paths from one peer: both next hops, as for two peers (multipath).
    CHECK(rib.next_hops(p) == std::vector<IpAddress>{ip("10.0.0.7"), ip("10.0.0.8")});
    CHECK(rib.adj_rib_in_count(ip("10.0.0.2")) == 2);
    auto held = rib.paths_of(ip("10.0.0.2"));
    REQUIRE(held.size() == 2);
    CHECK(held[0] == PathKey{p, 1});
    CHECK(held[1] == PathKey{p, 2});
    // Path 1 again with a new next hop replaces path 1 only.
    rib.update(one, p, attrs(rib, "10.0.0.9"), ip("10.0.0.9"), ch);
    CHECK(rib.next_hops(p) == std::vector<IpAddress>{ip("10.0.0.8"), ip("10.0.0.9")});
    // A withdrawal names its path; one without (path id 0) names none of them.
    ch.clear();
    rib.withdraw(ip("10.0.0.2"), p, ch);
    CHECK(ch.empty());
    rib.withdraw(ip("10.0.0.2"), p, ch, 2);
    CHECK(rib.next_hops(p) == std::vector<IpAddress>{ip("10.0.0.9")});
    rib.update(two, p, attrs(rib, "10.0.0.8"), ip("10.0.0.8"), ch);
    rib.drop_peer(ip("10.0.0.2"), ch);
    CHECK_FALSE(rib.contains(p));
    CHECK(rib.adj_rib_in_count(ip("10.0.0.2")) == 0);
    CHECK(rib.path_count() == 0);
}
