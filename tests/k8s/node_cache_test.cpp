#include "k8s-client/object_cache.hpp"

#include <catch2/catch.hpp>

using kroute::Prefix;
using kroute::k8s::Node;
using kroute::k8s::NodeCache;
using kroute::k8s::NodeEvent;
using Type = kroute::k8s::NodeEvent::Type;

namespace {

Node node(const std::string& name, const char* cidr, const std::string& rv = "1") {
    Node n;
    n.name = name;
    n.uid = "uid-" + name;
    n.resource_version = rv;
    n.pod_cidrs = {*Prefix::parse(cidr)};
    return n;
}

std::vector<std::pair<Type, std::string>> summary(const std::vector<NodeEvent>& events) {
    std::vector<std::pair<Type, std::string>> out;
    for (const auto& e : events) out.emplace_back(e.type, e.object.name);
    return out;
}

}  // namespace

TEST_CASE("node cache: the first list adds everything, then kSynced", "[k8s][cache]") {
    NodeCache cache;
    auto events = cache.replace({node("b", "10.0.2.0/24"), node("a", "10.0.1.0/24")});
    CHECK(summary(events) == std::vector<std::pair<Type, std::string>>{
                                 {Type::kAdded, "a"}, {Type::kAdded, "b"}, {Type::kSynced, ""}});
    CHECK(events[0].object.pod_cidrs.front() == *Prefix::parse("10.0.1.0/24"));
    CHECK(cache.objects().size() == 2);
}

TEST_CASE("node cache: a relist emits deletions first, then additions and real changes", "[k8s][cache]") {
    NodeCache cache;
    (void)cache.replace({node("a", "10.0.1.0/24"), node("b", "10.0.2.0/24"), node("c", "10.0.3.0/24")});
    // a: only its resourceVersion moved (a kubelet heartbeat); b: new podCIDR; c: gone; d: new.
    auto events = cache.replace({node("a", "10.0.1.0/24", "9"), node("b", "10.0.9.0/24"), node("d", "10.0.4.0/24")});
    CHECK(summary(events) == std::vector<std::pair<Type, std::string>>{
                                 {Type::kDeleted, "c"}, {Type::kModified, "b"}, {Type::kAdded, "d"}, {Type::kSynced, ""}});
    CHECK(events[0].object.uid == "uid-c");  // the deletion carries the last known state
    CHECK(cache.objects().at("a").resource_version == "9");

    auto empty = cache.replace({});
    CHECK(summary(empty) == std::vector<std::pair<Type, std::string>>{
                                {Type::kDeleted, "a"}, {Type::kDeleted, "b"}, {Type::kDeleted, "d"}, {Type::kSynced, ""}});
    CHECK(cache.objects().empty());
}

TEST_CASE("node cache: duplicate names in a list, the last one wins", "[k8s][cache]") {
    NodeCache cache;
    auto events = cache.replace({node("a", "10.0.1.0/24"), node("a", "10.0.7.0/24")});
    REQUIRE(events.size() == 2);
    CHECK(events[0].object.pod_cidrs.front() == *Prefix::parse("10.0.7.0/24"));
}

TEST_CASE("node cache: watch events", "[k8s][cache]") {
    NodeCache cache;
    (void)cache.replace({node("a", "10.0.1.0/24")});

    SECTION("ADDED of a new node") {
        auto ev = cache.apply(Type::kAdded, node("b", "10.0.2.0/24"));
        REQUIRE(ev);
        CHECK(ev->type == Type::kAdded);
        CHECK(cache.objects().contains("b"));
    }
    SECTION("MODIFIED with only a new resourceVersion is swallowed, but the RV is kept") {
        CHECK_FALSE(cache.apply(Type::kModified, node("a", "10.0.1.0/24", "5")));
        CHECK(cache.objects().at("a").resource_version == "5");
    }
    SECTION("MODIFIED with a change") {
        auto changed = node("a", "10.0.1.0/24", "6");
        changed.labels["zone"] = "b";
        auto ev = cache.apply(Type::kModified, changed);
        REQUIRE(ev);
        CHECK(ev->type == Type::kModified);
        CHECK(ev->object.labels.at("zone") == "b");
    }
    SECTION("ADDED of a known node is a modification; MODIFIED of an unknown one an addition") {
        auto re_added = cache.apply(Type::kAdded, node("a", "10.0.8.0/24"));
        REQUIRE(re_added);
        CHECK(re_added->type == Type::kModified);
        auto surprise = cache.apply(Type::kModified, node("z", "10.0.26.0/24"));
        REQUIRE(surprise);
        CHECK(surprise->type == Type::kAdded);
    }
    SECTION("DELETED of a known node, then again") {
        auto ev = cache.apply(Type::kDeleted, node("a", "10.0.1.0/24"));
        REQUIRE(ev);
        CHECK(ev->type == Type::kDeleted);
        CHECK(cache.objects().empty());
        CHECK_FALSE(cache.apply(Type::kDeleted, node("a", "10.0.1.0/24")));
    }
    SECTION("kSynced is not a watch event") { CHECK_FALSE(cache.apply(Type::kSynced, Node{})); }
}

TEST_CASE("node cache: a relist keeps the last usable version of a node the list has malformed", "[k8s][cache]") {
    NodeCache cache;
    (void)cache.replace({node("a", "10.0.1.0/24"), node("b", "10.0.2.0/24")});
    // b is in the list but did not parse; c did not parse either and was never known; a is gone.
    auto events = cache.replace({}, {"b", "c"});
    CHECK(summary(events) == std::vector<std::pair<Type, std::string>>{{Type::kDeleted, "a"}, {Type::kSynced, ""}});
    REQUIRE(cache.objects().size() == 1);
    CHECK(cache.objects().at("b").pod_cidrs.front() == *Prefix::parse("10.0.2.0/24"));
    // A usable version of the same key in the list wins.
    events = cache.replace({node("b", "10.0.9.0/24")}, {"b"});
    CHECK(summary(events) == std::vector<std::pair<Type, std::string>>{{Type::kModified, "b"}, {Type::kSynced, ""}});
    CHECK(cache.objects().at("b").pod_cidrs.front() == *Prefix::parse("10.0.9.0/24"));
}

TEST_CASE("node cache: a deletion by key alone", "[k8s][cache]") {
    NodeCache cache;
    (void)cache.replace({node("a", "10.0.1.0/24")});
    CHECK_FALSE(cache.erase("b"));
    auto ev = cache.erase("a");
    REQUIRE(ev);
    CHECK(ev->type == Type::kDeleted);
    CHECK(ev->object.uid == "uid-a");  // the last known state
    CHECK(cache.objects().empty());
}
