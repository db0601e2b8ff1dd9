#include "tests/fake-apiserver/patch.hpp"

#include <catch2/catch.hpp>

using namespace kroute::fake_apiserver;

namespace {

const Json kNode = Json::parse(R"({
  "metadata": {"name": "n1", "labels": {"a": "1", "b": "2"}, "finalizers": ["f1"]},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "taints": [{"key": "t1", "effect": "NoSchedule"}]},
  "status": {
    "addresses": [{"type": "InternalIP", "address": "172.18.0.11"}, {"type": "Hostname", "address": "n1"}],
    "conditions": [{"type": "Ready", "status": "True"}, {"type": "NetworkUnavailable", "status": "True", "reason": "NoRoute"}]
  }
})");

Json smp(const char* patch) {
    auto r = strategic_merge_patch(kNode, Json::parse(patch));
    REQUIRE(r);
    return *r;
}

}  // namespace

TEST_CASE("SMP merges conditions by type and keeps the others", "[fake-apiserver][patch]") {
    const Json out = smp(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"RouteCreated"}]}})");
    REQUIRE(out["status"]["conditions"].size() == 2);
    CHECK(out["status"]["conditions"][0] == Json::parse(R"({"type":"Ready","status":"True"})"));
    CHECK(out["status"]["conditions"][1] ==
          Json::parse(R"({"type":"NetworkUnavailable","status":"False","reason":"RouteCreated"})"));
}

TEST_CASE("SMP appends a condition of a new type", "[fake-apiserver][patch]") {
    const Json out = smp(R"({"status":{"conditions":[{"type":"DiskPressure","status":"False"}]}})");
    REQUIRE(out["status"]["conditions"].size() == 3);
    CHECK(out["status"]["conditions"][2]["type"] == "DiskPressure");
}

TEST_CASE("SMP merges addresses by type", "[fake-apiserver][patch]") {
    const Json out = smp(R"({"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.99"}]}})");
    REQUIRE(out["status"]["addresses"].size() == 2);
    CHECK(out["status"]["addresses"][0]["address"] == "172.18.0.99");
    CHECK(out["status"]["addresses"][1]["type"] == "Hostname");
}

TEST_CASE("SMP merges maps and null deletes a key", "[fake-apiserver][patch]") {
    const Json out = smp(R"({"metadata":{"labels":{"a":null,"c":"3"}}})");
    CHECK(out["metadata"]["labels"] == Json::parse(R"({"b":"2","c":"3"})"));
    CHECK(out["spec"] == kNode["spec"]);
}

TEST_CASE("SMP replaces podCIDRs and lists without a merge strategy", "[fake-apiserver][patch]") {
    const Json out = smp(R"({"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"],"taints":[]}})");
    CHECK(out["spec"]["podCIDR"] == "10.244.9.0/24");
    CHECK(out["spec"]["podCIDRs"] == Json::parse(R"(["10.244.9.0/24"])"));
    CHECK(out["spec"]["taints"].empty());
}

TEST_CASE("SMP merges finalizers as a set and honours deleteFromPrimitiveList", "[fake-apiserver][patch]") {
    CHECK(smp(R"({"metadata":{"finalizers":["f2","f1"]}})")["metadata"]["finalizers"] ==
          Json::parse(R"(["f1","f2"])"));
    CHECK(smp(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["f1"]}})")["metadata"]["finalizers"].empty());
}

TEST_CASE("SMP directives: $patch delete/replace, $retainKeys, $setElementOrder", "[fake-apiserver][patch]") {
    SECTION("delete one list item by key") {
        const Json out = smp(R"({"status":{"conditions":[{"type":"Ready","$patch":"delete"}]}})");
        REQUIRE(out["status"]["conditions"].size() == 1);
        CHECK(out["status"]["conditions"][0]["type"] == "NetworkUnavailable");
    }
    SECTION("replace a whole list") {
        const Json out =
            smp(R"({"status":{"conditions":[{"$patch":"replace"},{"type":"Ready","status":"False"}]}})");
        CHECK(out["status"]["conditions"] == Json::parse(R"([{"type":"Ready","status":"False"}])"));
    }
    SECTION("replace a map") {
        const Json out = smp(R"({"metadata":{"labels":{"$patch":"replace","z":"9"}}})");
        CHECK(out["metadata"]["labels"] == Json::parse(R"({"z":"9"})"));
    }
    SECTION("delete a map") {
        const Json out = smp(R"({"metadata":{"labels":{"$patch":"delete"}}})");
        CHECK_FALSE(out["metadata"].contains("labels"));
    }
    SECTION("retainKeys drops unlisted keys") {
        const Json out = smp(R"({"metadata":{"labels":{"$retainKeys":["a"],"a":"x"}}})");
        CHECK(out["metadata"]["labels"] == Json::parse(R"({"a":"x"})"));
    }
    SECTION("setElementOrder as kubectl apply sends it is ignored") {
        const Json out = smp(
            R"({"status":{"$setElementOrder/conditions":[{"type":"Ready"},{"type":"NetworkUnavailable"}],)"
            R"("conditions":[{"type":"Ready","status":"Unknown"}]}})");
        CHECK(out["status"]["conditions"][0]["status"] == "Unknown");
        CHECK_FALSE(out["status"].contains("$setElementOrder/conditions"));
    }
}

