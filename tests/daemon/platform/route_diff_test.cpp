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

RouteSlot slot(std::optional<FibRoute> desired, std::optional<FibRoute> ours, std::optional<std::uint8_t> foreign = {}) {
    return RouteSlot{std::move(desired), std::move(ours), foreign, false};
}

constexpr std::uint8_t kProto = 52;
constexpr std::uint32_t kTable = 254;

}  // namespace

TEST_CASE("normalized sorts next hops, drops duplicates and IPv4 hops of IPv6 prefixes", "[daemon][route_diff]") {
    // An IPv6 hop of an IPv4 prefix is an RFC 8950 next hop: kept.
    auto r = normalized(route("10.244.3.0/24", {"172.18.0.13", "fd00::1", "172.18.0.12", "172.18.0.13"}));
    CHECK(r == route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13", "fd00::1"}));
    CHECK(normalized(route("fd00:244::/64", {"fd00::2", "10.0.0.1", "fd00::1"})) ==
          route("fd00:244::/64", {"fd00::1", "fd00::2"}));
}

TEST_CASE("installable needs next hops the kernel takes for the prefix, none unspecified", "[daemon][route_diff]") {
    CHECK(installable(route("10.244.2.0/24", {"172.18.0.12"})));
    CHECK(installable(route("fd00:244:2::/64", {"fd00:18::12", "fd00:18::13"})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {"0.0.0.0"})));
    CHECK(installable(route("10.244.2.0/24", {"fd00:18::12"})));  // RFC 8950: via inet6
    CHECK(installable(route("10.244.2.0/24", {"172.18.0.12", "fd00:18::12"})));
    CHECK_FALSE(installable(route("fd00:244:2::/64", {"172.18.0.12"})));
    CHECK_FALSE(installable(route("fd00:244:2::/64", {"fd00:18::12", "172.18.0.12"})));
    CHECK_FALSE(installable(route("10.244.2.0/24", {"::"})));
}

