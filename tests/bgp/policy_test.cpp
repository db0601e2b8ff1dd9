// The policy engine: prefix lists with FRR's ge/le meaning, community and large-community matches,
// first-match-wins terms with a default, and every modification.
#include "bgp/policy.hpp"

#include <catch2/catch.hpp>

using namespace kroute;
using namespace kroute::bgp;

namespace {

Prefix pfx(const char* s) { return *Prefix::parse(s); }

PrefixRange range(const char* s) {
    auto r = PrefixRange::parse(s);
    REQUIRE(r);
    return *r;
}

PathAttributes path(std::vector<std::uint32_t> as_path = {65001}, std::vector<std::uint32_t> communities = {}) {
    PathAttributes a;
    a.origin = Origin::kIgp;
    a.as_path = std::vector<AsPathSegment>{};
    if (!as_path.empty()) a.as_path->push_back({AsPathSegment::kAsSequence, std::move(as_path)});
    a.communities = std::move(communities);
    return a;
}

std::uint32_t comm(std::uint16_t hi, std::uint16_t lo) { return (std::uint32_t{hi} << 16) | lo; }

}  // namespace

TEST_CASE("prefix-list entries match as FRR's ge/le do", "[bgp][policy]") {
    auto [entry, route, match] = GENERATE(table<const char*, const char*, bool>({
        // Exact without ge/le.
        {"10.0.0.0/8", "10.0.0.0/8", true},
        {"10.0.0.0/8", "10.1.0.0/16", false},
        {"10.0.0.0/8", "0.0.0.0/0", false},
        // le: from len up to L.
        {"10.0.0.0/8 le 24", "10.0.0.0/8", true},
        {"10.0.0.0/8 le 24", "10.1.2.0/24", true},
        {"10.0.0.0/8 le 24", "10.1.2.128/25", false},
        {"10.0.0.0/8 le 24", "11.0.0.0/16", false},
        // ge: from G up to the family's maximum.
        {"10.0.0.0/8 ge 16", "10.0.0.0/8", false},
        {"10.0.0.0/8 ge 16", "10.1.0.0/16", true},
        {"10.0.0.0/8 ge 16", "10.1.2.3/32", true},
        // ge and le.
        {"10.0.0.0/8 ge 16 le 24", "10.1.0.0/16", true},
        {"10.0.0.0/8 ge 16 le 24", "10.1.1.0/24", true},
        {"10.0.0.0/8 ge 16 le 24", "10.1.0.0/15", false},
        {"10.0.0.0/8 ge 16 le 24", "10.1.1.0/25", false},
        // The default route, and "everything".
        {"0.0.0.0/0", "0.0.0.0/0", true},
        {"0.0.0.0/0", "10.0.0.0/8", false},
        {"0.0.0.0/0 le 32", "192.0.2.1/32", true},
        // Families never mix.
        {"::/0", "0.0.0.0/0", false},
        {"::/0 le 128", "10.0.0.0/8", false},
        {"fd00::/8 le 64", "fd00:1::/48", true},
        {"fd00::/8 le 64", "fd00:1::/96", false},
    }));
    CAPTURE(entry, route);
    CHECK(range(entry).matches(pfx(route)) == match);
}

TEST_CASE("prefix-list entries are validated as FRR does (len < ge <= le <= max)", "[bgp][policy]") {
    for (const char* bad : {"10.0.0.0/8 ge 8", "10.0.0.0/8 ge 33", "10.0.0.0/8 le 7", "10.0.0.0/8 le 33",
                            "10.0.0.0/8 ge 24 le 16", "10.0.0.1/8", "10.0.0.0/8 le", "10.0.0.0/8 foo 9",
                            "10.0.0.0/8 le 24 ge 16", "10.0.0.0/8 ge 16 ge 17", "", "ten/8", "::/0 le 129"}) {
        CAPTURE(bad);
        CHECK_FALSE(PrefixRange::parse(bad));
    }
    CHECK(range("10.0.0.0/8 ge 16 le 24").to_string() == "10.0.0.0/8 ge 16 le 24");
    CHECK(range("10.0.0.0/8 le 8").matches(pfx("10.0.0.0/8")));  // le == len is exact, as FRR allows
    CHECK(range("  10.0.0.0/8   le 24 ").le == 24);
}

