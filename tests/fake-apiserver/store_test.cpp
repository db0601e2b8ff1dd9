#include "tests/fake-apiserver/store.hpp"

#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

#include "tests/fake-apiserver/base64.hpp"

using namespace kroute::fake_apiserver;

namespace {

const Scope kNodes{};

Store make_store(std::size_t window = 100) {
    auto uid = std::make_shared<int>(0);
    return Store{window, *ServiceIpRanges::parse("10.96.0.0/12"), [] { return std::string("2024-05-01T10:00:00Z"); },
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

namespace {

Scope services(std::string ns = "") { return Scope{Resource::kServices, std::move(ns)}; }
Scope slices(std::string ns = "") { return Scope{Resource::kEndpointSlices, std::move(ns)}; }

std::string service(const std::string& name, const std::string& extra = "") {
    return R"({"kind":"Service","apiVersion":"v1","metadata":{"name":")" + name +
           R"("},"spec":{"ports":[{"port":80}]})" + extra + "}";
}

std::string slice(const std::string& name, const std::string& service_name, const std::string& ip = "10.244.1.5") {
    return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":")" + name +
           R"(","labels":{"kubernetes.io/service-name":")" + service_name +
           R"("}},"addressType":"IPv4","endpoints":[{"addresses":[")" + ip + R"("]}],"ports":[{"port":8080}]})";
}

std::vector<std::string> names(const Json& list) {
    std::vector<std::string> out;
    for (const auto& item : list["items"]) {
        out.push_back(item["metadata"].value("namespace", std::string()) + "/" + item["metadata"]["name"].get<std::string>());
    }
    return out;
}

}  // namespace

TEST_CASE("services live in namespaces and get ClusterIPs", "[fake-apiserver][store][services]") {
    Store s = make_store();
    auto a = s.create(services("default"), service("web"));
    REQUIRE(a);
    CHECK(a->code == 201);
    CHECK(a->object["kind"] == "Service");
    CHECK(a->object["apiVersion"] == "v1");
    CHECK(a->object["metadata"]["namespace"] == "default");
    CHECK(a->object["spec"]["clusterIP"] == "10.96.0.10");
    CHECK(a->object["spec"]["clusterIPs"] == Json::parse(R"(["10.96.0.10"])"));
    CHECK(a->object["spec"]["type"] == "ClusterIP");
    CHECK(a->object["spec"]["ports"][0]["protocol"] == "TCP");
    CHECK(a->object["spec"]["ports"][0]["targetPort"] == 80);
    CHECK(a->object["status"] == Json::parse(R"({"loadBalancer":{}})"));

    // The same name in another namespace is another object, with the next free IP.
    auto b = s.create(services("kube-system"), service("web"));
    REQUIRE(b);
    CHECK(b->object["spec"]["clusterIP"] == "10.96.0.11");
    CHECK(s.create(services("default"), service("web")).error().reason == "AlreadyExists");
    auto fixed = s.create(services("default"),
                          R"({"metadata":{"name":"dns"},"spec":{"clusterIP":"10.96.0.12","ports":[{"port":53}]}})");
    REQUIRE(fixed);
    CHECK(fixed->object["spec"]["clusterIP"] == "10.96.0.12");
    CHECK(s.create(services("default"), service("next"))->object["spec"]["clusterIP"] == "10.96.0.13");

    SECTION("ClusterIP errors") {
        const auto with_ip = [](const std::string& name, const std::string& ip) {
            return R"({"metadata":{"name":")" + name + R"("},"spec":{"clusterIP":")" + ip + R"(","ports":[{"port":53}]}})";
        };
        auto taken = s.create(services("default"), with_ip("taken", "10.96.0.10"));
        REQUIRE_FALSE(taken);
        CHECK(taken.error().code == 422);
        CHECK(taken.error().message.find("provided IP is already allocated") != std::string::npos);
        auto outside = s.create(services("default"), with_ip("outside", "192.168.0.1"));
        REQUIRE_FALSE(outside);
        CHECK(outside.error().message.find("The range of valid IPs is 10.96.0.0/12") != std::string::npos);
        auto headless = s.create(services("default"), R"({"metadata":{"name":"headless"},"spec":{"clusterIP":"None"}})");
        REQUIRE(headless);
        CHECK(headless->object["spec"]["clusterIPs"] == Json::parse(R"(["None"])"));
        auto no_ports = s.create(services("default"), R"({"metadata":{"name":"bare"},"spec":{}})");
        REQUIRE_FALSE(no_ports);
        CHECK(no_ports.error().message == "Service \"bare\" is invalid: spec.ports: Required value");
        CHECK(s.create(services("default"), service("Bad")).error().code == 422);
        CHECK(s.create(services("default"), service("1abc")).error().code == 422);  // DNS-1035: a letter first
    }
    SECTION("an update keeps an omitted ClusterIP and refuses a new one") {
        Json put = Json::parse(service("web"));
        put["metadata"]["namespace"] = "default";
        put["spec"]["selector"] = {{"app", "web"}};
        auto u = s.update(services("default"), "web", put.dump(), Subresource::kNone);
        REQUIRE(u);
        CHECK(u->object["spec"]["clusterIP"] == "10.96.0.10");
        CHECK(u->object["spec"]["selector"]["app"] == "web");
        put["spec"]["clusterIP"] = "10.96.0.99";
        auto moved = s.update(services("default"), "web", put.dump(), Subresource::kNone);
        REQUIRE_FALSE(moved);
        CHECK(moved.error().code == 422);
        CHECK(moved.error().message.find("may not change once set") != std::string::npos);
    }
    SECTION("the status subresource writes status only") {
        auto st = s.patch(services("default"), "web", "application/merge-patch+json",
                          R"({"spec":{"type":"NodePort"},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})",
                          Subresource::kStatus);
        REQUIRE(st);
        CHECK(st->object["spec"]["type"] == "ClusterIP");
        CHECK(st->object["status"]["loadBalancer"]["ingress"][0]["ip"] == "1.2.3.4");
        auto main = s.patch(services("default"), "web", "application/merge-patch+json", R"({"status":null})",
                            Subresource::kNone);
        REQUIRE(main);
        CHECK(main->object["status"]["loadBalancer"]["ingress"][0]["ip"] == "1.2.3.4");
    }
    SECTION("strategic merge patch merges spec.ports by port") {
        auto p = s.patch(services("default"), "web", "application/strategic-merge-patch+json",
                         R"({"spec":{"ports":[{"port":443,"name":"https"}]}})", Subresource::kNone);
        REQUIRE(p);
        REQUIRE(p->object["spec"]["ports"].size() == 2);
        CHECK(p->object["spec"]["ports"][1]["targetPort"] == 443);
    }
    SECTION("delete answers the deleted Service and frees its ClusterIP") {
        auto d = s.remove(services("default"), "web");
        REQUIRE(d);
        CHECK((*d)["kind"] == "Service");
        CHECK((*d)["metadata"]["name"] == "web");
        CHECK(s.create(services("default"), service("again"))->object["spec"]["clusterIP"] == "10.96.0.10");
        CHECK(s.get(services("default"), "web").error().message == "services \"web\" not found");
    }
}

