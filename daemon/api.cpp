#include "daemon/api.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

#include "bgp/errors.hpp"
#include "common/log.hpp"

namespace kroute::daemon {
namespace {

using nlohmann::json;

json addresses(const std::vector<IpAddress>& as) {
    json out = json::array();
    for (const auto& a : as) out.push_back(a.to_string());
    return out;
}

json prefixes(const std::vector<Prefix>& ps) {
    json out = json::array();
    for (const auto& p : ps) out.push_back(p.to_string());
    return out;
}

std::string origin_name(const std::optional<bgp::Origin>& o) {
    if (!o) return "";
    switch (*o) {
        case bgp::Origin::kIgp: return "IGP";
        case bgp::Origin::kEgp: return "EGP";
        case bgp::Origin::kIncomplete: return "incomplete";
    }
    return "";
}

json as_path_json(const std::optional<std::vector<bgp::AsPathSegment>>& path) {
    json out = json::array();
    if (!path) return out;
    for (const auto& seg : *path) {
        if (seg.type == bgp::AsPathSegment::kAsSet) {
            json set = json::array();
            for (auto a : seg.asns) set.push_back(a);
            out.push_back(set);
        } else {
            for (auto a : seg.asns) out.push_back(a);
        }
    }
    return out;
}

json cluster_list_json(const std::vector<std::uint32_t>& ids) {
    json out = json::array();
    for (auto id : ids) out.push_back(IpAddress::v4(id).to_string());
    return out;
}

std::string family_name(const bgp::AfiSafi& f) {
    if (f == bgp::AfiSafi{bgp::kAfiIpv4, bgp::kSafiUnicast}) return "ipv4-unicast";
    if (f == bgp::AfiSafi{bgp::kAfiIpv6, bgp::kSafiUnicast}) return "ipv6-unicast";
    return "afi " + std::to_string(f.afi) + " safi " + std::to_string(f.safi);
}

json families_json(const std::vector<bgp::AfiSafi>& fs) {
    json out = json::array();
    for (const auto& f : fs) out.push_back(family_name(f));
    return out;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (auto b : bytes) {
        out += kDigits[b >> 4];
        out += kDigits[b & 0xf];
    }
    return out;
}

// One capability as sent, as received and as negotiated; `of` gives the capability's value in an
// OPEN (sent or received may be null: no OPEN yet).
template <class Of>
json capability(const std::optional<bgp::OpenMessage>& sent, const std::optional<bgp::OpenMessage>& received,
                json negotiated, const Of& of) {
    return {{"sent", sent ? of(*sent) : json()}, {"received", received ? of(*received) : json()},
            {"negotiated", std::move(negotiated)}};
}

json graceful_restart_json(const std::optional<bgp::GracefulRestart>& gr) {
    if (!gr) return false;
    json families = json::array();
    for (const auto& f : gr->families)
        families.push_back({{"family", family_name(f.family)}, {"forwarding_state", f.forwarding_state}});
    return {{"restart_time", gr->restart_time},
            {"restart_state", gr->restart_state},
            {"notification", gr->notification},
            {"families", families}};
}

std::string add_path_mode(bgp::AddPathMode m) {
    switch (m) {
        case bgp::AddPathMode::kReceive: return "receive";
        case bgp::AddPathMode::kSend: return "send";
        case bgp::AddPathMode::kBoth: return "both";
    }
    return "unknown";
}

// RFC 5492 capabilities of the session: each sent, received, negotiated.
json capabilities_json(const bgp::NeighborSnapshot& n) {
    const auto& s = n.open_sent;
    const auto& r = n.open_received;
    const bgp::Negotiated* g = n.negotiated ? &*n.negotiated : nullptr;
    auto both = [&](auto member) -> json {
        if (!s || !r) return json();
        return static_cast<bool>((*s).*member) && static_cast<bool>((*r).*member);
    };
    json caps;
    caps["multiprotocol"] = capability(s, r, g ? families_json(g->families) : json(), [](const bgp::OpenMessage& o) {
        // RFC 4760 §8: no multiprotocol capability at all is IPv4 unicast.
        return o.multiprotocol.empty() ? json::array() : families_json(o.multiprotocol);
    });
    caps["four_octet_as"] = capability(s, r, g ? json(g->four_octet_as) : json(), [](const bgp::OpenMessage& o) {
        return o.four_octet_as ? json(*o.four_octet_as) : json(false);
    });
    caps["route_refresh"] = capability(s, r, both(&bgp::OpenMessage::route_refresh),
                                       [](const bgp::OpenMessage& o) { return json(o.route_refresh); });
    caps["enhanced_route_refresh"] =
        capability(s, r, g ? json(g->enhanced_route_refresh) : json(),
                   [](const bgp::OpenMessage& o) { return json(o.enhanced_route_refresh); });
    caps["graceful_restart"] = capability(s, r, g ? json(g->graceful_restart) : json(), [](const bgp::OpenMessage& o) {
        return graceful_restart_json(o.graceful_restart);
    });
    json add_path_negotiated;
    if (g) add_path_negotiated = {{"receive", families_json(g->add_path_receive)}, {"send", families_json(g->add_path_send)}};
    caps["add_path"] = capability(s, r, add_path_negotiated, [](const bgp::OpenMessage& o) {
        json out = json::array();
        for (const auto& f : o.add_path) out.push_back({{"family", family_name(f.family)}, {"mode", add_path_mode(f.mode)}});
        return out;
    });
    caps["extended_message"] = capability(s, r, g ? json(g->extended_message) : json(),
                                          [](const bgp::OpenMessage& o) { return json(o.extended_message); });
    caps["extended_next_hop"] =
        capability(s, r, g ? json(g->ipv4_with_ipv6_next_hop) : json(), [](const bgp::OpenMessage& o) {
            json out = json::array();
            for (const auto& e : o.extended_next_hop)
                out.push_back({{"family", family_name(e.family)},
                               {"next_hop_afi", e.next_hop_afi == bgp::kAfiIpv6   ? json("ipv6")
                                                : e.next_hop_afi == bgp::kAfiIpv4 ? json("ipv4")
                                                                                  : json(e.next_hop_afi)}});
            return out;
        });
    caps["other"] = capability(s, r, json(), [](const bgp::OpenMessage& o) {
        json out = json::array();
        for (const auto& c : o.other_capabilities) out.push_back(c.code);
        return out;
    });
    return caps;
}

std::string utc_time(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// A NOTIFICATION with the names of its code and subcode, its data and, for Cease / Administrative
// Shutdown or Reset, the RFC 9003 message; null when there was none.
json notification_json(const std::optional<bgp::NotificationRecord>& r) {
    if (!r) return json();
    const auto& m = r->message;
    std::string message;
    if (m.code == bgp::kCease && (m.subcode == bgp::kCeaseAdministrativeShutdown || m.subcode == bgp::kCeaseAdministrativeReset)) {
        if (auto text = bgp::decode_shutdown_communication(m.data)) message = *text;
    }
    const auto ago = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - r->at).count();
    return {{"code", m.code},
            {"subcode", m.subcode},
            {"name", bgp::notification_to_string(m.code, m.subcode)},
            {"text", bgp::notification_to_string(m.code, m.subcode, m.data)},
            {"data", hex(m.data)},
            {"message", message},
            {"time", utc_time(r->at)},
            {"seconds_ago", std::max<std::int64_t>(ago, 0)}};
}

json neighbor_json(const bgp::NeighborSnapshot& n, bool detail) {
    json j{{"address", n.address.to_string()},
           {"asn", n.asn},
           {"description", n.description},
           {"state", n.state},
           {"uptime_seconds", n.uptime.count()},
           {"prefixes_received", n.prefixes_received},
           {"prefixes_sent", n.prefixes_sent},
           {"prefixes_rejected", n.prefixes_rejected},
           {"prefixes_stale", n.prefixes_stale},
           {"graceful_restart", n.graceful_restart},
           {"route_reflector_client", n.route_reflector_client},
           {"max_prefix_state", n.max_prefix_state},
           {"last_error", n.last_error},
           {"admin_shutdown", n.admin_shutdown}};
    if (detail) {
        j["end_of_rib_received"] = n.end_of_rib_received;
        j["remote_router_id"] = n.remote_router_id == 0 ? "" : IpAddress::v4(n.remote_router_id).to_string();
        j["negotiated_hold_time"] = n.negotiated_hold_time;
        j["messages_received"] = n.messages_received;
        j["messages_sent"] = n.messages_sent;
        j["local_asn"] = n.open_sent ? json(n.open_sent->asn()) : json();
        j["capabilities"] = capabilities_json(n);
        j["timers"] = {{"hold_time", n.timers.hold_time.count()},
                       {"keepalive", n.timers.keepalive.count()},
                       {"connect_retry", n.timers.connect_retry.count()},
                       {"peer_hold_time", n.open_received ? json(n.open_received->hold_time) : json()},
                       {"negotiated_hold_time", n.negotiated_hold_time},
                       {"negotiated_keepalive", n.negotiated_keepalive}};
        j["counters"] = {{"messages_received", n.messages_received},
                         {"messages_sent", n.messages_sent},
                         {"updates_received", n.updates_received},
                         {"updates_sent", n.updates_sent},
                         {"flaps", n.flaps},
                         {"prefixes_received", n.prefixes_received + n.prefixes_rejected},
                         {"prefixes_accepted", n.prefixes_received},
                         {"prefixes_rejected", n.prefixes_rejected},
                         {"prefixes_sent", n.prefixes_sent},
                         {"prefixes_stale", n.prefixes_stale}};
        j["last_notification_sent"] = notification_json(n.last_notification_sent);
        j["last_notification_received"] = notification_json(n.last_notification_received);
    }
    return j;
}

json status(const ApiContext& ctx) {
    auto s = ctx.controller.status();
    const auto* speaker = ctx.controller.speaker();
    std::size_t total = 0, established = 0, rib = 0;
    if (speaker) {
        for (const auto& n : speaker->neighbors()) {
            ++total;
            if (n.state == "Established") ++established;
        }
        rib = speaker->rib_prefix_count();
    }
    auto fib = ctx.fib_snapshot(false);
    json j{{"node", s.node},
           {"router_id", s.router_id},
           {"asn", s.asn},
           {"peers_total", total},
           {"peers_established", established},
           {"rib_prefixes", rib},
           {"fib_routes", fib ? fib->kernel_routes : ctx.controller.desired_route_count()},
           {"fib_enabled", fib.has_value()},
           {"node_address", s.node_address ? s.node_address->to_string() : ""},
           {"pod_cidrs", prefixes(s.pod_cidrs)},
           {"nodes_known", s.nodes_known},
           {"nodes_synced", s.nodes_synced},
           {"bgp_started", s.speaker_started},
           {"stale_sweep_enabled", s.stale_sweep_enabled},
           {"routes_rejected", s.routes_rejected},
           {"conflist_error", s.conflist_error},
           {"bgp_graceful_shutdown", speaker != nullptr && speaker->graceful_shutdown()}};
    if (fib) {
        j["fib_errors"] = fib->errors;
        j["fib_last_error"] = fib->last_error;
    }
    return j;
}

json neighbors(const ApiContext& ctx, const std::optional<IpAddress>& only) {
    json out = json::array();
    const auto* speaker = ctx.controller.speaker();
    if (!speaker) return out;
    for (const auto& n : speaker->neighbors()) {
        if (only && n.address != *only) continue;
        out.push_back(neighbor_json(n, only.has_value()));
    }
    return out;
}

json rib(const ApiContext& ctx, const std::optional<Prefix>& only) {
    json out = json::array();
    const auto* speaker = ctx.controller.speaker();
    if (!speaker) return out;
    for (const auto& entry : speaker->rib(only)) {
        json paths = json::array();
        for (const auto& p : entry.paths) {
            json communities = json::array();
            for (auto c : p.attributes.communities)
                communities.push_back(std::to_string(c >> 16) + ":" + std::to_string(c & 0xffff));
            json extended_communities = json::array();
            for (auto c : p.attributes.extended_communities) extended_communities.push_back(bgp::extended_community_to_string(c));
            json large_communities = json::array();
            for (const auto& c : p.attributes.large_communities) large_communities.push_back(bgp::large_community_to_string(c));
            paths.push_back({{"from", p.local ? "local" : p.from_peer.to_string()},
                             {"local", p.local},
                             {"best", p.best},
                             {"next_hops", addresses(p.next_hops)},
                             {"as_path", as_path_json(p.attributes.as_path)},
                             {"origin", origin_name(p.attributes.origin)},
                             {"local_pref", p.attributes.local_pref ? json(*p.attributes.local_pref) : json()},
                             {"med", p.attributes.med ? json(*p.attributes.med) : json()},
                             {"communities", communities},
                             {"extended_communities", extended_communities},
                             {"large_communities", large_communities},
                             {"originator_id", p.attributes.originator_id
                                                   ? json(IpAddress::v4(*p.attributes.originator_id).to_string())
                                                   : json()},
                             {"cluster_list", cluster_list_json(p.attributes.cluster_list)},
                             {"path_id", p.path_id},
                             {"reason", p.reason},
                             {"why_not_best", p.why_not_best},
                             {"multipath", p.multipath}});
        }
        out.push_back({{"prefix", entry.prefix.to_string()}, {"paths", paths}});
    }
    return out;
}

json routes(const ApiContext& ctx) {
    auto fib = ctx.fib_snapshot(true);
    std::map<Prefix, std::pair<std::optional<FibRoute>, std::optional<FibRoute>>> rows;
    for (const auto& [p, r] : ctx.controller.desired_routes()) rows[p].first = r;
    if (fib)
        for (const auto& r : fib->kernel) rows[r.prefix].second = r;
    json out = json::array();
    for (const auto& [p, pair] : rows) {
        const auto& [want, have] = pair;
        std::string state;
        if (!fib) state = "no-fib";
        else if (want && have) state = want->next_hops == have->next_hops ? "ok" : "different";
        else if (want) state = "missing";
        else state = "stale";
        out.push_back({{"prefix", p.to_string()},
                       {"desired_next_hops", want ? addresses(want->next_hops) : json::array()},
                       {"kernel_next_hops", have ? addresses(have->next_hops) : json::array()},
                       {"state", state}});
    }
    return out;
}

json node(const ApiContext& ctx) {
    const auto& nodes = ctx.controller.nodes();
    auto it = nodes.find(ctx.controller.status().node);
    if (it == nodes.end()) return {{"name", ctx.controller.status().node}, {"found", false}};
    const auto& n = it->second;
    return {{"name", n.name},
            {"found", true},
            {"internal_ips", addresses(n.internal_ips)},
            {"external_ips", addresses(n.external_ips)},
            {"pod_cidrs", prefixes(n.pod_cidrs)},
            {"resource_version", n.resource_version},
            {"labels", n.labels},
            {"annotations", n.annotations},
            {"nodes_known", nodes.size()}};
}

json config(const ApiContext& ctx) {
    json out = json::object();
    for (const auto& [k, v] : describe(ctx.controller.options())) out[k] = v;
    return out;
}

}  // namespace

json handle_api_request(const json& request, const ApiContext& ctx) {
    if (!request.is_object() || !request.contains("command") || !request["command"].is_string())
        return {{"error", "a request is a JSON object with a \"command\" string"}};
    const auto command = request["command"].get<std::string>();
    auto arg = [&](const char* key) -> std::string {
        return request.contains(key) && request[key].is_string() ? request[key].get<std::string>() : "";
    };
    if (command == "status") return status(ctx);
    if (command == "neighbors") return neighbors(ctx, std::nullopt);
    if (command == "neighbor") {
        auto a = IpAddress::parse(arg("address"));
        if (!a) return {{"error", "neighbor: '" + arg("address") + "' is not an IP address"}};
        if (const std::string action = arg("action"); !action.empty()) {
            std::optional<bgp::PeerAction> what;
            const std::string dir = arg("direction");
            if (action == "reset") what = bgp::PeerAction::kReset;
            else if (action == "soft-reset" && dir == "in") what = bgp::PeerAction::kSoftResetIn;
            else if (action == "soft-reset" && dir == "out") what = bgp::PeerAction::kSoftResetOut;
            else if (action == "shutdown") what = bgp::PeerAction::kShutdown;
            else if (action == "enable") what = bgp::PeerAction::kEnable;
            if (!what) return {{"error", "neighbor " + a->to_string() + ": '" + action + (dir.empty() ? "" : " " + dir) +
                                             "' is none of reset, soft-reset in, soft-reset out, shutdown, enable"}};
            if (!ctx.peer_action) return {{"error", "no BGP speaker is running"}};
            auto done = ctx.peer_action(*a, *what, arg("message"));
            if (!done) return {{"error", done.error()}};
            return {{"neighbor", a->to_string()}, {"done", *done}};
        }
        auto list = neighbors(ctx, a);
        if (list.empty()) return {{"error", "no neighbor " + a->to_string()}};
        return list.front();
    }
    if (command == "rib") {
        std::optional<Prefix> only;
        if (!arg("prefix").empty()) {
            only = Prefix::parse(arg("prefix"), true);
            if (!only) return {{"error", "rib: '" + arg("prefix") + "' is not a prefix"}};
        }
        return rib(ctx, only);
    }
    if (command == "routes") return routes(ctx);
    if (command == "node") return node(ctx);
    if (command == "config") return config(ctx);
    return {{"error", "unknown command '" + command + "'"}};
}

namespace {

class ApiConnection : public std::enable_shared_from_this<ApiConnection> {
public:
    ApiConnection(asio::local::stream_protocol::socket socket, const ApiContext& ctx)
        : socket_{std::move(socket)}, ctx_{ctx} {}

