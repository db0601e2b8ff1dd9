// md5_peer: a bgp::Speaker with one iBGP peer and a TCP MD5 password (RFC 2385), for the interop
// tests against BIRD and FRR (kroute's own flags take no BGP password). Exits 0 as soon as the
// session is Established, 1 when it is not within --timeout seconds, 2 on bad arguments.
//   md5_peer --local 10.0.0.1 --peer 10.0.0.2 --asn 64512 --password SECRET --timeout 15
// The password is read from the command line (tests only) and never printed.
#include <chrono>
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
    std::string password;
    long asn = 64512;
    long timeout = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--local") {
            local = v;
        } else if (k == "--peer") {
            peer = v;
        } else if (k == "--password") {
            password = v;
        } else if (k == "--asn") {
            asn = std::strtol(v.c_str(), nullptr, 10);
        } else if (k == "--timeout") {
            timeout = std::strtol(v.c_str(), nullptr, 10);
        } else {
            std::fprintf(stderr, "md5_peer: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    auto local_ip = IpAddress::parse(local);
    auto peer_ip = IpAddress::parse(peer);
    if (!local_ip || !peer_ip || asn <= 0 || asn > 4294967295L || timeout <= 0 || timeout > 600) {
        std::fprintf(stderr, "usage: md5_peer --local IP --peer IP [--asn N] [--password P] [--timeout S]\n");
        return 2;
    }
    asio::io_context ioc;
    bgp::SpeakerConfig sc;
    sc.asn = static_cast<std::uint32_t>(asn);
    sc.router_id = *local_ip;
    sc.listen_addresses = {*local_ip};
    sc.timers = bgp::Timers{.hold_time = 9s, .keepalive = 3s, .connect_retry = 1s};
    bgp::Speaker speaker{ioc, sc};
    bgp::PeerConfig pc;
    pc.address = *peer_ip;
    pc.remote_asn = sc.asn;
    pc.local_address = *local_ip;
    pc.md5_password = password;
    pc.description = "md5-test";
    speaker.set_peer(pc);
    bool up = false;
    speaker.on_peer_state_change([&](const IpAddress&, const std::string& state) {
        if (state == "Established") up = true;
    });
    if (auto r = speaker.start(); !r) {
        std::fprintf(stderr, "md5_peer: %s\n", r.error().c_str());
        return 2;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{timeout};
    while (!up && std::chrono::steady_clock::now() < deadline) {
        ioc.restart();
        ioc.run_for(50ms);
    }
    std::printf("%s\n", up ? "Established" : "not Established");
    bool stopped = false;
    speaker.stop([&] { stopped = true; });
    for (int i = 0; i < 40 && !stopped; ++i) {  // stop() gives up after 1 s itself
        ioc.restart();
        ioc.run_for(50ms);
    }
    return up ? 0 : 1;
}
