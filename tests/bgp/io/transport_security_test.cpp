// Transport security of BGP sessions over loopback TCP (127.0.0.0/8 only): TCP MD5 (RFC 2385),
// GTSM (RFC 5082) and the TTL options under them. No sleeps: the io_context runs until a condition
// holds or a bounded deadline passes; "never Established" is checked over a bounded 5 s window.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <functional>
#include <map>
#include <sstream>

#include "bgp/session.hpp"
#include "bgp/speaker.hpp"
#include "common/log.hpp"

using namespace kroute;
using namespace kroute::bgp;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

const Timers kFast{.hold_time = 3s, .keepalive = 1s, .connect_retry = 1s};

bool run_until(asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit = 8000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.restart();
        ioc.run_for(10ms);
    }
    return true;
}

struct Node {
    Node(asio::io_context& ioc, const char* addr, std::uint32_t asn = 64512) : address{ip(addr)} {
        SpeakerConfig c;
        c.asn = asn;
        c.router_id = address;
        c.listen_port = 0;
        c.listen_addresses = {address};
        c.timers = kFast;
        speaker = std::make_unique<Speaker>(ioc, c);
        speaker->on_peer_state_change([this](const IpAddress& peer, const std::string& state) {
            if (state == "Established") ++established[peer];
        });
        auto r = speaker->start();
        REQUIRE(r);
    }

    PeerConfig peer_config(const Node& other, std::uint32_t asn = 64512) const {
        PeerConfig p;
        p.address = other.address;
        p.remote_asn = asn;
        p.port = other.speaker->local_port();
        p.local_address = address;
        return p;
    }

    bool established_with(const Node& other) const {
        for (auto& n : speaker->neighbors()) {
            if (n.address == other.address) return n.state == "Established";
        }
        return false;
    }

    IpAddress address;
    std::unique_ptr<Speaker> speaker;
    std::map<IpAddress, int> established;
};

// Everything the "bgp" logger writes, at debug level, while it lives.
struct LogCapture {
    LogCapture() : sink{std::make_shared<spdlog::sinks::ostream_sink_mt>(text)} {
        log::set_verbosity(2);
        log::get("bgp")->sinks().push_back(sink);
    }
    ~LogCapture() {
        auto& sinks = log::get("bgp")->sinks();
        std::erase(sinks, sink);
        log::set_verbosity(0);
    }
    std::string str() const { return text.str(); }

    std::ostringstream text;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink;
};

int get_int_option(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (::getsockopt(fd, level, name, &v, &len) != 0) return -1;
    return v;
}

}  // namespace

TEST_CASE("TCP MD5 with the same password on both sides: Established, routes flow", "[bgp][io][security]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    auto pa = a.peer_config(b);
    auto pb = b.peer_config(a);
    pa.md5_password = pb.md5_password = "s3cret-md5";
    a.speaker->set_peer(pa);
    b.speaker->set_peer(pb);
    a.speaker->originate(pfx("10.244.1.0/24"), a.address);
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && b.established_with(a); }));
    REQUIRE(run_until(ioc, [&] { return b.speaker->rib_prefix_count() == 1; }));
}

TEST_CASE("TCP MD5 with different passwords never comes up, and no password is logged", "[bgp][io][security]") {
    asio::io_context ioc;
    LogCapture logs;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    auto pa = a.peer_config(b);
    auto pb = b.peer_config(a);
    pa.md5_password = "alpha-password-A";
    pb.md5_password = "bravo-password-B";
    a.speaker->set_peer(pa);
    b.speaker->set_peer(pb);
    CHECK_FALSE(run_until(ioc, [&] { return a.established_with(b) || b.established_with(a); }, 5000ms));
    CHECK(a.established.empty());
    CHECK(b.established.empty());
    // The sessions did try (the connect attempts are in the log), but no key appears anywhere.
    const auto text = logs.str();
    CHECK(text.find("127.0.0.2") != std::string::npos);
    CHECK(text.find("alpha-password-A") == std::string::npos);
    CHECK(text.find("bravo-password-B") == std::string::npos);
}

TEST_CASE("TCP MD5 on one side only is refused both ways", "[bgp][io][security]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    auto pa = a.peer_config(b);
    pa.md5_password = "only-on-a";
    a.speaker->set_peer(pa);
    b.speaker->set_peer(b.peer_config(a));  // no password
    CHECK_FALSE(run_until(ioc, [&] { return a.established_with(b) || b.established_with(a); }, 5000ms));
    CHECK(a.established.empty());
    CHECK(b.established.empty());
}