TEST_CASE("a namespaced body must name the path's namespace or none", "[fake-apiserver][store][services]") {
    Store s = make_store();
    Json body = Json::parse(service("web"));
    body["metadata"]["namespace"] = "other";
    auto r = s.create(services("default"), body.dump());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == 400);
    CHECK(r.error().message == "the namespace of the provided object does not match the namespace sent on the request");
    body["metadata"]["namespace"] = "default";
    CHECK(s.create(services("default"), body.dump()));
    CHECK(s.create(services("Bad_NS"), service("x")).error().code == 422);
    CHECK(s.create(services("default"), R"({"kind":"Node","metadata":{"name":"x"}})").error().code == 400);
}

TEST_CASE("lists and paging by namespace and across namespaces", "[fake-apiserver][store][services]") {
    Store s = make_store();
    for (const char* ns : {"b", "a"}) {
        for (const char* n : {"s2", "s1"}) REQUIRE(s.create(services(ns), service(n)));
    }
    REQUIRE(s.create(kNodes, node("n1")));
    auto all = s.list(services(), {});
    REQUIRE(all);
    CHECK((*all)["kind"] == "ServiceList");
    CHECK(names(*all) == std::vector<std::string>{"a/s1", "a/s2", "b/s1", "b/s2"});
    CHECK_FALSE((*all)["items"][0].contains("kind"));
    CHECK(names(*s.list(services("b"), {})) == std::vector<std::string>{"b/s1", "b/s2"});
    CHECK(s.list(services("c"), {})->at("items").empty());
    CHECK(s.list(kNodes, {})->at("items").size() == 1);

    auto p1 = s.list(services(), {.limit = "3"});
    REQUIRE(p1);
    CHECK(names(*p1) == std::vector<std::string>{"a/s1", "a/s2", "b/s1"});
    CHECK((*p1)["metadata"]["remainingItemCount"] == 1);
    auto p2 = s.list(services(), {.limit = "3", .continue_token = (*p1)["metadata"]["continue"]});
    REQUIRE(p2);
    CHECK(names(*p2) == std::vector<std::string>{"b/s2"});

    auto n1 = s.list(services("b"), {.limit = "1"});
    REQUIRE(n1);
    auto n2 = s.list(services("b"), {.limit = "1", .continue_token = (*n1)["metadata"]["continue"]});
    REQUIRE(n2);
    CHECK(names(*n2) == std::vector<std::string>{"b/s2"});
    CHECK_FALSE((*n2)["metadata"].contains("continue"));

    SECTION("field selectors on metadata.namespace and metadata.name") {
        CHECK(names(*s.list(services(), {.field_selector = "metadata.namespace=a"})) ==
              std::vector<std::string>{"a/s1", "a/s2"});
        CHECK(names(*s.list(services(), {.field_selector = "metadata.name=s2,metadata.namespace!=a"})) ==
              std::vector<std::string>{"b/s2"});
        CHECK(s.list(services(), {.field_selector = "spec.unschedulable=true"}).error().code == 400);
        CHECK(s.list(kNodes, {.field_selector = "metadata.namespace=a"}).error().code == 400);
    }
    SECTION("a continue token from before a compaction is 410, whatever the kind written since") {
        REQUIRE(s.create(kNodes, node("n2")));
        s.compact();
        auto r = s.list(services(), {.limit = "3", .continue_token = (*p1)["metadata"]["continue"]});
        REQUIRE_FALSE(r);
        CHECK(r.error().code == 410);
    }
}