    void start() {
        auto self = shared_from_this();
        asio::async_read_until(socket_, asio::dynamic_buffer(in_, 64 * 1024), '\n',
                               [self](boost::system::error_code ec, std::size_t n) { self->on_read(ec, n); });
    }

private:
    void on_read(boost::system::error_code ec, std::size_t n) {
        if (ec) return;
        json reply;
        auto request = json::parse(in_.substr(0, n), nullptr, false);
        if (request.is_discarded()) reply = {{"error", "the request is not JSON"}};
        else reply = handle_api_request(request, ctx_);
        out_ = reply.dump() + "\n";
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(out_), [self](boost::system::error_code, std::size_t) {
            boost::system::error_code ignored;
            self->socket_.shutdown(asio::local::stream_protocol::socket::shutdown_both, ignored);
        });
    }

    asio::local::stream_protocol::socket socket_;
    const ApiContext& ctx_;
    std::string in_;
    std::string out_;
};

}  // namespace

ApiServer::ApiServer(asio::io_context& ioc, std::string socket_path, ApiContext ctx)
    : ioc_{ioc}, path_{std::move(socket_path)}, ctx_{std::move(ctx)} {}

ApiServer::~ApiServer() { stop(); }

Expected<void, std::string> ApiServer::start() {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto dir = fs::path(path_).parent_path();
    if (!dir.empty()) {
        fs::create_directories(dir, ec);
        if (ec) return unexpected("cannot create " + dir.string() + ": " + ec.message());
    }
    // A socket left by a previous run (killed) would make bind fail: replace it, but never a
    // regular file that happens to sit there.
    if (fs::is_socket(fs::symlink_status(path_, ec))) fs::remove(path_, ec);
    try {
        // umask for the bind so the socket is created 0600 (root only) with no window.
        mode_t old = ::umask(0177);
        acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(
            ioc_, asio::local::stream_protocol::endpoint(path_));
        ::umask(old);
    } catch (const boost::system::system_error& e) {
        return unexpected("cannot listen on " + path_ + ": " + e.code().message());
    }
    accept();
    log::get("ctl")->info("debug API on {}", path_);
    return {};
}

void ApiServer::stop() {
    if (!acceptor_) return;
    boost::system::error_code ec;
    acceptor_->close(ec);
    acceptor_.reset();
    std::error_code fec;
    std::filesystem::remove(path_, fec);
}

void ApiServer::accept() {
    acceptor_->async_accept([this](boost::system::error_code ec, asio::local::stream_protocol::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_) return;
        if (!ec) std::make_shared<ApiConnection>(std::move(socket), ctx_)->start();
        accept();
    });
}

}  // namespace kroute::daemon
