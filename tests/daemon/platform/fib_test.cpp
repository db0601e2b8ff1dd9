// Fib against the real kernel, each test in a network namespace of its own (netns_support.hpp).
// The kernel's state is read back with iproute2, independently of Fib's own netlink code.
#include "daemon/platform/fib.hpp"

#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "common/log.hpp"
#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

using namespace std::chrono_literals;
using test::must;
using test::run_until;
using test::sh;

Prefix pfx(const char* text) {
    auto p = Prefix::parse(text);
    REQUIRE(p);
    return *p;
}
FibRoute route(const char* prefix, std::initializer_list<const char*> hops) {
    FibRoute r{pfx(prefix), {}};
    for (const char* h : hops) {
        auto a = IpAddress::parse(h);
        REQUIRE(a);
        r.next_hops.push_back(*a);
    }
    return r;
}

// Our routes as the kernel shows them (table main, protocol 52).
std::string ours(const char* family_flag = "-4") {
    return sh(std::string("ip ") + family_flag + " route show table main proto 52").out;
}
bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

FibConfig fast_config() {
    FibConfig cfg;
    cfg.batch_delay = 5ms;
    return cfg;
}

struct Node {
    Node() {
        test::enter_fresh_netns();  // first: nothing below may run in the root namespace
        test::setup_node();
    }
};

}  // namespace

TEST_CASE("Fib installs IPv4, IPv6 and multipath routes with its protocol", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    auto started = fib.start();
    INFO((started ? "" : started.error()));
    REQUIRE(started);

    const auto v4 = route("10.244.2.0/24", {"172.18.0.12"});
    const auto v6 = route("fd00:244:2::/64", {"fd00:18::12"});
    const auto multi4 = route("10.244.3.0/24", {"172.18.0.13", "172.18.0.12"});
    const auto multi6 = route("fd00:244:3::/64", {"fd00:18::12", "fd00:18::13"});
    for (const auto& r : {v4, v6, multi4, multi6}) fib.set_route(r);
    CHECK(run_until(ioc, [&] { return fib.desired_count() == 4; }));

    auto all_there = [] {
        const auto v4s = ours("-4");
        const auto v6s = ours("-6");
        return contains(v4s, "10.244.2.0/24 via 172.18.0.12 dev veth0") &&
               contains(v4s, "nexthop via 172.18.0.12 dev veth0") && contains(v4s, "nexthop via 172.18.0.13 dev veth0") &&
               contains(v6s, "fd00:244:2::/64 via fd00:18::12 dev veth0") &&
               contains(v6s, "nexthop via fd00:18::12 dev veth0") && contains(v6s, "nexthop via fd00:18::13 dev veth0");
    };
    bool done = run_until(ioc, all_there);
    INFO(ours("-4") << ours("-6"));
    CHECK(done);
    // Scope universe ("global"), table main, protocol 52: the filter matches all four.
    CHECK(contains(sh("ip -4 route show table main proto 52 scope global").out, "10.244.3.0/24"));
    CHECK(contains(sh("ip -6 route show table main proto 52").out, "fd00:244:3::/64"));

    // The snapshot reports the kernel's view once the results came back to the io_context.
    CHECK(run_until(ioc, [&] { return fib.snapshot().kernel.size() == 4; }));
    auto snap = fib.snapshot();
    CHECK(snap.desired.size() == 4);
    CHECK(snap.kernel == snap.desired);  // both sorted by prefix, next hops normalized
    CHECK(snap.writes == 4);
    CHECK(snap.errors == 0);
    CHECK(snap.last_error.empty());
    CHECK_FALSE(snap.sweep_enabled);

    // Changing a route's next hops replaces it in place.
    fib.set_route(route("10.244.2.0/24", {"172.18.0.14"}));
    CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24 via 172.18.0.14 dev veth0"); }));
    CHECK_FALSE(contains(ours("-4"), "10.244.2.0/24 via 172.18.0.12"));
}