TEST_CASE("describe names the prefix and its next hops", "[daemon][route_diff]") {
    CHECK(describe(route("10.244.2.0/24", {"172.18.0.12"})) == "10.244.2.0/24 via 172.18.0.12");
    CHECK(describe(route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"})) ==
          "10.244.3.0/24 via 172.18.0.12, 172.18.0.13");
    CHECK(describe(route("10.244.4.0/24", {})) == "10.244.4.0/24");
}

TEST_CASE("load_kernel keeps our table only, separates our protocol and keeps what the RIB wants",
          "[daemon][route_diff]") {
    RouteTable t;
    t[pfx("10.244.4.0/24")].desired = route("10.244.4.0/24", {"172.18.0.14"});
    t[pfx("10.244.7.0/24")].ours = route("10.244.7.0/24", {"172.18.0.17"});  // gone from the kernel since
    std::vector<KernelRoute> dump = {
        {route("10.244.2.0/24", {"172.18.0.12"}), kProto, kTable},
        {route("10.244.3.0/24", {"172.18.0.13", "172.18.0.12"}), kProto, kTable},
        {route("172.18.0.0/16", {}), 2, kTable},                    // proto kernel: connected
        {route("10.244.9.0/24", {"172.18.0.19"}), kProto, 100},      // ours, other table
        {route("10.244.8.0/24", {"172.18.0.18"}), 4, 100},           // static, other table
    };
    load_kernel(t, dump, kProto, kTable);
    CHECK(ours_of(t) == RouteMap{{pfx("10.244.2.0/24"), route("10.244.2.0/24", {"172.18.0.12"})},
                                 {pfx("10.244.3.0/24"), route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"})}});
    CHECK(t.at(pfx("172.18.0.0/16")).foreign == std::optional<std::uint8_t>(2));
    CHECK(t.at(pfx("10.244.4.0/24")).desired == route("10.244.4.0/24", {"172.18.0.14"}));
    CHECK_FALSE(t.contains(pfx("10.244.7.0/24")));  // nothing left to know of it
    CHECK_FALSE(t.contains(pfx("10.244.9.0/24")));
    CHECK_FALSE(t.contains(pfx("10.244.8.0/24")));
    CHECK(t.size() == 4);
}

TEST_CASE("apply_event tracks our routes and the prefixes other protocols hold", "[daemon][route_diff]") {
    RouteTable t;
    const KernelRoute ours{route("10.244.2.0/24", {"172.18.0.12"}), kProto, kTable};
    const KernelRoute ours_changed{route("10.244.2.0/24", {"172.18.0.13"}), kProto, kTable};
    const KernelRoute foreign{route("10.244.5.0/24", {"172.18.0.15"}), 4, kTable};
    const KernelRoute other_table{route("10.244.6.0/24", {"172.18.0.16"}), kProto, 100};

    CHECK(apply_event(t, EventKind::kNewRoute, ours, kProto, kTable));
    CHECK_FALSE(apply_event(t, EventKind::kNewRoute, ours, kProto, kTable));  // nothing new
    CHECK(apply_event(t, EventKind::kNewRoute, ours_changed, kProto, kTable));
    CHECK(t.at(pfx("10.244.2.0/24")).ours == ours_changed.route);
    CHECK(apply_event(t, EventKind::kDelRoute, ours, kProto, kTable));
    CHECK(t.empty());  // the slot went with the route
    CHECK_FALSE(apply_event(t, EventKind::kDelRoute, ours, kProto, kTable));

    CHECK(apply_event(t, EventKind::kNewRoute, foreign, kProto, kTable));
    CHECK(t.at(pfx("10.244.5.0/24")).foreign == std::optional<std::uint8_t>(4));
    KernelRoute foreign_other_proto = foreign;
    foreign_other_proto.protocol = 12;
    CHECK_FALSE(apply_event(t, EventKind::kNewRoute, foreign_other_proto, kProto, kTable));  // first one wins
    CHECK_FALSE(apply_event(t, EventKind::kDelRoute, foreign_other_proto, kProto, kTable));
    CHECK(t.at(pfx("10.244.5.0/24")).foreign == std::optional<std::uint8_t>(4));
    CHECK(apply_event(t, EventKind::kDelRoute, foreign, kProto, kTable));
    CHECK(t.empty());

    // A desired prefix keeps its slot when our route there is deleted behind our back.
    t[pfx("10.244.2.0/24")].desired = ours.route;
    CHECK(apply_event(t, EventKind::kNewRoute, ours, kProto, kTable));
    CHECK(apply_event(t, EventKind::kDelRoute, ours, kProto, kTable));
    CHECK(t.at(pfx("10.244.2.0/24")).desired == ours.route);
    CHECK_FALSE(t.at(pfx("10.244.2.0/24")).ours);

    CHECK_FALSE(apply_event(t, EventKind::kNewRoute, other_table, kProto, kTable));
    CHECK_FALSE(t.contains(pfx("10.244.6.0/24")));
}

TEST_CASE("diff_routes installs what is missing or different, and nothing else", "[daemon][route_diff]") {
    RouteTable t;
    t[pfx("10.244.2.0/24")] = slot(route("10.244.2.0/24", {"172.18.0.12"}), route("10.244.2.0/24", {"172.18.0.12"}));  // in place
    t[pfx("10.244.3.0/24")] = slot(route("10.244.3.0/24", {"172.18.0.12", "172.18.0.13"}),
                               route("10.244.3.0/24", {"172.18.0.12"}));  // a hop short
    t[pfx("10.244.4.0/24")] = slot(route("10.244.4.0/24", {"172.18.0.14"}), std::nullopt);  // missing
    t[pfx("fd00:244:2::/64")] = slot(route("fd00:244:2::/64", {"fd00:18::12"}), route("fd00:244:2::/64", {"fd00:18::99"}));  // other gateway
    auto diff = diff_all(t, false);
    CHECK(diff.replace == std::vector<FibRoute>{*t.at(pfx("10.244.3.0/24")).desired, *t.at(pfx("10.244.4.0/24")).desired,
                                                *t.at(pfx("fd00:244:2::/64")).desired});
    CHECK(diff.remove.empty());
    CHECK(diff.occupied.empty());

    // Only the candidates are looked at; unknown ones need nothing.
    const std::vector<Prefix> candidates{pfx("10.244.2.0/24"), pfx("10.244.4.0/24"), pfx("10.244.99.0/24")};
    auto some = diff_routes(t, false, candidates);
    CHECK(some.replace == std::vector<FibRoute>{*t.at(pfx("10.244.4.0/24")).desired});
}

TEST_CASE("diff_routes never writes over another protocol's route", "[daemon][route_diff]") {
    RouteTable t;
    t[pfx("10.244.5.0/24")] = slot(route("10.244.5.0/24", {"172.18.0.15"}), std::nullopt, 4);
    // ours, already there too: nothing to do
    t[pfx("10.244.6.0/24")] = slot(route("10.244.6.0/24", {"172.18.0.16"}), route("10.244.6.0/24", {"172.18.0.16"}), 12);
    auto diff = diff_all(t, true);
    CHECK(diff.replace.empty());
    CHECK(diff.remove.empty());
    CHECK(diff.occupied == std::vector<Occupied>{{pfx("10.244.5.0/24"), 4}});
}

TEST_CASE("undesired routes of ours: kept before the sweep unless withdrawn, removed after", "[daemon][route_diff]") {
    RouteTable t;
    t[pfx("10.244.8.0/24")].ours = route("10.244.8.0/24", {"172.18.0.18"});  // a previous run's
    t[pfx("10.244.9.0/24")].ours = route("10.244.9.0/24", {"172.18.0.19"});  // withdrawn by the RIB
    t[pfx("10.244.9.0/24")].withdrawn = true;

    auto before = diff_all(t, false);
    CHECK(before.replace.empty());
    CHECK(before.remove == std::vector<FibRoute>{*t.at(pfx("10.244.9.0/24")).ours});

    auto after = diff_all(t, true);
    CHECK(after.remove == std::vector<FibRoute>{*t.at(pfx("10.244.8.0/24")).ours, *t.at(pfx("10.244.9.0/24")).ours});
    CHECK(after.empty() == false);

    RouteTable withdrawn_only;
    withdrawn_only[pfx("10.244.9.0/24")].withdrawn = true;  // nothing of ours there
    CHECK(diff_all(withdrawn_only, true).empty());
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
