// bgp_feeder: the I/O shell of the ingest benchmark. Encodes the whole feed (bench/feed.hpp)
// first, then connects to one receiver, completes OPEN/KEEPALIVE (RFC 4271 §8) and writes the
// UPDATEs as fast as the socket takes them, in large writes. Optionally withdraws everything when
// a trigger file appears. Events go to stdout as JSON lines with wall-clock milliseconds
// (comparable with `date +%s%3N`):
//   {"event":"encoded",...} {"event":"established",...} {"event":"first_update","t_ms":...}
//   {"event":"sent_all",...} {"event":"first_withdraw",...} {"event":"sent_withdrawals",...}
// Every wait is bounded by --deadline; a NOTIFICATION from the receiver ends the run (exit 2).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "bench/feed.hpp"
#include "bgp/message.hpp"

namespace {

using namespace kroute;
using Clock = std::chrono::steady_clock;

long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void event(const std::string& name, const std::string& extra = {}) {
    std::printf("{\"event\":\"%s\",\"t_ms\":%lld%s%s}\n", name.c_str(), wall_ms(), extra.empty() ? "" : ",",
                extra.c_str());
    std::fflush(stdout);
}

[[noreturn]] void die(int code, const std::string& why) {
    std::printf("{\"event\":\"error\",\"t_ms\":%lld,\"error\":\"%s\"}\n", wall_ms(), why.c_str());
    std::fflush(stdout);
    std::_Exit(code);
}

sockaddr_in to_sockaddr(const IpAddress& a, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, a.data(), 4);
    return sa;
}

class Connection {
public:
    Connection(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}

    // Reads what is there (or waits up to `timeout_ms` for it) and returns the next whole message.
    std::optional<bgp::Message> poll_message(int timeout_ms) {
        if (auto m = next_frame()) return m;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) > 0) read_some();
        return next_frame();
    }

    bgp::Message wait_message(const char* what) {
        while (Clock::now() < deadline_)
            if (auto m = poll_message(200)) return *m;
        die(3, std::string("deadline waiting for ") + what);
    }

    // Writes a stream; between chunks, a KEEPALIVE when one is due. Reads (and drops) whatever the
    // receiver sends meanwhile, so neither side's buffers stall the other.
    void write_stream(const kroute::bench::MessageStream& s) {
        std::size_t off = 0, chunk = 0;
        while (off < s.bytes.size()) {
            if (Clock::now() >= deadline_) die(3, "deadline while sending");
            if (off == (chunk == 0 ? 0 : s.chunk_ends[chunk - 1])) keepalive_if_due();
            pollfd p{fd_, POLLIN | POLLOUT, 0};
            if (::poll(&p, 1, 1000) <= 0) continue;
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                read_some();
                while (next_frame()) {
                }
            }
            if (!(p.revents & POLLOUT)) continue;
            const std::size_t end = s.chunk_ends[chunk];
            ssize_t n = ::send(fd_, s.bytes.data() + off, end - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die(4, std::string("send: ") + std::strerror(errno));
            }
            off += static_cast<std::size_t>(n);
            if (off == end) ++chunk;
        }
    }

    void write_all(const bgp::Bytes& b) {
        std::size_t off = 0;
        while (off < b.size()) {
            if (Clock::now() >= deadline_) die(3, "deadline while sending");
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, 1000) <= 0) continue;
            ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die(4, std::string("send: ") + std::strerror(errno));
            }
            off += static_cast<std::size_t>(n);
        }
        last_keepalive_ = Clock::now();
    }

    void keepalive_if_due() {
        if (Clock::now() - last_keepalive_ >= std::chrono::seconds(20)) write_all(bgp::encode(bgp::KeepaliveMessage{}));
    }

    // Keeps the session up (KEEPALIVEs, draining input) until `until` says stop or the deadline.
    template <typename Pred>
    void idle_until(Pred until) {
        while (!until()) {
            if (Clock::now() >= deadline_) die(3, "deadline while idle");
            keepalive_if_due();
            while (poll_message(50)) {
            }
        }
    }

private:
    void read_some() {
        std::uint8_t buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) die(2, "receiver closed the connection");
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            die(2, std::string("recv: ") + std::strerror(errno));
        }
        rx_.insert(rx_.end(), buf, buf + n);
    }

    std::optional<bgp::Message> next_frame() {
        auto len = bgp::frame_length(rx_);
        if (!len) die(2, "bad frame from receiver");
        if (!*len) return std::nullopt;
        auto msg = bgp::decode_message(std::span(rx_.data(), **len), bgp::DecodeContext{});
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(**len));
        if (!msg) die(2, "undecodable message from receiver");
        if (auto* n = std::get_if<bgp::NotificationMessage>(&*msg))
            die(2, "NOTIFICATION from receiver: " + bgp::notification_to_string(n->code, n->subcode));
        return std::move(*msg);
    }

    int fd_;
    Clock::time_point deadline_;
    Clock::time_point last_keepalive_ = Clock::now();
    bgp::Bytes rx_;
};

