#include "tests/fake-apiserver/store.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "tests/fake-apiserver/base64.hpp"

using namespace kroute::fake_apiserver;

namespace {

const Scope kNodes{};

Store make_store(std::size_t window = 100) {
    auto uid = std::make_shared<int>(0);
    return Store{window, *ServiceIpRange::parse("10.96.0.0/12"), [] { return std::string("2024-05-01T10:00:00Z"); },
                     [uid] { return "uid-" + std::to_string(++*uid); }};
}

std::string node(const std::string& name, const std::string& extra = "") {
    return R"({"kind":"Node","apiVersion":"v1","metadata":{"name":")" + name + R"("})" + extra + "}";
}

Filter all() { return *Filter::parse(info(Resource::kNodes), "", ""); }

std::vector<std::string> types(const std::vector<Json>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e["type"].get<std::string>() + ":" +
                                                e["object"]["metadata"].value("name", std::string("-")));
    return out;
}

}  // namespace

TEST_CASE("create stamps uid, resourceVersion and creationTimestamp", "[fake-apiserver][store]") {
    Store s = make_store();
    const auto rv0 = s.resource_version();
    auto r = s.create(kNodes, node("n1", R"(,"spec":{"podCIDR":"10.244.1.0/24"})"));
    REQUIRE(r);
    CHECK(r->code == 201);
    CHECK(r->object["kind"] == "Node");
    CHECK(r->object["apiVersion"] == "v1");
    CHECK(r->object["metadata"]["uid"] == "uid-1");
    CHECK(r->object["metadata"]["resourceVersion"] == std::to_string(rv0 + 1));
    CHECK(r->object["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z");
    CHECK(r->object["status"] == Json::object());
    CHECK(s.resource_version() == rv0 + 1);

    auto again = s.create(kNodes, node("n1"));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == 409);
    CHECK(again.error().reason == "AlreadyExists");
}

TEST_CASE("create validates the object", "[fake-apiserver][store]") {
    Store s = make_store();
    auto [body, code] = GENERATE(table<std::string, int>({
        {"not json", 400},
        {"[]", 400},
        {R"({"kind":"Pod","metadata":{"name":"x"}})", 400},
        {R"({"apiVersion":"v2","metadata":{"name":"x"}})", 400},
        {R"({"metadata":{}})", 422},
        {R"({"metadata":{"name":"Bad_Name"}})", 422},
        {R"({"metadata":{"name":"x","labels":{"a":1}}})", 400},
        {R"({"metadata":{"name":"x"},"spec":[]})", 400},
    }));
    CAPTURE(body);
    auto r = s.create(kNodes, body);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == code);
    CHECK(s.size(Resource::kNodes) == 0);
}

TEST_CASE("get and list: items without kind, single objects with it", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("b")));
    REQUIRE(s.create(kNodes, node("a")));
    auto l = s.list(kNodes, {});
    REQUIRE(l);
    CHECK((*l)["kind"] == "NodeList");
    CHECK((*l)["metadata"]["resourceVersion"] == std::to_string(s.resource_version()));
    REQUIRE((*l)["items"].size() == 2);
    CHECK((*l)["items"][0]["metadata"]["name"] == "a");  // key order, like etcd
    CHECK_FALSE((*l)["items"][0].contains("kind"));
    CHECK_FALSE((*l)["items"][0].contains("apiVersion"));

    auto g = s.get(kNodes, "b");
    REQUIRE(g);
    CHECK((*g)["kind"] == "Node");
    auto missing = s.get(kNodes, "nosuch");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message == "nodes \"nosuch\" not found");
}

