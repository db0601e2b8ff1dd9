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
    for (const char* bad : {"", "10.96.0.0", "10.96.0.1/12", "10.96.0.0/29", "10.96.0.0/x", "fd00::/125", "fd00::1/112", "0.0.0.0/0"}) {
        CAPTURE(bad);
        CHECK_FALSE(ServiceIpRange::parse(bad));
    }
}

TEST_CASE("an IPv6 range allocates the same way, without walking 2^64 addresses", "[fake-apiserver][service-ips]") {
    auto r = ServiceIpRange::parse("fd00:10:96::/64");
    REQUIRE(r);
    CHECK(std::string{r->family()} == "IPv6");
    std::set<std::string> used{"fd00:10:96::a", "fd00:10:96::b"};
    const auto is_used = [&](const std::string& ip) { return used.contains(ip); };
    CHECK(r->first_free(is_used) == "fd00:10:96::c");
    CHECK(r->contains("fd00:10:96::ffff:ffff:ffff:fffe"));
    CHECK_FALSE(r->contains("fd00:10:96::"));
    CHECK_FALSE(r->contains("fd00:10:97::1"));
    CHECK_FALSE(r->contains("10.96.0.1"));
    // Everything used: gives up after max_tries, then the low addresses.
    CHECK(r->first_free([](const std::string&) { return true; }, 1000) == std::nullopt);
    // Only as far as needed: the number of addresses looked at is the number used, plus one.
    std::uint64_t looked = 0;
    CHECK(r->first_free([&looked](const std::string& ip) { ++looked; return ip != "fd00:10:96::3e8"; }) == "fd00:10:96::3e8");
    CHECK(looked == 0x3e8 - 10 + 1);

    // Past the last one, the 1st to 9th, as for IPv4; the network and last addresses never.
    auto small = ServiceIpRange::parse("fd00:10:96::/124");
    REQUIRE(small);
    std::set<std::string> taken;
    for (const char* ip : {"fd00:10:96::a", "fd00:10:96::b", "fd00:10:96::c", "fd00:10:96::d", "fd00:10:96::e"}) taken.insert(ip);
    const auto is_taken = [&](const std::string& ip) { return taken.contains(ip); };
    CHECK(small->first_free(is_taken) == "fd00:10:96::1");
    CHECK_FALSE(small->contains("fd00:10:96::f"));
    for (int i = 1; i < 10; ++i) taken.insert("fd00:10:96::" + std::to_string(i));
    CHECK_FALSE(small->first_free(is_taken));
    auto range112 = ServiceIpRange::parse("fd00:10:96::/112");
    REQUIRE(range112);
    CHECK(range112->contains("fd00:10:96::fffe"));
    CHECK_FALSE(range112->contains("fd00:10:96::1:0"));
}

TEST_CASE("dual-stack ranges: two CIDRs of different families, primary first", "[fake-apiserver][service-ips]") {
    auto dual = ServiceIpRanges::parse("fd00:10:96::/112,10.96.0.0/12");
    REQUIRE(dual);
    CHECK(dual->dual_stack());
    CHECK(std::string{dual->primary().family()} == "IPv6");
    REQUIRE(dual->of("IPv4"));
    CHECK(dual->of("IPv4")->cidr() == "10.96.0.0/12");
    CHECK(dual->holding("10.96.3.4") == dual->of("IPv4"));
    CHECK(dual->holding("192.0.2.1") == nullptr);
    CHECK(dual->cidrs() == "fd00:10:96::/112,10.96.0.0/12");
    auto single = ServiceIpRanges::parse("10.96.0.0/12");
    REQUIRE(single);
    CHECK_FALSE(single->dual_stack());
    CHECK(single->of("IPv6") == nullptr);
    CHECK_FALSE(ServiceIpRanges::parse("10.96.0.0/12,10.0.0.0/16"));
    CHECK_FALSE(ServiceIpRanges::parse("10.96.0.0/12,fd00::/112,fd01::/112"));
    CHECK_FALSE(ServiceIpRanges::parse("10.96.0.0/12,"));
    CHECK(ip_family_of("fd00::1") == "IPv6");
    CHECK(ip_family_of("10.0.0.1") == "IPv4");
    CHECK_FALSE(ip_family_of("None"));
}
