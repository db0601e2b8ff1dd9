// BFD over UDP on loopback (127.0.0.0/8 and ::1 only): two bfd::Services come Up, AdminDown reaches
// the peer, the TTL rule of RFC 5881 §5 holds on the real socket, and a Speaker closes an Established
// session when its peer's BFD goes Down. No sleeps: the io_context runs until a condition holds or a
// bounded deadline passes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "bgp/bfd_session.hpp"
#include "bgp/speaker.hpp"

using namespace kroute;
using namespace kroute::bgp;
using namespace std::chrono_literals;
using udp = asio::ip::udp;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

bool run_until(asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit = 8000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.restart();
        ioc.run_for(10ms);
    }
    return true;
}

// An unused UDP port on loopback, for a listener that must be known before it is bound.
std::uint16_t free_udp_port() {
    asio::io_context ioc;
    udp::socket s{ioc, udp::endpoint{udp::v4(), 0}};
    return s.local_endpoint().port();
}

bfd::PeerBfdConfig fast() {
    return bfd::PeerBfdConfig{.desired_min_tx = 50ms, .required_min_rx = 50ms, .detect_mult = 3};
}

// A Service listening on an ephemeral port, recording every state change it reports.
struct Side {
    Side(asio::io_context& ioc, bool v6 = false, bool multihop = false) : service{ioc, bfd::ServiceConfig{0, 0}} {
        auto r = service.listen(v6, multihop);
        REQUIRE(r);
        port = service.listen_port(v6, multihop);
        REQUIRE(port != 0);
        service.on_state_change([this](const bfd::StateChange& c) { changes.push_back(c); });
    }
    bool went(bfd::State from, bfd::State to) const {
        return std::any_of(changes.begin(), changes.end(),
                           [&](const bfd::StateChange& c) { return c.from == from && c.to == to; });
    }
    bfd::Service service;
    std::uint16_t port = 0;
    std::vector<bfd::StateChange> changes;
};

// A hand-made Control packet (RFC 5880 §4.1): Down, Your Discriminator 0, from My Discriminator 9.
Bytes down_packet() {
    bfd::ControlPacket p;
    p.state = bfd::State::kDown;
    p.my_discriminator = 9;
    p.desired_min_tx = 1s;
    p.required_min_rx = 1s;
    return bfd::encode(p);
}

// Sends `payload` from 127.0.0.1 to 127.0.0.1:port with the given TTL.
void send_with_ttl(std::uint16_t port, const Bytes& payload, int ttl) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) == 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const auto n = ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
    REQUIRE(n == static_cast<ssize_t>(payload.size()));
}

}  // namespace

TEST_CASE("two BFD services come Up over loopback, and AdminDown reaches the peer", "[bgp][bfd][io]") {
    auto [a_addr, b_addr, v6] = GENERATE(table<const char*, const char*, bool>({
        {"127.0.0.1", "127.0.0.2", false},
        {"::1", "::1", true},  // one address: each side knows only its one session
    }));
    CAPTURE(a_addr, v6);
    asio::io_context ioc;
    Side a{ioc, v6};
    Side b{ioc, v6};
    REQUIRE(a.service.add({.peer = ip(b_addr), .local = ip(a_addr), .timers = fast(), .remote_port = b.port}));
    REQUIRE(b.service.add({.peer = ip(a_addr), .local = ip(b_addr), .timers = fast(), .remote_port = a.port}));
    REQUIRE(run_until(ioc, [&] {
        return a.service.state(ip(b_addr)) == bfd::State::kUp && b.service.state(ip(a_addr)) == bfd::State::kUp;
    }));
    // Let the Poll Sequences of the change to 50 ms end, then check what was agreed.
    REQUIRE(run_until(ioc, [&] {
        auto s = a.service.sessions();
        return s.size() == 1 && s[0].transmit_interval == 50ms;
    }));
    auto snap = a.service.sessions().at(0);
    CHECK(snap.detection_time == 150ms);
    CHECK(snap.source_port >= 49152);  // RFC 5881 §4
    CHECK(snap.remote_discriminator == b.service.sessions().at(0).local_discriminator);
    CHECK(snap.packets_received > 0);

    b.service.remove(ip(a_addr));
    REQUIRE(run_until(ioc, [&] { return a.went(bfd::State::kUp, bfd::State::kDown); }));
    CHECK(a.changes.back().diag == bfd::Diag::kNeighborSignaledSessionDown);
    CHECK_FALSE(b.went(bfd::State::kUp, bfd::State::kAdminDown));
}

TEST_CASE("single-hop BFD accepts only TTL 255, multihop any (RFC 5881 §5, RFC 5883)", "[bgp][bfd][io]") {
    const bool multihop = GENERATE(false, true);
    CAPTURE(multihop);
    asio::io_context ioc;
    Side a{ioc, false, multihop};
    // The peer 127.0.0.1 is this test; its packets are sent by hand (the session's own go nowhere).
    auto timers = fast();
    timers.multihop = multihop;
    REQUIRE(a.service.add({.peer = ip("127.0.0.1"), .local = std::nullopt, .timers = timers, .remote_port = free_udp_port()}));
    REQUIRE(a.service.state(ip("127.0.0.1")) == bfd::State::kDown);

    send_with_ttl(a.port, down_packet(), 64);
    const bool moved = run_until(ioc, [&] { return a.service.state(ip("127.0.0.1")) == bfd::State::kInit; }, 1000ms);
    CHECK(moved == multihop);
    if (!multihop) {
        send_with_ttl(a.port, down_packet(), 255);
        CHECK(run_until(ioc, [&] { return a.service.state(ip("127.0.0.1")) == bfd::State::kInit; }));
    }
}