bool file_exists(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bgp_feeder: send a pre-encoded BGP table to one receiver as fast as it takes it"};
    std::string peer_text, local_text = "127.0.0.1", router_id_text;
    std::uint16_t port = 179, hold_time = 180;
    std::uint32_t local_as = 64512, peer_as = 64512;
    kroute::bench::FeedConfig cfg;
    std::string withdraw_trigger, stop_trigger, next_hop_text;
    unsigned deadline_s = 900;
    app.add_option("--peer", peer_text, "Receiver's IPv4 address")->required();
    app.add_option("--port", port, "Receiver's port")->capture_default_str();
    app.add_option("--local", local_text, "Local address to bind (also the NEXT_HOP)")->capture_default_str();
    app.add_option("--next-hop", next_hop_text,
                   "NEXT_HOP of every route (default: --local; GoBGP refuses loopback next hops)");
    app.add_option("--router-id", router_id_text, "BGP identifier (default: --local)");
    app.add_option("--local-as", local_as, "Our AS")->capture_default_str();
    app.add_option("--peer-as", peer_as, "Receiver's AS (equal to --local-as: iBGP, LOCAL_PREF sent)")
        ->capture_default_str();
    app.add_option("--hold-time", hold_time, "Hold time proposed")->capture_default_str();
    app.add_option("-n,--prefixes", cfg.prefixes, "Distinct IPv4 prefixes")->capture_default_str();
    app.add_option("-k,--attribute-sets", cfg.attribute_sets, "Distinct attribute sets")->capture_default_str();
    app.add_option("-p,--per-update", cfg.per_update, "Prefixes per UPDATE")->capture_default_str();
    app.add_option("--seed", cfg.seed, "Seed of the feed")->capture_default_str();
    app.add_option("--withdraw-trigger", withdraw_trigger, "After announcing, withdraw all once this file exists");
    app.add_option("--stop-trigger", stop_trigger, "Stay connected until this file exists (else exit when sent)");
    app.add_option("--deadline", deadline_s, "Give up after this many seconds")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    auto peer = IpAddress::parse(peer_text);
    auto local = IpAddress::parse(local_text);
    auto rid = IpAddress::parse(router_id_text.empty() ? local_text : router_id_text);
    auto next_hop = IpAddress::parse(next_hop_text.empty() ? local_text : next_hop_text);
    if (!peer || !local || !rid || !next_hop || !peer->is_v4() || !local->is_v4() || !rid->is_v4() || !next_hop->is_v4())
        die(1, "--peer, --local, --router-id and --next-hop must be IPv4 addresses");
    cfg.ibgp = local_as == peer_as;
    cfg.local_as = local_as;
    cfg.next_hop = *next_hop;
    const auto deadline = Clock::now() + std::chrono::seconds(deadline_s);

    auto t0 = Clock::now();
    auto feed = kroute::bench::build_feed(cfg);
    auto encode_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    if (feed.prefixes.size() != cfg.prefixes) die(1, "could not generate that many distinct prefixes");
    event("encoded", "\"prefixes\":" + std::to_string(feed.prefixes.size()) +
                         ",\"attribute_sets\":" + std::to_string(feed.attribute_sets.size()) +
                         ",\"updates\":" + std::to_string(feed.announcements.messages) +
                         ",\"bytes\":" + std::to_string(feed.announcements.bytes.size()) +
                         ",\"withdraw_updates\":" + std::to_string(feed.withdrawals.messages) +
                         ",\"encode_ms\":" + std::to_string(encode_ms));

    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die(1, std::string("socket: ") + std::strerror(errno));
    auto la = to_sockaddr(*local, 0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&la), sizeof la) != 0) die(1, std::string("bind: ") + std::strerror(errno));
    auto pa = to_sockaddr(*peer, port);
    // Receivers may still be starting: retry the connect, bounded by the deadline.
    while (::connect(fd, reinterpret_cast<sockaddr*>(&pa), sizeof pa) != 0) {
        if (Clock::now() >= deadline) die(3, std::string("connect: ") + std::strerror(errno));
        ::close(fd);
        ::usleep(100'000);
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&la), sizeof la) != 0)
            die(1, std::string("socket/bind: ") + std::strerror(errno));
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    Connection conn(fd, deadline);

    bgp::OpenMessage open;
    open.my_as = local_as > 0xffff ? bgp::kAsTrans : static_cast<std::uint16_t>(local_as);
    open.hold_time = hold_time;
    open.bgp_id = rid->v4_host_order();
    open.multiprotocol = {bgp::AfiSafi{}};
    open.route_refresh = true;
    open.four_octet_as = local_as;
    conn.write_all(bgp::encode(open));
    auto first = conn.wait_message("OPEN");
    if (!std::holds_alternative<bgp::OpenMessage>(first)) die(2, "expected OPEN");
    if (std::get<bgp::OpenMessage>(first).asn() != peer_as) die(2, "receiver's AS is not --peer-as");
    conn.write_all(bgp::encode(bgp::KeepaliveMessage{}));
    auto second = conn.wait_message("KEEPALIVE");
    if (!std::holds_alternative<bgp::KeepaliveMessage>(second) && !std::holds_alternative<bgp::UpdateMessage>(second))
        die(2, "expected KEEPALIVE");
    event("established");

    event("first_update");
    conn.write_stream(feed.announcements);
    event("sent_all", "\"updates\":" + std::to_string(feed.announcements.messages));

    if (!withdraw_trigger.empty()) {
        conn.idle_until([&] { return file_exists(withdraw_trigger); });
        event("first_withdraw");
        conn.write_stream(feed.withdrawals);
        event("sent_withdrawals", "\"updates\":" + std::to_string(feed.withdrawals.messages));
    }
    if (!stop_trigger.empty()) conn.idle_until([&] { return file_exists(stop_trigger); });
    ::close(fd);
    return 0;
}
