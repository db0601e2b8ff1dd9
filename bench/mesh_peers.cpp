// mesh_peers: plays the other 999 nodes of a 1000-node full mesh for the BGP mesh benchmark
// (bench/bgp_mesh.sh). COUNT bgp::Speakers in one process, on one io_context, the i-th on its own
// loopback address (127.NET.(i / 250).(i % 250 + 1)), each with one iBGP peer — the receiver under
// test — and originating one /24 (10.(i / 256).(i % 256).0/24) with itself as next hop, like a node
// announcing its podCIDR. It prints one JSON line when every speaker is listening, then one a second
// with how many sessions are Established, and runs until SIGTERM or --seconds. With --flaps-per-second
// F (the load test, tests/long/ and tests/e2e/peer_load_test.sh), F speakers a second, chosen at
// random, drop their session (Cease) and come back 1 to 5 s later, for as long as it runs.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bgp/speaker.hpp"
#include "common/asio.hpp"
#include "common/log.hpp"

namespace {

using namespace kroute;

IpAddress speaker_address(std::uint32_t net, std::uint32_t i) {
    return IpAddress::v4(0x7f000000u | net << 16 | (i / 250) << 8 | (i % 250 + 1));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"mesh_peers: COUNT iBGP speakers on loopback, each announcing one /24 to one receiver"};
    std::uint32_t count = 999;
    std::string target_text;
    std::uint16_t port = 11800;
    std::uint32_t asn = 64512;
    int seconds = 600;
    std::uint32_t net = 1;
    std::string next_hop_text;
    double flaps_per_second = 0;
    std::uint32_t seed = 1;
    app.add_option("--count", count, "Speakers to run (at most 62500)")->capture_default_str();
    app.add_option("--target", target_text, "The receiver's IPv4 address")->required();
    app.add_option("--port", port, "Port every speaker listens on and dials")->capture_default_str();
    app.add_option("--asn", asn, "AS of every speaker and of the receiver (iBGP)")->capture_default_str();
    app.add_option("--seconds", seconds, "Stop after this long")->capture_default_str();
    app.add_option("--net", net, "Second octet of the speakers' addresses: 127.NET.x.y")->check(CLI::Range(1, 254));
    app.add_option("--next-hop", next_hop_text,
                   "Next hop of every announced /24 (default: each speaker's own address; GoBGP refuses "
                   "loopback next hops, so the benchmark gives every receiver a TEST-NET-1 one)");
    app.add_option("--flaps-per-second", flaps_per_second, "Sessions dropped and re-added per second")
        ->check(CLI::Range(0.0, 1000.0));
    app.add_option("--seed", seed, "Seed of the flap schedule")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    auto target = IpAddress::parse(target_text);
    if (!target || !target->is_v4() || count == 0 || count > 62500) {
        std::fprintf(stderr, "mesh_peers: bad --target or --count\n");
        return 2;
    }
    std::optional<IpAddress> next_hop;
    if (!next_hop_text.empty()) {
        next_hop = IpAddress::parse(next_hop_text);
        if (!next_hop || !next_hop->is_v4()) {
            std::fprintf(stderr, "mesh_peers: bad --next-hop\n");
            return 2;
        }
    }
    log::set_verbosity(0);
    spdlog::set_level(spdlog::level::warn);

    asio::io_context ioc;
    std::vector<std::unique_ptr<bgp::Speaker>> speakers;
    speakers.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        const IpAddress self = speaker_address(net, i);
        bgp::SpeakerConfig cfg;
        cfg.asn = asn;
        cfg.router_id = self;
        cfg.listen_port = port;
        cfg.listen_addresses = {self};
        cfg.timers.connect_retry = std::chrono::seconds{1};
        auto s = std::make_unique<bgp::Speaker>(ioc, cfg);
        if (auto r = s->start(); !r) {
            std::fprintf(stderr, "mesh_peers: speaker %u: %s\n", i, r.error().c_str());
            return 1;
        }
        bgp::PeerConfig peer;
        peer.address = *target;
        peer.remote_asn = asn;
        peer.port = port;
        peer.local_address = self;
        s->set_peer(peer);
        s->originate(Prefix(IpAddress::v4(0x0a000000u | (i / 256) << 16 | (i % 256) << 8), 24), next_hop.value_or(self));
        speakers.push_back(std::move(s));
    }
    std::printf("{\"event\":\"listening\",\"speakers\":%u}\n", count);
    std::fflush(stdout);

    // Flapping: every 100 ms, a tenth of a second's flaps; each comes back after 1-5 s.
    std::mt19937 rng{seed};
    std::uint64_t flaps = 0;
    double owed = 0;
    asio::steady_timer flap_tick(ioc);
    std::vector<std::unique_ptr<asio::steady_timer>> returns;
    std::function<void()> flap = [&] {
        owed += flaps_per_second / 10;
        for (; owed >= 1; owed -= 1) {
            const std::uint32_t i = std::uniform_int_distribution<std::uint32_t>{0, count - 1}(rng);
            if (speakers[i]->neighbors().empty()) continue;  // already away
            speakers[i]->remove_peer(*target);
            ++flaps;
            auto back = std::make_unique<asio::steady_timer>(ioc);
            back->expires_after(std::chrono::milliseconds{std::uniform_int_distribution<int>{1000, 5000}(rng)});
            back->async_wait([&, i](boost::system::error_code ec) {
                if (ec) return;
                bgp::PeerConfig peer;
                peer.address = *target;
                peer.remote_asn = asn;
                peer.port = port;
                peer.local_address = speaker_address(net, i);
                speakers[i]->set_peer(peer);
            });
            returns.push_back(std::move(back));
        }
        std::erase_if(returns, [](const auto& t) { return t->expiry() < std::chrono::steady_clock::now() - std::chrono::seconds{1}; });
        flap_tick.expires_after(std::chrono::milliseconds{100});
        flap_tick.async_wait([&](boost::system::error_code ec) {
            if (!ec) flap();
        });
    };
    if (flaps_per_second > 0) flap();

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](boost::system::error_code, int) { ioc.stop(); });
    asio::steady_timer tick(ioc);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds{seconds};
    std::function<void()> report = [&] {
        std::size_t up = 0;
        for (const auto& s : speakers)
            for (const auto& n : s->neighbors()) up += n.state == "Established";
        std::printf("{\"event\":\"established\",\"sessions\":%zu,\"flaps\":%llu}\n", up,
                    static_cast<unsigned long long>(flaps));
        std::fflush(stdout);
        if (std::chrono::steady_clock::now() >= end) {
            ioc.stop();
            return;
        }
        tick.expires_after(std::chrono::seconds{1});
        tick.async_wait([&](boost::system::error_code ec) {
            if (!ec) report();
        });
    };
    report();
    ioc.run();
    return 0;
}
