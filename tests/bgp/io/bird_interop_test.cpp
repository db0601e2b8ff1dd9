// Interop with a real BIRD 2 (Debian's bird2): iBGP between a kroute Speaker on 127.0.0.1 and
// BIRD on 127.0.0.10, each originating one prefix; both must learn the other's. BIRD runs with its
// own config, control socket and pid file in a temporary directory (never the system defaults) and
// is killed by its PID. bird2 is installed by scripts/install-deps.sh; without it the test fails.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "bgp/speaker.hpp"

using namespace kroute;
using namespace kroute::bgp;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBird = "/usr/sbin/bird";
constexpr const char* kBirdc = "/usr/sbin/birdc";

std::string run_command(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        ::pclose(f);
    }
    return out;
}

bool run_until(asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.restart();
        ioc.run_for(50ms);
    }
    return true;
}

struct BirdProcess {
    std::filesystem::path dir;
    pid_t pid = 0;
    ~BirdProcess() {
        if (pid > 0 && ::kill(pid, SIGTERM) == 0) {
            // BIRD is not our child (it daemonised): wait until it is gone, at most 3 s, before
            // its directory goes, or its last log line would bring the directory back.
            for (int i = 0; i < 60 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(50ms);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace

TEST_CASE("iBGP with BIRD 2: both learn each other's prefix", "[bgp][io][interop]") {
    if (::access(kBird, X_OK) != 0 || ::access(kBirdc, X_OK) != 0) {
        FAIL("bird2 is not installed: scripts/install-deps.sh installs it");
    }
    asio::io_context ioc;
    SpeakerConfig cfg;
    cfg.asn = 64512;
    cfg.router_id = *IpAddress::parse("127.0.0.1");
    cfg.listen_addresses = {cfg.router_id};
    cfg.listen_port = 0;
    cfg.timers = Timers{.hold_time = 9s, .keepalive = 3s, .connect_retry = 1s};
    Speaker speaker{ioc, cfg};
    std::map<Prefix, BestRoute> best;
    speaker.on_best_path_change([&](const Prefix& p, const std::optional<BestRoute>& r, const std::optional<BestRoute>&) {
        if (r) {
            best[p] = *r;
        } else {
            best.erase(p);
        }
    });
    REQUIRE(speaker.start());

    char tmpl[] = "/tmp/kroute-bird-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    BirdProcess bird{std::filesystem::path{tmpl}};
    const int bird_port = 20000 + static_cast<int>(::getpid() % 20000);
    const auto conf = bird.dir / "bird.conf";
    const auto sock = bird.dir / "bird.ctl";
    const auto pidfile = bird.dir / "bird.pid";
    {
        std::ofstream f{conf};
        f << "router id 127.0.0.10;\n"
          << "log \"" << (bird.dir / "bird.log").string() << "\" all;\n"
          << "protocol device { }\n"
          << "protocol static s4 { ipv4; route 10.244.10.0/24 blackhole; }\n"
          << "protocol bgp kroute {\n"
          << "  local 127.0.0.10 port " << bird_port << " as 64512;\n"
          << "  neighbor 127.0.0.1 port " << speaker.local_port() << " as 64512;\n"
          << "  multihop; hold time 9; keepalive time 3; connect retry time 1;\n"
          << "  ipv4 { import all; export all; next hop self; };\n"
          << "}\n";
    }
    PeerConfig peer;
    peer.address = *IpAddress::parse("127.0.0.10");
    peer.remote_asn = 64512;
    peer.port = static_cast<std::uint16_t>(bird_port);
    peer.local_address = cfg.router_id;
    peer.description = "bird";
    speaker.set_peer(peer);
    speaker.originate(*Prefix::parse("10.244.1.0/24"), cfg.router_id);

    const std::string start = std::string{kBird} + " -c " + conf.string() + " -s " + sock.string() + " -P " +
                              pidfile.string() + " 2>&1";
    INFO(run_command(start));
    REQUIRE(run_until(ioc, [&] { return std::filesystem::exists(pidfile); }, 5000ms));
    run_until(ioc, [&] { return std::filesystem::file_size(pidfile) > 0; }, 2000ms);
    std::ifstream{pidfile} >> bird.pid;
    REQUIRE(bird.pid > 0);

    const auto theirs = *Prefix::parse("10.244.10.0/24");
    REQUIRE(run_until(ioc, [&] { return best.count(theirs) == 1; }, 15000ms));
    CHECK(best[theirs].next_hops == std::vector<IpAddress>{*IpAddress::parse("127.0.0.10")});

    std::string routes;
    auto bird_has_ours = [&] {
        routes = run_command(std::string{kBirdc} + " -s " + sock.string() + " show route all 2>&1");
        return routes.find("10.244.1.0/24") != std::string::npos;
    };
    // BIRD sometimes holds the first UPDATE for its poll interval: allow it several seconds.
    const bool learned = run_until(ioc, bird_has_ours, 10000ms);
    INFO(routes);
    CHECK(learned);
    auto n = speaker.neighbors();
    REQUIRE(n.size() == 1);
    CHECK(n[0].state == "Established");
    CHECK(n[0].prefixes_received == 1);
    CHECK(n[0].prefixes_sent == 1);
    // No End-of-RIB check: BIRD sends it only to peers that advertise graceful restart (RFC 4724),
    // which kroute does not yet.
}