TEST_CASE("SMP errors are values", "[fake-apiserver][patch]") {
    auto patch = GENERATE(as<std::string>{}, R"({"status":{"conditions":[{"status":"False"}]}})",
                          R"({"status":{"conditions":["Ready"]}})", R"({"metadata":{"$bogus":1}})",
                          R"({"metadata":{"labels":{"$patch":"merge-maybe"}}})", R"([1,2])",
                          R"({"$patch":"delete"})");
    CAPTURE(patch);
    CHECK_FALSE(strategic_merge_patch(kNode, Json::parse(patch)));
}

TEST_CASE("SMP bounds nesting depth", "[fake-apiserver][patch]") {
    std::string deep;
    for (int i = 0; i < 200; ++i) deep += R"({"a":)";
    deep += "1";
    for (int i = 0; i < 200; ++i) deep += "}";
    CHECK_FALSE(strategic_merge_patch(kNode, Json::parse(deep)));
}

TEST_CASE("JSON merge patch replaces lists wholesale (RFC 7386)", "[fake-apiserver][patch]") {
    auto r = apply_patch(kNode, PatchType::kMergePatch,
                         Json::parse(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False"}]},)"
                                     R"("metadata":{"labels":{"a":null}}})"));
    REQUIRE(r);
    CHECK((*r)["status"]["conditions"].size() == 1);
    CHECK((*r)["metadata"]["labels"] == Json::parse(R"({"b":"2"})"));
}

TEST_CASE("JSON patch applies RFC 6902 operations and fails cleanly", "[fake-apiserver][patch]") {
    auto r = apply_patch(kNode, PatchType::kJsonPatch,
                         Json::parse(R"([{"op":"replace","path":"/spec/podCIDR","value":"10.244.5.0/24"},)"
                                     R"({"op":"add","path":"/metadata/labels/c","value":"3"},)"
                                     R"({"op":"remove","path":"/spec/taints"}])"));
    REQUIRE(r);
    CHECK((*r)["spec"]["podCIDR"] == "10.244.5.0/24");
    CHECK((*r)["metadata"]["labels"]["c"] == "3");
    CHECK_FALSE((*r)["spec"].contains("taints"));

    CHECK_FALSE(apply_patch(kNode, PatchType::kJsonPatch, Json::parse(R"([{"op":"remove","path":"/nope"}])")));
    CHECK_FALSE(apply_patch(kNode, PatchType::kJsonPatch, Json::parse(R"([{"op":"test","path":"/spec/podCIDR","value":"x"}])")));
    CHECK_FALSE(apply_patch(kNode, PatchType::kJsonPatch, Json::parse(R"({"op":"add"})")));
    CHECK_FALSE(apply_patch(kNode, PatchType::kMergePatch, Json::parse(R"([])")));
}

TEST_CASE("patch types come from the Content-Type", "[fake-apiserver][patch]") {
    CHECK(patch_type_from_content_type("application/json-patch+json") == PatchType::kJsonPatch);
    CHECK(patch_type_from_content_type("application/merge-patch+json") == PatchType::kMergePatch);
    CHECK(patch_type_from_content_type("application/strategic-merge-patch+json; charset=utf-8") ==
          PatchType::kStrategicMergePatch);
    CHECK(patch_type_from_content_type("application/apply-patch+yaml") == PatchType::kApplyPatch);
    CHECK_FALSE(patch_type_from_content_type("application/json"));
    CHECK_FALSE(patch_type_from_content_type(""));
}
