#include "tests/fake-apiserver/kubeconfig.hpp"

#include <catch2/catch.hpp>

#include "tests/fake-apiserver/base64.hpp"

using namespace kroute::fake_apiserver;

TEST_CASE("server_url brackets IPv6 literals only", "[fake-apiserver][kubeconfig]") {
    CHECK(server_url("127.0.0.1", 6443) == "https://127.0.0.1:6443");
    CHECK(server_url("localhost", 1) == "https://localhost:1");
    CHECK(server_url("::1", 443) == "https://[::1]:443");
    CHECK(server_url("fd00::2", 6443) == "https://[fd00::2]:6443");
}

TEST_CASE("the kubeconfig names server, CA data and token in one context", "[fake-apiserver][kubeconfig]") {
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const std::string k = render_kubeconfig("https://127.0.0.1:40000", pem, "s3cret");
    CHECK(k.find("    server: \"https://127.0.0.1:40000\"\n") != std::string::npos);
    CHECK(k.find("    token: \"s3cret\"\n") != std::string::npos);
    CHECK(k.find("current-context: fake\n") != std::string::npos);
    const std::string key = "certificate-authority-data: \"";
    const auto at = k.find(key);
    REQUIRE(at != std::string::npos);
    const auto start = at + key.size();
    const auto data = k.substr(start, k.find('"', start) - start);
    CHECK(base64_decode(data) == pem);
}