TEST_CASE("list pages with limit and continue", "[fake-apiserver][store]") {
    Store s = make_store();
    for (const char* n : {"n1", "n2", "n3"}) REQUIRE(s.create(kNodes, node(n)));
    auto p1 = s.list(kNodes, {.limit = "2"});
    REQUIRE(p1);
    CHECK((*p1)["items"].size() == 2);
    CHECK((*p1)["metadata"]["remainingItemCount"] == 1);
    const std::string token = (*p1)["metadata"]["continue"];
    auto p2 = s.list(kNodes, {.limit = "2", .continue_token = token});
    REQUIRE(p2);
    REQUIRE((*p2)["items"].size() == 1);
    CHECK((*p2)["items"][0]["metadata"]["name"] == "n3");
    CHECK_FALSE((*p2)["metadata"].contains("continue"));
    CHECK((*p2)["metadata"]["resourceVersion"] == (*p1)["metadata"]["resourceVersion"]);

    SECTION("resourceVersion=0 is served from the cache and ignores limit") {
        auto all_items = s.list(kNodes, {.limit = "1", .resource_version = "0"});
        REQUIRE(all_items);
        CHECK((*all_items)["items"].size() == 3);
    }
    SECTION("a continue token older than the compaction is 410 Expired") {
        REQUIRE(s.create(kNodes, node("n4")));
        s.compact();  // the token's RV is now older than the oldest retained
        auto r = s.list(kNodes, {.limit = "2", .continue_token = token});
        REQUIRE_FALSE(r);
        CHECK(r.error().code == 410);
        CHECK(r.error().reason == "Expired");
    }
    SECTION("bad tokens and parameters are 400") {
        CHECK(s.list(kNodes, {.continue_token = "!!"}).error().code == 400);
        CHECK(s.list(kNodes, {.continue_token = base64_encode("{}")}).error().code == 400);
        CHECK(s.list(kNodes, {.limit = "x"}).error().code == 400);
        CHECK(s.list(kNodes, {.continue_token = token, .resource_version = "5"}).error().code == 400);
    }
}

TEST_CASE("list filters by field and label selector", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1", R"(,"x":1)")));
    REQUIRE(s.create(kNodes, R"({"metadata":{"name":"n2","labels":{"role":"edge"}}})"));
    auto by_name = s.list(kNodes, {.field_selector = "metadata.name=n2"});
    REQUIRE(by_name);
    REQUIRE((*by_name)["items"].size() == 1);
    CHECK((*by_name)["items"][0]["metadata"]["name"] == "n2");
    auto by_label = s.list(kNodes, {.label_selector = "role=edge"});
    REQUIRE(by_label);
    CHECK((*by_label)["items"].size() == 1);
    CHECK(s.list(kNodes, {.field_selector = "status.phase=x"}).error().code == 400);
}

TEST_CASE("a list at a resourceVersion from the future is 504 Too large", "[fake-apiserver][store]") {
    Store s = make_store();
    auto r = s.list(kNodes, {.resource_version = std::to_string(s.resource_version() + 10)});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == 504);
    CHECK(r.error().details["causes"][0]["reason"] == "ResourceVersionTooLarge");
}

TEST_CASE("update: optimistic concurrency, no-op writes, status kept", "[fake-apiserver][store]") {
    Store s = make_store();
    auto c = s.create(kNodes, node("n1", R"(,"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"}]})"));
    REQUIRE(c);
    const std::string rv = c->object["metadata"]["resourceVersion"];

    SECTION("same object: no bump") {
        auto u = s.update(kNodes, "n1", c->object.dump(), Subresource::kNone);
        REQUIRE(u);
        CHECK(u->object["metadata"]["resourceVersion"] == rv);
    }
    SECTION("stale resourceVersion: 409 Conflict") {
        Json stale = c->object;
        stale["metadata"]["resourceVersion"] = "1";
        stale["spec"]["podCIDR"] = "10.244.2.0/24";
        auto u = s.update(kNodes, "n1", stale.dump(), Subresource::kNone);
        REQUIRE_FALSE(u);
        CHECK(u.error().reason == "Conflict");
    }
    SECTION("main resource keeps status, /status keeps spec") {
        Json changed = c->object;
        changed["spec"]["podCIDR"] = "10.244.2.0/24";
        changed["status"] = Json::object();
        auto u = s.update(kNodes, "n1", changed.dump(), Subresource::kNone);
        REQUIRE(u);
        CHECK(u->object["spec"]["podCIDR"] == "10.244.2.0/24");
        CHECK(u->object["status"]["addresses"][0]["address"] == "10.0.0.1");
        CHECK(u->object["metadata"]["uid"] == c->object["metadata"]["uid"]);
        CHECK(u->object["metadata"]["resourceVersion"] != rv);

        Json st = u->object;
        st["spec"] = Json::object();
        st["status"]["addresses"][0]["address"] = "10.0.0.2";
        auto us = s.update(kNodes, "n1", st.dump(), Subresource::kStatus);
        REQUIRE(us);
        CHECK(us->object["spec"]["podCIDR"] == "10.244.2.0/24");
        CHECK(us->object["status"]["addresses"][0]["address"] == "10.0.0.2");
    }
    SECTION("name mismatch and absent node") {
        CHECK(s.update(kNodes, "other", c->object.dump(), Subresource::kNone).error().code == 400);
        CHECK(s.update(kNodes, "n2", node("n2"), Subresource::kNone).error().code == 404);
    }
}

