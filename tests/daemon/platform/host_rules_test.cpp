// HostRules: the rendered rules (pure), the backend choice (pure), and, tagged [netns], the rules
// written for real with both iptables backends in a network namespace of the test's own, kept
// idempotent, other rules untouched, and removed by cleanup().
#include <catch2/catch.hpp>

#include "daemon/platform/command.hpp"
#include "daemon/platform/host_rules.hpp"
#include "tests/daemon/platform/netns_support.hpp"

namespace kroute::daemon {
namespace {

Prefix pfx(const char* s) { return *Prefix::parse(s); }
IpAddress ip(const char* s) { return *IpAddress::parse(s); }

HostRulesSpec spec() {
    HostRulesSpec s;
    s.pod_cidrs = {pfx("10.244.1.0/24"), pfx("fd00:244:1::/64")};
    s.cluster_cidrs = {pfx("10.244.1.0/24"), pfx("10.244.2.0/24"), pfx("fd00:244:1::/64")};
    s.node_addresses = {ip("172.18.0.11"), ip("172.18.0.12"), ip("fd00:18::11")};
    s.pod_egress = true;
    return s;
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("host rules: FORWARD accepts this node's pods; egress MASQUERADE spares pods and nodes", "[daemon][host-rules]") {
    const std::string v4 = render_rules(spec(), Family::kIpv4);
    CHECK_THAT(v4, Catch::StartsWith("*filter\n:KROUTE-FORWARD - [0:0]\n"));
    CHECK_THAT(v4, Catch::Contains("-A KROUTE-FORWARD -s 10.244.1.0/24 -m comment --comment \"kroute: from this node's pods\" -j ACCEPT"));
    CHECK_THAT(v4, Catch::Contains("-A KROUTE-FORWARD -d 10.244.1.0/24 "));
    CHECK_THAT(v4, Catch::Contains("-A KROUTE-POSTROUTING -s 10.244.1.0/24 -d 10.244.2.0/24 -m comment --comment \"kroute: pod to pod\" -j RETURN"));
    CHECK_THAT(v4, Catch::Contains("-d 172.18.0.12/32 -m comment --comment \"kroute: pod to node\" -j RETURN"));
    CHECK_THAT(v4, Catch::EndsWith("-A KROUTE-POSTROUTING -s 10.244.1.0/24 -m comment --comment \"kroute: pod egress\" -j MASQUERADE --random-fully\nCOMMIT\n"));
    CHECK(count(v4, "fd00") == 0);  // the other family stays out
    CHECK(count(v4, "COMMIT") == 2);

    const std::string v6 = render_rules(spec(), Family::kIpv6);
    CHECK_THAT(v6, Catch::Contains("-A KROUTE-FORWARD -s fd00:244:1::/64 "));
    CHECK_THAT(v6, Catch::Contains("-d fd00:18::11/128 "));
    CHECK(count(v6, "10.244") == 0);

    auto no_egress = spec();
    no_egress.pod_egress = false;
    const std::string plain = render_rules(no_egress, Family::kIpv4);
    CHECK(count(plain, "MASQUERADE") == 0);
    CHECK_THAT(plain, Catch::Contains("*nat\n:KROUTE-POSTROUTING - [0:0]\nCOMMIT\n"));  // flushed: egress turned off
}

TEST_CASE("host rules: the backend is kubelet's hint, else the one with more rules, nft on a tie", "[daemon][host-rules]") {
    const std::string hint = "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n";
    const std::string rules = "*filter\n-A FORWARD -j DROP\n-A INPUT -j ACCEPT\nCOMMIT\n";
    CHECK(choose_backend("", "") == IptablesBackend::kNft);
    CHECK(choose_backend(rules, "") == IptablesBackend::kLegacy);
    CHECK(choose_backend("", rules) == IptablesBackend::kNft);
    CHECK(choose_backend(hint, rules) == IptablesBackend::kLegacy);  // kubelet says legacy
    CHECK(choose_backend(rules, hint) == IptablesBackend::kNft);
}

TEST_CASE("host rules for real: written, idempotent, others' rules untouched, cleaned up", "[daemon][host-rules][netns]") {
    test::enter_fresh_netns();
    auto backend = GENERATE(IptablesBackend::kNft, IptablesBackend::kLegacy);
    const std::string save = backend == IptablesBackend::kNft ? "iptables-nft-save" : "iptables-legacy-save";
    const std::string save6 = backend == IptablesBackend::kNft ? "ip6tables-nft-save" : "ip6tables-legacy-save";
    const std::string bin = backend == IptablesBackend::kNft ? "iptables-nft" : "iptables-legacy";
    CAPTURE(to_string(backend));
    // Someone else's rules, which must survive.
    test::must(bin + " -P FORWARD DROP");
    test::must(bin + " -A FORWARD -s 192.0.2.0/24 -j ACCEPT");

    HostRules rules{backend};
    for (int i = 0; i < 2; ++i) {  // twice: the second apply changes nothing
        auto r = rules.apply(spec());
        INFO((r ? "" : r.error()));
        REQUIRE(r);
    }
    const std::string v4 = test::sh(save).out;
    CHECK(count(v4, "-A FORWARD -m comment --comment kroute -j KROUTE-FORWARD") == 1);
    CHECK(count(v4, "-A POSTROUTING -m comment --comment kroute -j KROUTE-POSTROUTING") == 1);
    CHECK(count(v4, "-A KROUTE-FORWARD") == 2);
    CHECK(count(v4, "-j MASQUERADE") == 1);
    CHECK(count(v4, "-A FORWARD -s 192.0.2.0/24 -j ACCEPT") == 1);
    CHECK_THAT(v4, Catch::Contains(":FORWARD DROP"));
    // The jump comes first, so pods are accepted before any DROP rule of the host's.
    CHECK(v4.find("-A FORWARD -m comment --comment kroute") < v4.find("-A FORWARD -s 192.0.2.0/24"));
    const std::string v6 = test::sh(save6).out;
    CHECK(count(v6, "-A KROUTE-FORWARD -s fd00:244:1::/64") == 1);

    // A changed spec replaces the chain's content.
    auto moved = spec();
    moved.pod_cidrs = {pfx("10.244.9.0/24")};
    REQUIRE(rules.apply(moved));
    const std::string after = test::sh(save).out;
    CHECK(count(after, "10.244.1.0/24 -m comment --comment \"kroute: from") == 0);
    CHECK(count(after, "-A KROUTE-FORWARD -s 10.244.9.0/24") == 1);

    REQUIRE(HostRules::cleanup());
    const std::string clean = test::sh(save).out;
    CHECK(count(clean, "KROUTE") == 0);
    CHECK(count(test::sh(save6).out, "KROUTE") == 0);
    CHECK(count(clean, "-A FORWARD -s 192.0.2.0/24 -j ACCEPT") == 1);
    CHECK_THAT(clean, Catch::Contains(":FORWARD DROP"));
}

TEST_CASE("run_command: output, exit codes, a large stdin, a missing program", "[daemon][host-rules]") {
    auto echo = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    REQUIRE(echo);
    CHECK(echo->exit_code == 3);
    CHECK_THAT(echo->output, Catch::Contains("out") && Catch::Contains("err"));
    const std::string big(1 << 20, 'x');
    auto wc = run_command({"wc", "-c"}, big);
    REQUIRE(wc);
    CHECK(wc->output.find("1048576") != std::string::npos);
    auto missing = run_command({"kroute-no-such-program"});
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error(), Catch::Contains("kroute-no-such-program"));
}

}  // namespace kroute::daemon