TEST_CASE("malformed datagrams on the BFD port change nothing", "[bgp][bfd][io]") {
    asio::io_context ioc;
    Side a{ioc};
    REQUIRE(a.service.add({.peer = ip("127.0.0.1"), .local = std::nullopt, .timers = fast(), .remote_port = free_udp_port()}));
    for (const auto& junk : {Bytes{}, Bytes{0x20}, Bytes(300, 0xff), Bytes{0x20, 0x40, 0x03, 0x18}}) {
        send_with_ttl(a.port, junk, 255);
    }
    Bytes zero_mult = down_packet();
    zero_mult[2] = 0;
    send_with_ttl(a.port, zero_mult, 255);
    CHECK_FALSE(run_until(ioc, [&] { return a.service.state(ip("127.0.0.1")) != bfd::State::kDown; }, 500ms));
    CHECK(a.service.sessions().at(0).packets_received == 0);
}

TEST_CASE("a Speaker closes an Established session when the peer's BFD goes Down", "[bgp][bfd][io]") {
    // With graceful restart negotiated too: BFD saw the forwarding path fail, which is not a
    // control-plane restart, so the peer's routes go at once rather than stay stale for its restart
    // time (RFC 5882 §4.3.2; BIRD's default, unless `bfd graceful`).
    const bool graceful_restart = GENERATE(false, true);
    CAPTURE(graceful_restart);
    asio::io_context ioc;
    const std::uint16_t port_a = free_udp_port();
    const std::uint16_t port_b = free_udp_port();
    const Timers timers{.hold_time = 9s, .keepalive = 3s, .connect_retry = 1s};
    // A: a Speaker at 127.0.0.1 whose peer 127.0.0.2 has BFD on.
    SpeakerConfig ca;
    ca.asn = 64512;
    ca.router_id = ip("127.0.0.1");
    ca.listen_port = 0;
    ca.listen_addresses = {ip("127.0.0.1")};
    ca.timers = timers;
    ca.bfd = bfd::ServiceConfig{.single_hop_port = port_a, .remote_single_hop_port = port_b};
    if (graceful_restart) {
        ca.graceful_restart.enabled = true;
        ca.graceful_restart.restart_time = 120s;
        ca.graceful_restart.forwarding_preserved = true;
        ca.graceful_restart.stale_time = 300s;
    }
    Speaker a{ioc, ca};
    REQUIRE(a.start());
    // B: a Speaker at 127.0.0.2 without BFD, and B's BFD as a Service of its own, so the test can
    // take it away.
    SpeakerConfig cb = ca;
    cb.router_id = ip("127.0.0.2");
    cb.listen_addresses = {ip("127.0.0.2")};
    Speaker b{ioc, cb};
    REQUIRE(b.start());
    auto b_bfd = std::make_unique<bfd::Service>(ioc, bfd::ServiceConfig{.single_hop_port = port_b,
                                                                         .remote_single_hop_port = port_a});

    std::map<std::string, int> a_states;
    a.on_peer_state_change([&](const IpAddress&, const std::string& s) { ++a_states[s]; });
    bool a_has_route = false;
    a.on_best_path_change([&](const Prefix&, const std::optional<BestRoute>& now, const std::optional<BestRoute>&) {
        a_has_route = now && !now->local;
    });

    PeerConfig to_b;
    to_b.address = ip("127.0.0.2");
    to_b.remote_asn = 64512;
    to_b.local_address = ip("127.0.0.1");
    to_b.port = b.local_port();
    to_b.bfd = fast();
    a.set_peer(to_b);
    PeerConfig to_a;
    to_a.address = ip("127.0.0.1");
    to_a.remote_asn = 64512;
    to_a.local_address = ip("127.0.0.2");
    to_a.port = a.local_port();
    b.set_peer(to_a);
    b.originate(*Prefix::parse("10.244.2.0/24"), ip("127.0.0.2"));
    REQUIRE(b_bfd->add({.peer = ip("127.0.0.1"), .local = ip("127.0.0.2"), .timers = fast()}));

    REQUIRE(run_until(ioc, [&] { return a_states["Established"] == 1 && a_has_route; }, 10000ms));
    REQUIRE(run_until(ioc, [&] { return b_bfd->state(ip("127.0.0.1")) == bfd::State::kUp; }));

    // B's BFD goes away (AdminDown): A's BFD goes Down, and A drops the BGP session and B's route
    // long before any hold timer would.
    const auto t0 = std::chrono::steady_clock::now();
    const int idle_before = a_states["Idle"];
    b_bfd->remove(ip("127.0.0.1"));
    REQUIRE(run_until(ioc, [&] { return a_states["Idle"] > idle_before && !a_has_route; }, 3000ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    auto n = a.neighbors();
    REQUIRE(n.size() == 1);
    CHECK(n[0].state != "Established");
    CHECK(n[0].last_error == "BFD down: Neighbor Signaled Session Down");
    CHECK(n[0].prefixes_stale == 0);
}