TEST_CASE("one resourceVersion and one compaction window across kinds", "[fake-apiserver][store]") {
    Store s = make_store(3);
    const auto rv0 = s.resource_version();
    REQUIRE(s.create(kNodes, node("n1")));
    REQUIRE(s.create(services("default"), service("web")));
    REQUIRE(s.create(slices("default"), slice("web-1", "web")));
    CHECK(s.resource_version() == rv0 + 3);
    CHECK(s.get(slices("default"), "web-1")->at("metadata")["resourceVersion"] == std::to_string(rv0 + 3));
    CHECK(s.list(kNodes, {})->at("metadata")["resourceVersion"] == std::to_string(rv0 + 3));

    // Writes to other kinds push a kind's old events out of the shared window.
    const std::string before_node = std::to_string(rv0);
    CHECK(types(s.start_watch(kNodes, {.resource_version = before_node}, all())->events) ==
          std::vector<std::string>{"ADDED:n1"});
    REQUIRE(s.create(slices("default"), slice("web-2", "web")));
    auto w = s.start_watch(kNodes, {.resource_version = before_node}, all());
    REQUIRE_FALSE(w);
    CHECK(w.error().code == 410);
}

TEST_CASE("watches replay only their kind and namespace", "[fake-apiserver][store][services]") {
    Store s = make_store();
    const auto rv = std::to_string(s.resource_version());
    REQUIRE(s.create(services("a"), service("s1")));
    REQUIRE(s.create(services("b"), service("s2")));
    REQUIRE(s.create(kNodes, node("n1")));
    REQUIRE(s.create(slices("a"), slice("s1-x", "s1")));
    REQUIRE(s.patch(services("a"), "s1", "application/merge-patch+json", R"({"metadata":{"labels":{"k":"v"}}})",
                    Subresource::kNone));
    REQUIRE(s.remove(services("b"), "s2"));

    auto everywhere = s.start_watch(services(), {.resource_version = rv}, all());
    REQUIRE(everywhere);
    CHECK(types(everywhere->events) == std::vector<std::string>{"ADDED:s1", "ADDED:s2", "MODIFIED:s1", "DELETED:s2"});
    CHECK(everywhere->events[0]["object"]["kind"] == "Service");
    auto in_a = s.start_watch(services("a"), {.resource_version = rv}, all());
    REQUIRE(in_a);
    CHECK(types(in_a->events) == std::vector<std::string>{"ADDED:s1", "MODIFIED:s1"});
    auto sl = s.start_watch(slices("a"), {.resource_version = rv}, all());
    REQUIRE(sl);
    CHECK(types(sl->events) == std::vector<std::string>{"ADDED:s1-x"});
    CHECK(sl->events[0]["object"]["apiVersion"] == "discovery.k8s.io/v1");

    auto from_now = s.start_watch(services(), {}, all());
    REQUIRE(from_now);
    CHECK(types(from_now->events) == std::vector<std::string>{"ADDED:s1"});
    std::uint64_t cursor = from_now->cursor;
    REQUIRE(s.create(services("c"), service("s3")));
    REQUIRE(s.create(kNodes, node("n2")));
    CHECK(types(*s.events_since(services(), cursor, all())) == std::vector<std::string>{"ADDED:s3"});
}