TEST_CASE("patch through each content type", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1", R"(,"status":{"conditions":[{"type":"Ready","status":"True"}]})")));

    auto smp = s.patch(kNodes, "n1", "application/strategic-merge-patch+json",
                       R"({"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}})", Subresource::kNone);
    REQUIRE(smp);
    CHECK(smp->object["spec"]["podCIDRs"] == Json::parse(R"(["10.244.9.0/24"])"));

    auto merge = s.patch(kNodes, "n1", "application/merge-patch+json", R"({"metadata":{"labels":{"x":"y"}}})",
                         Subresource::kNone);
    REQUIRE(merge);
    CHECK(merge->object["metadata"]["labels"]["x"] == "y");

    auto jp = s.patch(kNodes, "n1", "application/json-patch+json",
                      R"([{"op":"replace","path":"/spec/podCIDR","value":"10.244.7.0/24"}])", Subresource::kNone);
    REQUIRE(jp);
    CHECK(jp->object["spec"]["podCIDR"] == "10.244.7.0/24");

    auto st = s.patch(kNodes, "n1", "application/strategic-merge-patch+json",
                      R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False"}]}})",
                      Subresource::kStatus);
    REQUIRE(st);
    CHECK(st->object["status"]["conditions"].size() == 2);

    SECTION("status changes through the main resource are ignored") {
        auto ignored = s.patch(kNodes, "n1", "application/merge-patch+json", R"({"status":{"conditions":[]}})",
                               Subresource::kNone);
        REQUIRE(ignored);
        CHECK(ignored->object["status"]["conditions"].size() == 2);
        CHECK(ignored->object["metadata"]["resourceVersion"] == st->object["metadata"]["resourceVersion"]);
    }
    SECTION("errors") {
        CHECK(s.patch(kNodes, "n1", "application/json", "{}", Subresource::kNone).error().code == 415);
        CHECK(s.patch(kNodes, "n1", "application/merge-patch+json", "{", Subresource::kNone).error().code == 400);
        CHECK(s.patch(kNodes, "nosuch", "application/merge-patch+json", "{}", Subresource::kNone).error().code == 404);
        CHECK(s.patch(kNodes, "n1", "application/json-patch+json", R"([{"op":"remove","path":"/x"}])", Subresource::kNone)
                  .error()
                  .code == 422);
        CHECK(s.patch(kNodes, "n1", "application/merge-patch+json", R"({"metadata":{"name":"n2"}})", Subresource::kNone)
                  .error()
                  .code == 422);
        CHECK(s.patch(kNodes, "n1", "application/merge-patch+json", R"({"metadata":{"resourceVersion":"1"},"spec":{"a":1}})",
                      Subresource::kNone)
                  .error()
                  .reason == "Conflict");
        CHECK(s.patch(kNodes, "n1", "application/merge-patch+json", R"({"kind":"Pod"})", Subresource::kNone).error().code ==
              400);
    }
}

