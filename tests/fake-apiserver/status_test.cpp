#include "tests/fake-apiserver/status.hpp"

#include <catch2/catch.hpp>

using namespace kroute::fake_apiserver;

TEST_CASE("NotFound Status is byte-identical to the apiserver's", "[fake-apiserver][status]") {
    // Shape as served by kube-apiserver for GET /api/v1/nodes/nosuch.
    CHECK(status_json(not_found(info(Resource::kNodes), "nosuch")).dump() ==
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"nosuch\" not found",)"
          R"("reason":"NotFound","details":{"name":"nosuch","kind":"nodes"},"code":404})");
}

TEST_CASE("Status objects omit empty details and carry code and reason", "[fake-apiserver][status]") {
    CHECK(status_json(unauthorized()).dump() ==
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized",)"
          R"("reason":"Unauthorized","code":401})");
    const auto e = status_json(already_exists(info(Resource::kNodes), "n1"));
    CHECK(e["code"] == 409);
    CHECK(e["reason"] == "AlreadyExists");
    CHECK(e["message"] == "nodes \"n1\" already exists");
    CHECK(status_json(conflict(info(Resource::kNodes), "n1"))["reason"] == "Conflict");
    CHECK(status_json(expired("too old"))["code"] == 410);
}

TEST_CASE("Invalid carries the field cause", "[fake-apiserver][status]") {
    const auto e = status_json(invalid(info(Resource::kNodes), "n1", "metadata.name", "field is immutable"));
    CHECK(e["code"] == 422);
    CHECK(e["message"] == "Node \"n1\" is invalid: metadata.name: field is immutable");
    CHECK(e["details"]["causes"][0]["field"] == "metadata.name");
}

TEST_CASE("success_status names the deleted node", "[fake-apiserver][status]") {
    const auto s = success_status(info(Resource::kNodes), "n1", "u-1");
    CHECK(s["status"] == "Success");
    CHECK(s["details"]["name"] == "n1");
    CHECK(s["details"]["uid"] == "u-1");
}

TEST_CASE("reason_for_code maps the codes clients branch on", "[fake-apiserver][status]") {
    auto [code, reason] = GENERATE(table<int, std::string>({{400, "BadRequest"},
                                                            {401, "Unauthorized"},
                                                            {403, "Forbidden"},
                                                            {404, "NotFound"},
                                                            {409, "Conflict"},
                                                            {410, "Expired"},
                                                            {422, "Invalid"},
                                                            {429, "TooManyRequests"},
                                                            {500, "InternalError"},
                                                            {502, "InternalError"},
                                                            {503, "ServiceUnavailable"},
                                                            {504, "Timeout"}}));
    CHECK(reason_for_code(code) == reason);
}

TEST_CASE("parse_json rejects invalid and too deeply nested input", "[fake-apiserver][status]") {
    CHECK(parse_json(R"({"a":[1,{"b":null}]})"));
    CHECK_FALSE(parse_json("{"));
    CHECK_FALSE(parse_json("\"\xff\""));  // invalid UTF-8
    std::string deep(kMaxJsonNesting + 1, '[');
    deep += std::string(kMaxJsonNesting + 1, ']');
    CHECK_FALSE(parse_json(deep));
    std::string ok(kMaxJsonNesting, '[');
    ok += std::string(kMaxJsonNesting, ']');
    CHECK(parse_json(ok));
}

TEST_CASE("to_wire replaces invalid UTF-8 instead of throwing", "[fake-apiserver][status]") {
    const auto e = not_found(info(Resource::kNodes), "bad\xff");
    std::string out;
    CHECK_NOTHROW(out = to_wire(status_json(e)));
    CHECK(out.find(R"(nodes \"bad)") != std::string::npos);
}