TEST_CASE("a prefix list matches when any entry does; an empty one never", "[bgp][policy]") {
    const PrefixList list{range("10.244.0.0/16 le 32"), range("0.0.0.0/0")};
    CHECK(matches(list, pfx("10.244.1.0/24")));
    CHECK(matches(list, pfx("0.0.0.0/0")));
    CHECK_FALSE(matches(list, pfx("10.0.0.0/8")));  // covers the range, is not inside it
    CHECK_FALSE(matches(PrefixList{}, pfx("0.0.0.0/0")));
}

TEST_CASE("community matches: any of, all of; large communities likewise", "[bgp][policy]") {
    auto a = path({65001}, {comm(65001, 1), comm(65001, 2)});
    a.large_communities = {{65001, 1, 1}, {65001, 2, 2}};
    const auto r = pfx("192.0.2.0/24");

    PolicyMatch m;
    CHECK(matches(m, r, a));  // no condition at all
    m.any_community = {comm(65001, 9), comm(65001, 2)};
    CHECK(matches(m, r, a));
    m.any_community = {comm(65001, 9)};
    CHECK_FALSE(matches(m, r, a));
    m = {};
    m.all_communities = {comm(65001, 1), comm(65001, 2)};
    CHECK(matches(m, r, a));
    m.all_communities.push_back(comm(65001, 3));
    CHECK_FALSE(matches(m, r, a));

    m = {};
    m.any_large_community = {{65001, 2, 2}, {7, 7, 7}};
    CHECK(matches(m, r, a));
    m.any_large_community = {{65001, 2, 3}};  // every part counts
    CHECK_FALSE(matches(m, r, a));
    m = {};
    m.all_large_communities = {{65001, 1, 1}, {65001, 2, 2}};
    CHECK(matches(m, r, a));
    m.all_large_communities = {{65001, 1, 1}, {65001, 3, 3}};
    CHECK_FALSE(matches(m, r, a));

    // Every condition given must hold.
    m = {};
    m.prefixes = PrefixList{range("192.0.2.0/24")};
    m.any_community = {comm(65001, 1)};
    CHECK(matches(m, r, a));
    CHECK_FALSE(matches(m, pfx("198.51.100.0/24"), a));
    m.prefixes = PrefixList{};  // an empty list matches nothing
    CHECK_FALSE(matches(m, r, a));
}

TEST_CASE("the first matching term decides, else the default action", "[bgp][policy]") {
    Policy p;
    p.name = "import";
    p.terms.push_back(PolicyTerm{"no-default", PolicyMatch{.prefixes = PrefixList{range("0.0.0.0/0")}}, PolicyAction{.accept = false}});
    p.terms.push_back(PolicyTerm{"blackhole-tagged", PolicyMatch{.any_community = {comm(65535, 666)}}, PolicyAction{.accept = false}});
    p.terms.push_back(PolicyTerm{"customers", PolicyMatch{.prefixes = PrefixList{range("192.0.2.0/24 le 32")}},
                           PolicyAction{.set_local_pref = 200}});
    p.terms.push_back(PolicyTerm{"too-late", PolicyMatch{.prefixes = PrefixList{range("192.0.2.0/25")}}, PolicyAction{.accept = false}});
    p.default_action.accept = false;
    REQUIRE(check(p).empty());

    auto d = decide(p, pfx("0.0.0.0/0"), path());
    CHECK_FALSE(d.accept());
    REQUIRE(d.term);
    CHECK(d.term->name == "no-default");

    CHECK(decide(p, pfx("192.0.2.0/24"), path({65001}, {comm(65535, 666)})).term->name == "blackhole-tagged");

    auto a = path();
    REQUIRE(apply(p, pfx("192.0.2.0/25"), a));  // "customers" comes first: "too-late" never decides
    CHECK(a.local_pref == 200U);

    auto b = path();
    CHECK_FALSE(apply(p, pfx("198.51.100.0/24"), b));
    CHECK(decide(p, pfx("198.51.100.0/24"), b).term == nullptr);
    CHECK(b == path());  // a rejected path is left as it was

    Policy accept_all;
    auto c = path();
    CHECK(apply(accept_all, pfx("198.51.100.0/24"), c));
    CHECK(c == path());
}