TEST_CASE("endpointslices: validation, defaults, service-name selection", "[fake-apiserver][store][endpointslices]") {
    Store s = make_store();
    auto c = s.create(slices("default"), slice("web-abc", "web"));
    REQUIRE(c);
    CHECK(c->object["kind"] == "EndpointSlice");
    CHECK(c->object["ports"][0]["protocol"] == "TCP");
    CHECK(c->object["ports"][0]["name"] == "");
    CHECK_FALSE(c->object.contains("spec"));
    CHECK_FALSE(c->object.contains("status"));
    REQUIRE(s.create(slices("default"), slice("db-abc", "db", "10.244.2.7")));
    REQUIRE(s.create(slices("other"), slice("web-xyz", "web")));

    auto web = s.list(slices(), {.label_selector = "kubernetes.io/service-name=web"});
    REQUIRE(web);
    CHECK((*web)["kind"] == "EndpointSliceList");
    CHECK((*web)["apiVersion"] == "discovery.k8s.io/v1");
    CHECK(names(*web) == std::vector<std::string>{"default/web-abc", "other/web-xyz"});
    CHECK(names(*s.list(slices("default"), {.label_selector = "kubernetes.io/service-name in (web,db)"})) ==
          std::vector<std::string>{"default/db-abc", "default/web-abc"});

    auto missing = s.get(slices("default"), "nosuch");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message == "endpointslices.discovery.k8s.io \"nosuch\" not found");
    CHECK(missing.error().details["group"] == "discovery.k8s.io");

    auto no_type = s.create(slices("default"), R"({"metadata":{"name":"x"}})");
    REQUIRE_FALSE(no_type);
    CHECK(no_type.error().message == "EndpointSlice.discovery.k8s.io \"x\" is invalid: addressType: Required value");
    CHECK(s.create(slices("default"), R"({"metadata":{"name":"x"},"addressType":"IPv5"})").error().code == 422);
    auto bare = s.create(slices("default"), R"({"metadata":{"name":"bare"},"addressType":"IPv6"})");
    REQUIRE(bare);
    CHECK(bare->object["endpoints"].is_null());
    auto retyped = s.patch(slices("default"), "bare", "application/merge-patch+json", R"({"addressType":"IPv4"})",
                           Subresource::kNone);
    REQUIRE_FALSE(retyped);
    CHECK(retyped.error().message.find("field is immutable") != std::string::npos);

    auto moved = s.patch(slices("default"), "web-abc", "application/strategic-merge-patch+json",
                         R"({"endpoints":[{"addresses":["10.244.3.3"]}]})", Subresource::kNone);
    REQUIRE(moved);
    CHECK(moved->object["endpoints"] == Json::parse(R"([{"addresses":["10.244.3.3"]}])"));  // atomic list

    auto d = s.remove(slices("default"), "web-abc");
    REQUIRE(d);
    CHECK((*d)["status"] == "Success");
    CHECK((*d)["details"] == Json::parse(R"({"name":"web-abc","group":"discovery.k8s.io","kind":"endpointslices","uid":")" +
                                         c->object["metadata"]["uid"].get<std::string>() + R"("})"));
}

TEST_CASE("seed: namespaced objects default to the default namespace", "[fake-apiserver][store]") {
    Store s = make_store();
    REQUIRE(s.seed(Resource::kServices,
                   Json::parse(R"({"kind":"List","items":[)"
                               R"({"metadata":{"name":"b","namespace":"x"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":2}]}},)"
                               R"({"metadata":{"name":"a"},"spec":{"ports":[{"port":1}]}}]})")));
    CHECK(s.get(services("default"), "a")->at("spec")["clusterIP"] == "10.96.0.11");
    CHECK(s.get(services("x"), "b"));
    REQUIRE(s.seed(Resource::kEndpointSlices, Json::parse("[" + slice("a-1", "a") + "]")));
    CHECK(s.size(Resource::kEndpointSlices) == 1);
    CHECK(s.compacted_rv() == s.resource_version());
    CHECK_FALSE(s.seed(Resource::kServices, Json::parse(R"({"kind":"Service"})")));
}

