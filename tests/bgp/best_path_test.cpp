// RFC 4271 §9.1.2.2 decision process, including the MED-per-neighbour-AS ordering caveat.
#include "bgp/best_path.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

using namespace kroute;
using namespace kroute::bgp;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

struct PathSpec {
    std::uint32_t local_pref = 100;
    std::vector<std::uint32_t> as_path{};
    Origin origin = Origin::kIgp;
    std::optional<std::uint32_t> med{};
    bool ebgp = false;
    std::uint32_t router_id = 1;
    const char* peer = "10.0.0.1";
    const char* next_hop = "10.0.0.1";
    bool local = false;
    std::vector<std::uint32_t> cluster_list{};
    std::uint32_t path_id = 0;
};

Path make(const PathSpec& s) {
    PathAttributes a;
    a.origin = s.origin;
    a.as_path = std::vector<AsPathSegment>{};
    if (!s.as_path.empty()) a.as_path->push_back(AsPathSegment{AsPathSegment::kAsSequence, s.as_path});
    a.local_pref = s.local_pref;
    a.med = s.med;
    a.cluster_list = s.cluster_list;
    return Path{.attributes = std::make_shared<const PathAttributes>(a), .next_hop = ip(s.next_hop),
                .peer_address = s.local ? IpAddress{} : ip(s.peer), .peer_router_id = s.router_id,
                .peer_as = s.as_path.empty() ? 64512 : s.as_path.front(), .ebgp = s.ebgp, .local = s.local,
                .path_id = s.path_id};
}

}  // namespace

TEST_CASE("compare: one RFC step at a time", "[bgp][best_path]") {
    const Path base = make({});
    SECTION("higher local pref wins") {
        auto v = compare(make({.local_pref = 200}), base);
        CHECK(v == Verdict{true, Reason::kLocalPref});
    }
    SECTION("shorter AS path wins") {
        auto v = compare(make({.as_path = {65001, 65002}}), make({.as_path = {65001}, .router_id = 9}));
        CHECK(v == Verdict{false, Reason::kAsPathLength});
    }
    SECTION("lower origin wins") {
        auto v = compare(make({.origin = Origin::kIncomplete}), make({.origin = Origin::kEgp}));
        CHECK(v == Verdict{false, Reason::kOrigin});
    }
    SECTION("lower MED wins within one neighbour AS") {
        auto v = compare(make({.as_path = {65001}, .med = 10}), make({.as_path = {65001}, .med = 20}));
        CHECK(v == Verdict{true, Reason::kMed});
    }
    SECTION("absent MED counts as 0") {
        auto v = compare(make({.as_path = {65001}}), make({.as_path = {65001}, .med = 5}));
        CHECK(v == Verdict{true, Reason::kMed});
    }
    SECTION("MED is not compared across neighbour ASes") {
        auto v = compare(make({.as_path = {65001}, .med = 50, .router_id = 1}),
                         make({.as_path = {65002}, .med = 10, .router_id = 2}));
        CHECK(v == Verdict{true, Reason::kRouterId});
    }
    SECTION("eBGP over iBGP") {
        auto v = compare(make({.as_path = {65001}, .ebgp = false, .router_id = 1}),
                         make({.as_path = {65001}, .ebgp = true, .router_id = 2}));
        CHECK(v == Verdict{false, Reason::kEbgpOverIbgp});
    }
    SECTION("lower router id, then lower peer address") {
        CHECK(compare(make({.router_id = 5}), make({.router_id = 3})) == Verdict{false, Reason::kRouterId});
        CHECK(compare(make({.router_id = 3, .peer = "10.0.0.1"}), make({.router_id = 3, .peer = "10.0.0.2"})) ==
              Verdict{true, Reason::kPeerAddress});
    }
    SECTION("locally originated beats everything") {
        CHECK(compare(make({.local = true}), make({.local_pref = 1000})) == Verdict{true, Reason::kLocal});
    }
}

TEST_CASE("select_best: empty and single", "[bgp][best_path]") {
    CHECK_FALSE(select_best({}));
    std::vector<Path> one{make({})};
    auto s = select_best(one);
    REQUIRE(s);
    CHECK(s->best == 0);
    CHECK(s->reason == Reason::kOnlyPath);
    CHECK(s->multipath == std::vector<std::size_t>{0});
}