TEST_CASE("modifications: communities set/remove/add, prepend, LOCAL_PREF, MED", "[bgp][policy]") {
    const auto r = pfx("192.0.2.0/24");
    SECTION("add and remove keep a sorted set without duplicates") {
        auto a = path({65001}, {comm(65001, 5), comm(65001, 1)});
        PolicyAction act{.remove_communities = {comm(65001, 5)}, .add_communities = {comm(64512, 1), comm(65001, 1)}};
        CHECK(act.modifies());
        modify(act, a);
        CHECK(a.communities == std::vector<std::uint32_t>{comm(64512, 1), comm(65001, 1)});
    }
    SECTION("set replaces, then remove and add apply") {
        auto a = path({65001}, {comm(65001, 5)});
        PolicyAction act{.set_communities = std::vector<std::uint32_t>{comm(1, 1), comm(2, 2)},
                   .remove_communities = {comm(2, 2)},
                   .add_communities = {kCommunityNoExport}};
        modify(act, a);
        CHECK(a.communities == std::vector<std::uint32_t>{comm(1, 1), kCommunityNoExport});
        PolicyAction clear{.set_communities = std::vector<std::uint32_t>{}};
        modify(clear, a);
        CHECK(a.communities.empty());
    }
    SECTION("large communities") {
        auto a = path();
        a.large_communities = {{65001, 9, 9}};
        PolicyAction act{.remove_large_communities = {{65001, 9, 9}}, .add_large_communities = {{64512, 2, 1}, {64512, 1, 1}}};
        modify(act, a);
        CHECK(a.large_communities == std::vector<LargeCommunity>{{64512, 1, 1}, {64512, 2, 1}});
        PolicyAction set{.set_large_communities = std::vector<LargeCommunity>{{1, 2, 3}}};
        modify(set, a);
        CHECK(a.large_communities == std::vector<LargeCommunity>{{1, 2, 3}});
    }
    SECTION("AS_PATH prepend n times, into the leading AS_SEQUENCE") {
        auto a = path({65001, 65002});
        modify(PolicyAction{.prepend_asn = 64512, .prepend_count = 3}, a);
        REQUIRE(a.as_path->size() == 1);
        CHECK(a.as_path->front().asns == std::vector<std::uint32_t>{64512, 64512, 64512, 65001, 65002});

        auto empty = path({});  // originated here: an empty AS_PATH gets a first segment
        modify(PolicyAction{.prepend_asn = 64512, .prepend_count = 2}, empty);
        REQUIRE(empty.as_path->size() == 1);
        CHECK(empty.as_path->front().asns == std::vector<std::uint32_t>{64512, 64512});

        auto set_first = path({});
        set_first.as_path->push_back({AsPathSegment::kAsSet, {1, 2}});
        modify(PolicyAction{.prepend_asn = 64512, .prepend_count = 1}, set_first);
        REQUIRE(set_first.as_path->size() == 2);  // never into an AS_SET (RFC 4271 §5.1.2 b)
        CHECK(set_first.as_path->front() == AsPathSegment{AsPathSegment::kAsSequence, {64512}});

        auto full = path(std::vector<std::uint32_t>(254, 65001));
        modify(PolicyAction{.prepend_asn = 64512, .prepend_count = 2}, full);  // a segment holds 255 ASes at most
        REQUIRE(full.as_path->size() == 2);
        CHECK(full.as_path->front().asns == std::vector<std::uint32_t>{64512});
        CHECK(full.as_path->back().asns.size() == 255);
    }
    SECTION("LOCAL_PREF and MED") {
        auto a = path();
        a.med = 50;
        Policy p{.name = "x", .terms = {}, .default_action = PolicyAction{.set_local_pref = 300, .set_med = 7}};
        REQUIRE(apply(p, r, a));
        CHECK(a.local_pref == 300U);
        CHECK(a.med == 7U);
    }
    SECTION("a rejecting or plain accepting action modifies nothing") {
        CHECK_FALSE(PolicyAction{}.modifies());
        CHECK_FALSE(PolicyAction{.accept = false, .set_med = 1}.modifies());
    }
}