TEST_CASE("bookmarks carry a zero-valued object of the watched kind", "[fake-apiserver][store]") {
    CHECK(Store::bookmark(Resource::kServices, 7).dump() ==
          R"({"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"7",)"
          R"("creationTimestamp":null},"spec":{},"status":{"loadBalancer":{}}}})");
    CHECK(Store::bookmark(Resource::kEndpointSlices, 7, true).dump() ==
          R"({"type":"BOOKMARK","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":)"
          R"({"resourceVersion":"7","creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}},)"
          R"("addressType":"","endpoints":null,"ports":null}})");
}

TEST_CASE("dual-stack Services: ipFamilyPolicy, ipFamilies and a ClusterIP per family", "[fake-apiserver][store][services]") {
    auto uid = std::make_shared<int>(0);
    Store dual{100, *ServiceIpRanges::parse("10.96.0.0/12,fd00:10:96::/112"),
               [] { return std::string("2024-05-01T10:00:00Z"); }, [uid] { return "uid-" + std::to_string(++*uid); }};
    auto spec_of = [&dual](const std::string& body) {
        Json b = Json::parse(body);
        b["metadata"]["namespace"] = "default";
        auto c = dual.create(services("default"), b.dump());
        REQUIRE(c);
        return c->object["spec"];
    };
    auto error_of = [&dual](const std::string& body) {
        auto c = dual.create(services("default"), body);
        REQUIRE_FALSE(c);
        CHECK(c.error().code == 422);
        return c.error().message;
    };

    // SingleStack (the default): the primary family only.
    Json single = spec_of(service("one"));
    CHECK(single["clusterIPs"] == Json::array({"10.96.0.10"}));
    CHECK(single["ipFamilies"] == Json::array({"IPv4"}));
    CHECK(single["ipFamilyPolicy"] == "SingleStack");
    // PreferDualStack: both, primary first.
    Json both = spec_of(service("two", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack"})"));
    CHECK(both["clusterIPs"] == Json::array({"10.96.0.11", "fd00:10:96::a"}));
    CHECK(both["clusterIP"] == "10.96.0.11");
    CHECK(both["ipFamilies"] == Json::array({"IPv4", "IPv6"}));
    // ipFamilies order wins: IPv6 first.
    Json v6first = spec_of(service("three", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"RequireDualStack","ipFamilies":["IPv6","IPv4"]})"));
    CHECK(v6first["clusterIPs"] == Json::array({"fd00:10:96::b", "10.96.0.12"}));
    // Given addresses: families follow them; the missing family is allocated.
    Json given = spec_of(service("four", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack","clusterIPs":["fd00:10:96::5c1"]})"));
    CHECK(given["clusterIPs"] == Json::array({"fd00:10:96::5c1", "10.96.0.13"}));
    CHECK(given["ipFamilies"] == Json::array({"IPv6", "IPv4"}));
    // Headless: "None", families still defaulted.
    Json headless = spec_of(service("five", R"(,"spec":{"clusterIP":"None","ipFamilyPolicy":"PreferDualStack"})"));
    CHECK(headless["clusterIPs"] == Json::array({"None"}));
    CHECK(headless["ipFamilies"] == Json::array({"IPv4", "IPv6"}));

    CHECK_THAT(error_of(service("bad1", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"SingleStack","clusterIPs":["10.96.0.50","fd00:10:96::50"]})")),
               Catch::Contains("must be 'RequireDualStack' or 'PreferDualStack'"));
    CHECK_THAT(error_of(service("bad1b", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"SingleStack","ipFamilies":["IPv4","IPv6"]})")),
               Catch::Contains("must be 'RequireDualStack' or 'PreferDualStack'"));
    CHECK_THAT(error_of(service("bad1c", R"(,"spec":{"ports":[{"port":80}],"clusterIP":"10.96.0.50","clusterIPs":["fd00:10:96::50","10.96.0.50"],"ipFamilyPolicy":"PreferDualStack"})")),
               Catch::Contains("first value must match `clusterIP`"));
    CHECK_THAT(error_of(service("bad1d", R"(,"spec":{"ports":[{"port":80}],"clusterIPs":["10.96.0.50","fd00:99::50"],"ipFamilyPolicy":"RequireDualStack"})")),
               Catch::Contains("The range of valid IPs is fd00:10:96::/112"));
    CHECK_THAT(error_of(service("bad2", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack","clusterIPs":["10.96.0.50","10.96.0.51"]})")),
               Catch::Contains("no more than one IP for each IP family"));
    CHECK_THAT(error_of(service("bad3", R"(,"spec":{"ports":[{"port":80}],"clusterIPs":["fd00:99::1"]})")),
               Catch::Contains("The range of valid IPs is fd00:10:96::/112"));
    CHECK_THAT(error_of(service("bad4", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"Sometimes"})")),
               Catch::Contains("Unsupported value: \"Sometimes\""));
    CHECK_THAT(error_of(service("bad5", R"(,"spec":{"ports":[{"port":80}],"ipFamilies":["IPv4"],"clusterIPs":["fd00:10:96::60"]})")),
               Catch::Contains("expected an IPv4 address"));
    CHECK_THAT(error_of(service("bad6", R"(,"spec":{"ports":[{"port":80}],"clusterIPs":["fd00:10:96::a"]})")),
               Catch::Contains("provided IP is already allocated"));

    // Without a policy, two addresses or two families can only be RequireDualStack.
    Json inferred = spec_of(service("six", R"(,"spec":{"ports":[{"port":80}],"clusterIPs":["10.96.0.50","fd00:10:96::50"]})"));
    CHECK(inferred["ipFamilyPolicy"] == "RequireDualStack");
    CHECK(inferred["ipFamilies"] == Json::array({"IPv4", "IPv6"}));
    Json inferred2 = spec_of(service("seven", R"(,"spec":{"ports":[{"port":80}],"ipFamilies":["IPv6","IPv4"]})"));
    CHECK(inferred2["ipFamilyPolicy"] == "RequireDualStack");
    CHECK(inferred2["clusterIPs"] == Json::array({"fd00:10:96::c", "10.96.0.14"}));
    // Headless: families defaulted, still the primary alone under SingleStack.
    Json headless1 = spec_of(service("eight", R"(,"spec":{"clusterIP":"None"})"));
    CHECK(headless1["clusterIPs"] == Json::array({"None"}));
    CHECK(headless1["clusterIP"] == "None");
    CHECK(headless1["ipFamilies"] == Json::array({"IPv4"}));
    CHECK_THAT(error_of(service("bad7", R"(,"spec":{"clusterIPs":["None","fd00:10:96::70"],"ipFamilyPolicy":"PreferDualStack"})")),
               Catch::Contains("a headless Service has exactly one value"));

    // An update may add the second family by raising the policy, not change the first.
    Json up = Json::parse(service("one", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack"})"));
    up["metadata"]["namespace"] = "default";
    auto raised = dual.update(services("default"), "one", up.dump(), Subresource::kNone);
    REQUIRE(raised);
    CHECK(raised->object["spec"]["clusterIPs"] == Json::array({"10.96.0.10", "fd00:10:96::d"}));
    CHECK(raised->object["spec"]["clusterIP"] == "10.96.0.10");
    CHECK(raised->object["spec"]["ipFamilies"] == Json::array({"IPv4", "IPv6"}));
    // A merge patch to RequireDualStack does the same.
    auto patched = dual.patch(services("default"), "eight", "application/merge-patch+json",
                              R"({"spec":{"ipFamilyPolicy":"RequireDualStack"}})", Subresource::kNone);
    REQUIRE(patched);
    CHECK(patched->object["spec"]["clusterIPs"] == Json::array({"None"}));
    CHECK(patched->object["spec"]["ipFamilies"] == Json::array({"IPv4", "IPv6"}));
    auto headless_down = dual.patch(services("default"), "eight", "application/merge-patch+json",
                                    R"({"spec":{"ipFamilyPolicy":"SingleStack"}})", Subresource::kNone);
    REQUIRE(headless_down);
    CHECK(headless_down->object["spec"]["ipFamilies"] == Json::array({"IPv4"}));
    // clusterIPs[0] is immutable, in either field.
    auto moved = dual.patch(services("default"), "two", "application/merge-patch+json",
                            R"({"spec":{"clusterIPs":["10.96.0.99","fd00:10:96::a"]}})", Subresource::kNone);
    REQUIRE_FALSE(moved);
    CHECK_THAT(moved.error().message, Catch::Contains("spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not change once set"));
    // A PUT leaving the policy out keeps both addresses (RequireDualStack, as inferred from them).
    Json put = Json::parse(service("two"));
    put["metadata"]["namespace"] = "default";
    auto kept = dual.update(services("default"), "two", put.dump(), Subresource::kNone);
    REQUIRE(kept);
    CHECK(kept->object["spec"]["clusterIPs"] == Json::array({"10.96.0.11", "fd00:10:96::a"}));
    CHECK(kept->object["spec"]["ipFamilyPolicy"] == "RequireDualStack");
    // Dropping the secondary address takes SingleStack; then its address is free again.
    auto reduced = dual.patch(services("default"), "two", "application/merge-patch+json",
                              R"({"spec":{"clusterIPs":["10.96.0.11"]}})", Subresource::kNone);
    REQUIRE_FALSE(reduced);
    CHECK_THAT(reduced.error().message, Catch::Contains("must be 'SingleStack' to release the secondary cluster IP"));
    auto down = dual.patch(services("default"), "two", "application/merge-patch+json",
                           R"({"spec":{"ipFamilyPolicy":"SingleStack"}})", Subresource::kNone);
    REQUIRE(down);
    CHECK(down->object["spec"]["clusterIPs"] == Json::array({"10.96.0.11"}));
    CHECK(down->object["spec"]["ipFamilies"] == Json::array({"IPv4"}));
    CHECK(spec_of(service("nine", R"(,"spec":{"ports":[{"port":80}],"ipFamilies":["IPv6"]})"))["clusterIPs"] ==
          Json::array({"fd00:10:96::a"}));

    // An IPv6 primary: the defaults follow it.
    Store v6{100, *ServiceIpRanges::parse("fd00:10:96::/112,10.96.0.0/12"), [] { return std::string("2024-05-01T10:00:00Z"); },
             [uid] { return "uid-" + std::to_string(++*uid); }};
    auto v6one = v6.create(services("default"), service("a"));
    REQUIRE(v6one);
    CHECK(v6one->object["spec"]["clusterIPs"] == Json::array({"fd00:10:96::a"}));
    CHECK(v6one->object["spec"]["ipFamilies"] == Json::array({"IPv6"}));
    auto v6two = v6.create(services("default"), service("b", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack"})"));
    REQUIRE(v6two);
    CHECK(v6two->object["spec"]["clusterIPs"] == Json::array({"fd00:10:96::b", "10.96.0.10"}));
    CHECK(v6two->object["spec"]["ipFamilies"] == Json::array({"IPv6", "IPv4"}));

    // A single-stack cluster refuses RequireDualStack and the other family, takes PreferDualStack as one.
    Store v4 = make_store();
    auto req = v4.create(services("default"), service("r", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"RequireDualStack"})"));
    REQUIRE_FALSE(req);
    CHECK_THAT(req.error().message, Catch::Contains("not configured for dual-stack services"));
    auto fam = v4.create(services("default"), service("f", R"(,"spec":{"ports":[{"port":80}],"ipFamilies":["IPv6"]})"));
    REQUIRE_FALSE(fam);
    CHECK_THAT(fam.error().message, Catch::Contains("\"IPv6\": not configured on this cluster"));
    auto prefer = v4.create(services("default"), service("p", R"(,"spec":{"ports":[{"port":80}],"ipFamilyPolicy":"PreferDualStack"})"));
    REQUIRE(prefer);
    CHECK(prefer->object["spec"]["clusterIPs"] == Json::array({"10.96.0.10"}));
    CHECK(prefer->object["spec"]["ipFamilies"] == Json::array({"IPv4"}));
    CHECK(prefer->object["spec"]["ipFamilyPolicy"] == "PreferDualStack");
    // An address of the family the cluster lacks names that family: refused, not allocated from nothing.
    auto v6ip = v4.create(services("default"), service("v6", R"(,"spec":{"ports":[{"port":80}],"clusterIP":"fd00:10:96::5"})"));
    REQUIRE_FALSE(v6ip);
    CHECK(v6ip.error().code == 422);
    CHECK_THAT(v6ip.error().message, Catch::Contains("spec.clusterIPs[0]: Invalid value: [\"fd00:10:96::5\"]: IPv6 is an unsupported IP family"));
    auto two = v4.create(services("default"), service("two", R"(,"spec":{"ports":[{"port":80}],"clusterIPs":["10.96.0.20","fd00:10:96::5"]})"));
    REQUIRE_FALSE(two);
    CHECK_THAT(two.error().message, Catch::Contains("not configured for dual-stack services"));
}

