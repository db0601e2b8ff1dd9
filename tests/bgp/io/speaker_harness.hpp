// Test harness for Speakers over loopback TCP (127.0.0.0/8 only): Nodes (a Speaker with its
// best-path and state callbacks recorded), bounded io_context runs, and a hand-driven raw peer.
#pragma once

#include "bgp/speaker.hpp"
#include "common/log.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <map>

namespace kroute::bgp::test {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;


inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }
inline Prefix pfx(const char* s) { return *Prefix::parse(s); }

inline const Timers kFast{.hold_time = 3s, .keepalive = 1s, .connect_retry = 1s};

inline bool run_until(asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit = 8000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.restart();
        ioc.run_for(10ms);
    }
    return true;
}

// Keeps the io_context running for a while (to see that nothing else happens).
inline void run_for(asio::io_context& ioc, std::chrono::milliseconds d) {
    (void)run_until(ioc, [] { return false; }, d);
}

struct Node {
    Node(asio::io_context& ioc, const char* addr, std::uint32_t asn = 64512, const char* router_id = nullptr,
         const std::function<void(SpeakerConfig&)>& tweak = {})
        : address{ip(addr)} {
        SpeakerConfig c;
        c.asn = asn;
        c.router_id = ip(router_id ? router_id : addr);
        c.listen_port = 0;
        c.listen_addresses = {address};
        c.timers = kFast;
        if (tweak) tweak(c);
        speaker = std::make_unique<Speaker>(ioc, c);
        speaker->on_best_path_change([this](const Prefix& p, const std::optional<BestRoute>& r, const std::optional<BestRoute>&) {
            ++best_calls;
            if (r) {
                best[p] = *r;
            } else {
                best.erase(p);
            }
        });
        speaker->on_peer_state_change([this](const IpAddress& peer, const std::string& state) {
            if (state == "Established") ++established[peer];
        });
        auto r = speaker->start();
        REQUIRE(r);
        REQUIRE(speaker->local_port() != 0);
    }

    void peer_with(const Node& other, std::uint32_t asn = 64512, bool passive = false,
                   const std::function<void(PeerConfig&)>& tweak = {}) {
        PeerConfig p;
        p.address = other.address;
        p.remote_asn = asn;
        p.port = other.speaker->local_port();
        p.local_address = address;
        p.passive = passive;
        p.description = "node-" + other.address.to_string();
        if (tweak) tweak(p);
        speaker->set_peer(p);
    }

    std::optional<NeighborSnapshot> neighbor(const Node& other) const {
        for (auto& n : speaker->neighbors()) {
            if (n.address == other.address) return n;
        }
        return std::nullopt;
    }
    bool established_with(const Node& other) const {
        auto n = neighbor(other);
        return n && n->state == "Established";
    }

    IpAddress address;
    std::unique_ptr<Speaker> speaker;
    std::map<Prefix, BestRoute> best;
    std::map<IpAddress, int> established;
    int best_calls = 0;
};

inline void mesh(std::initializer_list<Node*> nodes) {
    for (auto* a : nodes) {
        for (auto* b : nodes) {
            if (a != b) a->peer_with(*b);
        }
    }
}


// A hand-driven peer on a raw socket: says OPEN, KEEPALIVE, one UPDATE, then nothing at all.
struct SilentPeer {
    explicit SilentPeer(asio::io_context& ioc) : socket{ioc} {}

    void connect(const char* from, std::uint16_t port) {
        socket.open(tcp::v4());
        socket.set_option(tcp::socket::reuse_address(true));
        socket.bind(tcp::endpoint{asio::ip::make_address(from), 0});
        socket.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
    }
    void send(const Message& m, const EncodeContext& ctx = {}) { asio::write(socket, asio::buffer(encode(m, ctx))); }
    void read_some() {
        socket.async_read_some(asio::buffer(buf.data() + len, buf.size() - len),
                               [this](boost::system::error_code ec, std::size_t n) {
                                   if (ec) {
                                       closed = true;
                                       return;
                                   }
                                   len += n;
                                   read_some();
                               });
    }
    std::vector<Message> messages(const DecodeContext& ctx = {}) const {
        std::vector<Message> out;
        std::size_t off = 0;
        while (off < len) {
            auto f = frame_length(std::span<const std::uint8_t>{buf.data() + off, len - off});
            if (!f || !*f || **f > len - off) break;
            auto m = decode_message(std::span<const std::uint8_t>{buf.data() + off, **f}, ctx);
            if (m) out.push_back(*m);
            off += **f;
        }
        return out;
    }

    tcp::socket socket;
    std::array<std::uint8_t, 65536> buf{};
    std::size_t len = 0;
    bool closed = false;
};


// Policies for tests: terms matching prefix lists.
inline std::shared_ptr<const Policy> make_policy(std::vector<PolicyTerm> terms, bool default_accept = true) {
    auto p = std::make_shared<Policy>();
    p->name = "test";
    p->terms = std::move(terms);
    p->default_action.accept = default_accept;
    return p;
}

inline PolicyTerm term(const char* name, std::vector<const char*> prefixes, PolicyAction action) {
    PolicyTerm t;
    t.name = name;
    PrefixList list;
    for (const char* s : prefixes) list.push_back(*PrefixRange::parse(s));
    t.match.prefixes = std::move(list);
    t.action = std::move(action);
    return t;
}

inline PolicyAction reject() {
    PolicyAction a;
    a.accept = false;
    return a;
}

}  // namespace kroute::bgp::test