TEST_CASE("the listener's MD5 key follows set_peer and remove_peer", "[bgp][io][security]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1"};
    Node b{ioc, "127.0.0.2"};
    // a only listens, so every session here is b's connection to a's listener.
    auto pa = a.peer_config(b);
    pa.passive = true;
    pa.md5_password = "first";
    auto pb = b.peer_config(a);
    pb.md5_password = "first";
    a.speaker->set_peer(pa);
    b.speaker->set_peer(pb);
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && b.established_with(a); }));

    SECTION("a replaced password replaces the listener's key") {
        pa.md5_password = pb.md5_password = "second";
        a.speaker->set_peer(pa);
        b.speaker->set_peer(pb);
        REQUIRE(run_until(ioc, [&] { return a.established[b.address] >= 2 && a.established_with(b); }));
    }
    SECTION("a removed peer's key leaves the listener") {
        a.speaker->remove_peer(b.address);
        pa.md5_password.clear();
        pb.md5_password.clear();
        b.speaker->set_peer(pb);
        a.speaker->set_peer(pa);
        REQUIRE(run_until(ioc, [&] { return a.established[b.address] >= 2 && a.established_with(b); }));
    }
    SECTION("a password dropped by reconfiguration leaves the listener, so b's keyed SYNs fail") {
        pa.md5_password.clear();
        a.speaker->set_peer(pa);
        CHECK_FALSE(run_until(ioc, [&] { return a.established_with(b); }, 5000ms));
        CHECK(a.established[b.address] == 1);
    }
}

TEST_CASE("GTSM on both sides over loopback (TTL 255): Established", "[bgp][io][security]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node b{ioc, "127.0.0.2", 64513};
    auto pa = a.peer_config(b, 64513);
    auto pb = b.peer_config(a, 64512);
    pa.gtsm = pb.gtsm = true;
    a.speaker->set_peer(pa);
    b.speaker->set_peer(pb);
    REQUIRE(run_until(ioc, [&] { return a.established_with(b) && b.established_with(a); }));
}

TEST_CASE("GTSM drops an eBGP peer that sends with TTL 1", "[bgp][io][security]") {
    asio::io_context ioc;
    Node a{ioc, "127.0.0.1", 64512};
    Node b{ioc, "127.0.0.2", 64513};
    auto pa = a.peer_config(b, 64513);
    pa.gtsm = true;  // a accepts only TTL 255; b sends with eBGP's default TTL of 1
    a.speaker->set_peer(pa);
    b.speaker->set_peer(b.peer_config(a, 64512));
    CHECK_FALSE(run_until(ioc, [&] { return a.established_with(b) || b.established_with(a); }, 5000ms));
    CHECK(a.established.empty());
    CHECK(b.established.empty());
}

TEST_CASE("set_ttl_options and set_tcp_md5_key on raw sockets", "[bgp][io][security]") {
    asio::io_context ioc;
    SECTION("IPv4: IP_TTL and IP_MINTTL") {
        tcp::socket s{ioc};
        s.open(tcp::v4());
        REQUIRE(set_ttl_options(s.native_handle(), false, true, 7, 200));
        CHECK(get_int_option(s.native_handle(), IPPROTO_IP, IP_TTL) == 7);
        CHECK(get_int_option(s.native_handle(), IPPROTO_IP, IP_MINTTL) == 200);
        REQUIRE(set_ttl_options(s.native_handle(), false, true, 0, 0));  // 0 leaves them alone
        CHECK(get_int_option(s.native_handle(), IPPROTO_IP, IP_TTL) == 7);
    }
    SECTION("IPv6 socket: hop limit and minimum hop count for IPv6 peers, IP_* for IPv4-mapped ones") {
        tcp::socket s{ioc};
        boost::system::error_code ec;
        s.open(tcp::v6(), ec);
        if (ec) return;  // no IPv6 here: nothing to check
        REQUIRE(set_ttl_options(s.native_handle(), true, false, 9, 250));
        CHECK(get_int_option(s.native_handle(), IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 9);
        CHECK(get_int_option(s.native_handle(), IPPROTO_IPV6, IPV6_MINHOPCOUNT) == 250);
        REQUIRE(set_ttl_options(s.native_handle(), true, true, 11, 251));
        CHECK(get_int_option(s.native_handle(), IPPROTO_IP, IP_TTL) == 11);
        CHECK(get_int_option(s.native_handle(), IPPROTO_IP, IP_MINTTL) == 251);
        CHECK(set_tcp_md5_key(s.native_handle(), true, ip("127.0.0.1"), "k"));
        CHECK(set_tcp_md5_key(s.native_handle(), true, ip("::1"), "k"));
        CHECK(set_tcp_md5_key(s.native_handle(), true, ip("::1"), ""));
    }
    SECTION("MD5: keys up to 80 bytes; removing a missing key is fine; wrong family is an error") {
        tcp::socket s{ioc};
        s.open(tcp::v4());
        CHECK(set_tcp_md5_key(s.native_handle(), false, ip("127.0.0.2"), std::string(80, 'k')));
        CHECK_FALSE(set_tcp_md5_key(s.native_handle(), false, ip("127.0.0.2"), std::string(81, 'k')));
        CHECK(set_tcp_md5_key(s.native_handle(), false, ip("127.0.0.2"), ""));
        CHECK(set_tcp_md5_key(s.native_handle(), false, ip("127.0.0.3"), ""));
        CHECK_FALSE(set_tcp_md5_key(s.native_handle(), false, ip("::1"), "k"));
    }
}