TEST_CASE("ExternalName Services get no ClusterIP and no IP families", "[fake-apiserver][store][services]") {
    auto uid = std::make_shared<int>(0);
    Store dual{100, *ServiceIpRanges::parse("10.96.0.0/12,fd00:10:96::/112"),
               [] { return std::string("2024-05-01T10:00:00Z"); }, [uid] { return "uid-" + std::to_string(++*uid); }};
    auto ext = dual.create(services("default"), R"({"metadata":{"name":"legacy"},"spec":{"type":"ExternalName","externalName":"db.example.com.","clusterIP":""}})");
    REQUIRE(ext);
    const Json& spec = ext->object["spec"];
    for (const char* field : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
        CAPTURE(field);
        CHECK_FALSE(spec.contains(field));
    }
    CHECK(dual.create(services("default"), service("web"))->object["spec"]["clusterIP"] == "10.96.0.10");

    const auto refused = [&dual](const std::string& spec_json) {
        auto c = dual.create(services("default"), R"({"metadata":{"name":"bad"},"spec":)" + spec_json + "}");
        REQUIRE_FALSE(c);
        CHECK(c.error().code == 422);
        return c.error().message;
    };
    CHECK(refused(R"({"type":"ExternalName","externalName":"x.example","clusterIP":"10.96.0.30"})") ==
          "Service \"bad\" is invalid: spec.clusterIPs: Forbidden: may not be set for ExternalName services");
    CHECK_THAT(refused(R"({"type":"ExternalName","externalName":"x.example","ipFamilies":["IPv4"]})"),
               Catch::Contains("spec.ipFamilies: Forbidden"));
    CHECK_THAT(refused(R"({"type":"ExternalName","externalName":"x.example","ipFamilyPolicy":"SingleStack"})"),
               Catch::Contains("spec.ipFamilyPolicy: Forbidden"));
    CHECK(refused(R"({"type":"ExternalName"})") == "Service \"bad\" is invalid: spec.externalName: Required value");
    CHECK_THAT(refused(R"({"type":"ExternalName","externalName":"Not A Name"})"), Catch::Contains("RFC 1123 subdomain"));

    // Turning a Service into an ExternalName one drops its ClusterIPs (freed), and back allocates.
    auto turned = dual.patch(services("default"), "web", "application/merge-patch+json",
                             R"({"spec":{"type":"ExternalName","externalName":"web.example.com"}})", Subresource::kNone);
    REQUIRE(turned);
    CHECK_FALSE(turned->object["spec"].contains("clusterIP"));
    CHECK_FALSE(turned->object["spec"].contains("ipFamilies"));
    CHECK(dual.create(services("default"), service("other"))->object["spec"]["clusterIP"] == "10.96.0.10");
    auto back = dual.patch(services("default"), "web", "application/merge-patch+json",
                           R"({"spec":{"type":"ClusterIP","externalName":null,"ipFamilyPolicy":"RequireDualStack"}})",
                           Subresource::kNone);
    REQUIRE(back);
    CHECK(back->object["spec"]["clusterIPs"] == Json::array({"10.96.0.11", "fd00:10:96::a"}));
}

