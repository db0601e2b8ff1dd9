#include "daemon/platform/route_diff.hpp"

#include <catch2/catch.hpp>

namespace kroute::daemon {
namespace {

Prefix pfx(const char* text) {
    auto p = Prefix::parse(text);
    REQUIRE(p);
    return *p;
}
IpAddress ip(const char* text) {
    auto a = IpAddress::parse(text);
    REQUIRE(a);
    return *a;
}
FibRoute route(const char* prefix, std::initializer_list<const char*> hops) {
    FibRoute r{pfx(prefix), {}};
    for (const char* h : hops) r.next_hops.push_back(ip(h));
    return r;
}

constexpr std::uint8_t kProto = 52;
constexpr std::uint32_t kTable = 254;

}  // namespace

TEST_CASE("normalized sorts next hops, drops duplicates and the other family", "[daemon][route_diff]") {
    auto r = normalized(route("10.244.3.0/24", {"172.18.0.13", "fd00::1", "172.18.0.12", "172.18.0.13"}));
    CHECK(r == route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"}));
    CHECK(normalized(route("fd00:244::/64", {"fd00::2", "10.0.0.1", "fd00::1"})) ==
          route("fd00:244::/64", {"fd00::1", "fd00::2"}));
}

TEST_CASE("installable needs next hops of the prefix's family, none unspecified", "[daemon][route_diff]") {
    CHECK(installable(route("10.244.2.0/24", {"172.18.0.12"})));
    CHECK(installable(route("fd00:244:2::/64", {"fd00:18::12", "fd00:18::13"})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {"0.0.0.0"})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {"fd00:18::12"})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {"172.18.0.12", "fd00:18::12"})));
}