TEST_CASE("apply patch creates when absent and merges when present", "[fake-apiserver][store]") {
    Store s = make_store();
    auto created = s.patch(kNodes, "n5", "application/apply-patch+yaml", node("n5", R"(,"spec":{"podCIDR":"10.0.5.0/24"})"),
                           Subresource::kNone);
    REQUIRE(created);
    CHECK(created->code == 201);
    auto updated = s.patch(kNodes, "n5", "application/apply-patch+yaml",
                           R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n5","labels":{"a":"b"}}})",
                           Subresource::kNone);
    REQUIRE(updated);
    CHECK(updated->code == 200);
    CHECK(updated->object["metadata"]["labels"]["a"] == "b");
    CHECK(updated->object["spec"]["podCIDR"] == "10.0.5.0/24");
    CHECK(s.patch(kNodes, "n6", "application/apply-patch+yaml", "kind: Node", Subresource::kNone).error().code == 400);
    CHECK(s.patch(kNodes, "n6", "application/apply-patch+yaml", node("n6"), Subresource::kStatus).error().code == 404);
    CHECK(s.patch(kNodes, "n6", "application/apply-patch+yaml", node("n7"), Subresource::kNone).error().code == 400);
}

TEST_CASE("delete answers Status Success and emits DELETED at a new RV", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1")));
    std::uint64_t cursor = s.resource_version();
    auto d = s.remove(kNodes, "n1");
    REQUIRE(d);
    CHECK((*d)["status"] == "Success");
    CHECK(s.size(Resource::kNodes) == 0);
    auto ev = s.events_since(kNodes, cursor, all());
    REQUIRE(ev);
    REQUIRE(ev->size() == 1);
    CHECK((*ev)[0]["type"] == "DELETED");
    CHECK((*ev)[0]["object"]["metadata"]["resourceVersion"] == std::to_string(s.resource_version()));
    CHECK(s.remove(kNodes, "n1").error().code == 404);
}

TEST_CASE("watch replays events since a resourceVersion", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1")));
    const auto rv = std::to_string(s.resource_version());
    REQUIRE(s.create(kNodes, node("n2")));
    REQUIRE(s.patch(kNodes, "n1", "application/merge-patch+json", R"({"metadata":{"labels":{"a":"b"}}})", Subresource::kNone));
    REQUIRE(s.remove(kNodes, "n2"));

    auto w = s.start_watch(kNodes, {.resource_version = rv}, all());
    REQUIRE(w);
    CHECK(types(w->events) == std::vector<std::string>{"ADDED:n2", "MODIFIED:n1", "DELETED:n2"});
    CHECK(w->events[0]["object"]["kind"] == "Node");
    CHECK(w->cursor == s.resource_version());

    std::uint64_t cursor = w->cursor;
    auto none = s.events_since(kNodes, cursor, all());
    REQUIRE(none);
    CHECK(none->empty());
    REQUIRE(s.create(kNodes, node("n3")));
    auto more = s.events_since(kNodes, cursor, all());
    REQUIRE(more);
    CHECK(types(*more) == std::vector<std::string>{"ADDED:n3"});
}

