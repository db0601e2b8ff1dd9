#include "tests/fake-apiserver/service_ips.hpp"

#include <set>

#include <catch2/catch.hpp>

using namespace kroute::fake_apiserver;

TEST_CASE("the ClusterIP range allocates from the 10th address", "[fake-apiserver][service-ips]") {
    auto r = ServiceIpRange::parse("10.96.0.0/12");
    REQUIRE(r);
    std::set<std::string> used;
    const auto is_used = [&](const std::string& ip) { return used.contains(ip); };
    CHECK(r->first_free(is_used) == "10.96.0.10");
    used.insert("10.96.0.10");
    CHECK(r->first_free(is_used) == "10.96.0.11");
    CHECK(r->contains("10.111.255.254"));
    CHECK_FALSE(r->contains("10.111.255.255"));  // broadcast
    CHECK_FALSE(r->contains("10.96.0.0"));       // network
    CHECK_FALSE(r->contains("10.112.0.1"));
    CHECK_FALSE(r->contains("fd00::1"));

    auto small = ServiceIpRange::parse("192.168.5.0/28");
    REQUIRE(small);
    for (int i = 10; i < 15; ++i) used.insert("192.168.5." + std::to_string(i));
    CHECK(small->first_free(is_used) == "192.168.5.1");  // wraps to the low addresses
    for (int i = 1; i < 10; ++i) used.insert("192.168.5." + std::to_string(i));
    CHECK_FALSE(small->first_free(is_used));
}

TEST_CASE("bad ClusterIP ranges are refused", "[fake-apiserver][service-ips]") {
    for (const char* bad : {"", "10.96.0.0", "10.96.0.1/12", "10.96.0.0/29", "10.96.0.0/x", "fd00::/108", "0.0.0.0/0"}) {
        CAPTURE(bad);
        CHECK_FALSE(ServiceIpRange::parse(bad));
    }
}
