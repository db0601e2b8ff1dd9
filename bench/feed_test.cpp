#include "bench/feed.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace kroute;
using namespace kroute::bench;

namespace {

// Decodes a stream back into its UPDATEs, checking every chunk end is a message boundary.
std::vector<bgp::UpdateMessage> decode_stream(const MessageStream& s) {
    std::vector<bgp::UpdateMessage> out;
    std::set<std::size_t> boundaries;
    std::size_t off = 0;
    while (off < s.bytes.size()) {
        auto len = bgp::frame_length(std::span(s.bytes).subspan(off));
        REQUIRE(len);
        REQUIRE(*len);
        auto msg = bgp::decode_message(std::span(s.bytes).subspan(off, **len), bgp::DecodeContext{});
        REQUIRE(msg);
        REQUIRE(std::holds_alternative<bgp::UpdateMessage>(*msg));
        out.push_back(std::get<bgp::UpdateMessage>(*msg));
        off += **len;
        boundaries.insert(off);
    }
    for (auto end : s.chunk_ends) CHECK(boundaries.count(end) == 1);
    CHECK(out.size() == s.messages);
    return out;
}

}  // namespace

TEST_CASE("make_prefixes: distinct, /24 or longer, public, deterministic") {
    auto a = make_prefixes(20000, 7);
    REQUIRE(a.size() == 20000);
    std::set<Prefix> unique(a.begin(), a.end());
    CHECK(unique.size() == a.size());
    std::set<std::uint32_t> slash24s;
    for (const auto& p : a) {
        CHECK(p.length() >= 24);
        CHECK(p.length() <= 28);
        const auto first = p.address().v4_host_order() >> 24;
        CHECK(first != 10);
        CHECK(first != 127);
        CHECK(first < 224);
        slash24s.insert(p.address().v4_host_order() >> 8);
    }
    CHECK(slash24s.size() == a.size());  // longer prefixes sit in distinct /24s: no overlap
    CHECK(make_prefixes(20000, 7) == a);
    CHECK(make_prefixes(20000, 8) != a);
}

TEST_CASE("make_attribute_sets: distinct sets with realistic paths") {
    FeedConfig cfg;
    cfg.attribute_sets = 500;
    auto sets = make_attribute_sets(cfg);
    REQUIRE(sets.size() == 500);
    CHECK(std::set<bgp::PathAttributes>(sets.begin(), sets.end()).size() == 500);
    for (const auto& s : sets) {
        REQUIRE(s.as_path);
        REQUIRE(s.as_path->size() == 1);
        const auto& asns = s.as_path->front().asns;
        CHECK(asns.size() >= 2);
        CHECK(asns.size() <= 6);
        for (auto asn : asns) CHECK(asn != 64512);
        CHECK(s.local_pref == std::optional<std::uint32_t>(100));
        CHECK(s.communities.size() <= 4);
    }
    cfg.ibgp = false;
    for (const auto& s : make_attribute_sets(cfg)) CHECK_FALSE(s.local_pref);
}

TEST_CASE("build_feed: every prefix announced once, at most P per UPDATE, then withdrawn") {
    FeedConfig cfg;
    cfg.prefixes = 5000;
    cfg.attribute_sets = 50;
    cfg.per_update = 7;
    auto feed = build_feed(cfg);
    REQUIRE(feed.prefixes.size() == 5000);

    std::set<Prefix> announced;
    std::size_t total = 0;
    for (const auto& u : decode_stream(feed.announcements)) {
        CHECK(u.nlri.size() <= 7);
        CHECK(u.withdrawn.empty());
        CHECK(std::find(feed.attribute_sets.begin(), feed.attribute_sets.end(), u.attributes) !=
              feed.attribute_sets.end());
        total += u.nlri.size();
        announced.insert(u.nlri.begin(), u.nlri.end());
    }
    CHECK(total == 5000);
    CHECK(announced == std::set<Prefix>(feed.prefixes.begin(), feed.prefixes.end()));

    std::set<Prefix> withdrawn;
    for (const auto& u : decode_stream(feed.withdrawals)) {
        CHECK(u.nlri.empty());
        CHECK(u.withdrawn.size() <= 7);
        withdrawn.insert(u.withdrawn.begin(), u.withdrawn.end());
    }
    CHECK(withdrawn == announced);

    auto again = build_feed(cfg);
    CHECK(again.announcements.bytes == feed.announcements.bytes);
}
