// mesh_peers: plays the other 999 nodes of a 1000-node full mesh for the BGP mesh benchmark
// (bench/bgp_mesh.sh). COUNT bgp::Speakers in one process, on one io_context, the i-th on its own
// loopback address (127.NET.(i / 250).(i % 250 + 1)), each with one iBGP peer — the receiver under
// test — and originating one /24 (10.(i / 256).(i % 256).0/24) with itself as next hop, like a node
// announcing its podCIDR. It prints one JSON line when every speaker is listening, then one a second
// with how many sessions are Established, and runs until SIGTERM or --seconds.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
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
    app.add_option("--count", count, "Speakers to run (at most 62500)")->capture_default_str();
    app.add_option("--target", target_text, "The receiver's IPv4 address")->required();
    app.add_option("--port", port, "Port every speaker listens on and dials")->capture_default_str();
    app.add_option("--asn", asn, "AS of every speaker and of the receiver (iBGP)")->capture_default_str();
    app.add_option("--seconds", seconds, "Stop after this long")->capture_default_str();
    app.add_option("--net", net, "Second octet of the speakers' addresses: 127.NET.x.y")->check(CLI::Range(1, 254));
    app.add_option("--next-hop", next_hop_text,
                   "Next hop of every announced /24 (default: each speaker's own address; GoBGP refuses "
                   "loopback next hops, so the benchmark gives every receiver a TEST-NET-1 one)");
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

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](boost::system::error_code, int) { ioc.stop(); });
    asio::steady_timer tick(ioc);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds{seconds};
    std::function<void()> report = [&] {
        std::size_t up = 0;
        for (const auto& s : speakers)
            for (const auto& n : s->neighbors()) up += n.state == "Established";
        std::printf("{\"event\":\"established\",\"sessions\":%zu}\n", up);
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