TEST_CASE("Fib writes into its configured table with its configured protocol", "[daemon][fib][netns]") {
    Node node;
    must("ip route add 10.244.2.0/24 via 172.18.0.15 proto static");  // main table: no conflict
    must("ip route add 10.244.6.0/24 via 172.18.0.16 proto 52 table 1000");  // protocol 52 is not ours here
    asio::io_context ioc;
    FibConfig cfg = fast_config();
    cfg.table = 1000;
    cfg.protocol = 99;
    Fib fib(ioc, cfg);
    REQUIRE(fib.start());
    fib.enable_stale_sweep();
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    fib.set_route(route("fd00:244:2::/64", {"fd00:18::12"}));
    auto table = [](const char* family) { return sh(std::string("ip ") + family + " route show table 1000 proto 99").out; };
    CHECK(run_until(ioc, [&] {
        return contains(table("-4"), "10.244.2.0/24 via 172.18.0.12") && contains(table("-6"), "fd00:244:2::/64 via fd00:18::12");
    }));
    CHECK(contains(sh("ip -4 route show table main 10.244.2.0/24").out, "via 172.18.0.15 dev veth0 proto static"));
    CHECK(contains(sh("ip -4 route show table 1000 proto 52").out, "10.244.6.0/24 via 172.18.0.16"));
    CHECK(ours("-4").empty());
}