TEST_CASE("select_best: MED-per-neighbour-AS result does not depend on arrival order", "[bgp][best_path]") {
    // The classic non-transitive triple: pairwise, A beats B (router id, different AS),
    // B beats C (MED, same AS), C beats A (router id). RFC 4271 §9.1.2.2(c) first removes C's
    // rival... precisely: within AS 65001, B (MED 10) eliminates C (MED 20); then A vs B by
    // router id: A (id 1) wins. Every permutation must agree.
    std::vector<Path> paths{
        make({.as_path = {65002}, .med = 100, .router_id = 1, .peer = "10.0.0.1", .next_hop = "10.0.0.1"}),  // A
        make({.as_path = {65001}, .med = 10, .router_id = 3, .peer = "10.0.0.3", .next_hop = "10.0.0.3"}),   // B
        make({.as_path = {65001}, .med = 20, .router_id = 0, .peer = "10.0.0.4", .next_hop = "10.0.0.4"}),   // C
    };
    // Pairwise sanity: the cycle really exists.
    CHECK(compare(paths[0], paths[1]).a_wins);
    CHECK(compare(paths[1], paths[2]).a_wins);
    CHECK(compare(paths[2], paths[0]).a_wins);

    std::vector<std::size_t> order(paths.size());
    std::iota(order.begin(), order.end(), 0);
    int permutations = 0;
    do {
        std::vector<Path> shuffled;
        for (auto i : order) shuffled.push_back(paths[i]);
        auto s = select_best(shuffled);
        REQUIRE(s);
        CHECK(shuffled[s->best].peer_address == ip("10.0.0.1"));
        ++permutations;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(permutations == 6);
}

TEST_CASE("select_best: multipath lists paths equal down to router id", "[bgp][best_path]") {
    std::vector<Path> paths{
        make({.router_id = 7, .peer = "10.0.0.7", .next_hop = "10.0.0.7"}),
        make({.router_id = 2, .peer = "10.0.0.2", .next_hop = "10.0.0.2"}),
        make({.as_path = {64999}, .router_id = 1, .peer = "10.0.0.1", .next_hop = "10.0.0.1"}),  // longer
        make({.local_pref = 50, .router_id = 0, .peer = "10.0.0.9", .next_hop = "10.0.0.9"}),   // lower pref
    };
    auto s = select_best(paths);
    REQUIRE(s);
    CHECK(s->best == 1);
    CHECK(s->reason == Reason::kRouterId);
    auto mp = s->multipath;
    std::sort(mp.begin(), mp.end());
    CHECK(mp == std::vector<std::size_t>{0, 1});
}

TEST_CASE("select_best: reason names the deciding step", "[bgp][best_path]") {
    std::vector<Path> paths{make({.local_pref = 100, .router_id = 1}), make({.local_pref = 300, .router_id = 2})};
    auto s = select_best(paths);
    REQUIRE(s);
    CHECK(s->best == 1);
    CHECK(s->reason == Reason::kLocalPref);
    CHECK(to_string(s->reason) == "local-pref");
    CHECK(s->multipath == std::vector<std::size_t>{1});
}

TEST_CASE("Path accessors apply the RFC defaults", "[bgp][best_path]") {
    PathAttributes a;  // nothing at all
    Path p{.attributes = std::make_shared<const PathAttributes>(a)};
    CHECK(p.local_pref() == kDefaultLocalPref);
    CHECK(p.origin() == Origin::kIncomplete);
    CHECK(p.med() == 0);
    CHECK(p.as_path_length() == 0);
    CHECK(p.neighbor_as() == 0);

    PathAttributes b;
    b.as_path = std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {65001, 65002}},
                                           {AsPathSegment::kAsSet, {65003, 65004, 65005}}};
    b.originator_id = 77;
    Path q{.attributes = std::make_shared<const PathAttributes>(b), .peer_router_id = 5};
    CHECK(q.as_path_length() == 3);  // an AS_SET counts one
    CHECK(q.neighbor_as() == 65001);
    CHECK(q.router_id() == 77);
}

