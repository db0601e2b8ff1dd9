#include "k8s-client/watch_stream.hpp"

#include "k8s-client/node.hpp"

#include <catch2/catch.hpp>

#include "k8s_test_support.hpp"

using kroute::k8s::parse_watch_event;
using kroute::k8s::WatchEvent;
using kroute::k8s::WatchStreamParser;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

// A stream as the API server writes it (compact JSON + '\n' per event), with strings holding the
// characters a naive scanner trips on: braces, escaped quotes, backslashes, multi-byte UTF-8.
std::string sample_stream() {
    json added{{"type", "ADDED"},
               {"object",
                {{"kind", "Node"},
                 {"metadata",
                  {{"name", "n1"},
                   {"resourceVersion", "10"},
                   {"annotations", {{"tricky", "}{ \"quoted\" \\ ]["}, {"utf8", "nœud-ノード"}}}}},
                 {"spec", {{"podCIDRs", {"10.244.1.0/24"}}}}}}};
    json modified = added;
    modified["type"] = "MODIFIED";
    modified["object"]["metadata"]["resourceVersion"] = "11";
    json deleted = added;
    deleted["type"] = "DELETED";
    deleted["object"]["metadata"]["resourceVersion"] = "12";
    return added.dump() + "\n" + modified.dump() + "\n" + t::read_text(t::data_path("watch-bookmark-events.jsonl")) +
           deleted.dump() + "\n" + t::read_text(t::data_path("watch-410-expired-error-event.jsonl"));
}

std::vector<json> parse_all(const std::vector<std::string_view>& chunks) {
    WatchStreamParser p;
    std::vector<json> out;
    for (auto c : chunks) REQUIRE(p.feed(c, out));
    CHECK(p.at_value_boundary());
    return out;
}

}  // namespace

TEST_CASE("watch stream: the same values whatever the chunk boundaries", "[k8s][watch]") {
    const std::string stream = sample_stream();
    const auto whole = parse_all({stream});
    REQUIRE(whole.size() == 7);  // ADDED, MODIFIED, 3 bookmarks, DELETED, ERROR
    CHECK(whole[0]["type"] == "ADDED");
    CHECK(whole[6]["type"] == "ERROR");

    SECTION("split once at every byte offset") {
        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            std::string_view s{stream};
            INFO("cut at " << cut);
            CHECK(parse_all({s.substr(0, cut), s.substr(cut)}) == whole);
        }
    }
    SECTION("one byte per chunk") {
        WatchStreamParser p;
        std::vector<json> out;
        for (char c : stream) {
            REQUIRE(p.feed(std::string_view{&c, 1}, out));
        }
        CHECK(out == whole);
    }
    SECTION("several values per chunk, no newline separators, leading whitespace") {
        std::string packed = "  \r\n\t";
        for (const auto& v : whole) packed += v.dump();
        CHECK(parse_all({packed}) == whole);
    }
}

TEST_CASE("watch stream: partial values and garbage", "[k8s][watch]") {
    WatchStreamParser p;
    std::vector<json> out;
    REQUIRE(p.feed(R"({"type":"ADDED","object":{"metadata":{"name":"a"})", out));
    CHECK(out.empty());
    CHECK_FALSE(p.at_value_boundary());  // a stream ending here was truncated
    REQUIRE(p.feed("}}\n", out));
    CHECK(out.size() == 1);
    CHECK(p.at_value_boundary());

    SECTION("a scalar between values poisons the stream for good") {
        auto r = p.feed("42\n", out);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error(), Catch::Contains("'4'"));
        CHECK_FALSE(p.feed("{}", out));
        CHECK_FALSE(p.at_value_boundary());
    }
    SECTION("a value that is balanced but not JSON") {
        auto r = p.feed("{nope}", out);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error(), Catch::Contains("malformed"));
    }
}

TEST_CASE("watch events: types, resourceVersion, node", "[k8s][watch]") {
    const auto values = parse_all({sample_stream()});
    auto added = parse_watch_event(values[0]);
    REQUIRE(added);
    CHECK(added->type == WatchEvent::Type::kAdded);
    CHECK(added->resource_version == "10");
    auto node = kroute::k8s::parse_node(added->object);
    REQUIRE(node);
    CHECK(node->name == "n1");
    CHECK(node->annotations.at("utf8") == "nœud-ノード");
    CHECK(parse_watch_event(values[1])->type == WatchEvent::Type::kModified);

    // The fixture's bookmarks: a Job (another resource, still only an RV) and two zero-valued Nodes.
    for (std::size_t i = 2; i < 5; ++i) {
        auto b = parse_watch_event(values[i]);
        REQUIRE(b);
        CHECK(b->type == WatchEvent::Type::kBookmark);
        CHECK(b->object.is_null());  // a bookmark's object is not kept
    }
    CHECK(parse_watch_event(values[2])->resource_version == "1");
    CHECK(parse_watch_event(values[3])->resource_version == "12746");

    auto deleted = parse_watch_event(values[5]);
    REQUIRE(deleted);
    CHECK(deleted->type == WatchEvent::Type::kDeleted);
    CHECK(deleted->resource_version == "12");
}

TEST_CASE("watch events: 410 ERROR in both reasons", "[k8s][watch]") {
    for (const char* file : {"watch-410-expired-error-event.jsonl", "watch-410-gone-error-event-pre-1.18.jsonl"}) {
        INFO(file);
        auto ev = parse_watch_event(json::parse(t::read_text(t::data_path(file))));
        REQUIRE(ev);
        CHECK(ev->type == WatchEvent::Type::kError);
        CHECK(ev->status.code == 410);
        CHECK(kroute::k8s::is_expired(ev->status));
        CHECK_THAT(ev->status.message, Catch::StartsWith("too old resource version"));
    }
    auto gone = parse_watch_event(json::parse(t::read_text(t::data_path("watch-410-gone-error-event-pre-1.18.jsonl"))));
    CHECK(gone->status.reason == "Gone");
}

TEST_CASE("watch events: malformed envelopes are errors", "[k8s][watch]") {
    const std::vector<std::pair<json, std::string>> cases{
        {json::array(), "expected an object"},
        {json{{"object", json::object()}}, "missing type"},
        {json{{"type", 1}, {"object", json::object()}}, "missing type"},
        {json{{"type", "ADDED"}}, "missing object"},
        {json{{"type", "ADDED"}, {"object", "x"}}, "missing object"},
        {json{{"type", "RENAMED"}, {"object", json::object()}}, "unknown type \"RENAMED\""},
    };
    for (const auto& [value, needle] : cases) {
        INFO(value.dump());
        auto ev = parse_watch_event(value);
        REQUIRE_FALSE(ev);
        CHECK_THAT(ev.error(), Catch::Contains(needle));
    }
}