TEST_CASE("Fib removes its routes on remove_route, and only its own", "[daemon][fib][netns]") {
    Node node;
    must("ip route add 10.244.7.0/24 via 172.18.0.17 proto static");
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    fib.set_route(route("fd00:244:2::/64", {"fd00:18::12"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24") && contains(ours("-6"), "fd00:244:2::/64"); }));

    fib.remove_route(pfx("10.244.2.0/24"));
    fib.remove_route(pfx("fd00:244:2::/64"));
    fib.remove_route(pfx("10.244.7.0/24"));  // not ours: must stay
    fib.set_route(route("10.244.4.0/24", {"172.18.0.14"}));
    fib.set_route(route("10.244.4.0/24", {}));  // no next hop left: as good as removed
    CHECK(run_until(ioc, [&] { return fib.desired_count() == 0; }));
    CHECK(run_until(ioc, [] { return !contains(ours("-4"), "10.244.2.0/24") && !contains(ours("-6"), "fd00:244:2::/64"); }));
    CHECK(run_until(ioc, [&] { return fib.snapshot().kernel.empty(); }));
    CHECK(contains(sh("ip -4 route show proto static").out, "10.244.7.0/24 via 172.18.0.17"));
}

TEST_CASE("Fib writes the latest of several changes a prefix gets within one batch", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    FibConfig cfg;
    cfg.batch_delay = 300ms;  // every change below lands in one batch
    Fib fib(ioc, cfg);
    REQUIRE(fib.start());
    fib.set_route(route("10.244.4.0/24", {"172.18.0.14"}));
    fib.set_route(route("10.244.5.0/24", {"172.18.0.15"}));
    REQUIRE(run_until(ioc, [&] { return fib.snapshot().kernel.size() == 2; }));

    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));  // set, changed, withdrawn: never written
    fib.set_route(route("10.244.2.0/24", {"172.18.0.13"}));
    fib.remove_route(pfx("10.244.2.0/24"));
    fib.set_route(route("10.244.3.0/24", {"172.18.0.12"}));  // set, withdrawn, set again: the last one
    fib.remove_route(pfx("10.244.3.0/24"));
    fib.set_route(route("10.244.3.0/24", {"172.18.0.13"}));
    fib.remove_route(pfx("10.244.4.0/24"));  // installed, withdrawn, back with another next hop
    fib.set_route(route("10.244.4.0/24", {"172.18.0.16"}));
    fib.set_route(route("10.244.5.0/24", {"172.18.0.17"}));  // installed, changed, withdrawn: deleted
    fib.remove_route(pfx("10.244.5.0/24"));
    const auto expected = std::vector<FibRoute>{route("10.244.3.0/24", {"172.18.0.13"}), route("10.244.4.0/24", {"172.18.0.16"})};
    REQUIRE(run_until(ioc, [&] { return fib.snapshot().kernel == expected; }));
    CHECK(fib.snapshot().desired == expected);
    const auto table = ours("-4");
    CHECK(contains(table, "10.244.3.0/24 via 172.18.0.13"));
    CHECK(contains(table, "10.244.4.0/24 via 172.18.0.16"));
    CHECK_FALSE(contains(table, "10.244.2.0/24"));
    CHECK_FALSE(contains(table, "10.244.5.0/24"));
}

TEST_CASE("Fib writes a new desired state at once, even for a prefix backing off after failures", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.99.0.0/24", {"192.0.2.1"}));  // no route to 192.0.2.1: fails, backs off
    REQUIRE(run_until(ioc, [&] { return fib.snapshot().errors >= 4; }));  // the next try is seconds away
    const auto errors = fib.snapshot().errors;
    fib.set_route(route("10.99.0.0/24", {"172.18.0.12"}));
    CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.99.0.0/24 via 172.18.0.12"); }, 1s));
    CHECK(fib.snapshot().errors == errors);
}

TEST_CASE("Fib re-adds a route deleted behind its back", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    fib.set_route(route("fd00:244:2::/64", {"fd00:18::12"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24") && contains(ours("-6"), "fd00:244:2::/64"); }));

    must("ip route del 10.244.2.0/24 proto 52");
    must("ip -6 route del fd00:244:2::/64 proto 52");
    CHECK(run_until(ioc, [] {
        return contains(ours("-4"), "10.244.2.0/24 via 172.18.0.12") && contains(ours("-6"), "fd00:244:2::/64 via fd00:18::12");
    }));
    // Changed behind its back: put back as desired.
    must("ip route replace 10.244.2.0/24 via 172.18.0.99 proto 52");
    CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24 via 172.18.0.12"); }));
}

TEST_CASE("Fib installs an IPv4 route via an IPv6 next hop (RFC 8950), reads it back and repairs it",
          "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.7.0/24", {"fd00:18::17"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.7.0/24 via inet6 fd00:18::17 dev veth0"); }));
    // Read back as written: the kernel view matches the desired route, so nothing is rewritten.
    REQUIRE(run_until(ioc, [&] { return fib.snapshot().kernel == fib.snapshot().desired; }));
    const auto writes = fib.snapshot().writes;
    must("ip route del 10.244.7.0/24 proto 52");
    CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.244.7.0/24 via inet6 fd00:18::17 dev veth0"); }));
    CHECK(run_until(ioc, [&] { return fib.snapshot().writes == writes + 1 && fib.snapshot().repairs == 1; }));
}

TEST_CASE("Fib restores routes flushed by a link going down and up", "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    fib.set_route(route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"}));
    fib.set_route(route("fd00:244:2::/64", {"fd00:18::12"}));
    REQUIRE(run_until(ioc, [] {
        return contains(ours("-4"), "10.244.2.0/24") && contains(ours("-4"), "10.244.3.0/24") &&
               contains(ours("-6"), "fd00:244:2::/64");
    }));

    must("ip link set veth0 down");
    CHECK_FALSE(contains(ours("-4"), "10.244.2.0/24"));  // the kernel flushed them with the link
    CHECK_FALSE(contains(ours("-6"), "fd00:244:2::/64"));
    must("ip link set veth0 up");
    // IPv6 also dropped the link's static address (keep_addr_on_down=0); whoever owns it adds it
    // back, without a link event: its connected route is what makes the gateway reachable again.
    must("ip -6 addr add fd00:18::11/64 dev veth0 nodad");
    CHECK(run_until(ioc, [] {
        const auto s = ours("-4");
        return contains(s, "10.244.2.0/24 via 172.18.0.12") && contains(s, "nexthop via 172.18.0.13") &&
               contains(ours("-6"), "fd00:244:2::/64 via fd00:18::12");
    }));
}

// Not a benchmark (no time is measured): many routes in one go exercise the batching, the ack
// collection across batches and the event socket's overflow path.
TEST_CASE("Fib installs and removes 20000 routes", "[daemon][fib][netns][scale]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    std::vector<Prefix> prefixes;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        Prefix p(IpAddress::v4(0x0a000000u | (i << 8)), 24);  // 10.0.0.0/24, 10.0.1.0/24, ...
        prefixes.push_back(p);
        FibRoute r{p, {*IpAddress::parse(i % 2 == 0 ? "172.18.0.12" : "172.18.0.13")}};
        fib.set_route(r);
    }
    auto count = [] { return sh("ip -4 route show table main proto 52 | wc -l").out; };
    // The snapshot first (cheap), then the kernel's own count once.
    CHECK(run_until(ioc, [&] { return fib.snapshot().kernel.size() == 20000; }, std::chrono::seconds(60)));
    CHECK(count() == "20000\n");
    CHECK(fib.snapshot().errors == 0);
    for (const auto& p : prefixes) fib.remove_route(p);
    CHECK(run_until(ioc, [&] { return fib.snapshot().kernel.empty(); }, std::chrono::seconds(60)));
    CHECK(count() == "0\n");
}

// A batch of several slices (the writer hands 16384 writes at a time to its kernel thread):
// failures scattered through it, and a change and a withdrawal in it, each land on their own prefix.
TEST_CASE("Fib keeps each route's result across the slices of a big batch", "[daemon][fib][netns][scale]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    constexpr std::uint32_t kRoutes = 40000;
    const auto good = *IpAddress::parse("172.18.0.12");
    const auto unreachable = *IpAddress::parse("192.0.2.1");
    auto prefix = [](std::uint32_t i) { return Prefix(IpAddress::v4(0x0a000000u | (i << 8)), 24); };
    for (std::uint32_t i = 0; i < kRoutes; ++i) fib.set_route(FibRoute{prefix(i), {i % 997 == 0 ? unreachable : good}});
    const std::size_t failing = (kRoutes + 996) / 997;  // i = 0, 997, 1994, ...
    REQUIRE(run_until(ioc, [&] { return fib.counters().kernel_routes == kRoutes - failing; }, std::chrono::seconds(60)));
    CHECK(sh("ip -4 route show table main proto 52 | wc -l").out == std::to_string(kRoutes - failing) + "\n");
    auto snap = fib.snapshot();
    CHECK(snap.errors >= failing);
    CHECK(snap.desired.size() == kRoutes);
    REQUIRE(snap.kernel.size() == kRoutes - failing);
    bool all_right = true;
    for (const auto& r : snap.kernel) {
        const std::uint32_t i = (r.prefix.address().v4_host_order() >> 8) & 0xffff;
        all_right = all_right && i % 997 != 0 && r.next_hops == std::vector<IpAddress>{good};
    }
    CHECK(all_right);
    CHECK(contains(sh("ip route show 10.0.1.0/24 proto 52").out, "via 172.18.0.12"));
    CHECK_FALSE(contains(sh("ip route show 10.0.0.0/24 proto 52").out, "10.0.0.0/24"));

    // Withdraw every second route, move every fourth to another next hop: both land right.
    const auto other = *IpAddress::parse("172.18.0.13");
    for (std::uint32_t i = 0; i < kRoutes; ++i) {
        if (i % 997 == 0) continue;
        if (i % 2 == 1) fib.remove_route(prefix(i));
        else if (i % 4 == 0) fib.set_route(FibRoute{prefix(i), {other}});
    }
    std::size_t expected = 0;
    for (std::uint32_t i = 0; i < kRoutes; ++i) expected += i % 997 != 0 && i % 2 == 0;
    REQUIRE(run_until(ioc, [&] { return fib.counters().kernel_routes == expected; }, std::chrono::seconds(60)));
    CHECK(run_until(ioc, [&] {
        const auto k = fib.snapshot().kernel;
        return k.size() == expected && std::all_of(k.begin(), k.end(), [&](const FibRoute& r) {
                   const std::uint32_t i = (r.prefix.address().v4_host_order() >> 8) & 0xffff;
                   return i % 2 == 0 && r.next_hops == std::vector<IpAddress>{i % 4 == 0 ? other : good};
               });
    }, std::chrono::seconds(10)));
    CHECK(sh("ip -4 route show table main proto 52 | wc -l").out == std::to_string(expected) + "\n");
    CHECK(contains(sh("ip route show 10.0.4.0/24 proto 52").out, "via 172.18.0.13"));
    CHECK(contains(sh("ip route show 10.0.2.0/24 proto 52").out, "via 172.18.0.12"));
    CHECK_FALSE(contains(sh("ip route show 10.0.3.0/24 proto 52").out, "10.0.3.0/24"));
}

TEST_CASE("Fib leaves another protocol's route at a desired prefix alone", "[daemon][fib][netns]") {
    Node node;
    must("ip route add 10.244.5.0/24 via 172.18.0.15 proto static");
    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    auto logger = log::get("fib");
    logger->sinks().push_back(ring);  // before the writer thread exists
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.5.0/24", {"172.18.0.25"}));
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));  // same batch: done when this one is
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24"); }));
    // Asked again, with other next hops: still not written, and not logged again.
    fib.set_route(route("10.244.5.0/24", {"172.18.0.26"}));
    fib.set_route(route("10.244.3.0/24", {"172.18.0.13"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.3.0/24"); }));
    CHECK(contains(sh("ip -4 route show 10.244.5.0/24").out, "via 172.18.0.15 dev veth0 proto static"));
    CHECK_FALSE(contains(ours("-4"), "10.244.5.0/24"));
    fib.stop();
    logger->sinks().pop_back();
    const auto lines = ring->last_formatted();
    CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
              return contains(l, "10.244.5.0/24 is held by a route of protocol 4");
          }) == 1);

}