TEST_CASE("explain: the step that eliminated each path, in the decision process's order", "[bgp][best_path]") {
    struct Row {
        const char* name;
        PathSpec best;
        PathSpec loser;
        Reason step;
        const char* text;
    };
    // Each row: the loser differs from the best from one step on; the best comes first or second.
    const std::vector<Row> rows{
        {"local", {.local = true}, {.local_pref = 1000}, Reason::kLocal, "not locally originated"},
        {"local pref", {.local_pref = 200}, {.local_pref = 100, .router_id = 0}, Reason::kLocalPref, "lower LOCAL_PREF"},
        {"as path", {.as_path = {65001}}, {.as_path = {65001, 65002}, .router_id = 0}, Reason::kAsPathLength,
         "longer AS_PATH"},
        {"origin", {.origin = Origin::kIgp}, {.origin = Origin::kIncomplete, .router_id = 0}, Reason::kOrigin,
         "higher ORIGIN"},
        {"med", {.as_path = {65001}, .med = 5}, {.as_path = {65001}, .med = 50, .router_id = 0}, Reason::kMed, "higher MED"},
        {"ebgp", {.as_path = {65001}, .ebgp = true, .router_id = 9}, {.as_path = {65001}, .ebgp = false, .router_id = 0},
         Reason::kEbgpOverIbgp, "eBGP preferred over iBGP"},
        {"router id", {.router_id = 1}, {.router_id = 2, .peer = "10.0.0.0"}, Reason::kRouterId, "higher router id"},
        {"cluster list", {.router_id = 1, .peer = "10.0.0.2", .cluster_list = {7}},
         {.router_id = 1, .peer = "10.0.0.1", .cluster_list = {7, 8}}, Reason::kClusterListLength, "longer CLUSTER_LIST"},
        {"peer address", {.router_id = 1, .peer = "10.0.0.1"}, {.router_id = 1, .peer = "10.0.0.2"}, Reason::kPeerAddress,
         "higher peer address"},
        {"path id", {.path_id = 1}, {.path_id = 2}, Reason::kPathId, "higher path id"},
    };
    for (const auto& row : rows) {
        for (const bool best_first : {true, false}) {
            INFO(row.name << (best_first ? ", best first" : ", best second"));
            std::vector<Path> paths{make(row.best), make(row.loser)};
            if (!best_first) std::swap(paths[0], paths[1]);
            const std::size_t b = best_first ? 0 : 1;
            auto e = explain(paths);
            REQUIRE(e);
            CHECK(e->selection.best == b);
            CHECK(e->selection.reason == row.step);
            CHECK_FALSE(e->lost_at[b]);
            REQUIRE(e->lost_at[1 - b]);
            CHECK(*e->lost_at[1 - b] == row.step);
            CHECK(loss_to_string(row.step) == row.text);
            // The same verdict as the pairwise comparison, and as select_best.
            CHECK(compare(paths[b], paths[1 - b]) == Verdict{true, row.step});
            CHECK(select_best(paths)->best == b);
        }
    }
}

TEST_CASE("explain: several losers, each at its own step; MED loses to a path of its own AS", "[bgp][best_path]") {
    std::vector<Path> paths{
        make({.as_path = {65002}, .med = 100, .router_id = 1, .peer = "10.0.0.1"}),  // best: router id
        make({.as_path = {65001}, .med = 10, .router_id = 3, .peer = "10.0.0.3"}),   // router id
        make({.as_path = {65001}, .med = 20, .router_id = 0, .peer = "10.0.0.4"}),   // MED, to the one above
        make({.local_pref = 50, .peer = "10.0.0.5"}),                                // local pref
        make({.as_path = {65003, 65004}, .peer = "10.0.0.6"}),                        // AS_PATH
    };
    auto e = explain(paths);
    REQUIRE(e);
    CHECK(e->selection.best == 0);
    CHECK(e->selection.best == select_best(paths)->best);
    CHECK_FALSE(e->lost_at[0]);
    CHECK(e->lost_at[1] == Reason::kRouterId);
    CHECK(e->lost_at[2] == Reason::kMed);  // pairwise against the best it would have been router id
    CHECK(e->lost_at[3] == Reason::kLocalPref);
    CHECK(e->lost_at[4] == Reason::kAsPathLength);
    CHECK_FALSE(explain({}));
    std::vector<Path> one{make({})};
    auto only = explain(one);
    REQUIRE(only);
    CHECK(only->lost_at == std::vector<std::optional<Reason>>{std::nullopt});
}
