#include "k8s-client/api_status.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace kroute::k8s;
using namespace std::chrono_literals;

TEST_CASE("Status objects from the API server", "[k8s][status]") {
    // responsewriters/errors.go forbiddenMessage, as a node daemon without RBAC sees it.
    auto forbidden = parse_api_status_body(
        403,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes is forbidden: User \"system:serviceaccount:kube-system:kroute\" cannot list resource \"nodes\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"nodes"},"code":403})");
    CHECK(forbidden.code == 403);
    CHECK(forbidden.reason == "Forbidden");
    CHECK_THAT(forbidden.message, Catch::StartsWith("nodes is forbidden"));
    CHECK_FALSE(forbidden.retry_after);
    CHECK_FALSE(is_expired(forbidden));

    auto timeout = parse_api_status_body(
        504, R"({"kind":"Status","status":"Failure","message":"Too large resource version: 12, current: 10","reason":"Timeout","details":{"retryAfterSeconds":1},"code":504})");
    CHECK(timeout.retry_after == 1s);

    auto expired = parse_api_status_body(410, R"({"kind":"Status","reason":"Expired","message":"continue too old","code":410})");
    CHECK(is_expired(expired));
    CHECK(is_expired(ApiStatus{.code = 0, .reason = "Gone", .message = "", .retry_after = std::nullopt}));
}

TEST_CASE("non-JSON error bodies (API Priority and Fairness 429)", "[k8s][status]") {
    auto s = parse_api_status_body(429, "Too many requests, please try again later.\n");
    CHECK(s.code == 429);
    CHECK(s.message == "Too many requests, please try again later.");
    CHECK(s.reason.empty());
    auto long_body = parse_api_status_body(502, std::string(5000, 'x'));
    CHECK(long_body.message.size() == 200);
    auto weird = parse_api_status(nlohmann::json{{"code", "410"}, {"reason", 5}, {"details", {{"retryAfterSeconds", -3}}}});
    CHECK(weird.code == 0);
    CHECK(weird.reason.empty());
    CHECK_FALSE(weird.retry_after);
    CHECK(parse_api_status(nlohmann::json::array()).code == 0);
}

TEST_CASE("Retry-After delta-seconds", "[k8s][status]") {
    CHECK(parse_retry_after("1") == 1s);
    CHECK(parse_retry_after(" 120 ") == 120s);
    CHECK(parse_retry_after("0") == 0s);
    CHECK_FALSE(parse_retry_after(""));
    CHECK_FALSE(parse_retry_after("-1"));
    CHECK_FALSE(parse_retry_after("1.5"));
    CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
}