TEST_CASE("describe names the prefix and its next hops", "[daemon][route_diff]") {
    CHECK(describe(route("10.244.2.0/24", {"172.18.0.12"})) == "10.244.2.0/24 via 172.18.0.12");
    CHECK(describe(route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"})) ==
          "10.244.3.0/24 via 172.18.0.12, 172.18.0.13");
    CHECK(describe(route("10.244.4.0/24", {})) == "10.244.4.0/24");
}

TEST_CASE("split_kernel keeps our table only and separates our protocol", "[daemon][route_diff]") {
    std::vector<KernelRoute> dump = {
        {route("10.244.2.0/24", {"172.18.0.12"}), kProto, kTable},
        {route("10.244.3.0/24", {"172.18.0.13", "172.18.0.12"}), kProto, kTable},
        {route("172.18.0.0/16", {}), 2, kTable},                    // proto kernel: connected
        {route("10.244.9.0/24", {"172.18.0.19"}), kProto, 100},      // ours, other table
        {route("10.244.8.0/24", {"172.18.0.18"}), 4, 100},           // static, other table
    };
    auto s = split_kernel(dump, kProto, kTable);
    CHECK(s.ours == RouteMap{{pfx("10.244.2.0/24"), route("10.244.2.0/24", {"172.18.0.12"})},
                             {pfx("10.244.3.0/24"), route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"})}});
    CHECK(s.foreign == ForeignMap{{pfx("172.18.0.0/16"), 2}});
}

TEST_CASE("apply_event tracks our routes and the prefixes other protocols hold", "[daemon][route_diff]") {
    KernelState s;
    const KernelRoute ours{route("10.244.2.0/24", {"172.18.0.12"}), kProto, kTable};
    const KernelRoute ours_changed{route("10.244.2.0/24", {"172.18.0.13"}), kProto, kTable};
    const KernelRoute foreign{route("10.244.5.0/24", {"172.18.0.15"}), 4, kTable};
    const KernelRoute other_table{route("10.244.6.0/24", {"172.18.0.16"}), kProto, 100};

    CHECK(apply_event(s, EventKind::kNewRoute, ours, kProto, kTable));
    CHECK_FALSE(apply_event(s, EventKind::kNewRoute, ours, kProto, kTable));  // the echo of our write
    CHECK(apply_event(s, EventKind::kNewRoute, ours_changed, kProto, kTable));
    CHECK(s.ours.at(pfx("10.244.2.0/24")) == ours_changed.route);
    CHECK(apply_event(s, EventKind::kDelRoute, ours, kProto, kTable));
    CHECK(s.ours.empty());
    CHECK_FALSE(apply_event(s, EventKind::kDelRoute, ours, kProto, kTable));

    CHECK(apply_event(s, EventKind::kNewRoute, foreign, kProto, kTable));
    CHECK(s.foreign == ForeignMap{{pfx("10.244.5.0/24"), 4}});
    KernelRoute foreign_other_proto = foreign;
    foreign_other_proto.protocol = 12;
    CHECK_FALSE(apply_event(s, EventKind::kDelRoute, foreign_other_proto, kProto, kTable));
    CHECK(s.foreign.size() == 1);
    CHECK(apply_event(s, EventKind::kDelRoute, foreign, kProto, kTable));
    CHECK(s.foreign.empty());

    CHECK_FALSE(apply_event(s, EventKind::kNewRoute, other_table, kProto, kTable));
    CHECK(s.ours.empty());
}

TEST_CASE("diff_routes installs what is missing or different, and nothing else", "[daemon][route_diff]") {
    const RouteMap desired = {
        {pfx("10.244.2.0/24"), route("10.244.2.0/24", {"172.18.0.12"})},
        {pfx("10.244.3.0/24"), route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"})},
        {pfx("10.244.4.0/24"), route("10.244.4.0/24", {"172.18.0.14"})},
        {pfx("fd00:244:2::/64"), route("fd00:244:2::/64", {"fd00:18::12"})},
    };
    KernelState kernel;
    kernel.ours = {
        {pfx("10.244.2.0/24"), route("10.244.2.0/24", {"172.18.0.12"})},                  // in place
        {pfx("10.244.3.0/24"), route("10.244.3.0/24", {"172.18.0.12"})},                  // a hop short
        {pfx("fd00:244:2::/64"), route("fd00:244:2::/64", {"fd00:18::99"})},              // other gateway
    };
    const PrefixSet none;
    auto diff = diff_all({desired, kernel, none, false});
    CHECK(diff.replace == std::vector<FibRoute>{desired.at(pfx("10.244.3.0/24")), desired.at(pfx("10.244.4.0/24")),
                                                desired.at(pfx("fd00:244:2::/64"))});
    CHECK(diff.remove.empty());
    CHECK(diff.occupied.empty());

    // Only the candidates are looked at.
    const std::vector<Prefix> candidates{pfx("10.244.2.0/24"), pfx("10.244.4.0/24")};
    auto some = diff_routes({desired, kernel, none, false}, candidates);
    CHECK(some.replace == std::vector<FibRoute>{desired.at(pfx("10.244.4.0/24"))});
}

TEST_CASE("diff_routes never writes over another protocol's route", "[daemon][route_diff]") {
    const RouteMap desired = {
        {pfx("10.244.5.0/24"), route("10.244.5.0/24", {"172.18.0.15"})},
        {pfx("10.244.6.0/24"), route("10.244.6.0/24", {"172.18.0.16"})},
    };
    KernelState kernel;
    kernel.foreign = {{pfx("10.244.5.0/24"), 4}, {pfx("10.244.6.0/24"), 12}};
    kernel.ours = {{pfx("10.244.6.0/24"), route("10.244.6.0/24", {"172.18.0.16"})}};  // ours, already there too
    const PrefixSet none;
    auto diff = diff_all({desired, kernel, none, true});
    CHECK(diff.replace.empty());
    CHECK(diff.remove.empty());
    CHECK(diff.occupied == std::vector<Occupied>{{pfx("10.244.5.0/24"), 4}});
}

TEST_CASE("undesired routes of ours: kept before the sweep unless withdrawn, removed after", "[daemon][route_diff]") {
    const RouteMap desired;
    KernelState kernel;
    kernel.ours = {
        {pfx("10.244.8.0/24"), route("10.244.8.0/24", {"172.18.0.18"})},  // a previous run's
        {pfx("10.244.9.0/24"), route("10.244.9.0/24", {"172.18.0.19"})},  // withdrawn by the RIB
    };
    const PrefixSet withdrawn = {pfx("10.244.9.0/24")};

    auto before = diff_all({desired, kernel, withdrawn, false});
    CHECK(before.replace.empty());
    CHECK(before.remove == std::vector<FibRoute>{kernel.ours.at(pfx("10.244.9.0/24"))});

    auto after = diff_all({desired, kernel, withdrawn, true});
    CHECK(after.remove ==
          std::vector<FibRoute>{kernel.ours.at(pfx("10.244.8.0/24")), kernel.ours.at(pfx("10.244.9.0/24"))});
    CHECK(after.empty() == false);
    CHECK(diff_all({desired, KernelState{}, withdrawn, true}).empty());
}

TEST_CASE("retry_delay doubles from 250 ms and stops at 30 s", "[daemon][route_diff]") {
    using std::chrono::milliseconds;
    CHECK(retry_delay(0) == milliseconds(250));
    CHECK(retry_delay(1) == milliseconds(250));
    CHECK(retry_delay(2) == milliseconds(500));
    CHECK(retry_delay(3) == milliseconds(1000));
    CHECK(retry_delay(7) == milliseconds(16'000));
    CHECK(retry_delay(8) == milliseconds(30'000));  // 32 s, capped
    CHECK(retry_delay(1000) == milliseconds(30'000));
    for (unsigned n = 1; n < 40; ++n) CHECK(retry_delay(n) <= retry_delay(n + 1));
}

TEST_CASE("ErrorMemo reports a prefix's error once until it changes or clears", "[daemon][route_diff]") {
    ErrorMemo memo;
    const auto a = pfx("10.244.2.0/24");
    const auto b = pfx("10.244.3.0/24");
    CHECK(memo.record(a, 101));
    CHECK_FALSE(memo.record(a, 101));
    CHECK_FALSE(memo.record(a, 101));
    CHECK(memo.record(b, 101));
    CHECK(memo.record(a, 113));  // a different error is news
    CHECK(memo.size() == 2);
    CHECK(memo.clear(a));
    CHECK_FALSE(memo.clear(a));
    CHECK(memo.record(a, 113));  // failing again after a recovery is news too
}

}  // namespace kroute::daemon
