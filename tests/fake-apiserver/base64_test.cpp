#include "tests/fake-apiserver/base64.hpp"

#include <catch2/catch.hpp>

using kroute::fake_apiserver::base64_decode;
using kroute::fake_apiserver::base64_encode;

TEST_CASE("base64 matches the RFC 4648 §10 test vectors both ways", "[fake-apiserver][base64]") {
    auto [plain, encoded] = GENERATE(table<std::string, std::string>({{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}}));
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == plain);
}

TEST_CASE("base64 round-trips binary bytes including NUL and 0xff", "[fake-apiserver][base64]") {
    const std::string bytes{"\x00\xff\x10start\x00", 9};
    CHECK(base64_encode(bytes) == "AP8Qc3RhcnQA");
    CHECK(base64_decode(base64_encode(bytes)) == bytes);
}

TEST_CASE("base64 rejects malformed input", "[fake-apiserver][base64]") {
    auto bad = GENERATE(as<std::string>{}, "Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=");
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
}
