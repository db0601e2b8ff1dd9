#include "tests/fake-apiserver/selectors.hpp"

#include <catch2/catch.hpp>

using namespace kroute::fake_apiserver;

namespace {
const Json kNode = Json::parse(R"({"metadata":{"name":"node-02","labels":{"role":"worker","zone":"a"}},
                                   "spec":{"unschedulable":true}})");
}

TEST_CASE("field and label selectors select like the apiserver", "[fake-apiserver][selectors]") {
    auto [field, label, expected] = GENERATE(table<std::string, std::string, bool>({
        {"", "", true},
        {"metadata.name=node-02", "", true},
        {"metadata.name==node-02", "", true},
        {"metadata.name=node-01", "", false},
        {"metadata.name!=node-01", "", true},
        {"spec.unschedulable=true", "", true},
        {"spec.unschedulable=false", "", false},
        {"", "role=worker", true},
        {"", "role==worker", true},
        {"", "role!=worker", false},
        {"", "role", true},
        {"", "!role", false},
        {"", "gpu", false},
        {"", "!gpu", true},
        {"", "zone in (a,b)", true},
        {"", "zone in (b, c)", false},
        {"", "zone notin (b,c)", true},
        {"", "gpu notin (x)", true},
        {"", "role=worker,zone=b", false},
        {"", "zone in (a,b),role=worker", true},
        {"metadata.name=node-02", "zone=a", true},
    }));
    CAPTURE(field, label);
    auto f = Filter::parse(info(Resource::kNodes), field, label);
    REQUIRE(f);
    CHECK(f->matches(kNode) == expected);
    CHECK(f->empty() == (field.empty() && label.empty()));
}

TEST_CASE("unsupported selectors are 400 BadRequest", "[fake-apiserver][selectors]") {
    auto [field, label] = GENERATE(table<std::string, std::string>({
        {"status.phase=Ready", ""},
        {"metadata.name", ""},
        {"", "zone in a,b"},
        {"", "count > 3"},
        {"", "=x"},
    }));
    CAPTURE(field, label);
    auto f = Filter::parse(info(Resource::kNodes), field, label);
    REQUIRE_FALSE(f);
    CHECK(f.error().code == 400);
    CHECK(f.error().reason == "BadRequest");
}

TEST_CASE("selectors never throw on malformed objects", "[fake-apiserver][selectors]") {
    auto f = Filter::parse(info(Resource::kNodes), "metadata.name=x", "a=b");
    REQUIRE(f);
    CHECK_FALSE(f->matches(Json::parse(R"({"metadata":3})")));
    CHECK_FALSE(f->matches(Json::parse(R"({"metadata":{"name":"x","labels":[1]}})")));
    CHECK_FALSE(f->matches(Json::parse("[]")));
}