TEST_CASE("the mixed Service fixture seeds a dual-stack cluster only", "[fake-apiserver][store][services]") {
    std::ifstream in{KROUTE_TEST_DATA_DIR "/k8s/service-list-mixed.json"};
    REQUIRE(in);
    const Json doc = Json::parse(std::string{std::istreambuf_iterator<char>{in}, {}});
    const auto store_for = [](const char* range) {
        return Store{100, *ServiceIpRanges::parse(range), [] { return std::string("2024-05-01T10:00:00Z"); },
                     [] { return std::string("uid"); }};
    };

    Store dual = store_for("10.96.0.0/12,fd00:10:96::/112");
    REQUIRE(dual.seed(Resource::kServices, doc));
    auto web = dual.get(services("shop"), "web");
    REQUIRE(web);
    CHECK((*web)["spec"]["clusterIPs"] == Json::array({"fd00:10:96::5c1", "10.96.44.7"}));
    CHECK((*web)["spec"]["ipFamilies"] == Json::array({"IPv6", "IPv4"}));
    CHECK((*web)["spec"]["ipFamilyPolicy"] == "PreferDualStack");
    CHECK((*web)["metadata"]["uid"] == "0c9f7a8e-4a4d-4c39-8f0e-7f3f2b8e1a22");
    auto db = dual.get(services("shop"), "db");
    REQUIRE(db);
    CHECK((*db)["spec"]["clusterIPs"] == Json::array({"None"}));
    CHECK((*db)["spec"]["ipFamilies"] == Json::array({"IPv4"}));
    CHECK_FALSE(dual.get(services("shop"), "legacy")->at("spec").contains("clusterIPs"));
    // The seeds' addresses are taken.
    auto taken = dual.create(services("shop"), service("copy", R"(,"spec":{"ports":[{"port":80}],"clusterIP":"fd00:10:96::5c1"})"));
    REQUIRE_FALSE(taken);
    CHECK_THAT(taken.error().message, Catch::Contains("provided IP is already allocated"));

    Store single = store_for("10.96.0.0/12");
    auto refused = single.seed(Resource::kServices, doc);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message ==
          "Service \"web\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster");
}