TEST_CASE("Fib installs its route once another protocol's route leaves the prefix", "[daemon][fib][netns]") {
    Node node;
    must("ip route add 10.244.5.0/24 via 172.18.0.15 proto static");
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    fib.set_route(route("10.244.5.0/24", {"172.18.0.25"}));
    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24"); }));
    REQUIRE_FALSE(contains(ours("-4"), "10.244.5.0/24"));
    must("ip route del 10.244.5.0/24 proto static");
    CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.244.5.0/24 via 172.18.0.25"); }));
}

TEST_CASE("Fib keeps a previous run's routes until the stale sweep, then removes them", "[daemon][fib][netns]") {
    Node node;
    must("ip route add 10.244.9.0/24 via 172.18.0.19 proto 52");
    must("ip -6 route add fd00:244:9::/64 via fd00:18::19 proto 52");
    must("ip route add 10.244.8.0/24 via 172.18.0.18 proto static");
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    REQUIRE(fib.start());
    // start() read them: the snapshot reports the kernel's state.
    auto snap = fib.snapshot();
    CHECK(snap.kernel == std::vector<FibRoute>{route("10.244.9.0/24", {"172.18.0.19"}),
                                               route("fd00:244:9::/64", {"fd00:18::19"})});

    fib.set_route(route("10.244.2.0/24", {"172.18.0.12"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24"); }));
    CHECK(contains(ours("-4"), "10.244.9.0/24 via 172.18.0.19"));
    CHECK(contains(ours("-6"), "fd00:244:9::/64 via fd00:18::19"));

    fib.enable_stale_sweep();
    CHECK(fib.snapshot().sweep_enabled);
    CHECK(run_until(ioc, [] { return !contains(ours("-4"), "10.244.9.0/24") && !contains(ours("-6"), "fd00:244:9::/64"); }));
    CHECK(contains(ours("-4"), "10.244.2.0/24 via 172.18.0.12"));                     // desired: kept
    CHECK(contains(sh("ip -4 route show proto static").out, "10.244.8.0/24"));        // not ours: kept
    CHECK(run_until(ioc, [&] { return fib.snapshot().kernel == std::vector<FibRoute>{route("10.244.2.0/24", {"172.18.0.12"})}; }));
}

TEST_CASE("Fib retries a failing write with backoff and logs it once", "[daemon][fib][netns]") {
    Node node;
    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    auto logger = log::get("fib");
    logger->sinks().push_back(ring);  // before the writer thread exists

    {
        asio::io_context ioc;
        Fib fib(ioc, fast_config());
        REQUIRE(fib.start());
        fib.set_route(route("10.99.0.0/24", {"192.0.2.1"}));  // no route to 192.0.2.1: ENETUNREACH
        CHECK(run_until(ioc, [&] { return fib.snapshot().errors >= 3; }));
        auto snap = fib.snapshot();
        CHECK(contains(snap.last_error, "10.99.0.0/24 via 192.0.2.1"));
        CHECK(contains(snap.last_error, "unreachable"));

        must("ip addr add 192.0.2.2/24 dev veth0");  // the gateway becomes reachable
        CHECK(run_until(ioc, [] { return contains(ours("-4"), "10.99.0.0/24 via 192.0.2.1 dev veth0"); }));
        fib.stop();
    }
    logger->sinks().pop_back();

    const auto lines = ring->last_formatted();
    const auto failures = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
        return contains(l, "installing 10.99.0.0/24 via 192.0.2.1 failed");
    });
    CHECK(failures == 1);
}

TEST_CASE("Fib leaves its routes in the kernel when stopped; the next one adopts them", "[daemon][fib][netns]") {
    Node node;
    const auto r = route("10.244.2.0/24", {"172.18.0.12"});
    {
        asio::io_context ioc;
        Fib fib(ioc, fast_config());
        REQUIRE(fib.start());
        fib.set_route(r);
        REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.2.0/24"); }));
    }  // destructor: stops and joins
    CHECK(contains(ours("-4"), "10.244.2.0/24 via 172.18.0.12"));

    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    fib.set_route(r);  // before start(): kept until the writer runs
    REQUIRE(fib.start());
    CHECK_FALSE(fib.start());  // once only
    CHECK(fib.snapshot().kernel == std::vector<FibRoute>{r});
    fib.set_route(route("10.244.3.0/24", {"172.18.0.13"}));
    REQUIRE(run_until(ioc, [] { return contains(ours("-4"), "10.244.3.0/24"); }));
    CHECK(run_until(ioc, [&] { return fib.snapshot().writes == 1; }));  // the adopted route was not rewritten
    fib.stop();
    fib.stop();  // idempotent
    CHECK_FALSE(fib.start());  // a stopped Fib stays stopped
    CHECK(contains(ours("-4"), "10.244.3.0/24"));
}

TEST_CASE("Fib installs an IPv6 route via a link-local next hop on its interface, and repairs it as such",
          "[daemon][fib][netns]") {
    Node node;
    asio::io_context ioc;
    Fib fib(ioc, fast_config());
    auto started = fib.start();
    INFO((started ? "" : started.error()));
    REQUIRE(started);
    FibRoute r = route("2001:db8:7::/48", {"fe80::5"});
    r.dev = "veth0";
    fib.set_route(r);
    auto there = [] { return contains(ours("-6"), "2001:db8:7::/48 via fe80::5 dev veth0"); };
    REQUIRE(run_until(ioc, there));
    // Read back with its interface: the kernel and the desired state agree, nothing to rewrite.
    REQUIRE(run_until(ioc, [&] { return fib.snapshot().kernel.size() == 1; }));
    CHECK(fib.snapshot().kernel == fib.snapshot().desired);
    const auto writes = fib.snapshot().writes;
    must("ip -6 route del 2001:db8:7::/48 proto 52");
    CHECK(run_until(ioc, there));
    CHECK(fib.snapshot().writes == writes + 1);
}

}  // namespace kroute::daemon