TEST_CASE("may_modify() and rejects_whatever_attributes() tell when a peer's paths must be asked again",
          "[bgp][policy]") {
    Policy p;
    PolicyTerm blackhole{"blackhole", PolicyMatch{.any_community = {comm(65535, 666)}}, PolicyAction{.accept = false}};
    PolicyTerm tagged_ok{"tagged-ok", PolicyMatch{.prefixes = PrefixList{range("192.0.2.0/24")}, .any_community = {comm(1, 1)}},
                         PolicyAction{}};
    PolicyTerm no_default{"no-default", PolicyMatch{.prefixes = PrefixList{range("0.0.0.0/0")}}, PolicyAction{.accept = false}};
    PolicyTerm test_net{"test-net", PolicyMatch{.prefixes = PrefixList{range("192.0.2.0/24")}}, PolicyAction{.accept = false}};
    p.terms = {blackhole, tagged_ok, no_default, test_net};
    CHECK_FALSE(may_modify(p));
    CHECK(rejects_whatever_attributes(p, pfx("0.0.0.0/0")));          // a rejecting term that may match first is no matter
    CHECK_FALSE(rejects_whatever_attributes(p, pfx("192.0.2.0/24")));  // tagged 1:1 it is accepted
    CHECK_FALSE(rejects_whatever_attributes(p, pfx("198.51.100.0/24")));  // the default accepts
    p.default_action.accept = false;
    CHECK(rejects_whatever_attributes(p, pfx("198.51.100.0/24")));
    p.terms.push_back(PolicyTerm{"prefer", PolicyMatch{}, PolicyAction{.set_local_pref = 200}});
    CHECK(may_modify(p));
    CHECK_FALSE(rejects_whatever_attributes(p, pfx("198.51.100.0/24")));  // "prefer" matches everything first
    CHECK_FALSE(may_modify(Policy{}));
}

TEST_CASE("check() names the bad term", "[bgp][policy]") {
    Policy p;
    p.terms.push_back(PolicyTerm{"ok", PolicyMatch{.prefixes = PrefixList{range("10.0.0.0/8 le 24")}}, PolicyAction{}});
    CHECK(check(p).empty());
    p.terms.push_back(PolicyTerm{"bad-range", PolicyMatch{.prefixes = PrefixList{PrefixRange{pfx("10.0.0.0/8"), 4, std::nullopt}}},
                           PolicyAction{}});
    CHECK_THAT(check(p), Catch::Contains("bad-range"));
    p.terms.pop_back();
    p.terms.push_back(PolicyTerm{"bad-prepend", {}, PolicyAction{.prepend_asn = 64512, .prepend_count = kMaxPrepend + 1}});
    CHECK_THAT(check(p), Catch::Contains("bad-prepend"));
    p.terms.back().action = PolicyAction{.prepend_asn = 0, .prepend_count = 1};
    CHECK_THAT(check(p), Catch::Contains("reserved"));
    p.terms.pop_back();
    p.default_action.prepend_count = -1;
    CHECK_THAT(check(p), Catch::Contains("default action"));
}

TEST_CASE("community text forms", "[bgp][policy]") {
    CHECK(parse_community("65001:100") == comm(65001, 100));
    CHECK(parse_community("no-export") == kCommunityNoExport);
    CHECK(parse_community("no-advertise") == kCommunityNoAdvertise);
    CHECK(parse_community("no-export-subconfed") == kCommunityNoExportSubconfed);
    CHECK(parse_community("4294967041") == kCommunityNoExport);
    for (const char* bad : {"", "65536:1", "1:65536", "1:2:3", "a:b", "-1:2", "1:"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_community(bad));
    }
    CHECK(community_to_string(comm(65001, 100)) == "65001:100");
    CHECK(community_to_string(kCommunityNoAdvertise) == "no-advertise");

    CHECK(parse_large_community("4200000000:1:2") == LargeCommunity{4200000000u, 1, 2});
    CHECK_FALSE(parse_large_community("1:2"));
    CHECK_FALSE(parse_large_community("4294967296:1:2"));
    CHECK(large_community_to_string({65001, 7, 8}) == "65001:7:8");
}

TEST_CASE("extended communities printed as BIRD and GoBGP print them", "[bgp][policy]") {
    CHECK(extended_community_to_string(0x0002fde900000064ull) == "rt:65001:100");     // RFC 4360 §4 2-octet AS
    CHECK(extended_community_to_string(0x0003fde900000007ull) == "soo:65001:7");
    CHECK(extended_community_to_string(0x0102c00002010007ull) == "rt:192.0.2.1:7");  // IPv4 specific
    CHECK(extended_community_to_string(0x0202fa56ea010005ull) == "rt:4200000001:5");  // RFC 5668
    CHECK(extended_community_to_string(0x4002fde900000064ull) == "rt:65001:100");     // non-transitive form
    CHECK(extended_community_to_string(0x0300000000000000ull) == "0x0300000000000000");
}