TEST_CASE("watch from 0 or unset starts with synthetic ADDED", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1")));
    REQUIRE(s.create(kNodes, node("n2")));
    auto rv = GENERATE(as<std::string>{}, "", "0");
    auto w = s.start_watch(kNodes, {.resource_version = rv}, all());
    REQUIRE(w);
    CHECK(types(w->events) == std::vector<std::string>{"ADDED:n1", "ADDED:n2"});

    auto wl = s.start_watch(kNodes, {.resource_version = rv, .send_initial_events = true}, all());
    REQUIRE(wl);
    REQUIRE(wl->events.size() == 3);
    CHECK(wl->events[2]["type"] == "BOOKMARK");
    CHECK(wl->events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true");
}

TEST_CASE("watch older than the compaction window is 410 Expired", "[fake-apiserver][store]") {
    Store s = make_store(2);
    REQUIRE(s.create(kNodes, node("n1")));
    const auto old = std::to_string(s.resource_version() - 1);
    REQUIRE(s.create(kNodes, node("n2")));
    REQUIRE(s.create(kNodes, node("n3")));  // the log now holds n2, n3: the RV before n2 is the oldest usable
    auto w = s.start_watch(kNodes, {.resource_version = old}, all());
    REQUIRE_FALSE(w);
    CHECK(w.error().code == 410);
    CHECK(w.error().reason == "Expired");
    CHECK(w.error().message.rfind("too old resource version: " + old, 0) == 0);
    CHECK(Store::error_event(w.error())["object"]["code"] == 410);

    auto ok = s.start_watch(kNodes, {.resource_version = std::to_string(s.compacted_rv())}, all());
    REQUIRE(ok);
    CHECK(types(ok->events) == std::vector<std::string>{"ADDED:n2", "ADDED:n3"});

    s.compact();
    CHECK(s.start_watch(kNodes, {.resource_version = std::to_string(s.resource_version() - 1)}, all()).error().code == 410);
    CHECK(s.start_watch(kNodes, {.resource_version = "abc"}, all()).error().code == 400);
}

TEST_CASE("a watch from a resourceVersion this store never reached is 504 Too large", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1")));
    const auto future = std::to_string(s.resource_version() + 1);
    auto w = s.start_watch(kNodes, {.resource_version = future}, all());
    REQUIRE_FALSE(w);
    CHECK(w.error().code == 504);
    CHECK(w.error().message.rfind("Too large resource version: " + future, 0) == 0);
    CHECK(Store::error_event(w.error())["object"]["code"] == 504);
    CHECK(s.start_watch(kNodes, {.resource_version = std::to_string(s.resource_version())}, all()));
}

TEST_CASE("a selector watch sees nodes enter and leave its selection", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.create(kNodes, node("n1")));
    auto f = Filter::parse(info(Resource::kNodes), "", "role=edge");
    REQUIRE(f);
    auto w = s.start_watch(kNodes, {.resource_version = std::to_string(s.resource_version())}, *f);
    REQUIRE(w);
    std::uint64_t cursor = w->cursor;
    const char* kMerge = "application/merge-patch+json";
    REQUIRE(s.patch(kNodes, "n1", kMerge, R"({"metadata":{"labels":{"role":"edge"}}})", Subresource::kNone));
    REQUIRE(s.patch(kNodes, "n1", kMerge, R"({"metadata":{"labels":{"x":"1"}}})", Subresource::kNone));
    REQUIRE(s.patch(kNodes, "n1", kMerge, R"({"metadata":{"labels":{"role":null}}})", Subresource::kNone));
    REQUIRE(s.create(kNodes, node("n2")));
    auto ev = s.events_since(kNodes, cursor, *f);
    REQUIRE(ev);
    CHECK(types(*ev) == std::vector<std::string>{"ADDED:n1", "MODIFIED:n1", "DELETED:n1"});
}

TEST_CASE("seed loads NodeList, List and arrays without events", "[fake-apiserver][store]") {
    Store s = make_store();
    auto doc = GENERATE(as<std::string>{}, R"({"kind":"NodeList","items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})",
                        R"({"kind":"List","items":[{"kind":"Node","apiVersion":"v1","metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})",
                        R"([{"metadata":{"name":"a","uid":"keep"}},{"metadata":{"name":"b"}}])");
    REQUIRE(s.seed(Resource::kNodes, Json::parse(doc)));
    CHECK(s.size(Resource::kNodes) == 2);
    CHECK(s.compacted_rv() == s.resource_version());
    auto w = s.start_watch(kNodes, {.resource_version = std::to_string(s.resource_version())}, all());
    REQUIRE(w);
    CHECK(w->events.empty());
    CHECK(s.get(kNodes, "a"));
    CHECK_FALSE(s.seed(Resource::kNodes, Json::parse(R"({"kind":"Node"})")));
    CHECK_FALSE(s.seed(Resource::kNodes, Json::parse(R"([{"metadata":{}}])")));
}

TEST_CASE("bookmarks carry only the resourceVersion", "[fake-apiserver][store]") {
    const Json b = Store::bookmark(Resource::kNodes, 12746);
    // tests/data/k8s/watch-bookmark-events.jsonl, line 2 (a real apiserver's Node bookmark).
    CHECK(b.dump() ==
          R"({"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"12746","creationTimestamp":null},)"
          R"("spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"",)"
          R"("bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"",)"
          R"("operatingSystem":"","architecture":""}}}})");
}
