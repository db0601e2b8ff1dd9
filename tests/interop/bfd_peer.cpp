// bfd_peer: a bgp::Speaker with one iBGP peer that has BFD on (RFC 5880/5881), for the interop test
// against BIRD's BFD (tests/interop/bfd_bird_test.sh). It originates one prefix and prints one line
// per event on stdout, flushed, for the test to poll:
//   bgp <state>                  the peer's BGP state (RFC 4271 spelling)
//   route + <prefix> | route - <prefix>   a best path from the peer came or went
// BFD's own state changes are the "bfd" log lines on stderr. Runs until --timeout seconds or SIGTERM.
//   bfd_peer --local 10.0.0.1 --peer 10.0.0.2 --asn 64512 --originate 10.244.1.0/24
//            --tx-ms 100 --rx-ms 100 --multiplier 3 --timeout 120
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bgp/speaker.hpp"
#include "common/log.hpp"

using namespace kroute;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
    std::string local;
    std::string peer;
    std::string originate;
    long asn = 64512;
    long tx_ms = 100;
    long rx_ms = 100;
    long mult = 3;
    long timeout = 120;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        const long n = std::strtol(v.c_str(), nullptr, 10);
        if (k == "--local") {
            local = v;
        } else if (k == "--peer") {
            peer = v;
        } else if (k == "--originate") {
            originate = v;
        } else if (k == "--asn") {
            asn = n;
        } else if (k == "--tx-ms") {
            tx_ms = n;
        } else if (k == "--rx-ms") {
            rx_ms = n;
        } else if (k == "--multiplier") {
            mult = n;
        } else if (k == "--timeout") {
            timeout = n;
        } else {
            std::fprintf(stderr, "bfd_peer: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    auto local_ip = IpAddress::parse(local);
    auto peer_ip = IpAddress::parse(peer);
    auto prefix = originate.empty() ? std::nullopt : Prefix::parse(originate);
    if (!local_ip || !peer_ip || (!originate.empty() && !prefix) || asn <= 0 || asn > 4294967295L || tx_ms <= 0 ||
        rx_ms < 0 || mult < 1 || mult > 255 || timeout <= 0 || timeout > 3600) {
        std::fprintf(stderr,
                     "usage: bfd_peer --local IP --peer IP [--asn N] [--originate PREFIX] [--tx-ms MS] [--rx-ms MS]"
                     " [--multiplier N] [--timeout S]\n");
        return 2;
    }
    asio::io_context ioc;
    asio::signal_set signals{ioc, SIGTERM, SIGINT};
    bool done = false;
    signals.async_wait([&](boost::system::error_code, int) { done = true; });

    bgp::SpeakerConfig sc;
    sc.asn = static_cast<std::uint32_t>(asn);
    sc.router_id = local_ip->is_v4() ? *local_ip : *IpAddress::parse("10.255.255.1");
    sc.listen_addresses = {*local_ip};
    sc.timers = bgp::Timers{.hold_time = 9s, .keepalive = 3s, .connect_retry = 1s};
    bgp::Speaker speaker{ioc, sc};
    bgp::PeerConfig pc;
    pc.address = *peer_ip;
    pc.remote_asn = sc.asn;
    pc.local_address = *local_ip;
    pc.description = "bfd-test";
    pc.bfd = bgp::bfd::PeerBfdConfig{.desired_min_tx = std::chrono::milliseconds{tx_ms},
                                     .required_min_rx = std::chrono::milliseconds{rx_ms},
                                     .detect_mult = static_cast<std::uint8_t>(mult)};
    speaker.on_peer_state_change([](const IpAddress&, const std::string& state) {
        std::printf("bgp %s\n", state.c_str());
        std::fflush(stdout);
    });
    speaker.on_best_path_change(
        [](const Prefix& p, const std::optional<bgp::BestRoute>& now, const std::optional<bgp::BestRoute>& before) {
            const bool from_peer_now = now && !now->local;
            const bool from_peer_before = before && !before->local;
            if (from_peer_now == from_peer_before) return;
            std::printf("route %c %s\n", from_peer_now ? '+' : '-', p.to_string().c_str());
            std::fflush(stdout);
        });
    speaker.set_peer(pc);
    if (prefix) speaker.originate(*prefix, *local_ip);
    if (auto r = speaker.start(); !r) {
        std::fprintf(stderr, "bfd_peer: %s\n", r.error().c_str());
        return 2;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{timeout};
    while (!done && std::chrono::steady_clock::now() < deadline) {
        ioc.restart();
        ioc.run_for(50ms);
    }
    bool stopped = false;
    speaker.stop([&] { stopped = true; });
    for (int i = 0; i < 40 && !stopped; ++i) {
        ioc.restart();
        ioc.run_for(50ms);
    }
    return 0;
}
