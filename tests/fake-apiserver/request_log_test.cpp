#include "tests/fake-apiserver/request_log.hpp"

#include <catch2/catch.hpp>

using namespace kroute::fake_apiserver;

TEST_CASE("the request log records requests in order, bounded", "[fake-apiserver][requests]") {
    RequestLog log{2};
    log.add({"GET", "/api/v1/nodes", {{"limit", "500"}, {"watch", "1"}, {"watch", "true"}},
             {{"Authorization", "Bearer t"}, {"X-Multi", "a"}, {"x-multi", "b"}}, ""});
    log.add({"PATCH", "/api/v1/nodes/n1", {}, {{"Content-Type", "application/merge-patch+json"}}, R"({"spec":{}})"});
    const Json j = log.to_json();
    REQUIRE(j.size() == 2);
    CHECK(j[0]["method"] == "GET");
    CHECK(j[0]["query"] == Json::parse(R"({"limit":"500","watch":"true"})"));
    CHECK(j[0]["headers"]["authorization"] == "Bearer t");
    CHECK(j[0]["headers"]["x-multi"] == "a, b");
    CHECK(j[0]["content_type"] == "");
    CHECK(j[1]["content_type"] == "application/merge-patch+json");
    CHECK(j[1]["body"] == R"({"spec":{}})");

    log.add({"DELETE", "/api/v1/nodes/n1", {}, {}, ""});
    CHECK(log.size() == 2);
    CHECK(log.to_json()[0]["method"] == "PATCH");
    log.clear();
    CHECK(log.to_json() == Json::array());
}
