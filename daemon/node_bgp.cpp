#include "daemon/node_bgp.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "bgp/policy.hpp"

namespace kroute::daemon {
namespace {

const std::string* annotation(const k8s::Node& n, const char* key) {
    auto it = n.annotations.find(key);
    return it == n.annotations.end() ? nullptr : &it->second;
}

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(trim(item));
    if (!text.empty() && text.back() == ',') out.emplace_back();
    return out;
}

template <class T>
std::optional<T> number(const std::string& s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// One peer's fields, validated as the --peer-router-* flags are. `where` names the annotation.
Expected<ExternalPeer, std::string> make_peer(const std::string& ip, const std::string& asn, const std::string& port,
                                              const std::string& password, const std::string& local_ip) {
    ExternalPeer p;
    auto addr = IpAddress::parse(ip);
    if (!addr || addr->is_unspecified()) return unexpected("'" + ip + "' is not a peer's IP address");
    p.address = *addr;
    auto a = number<std::uint64_t>(asn);
    if (!a || !usable_peer_asn(*a)) return unexpected("AS '" + asn + "' for " + ip + " is not a usable AS number");
    p.asn = static_cast<std::uint32_t>(*a);
    if (!port.empty()) {
        auto n = number<std::uint32_t>(port);
        if (!n || *n == 0 || *n > 65535) return unexpected("port '" + port + "' for " + ip + " is not a port (1-65535)");
        p.port = static_cast<std::uint16_t>(*n);
    }
    if (!password.empty()) {
        auto pw = base64_decode(password);  // never echoed: errors name the peer only
        if (!pw) return unexpected("the password for " + ip + " is not base64");
        if (pw->empty() || pw->size() > 80) return unexpected("the password for " + ip + " must be 1 to 80 bytes once decoded");
        p.password = *pw;
    }
    if (!local_ip.empty()) {
        auto l = IpAddress::parse(local_ip);
        if (!l || l->is_unspecified() || l->family() != addr->family())
            return unexpected("local IP '" + local_ip + "' for " + ip + " is not an address of the peer's family");
        p.local_address = *l;
    }
    return p;
}

Expected<std::vector<ExternalPeer>, std::string> peers_yaml(const std::string& text) {
    YAML::Node doc;
    try {
        doc = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return unexpected(std::string{"not YAML: "} + e.what());
    }
    if (!doc.IsSequence()) return unexpected(std::string{"not a YAML list of peers"});
    std::vector<ExternalPeer> out;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const YAML::Node& item = doc[i];
        const std::string at = "peer " + std::to_string(i + 1) + ": ";
        if (!item.IsMap()) return unexpected(at + "not a map");
        auto scalar = [&](const char* key) -> std::string {
            const YAML::Node v = item[key];
            return v && v.IsScalar() ? trim(v.as<std::string>()) : std::string{};
        };
        for (const auto& kv : item) {
            const std::string key = kv.first.as<std::string>();
            if (key != "remoteip" && key != "remoteasn" && key != "localip" && key != "password" && key != "port" &&
                key != "bfd")
                return unexpected(at + "unknown key '" + key + "'");
        }
        if (scalar("remoteip").empty() || scalar("remoteasn").empty()) return unexpected(at + "remoteip and remoteasn are required");
        auto p = make_peer(scalar("remoteip"), scalar("remoteasn"), scalar("port"), scalar("password"), scalar("localip"));
        if (!p) return unexpected(at + p.error());
        if (const YAML::Node bfd = item["bfd"]) {
            if (!bfd.IsMap()) return unexpected(at + "bfd is not a map");
            auto field = [&](const char* key) -> std::string {
                const YAML::Node v = bfd[key];
                return v && v.IsScalar() ? trim(v.as<std::string>()) : std::string{};
            };
            const std::string enabled = field("enabled");
            if (!enabled.empty() && enabled != "true" && enabled != "false")
                return unexpected(at + "bfd.enabled '" + enabled + "' is neither true nor false");
            if (!enabled.empty()) p->bfd = enabled == "true";
            if (const std::string port = field("port"); !port.empty() && port != "3784")
                return unexpected(at + "bfd.port " + port + ": kroute's BFD listens on 3784 (RFC 5881) only");
            bgp::bfd::PeerBfdConfig c;
            c.required_min_rx = std::chrono::milliseconds(300);
            c.desired_min_tx = std::chrono::milliseconds(300);
            bool any = false;
            for (auto [key, dst] : {std::pair{"required_min_rx_interval", &c.required_min_rx},
                                    std::pair{"desired_min_tx_interval", &c.desired_min_tx}}) {
                const std::string v = field(key);
                if (v.empty()) continue;
                auto ms = number<std::uint32_t>(v);
                if (!ms || *ms < 10 || *ms > 60000)
                    return unexpected(at + "bfd." + key + " '" + v + "' is not a number of milliseconds (10-60000)");
                *dst = std::chrono::milliseconds(*ms);
                any = true;
            }
            if (const std::string v = field("detection_multiplier"); !v.empty()) {
                auto m = number<std::uint32_t>(v);
                if (!m || *m < 1 || *m > 255) return unexpected(at + "bfd.detection_multiplier '" + v + "' is not 1-255");
                c.detect_mult = static_cast<std::uint8_t>(*m);
                any = true;
            }
            if (any) p->bfd_config = c;
        }
        for (const auto& q : out)
            if (q.address == p->address) return unexpected(at + p->address.to_string() + " is listed twice");
        out.push_back(std::move(*p));
    }
    return out;
}

Expected<std::vector<ExternalPeer>, std::string> peers_lists(const k8s::Node& n) {
    const std::string* ips = annotation(n, kPeerIpsAnnotation);
    const std::string* asns = annotation(n, kPeerAsnsAnnotation);
    if (!ips && !asns) return std::vector<ExternalPeer>{};
    if (!ips || !asns) return unexpected(std::string{"peer.ips and peer.asns go together"});
    const auto ip = split_commas(*ips);
    const auto asn = split_commas(*asns);
    auto list = [&](const char* key) {
        const std::string* v = annotation(n, key);
        return v ? split_commas(*v) : std::vector<std::string>{};
    };
    const auto ports = list(kPeerPortsAnnotation);
    const auto passwords = list(kPeerPasswordsAnnotation);
    const auto locals = list(kPeerLocalIpsAnnotation);
    if (asn.size() != ip.size()) return unexpected(std::string{"peer.ips and peer.asns differ in length"});
    for (const auto* l : {&ports, &passwords, &locals})
        if (!l->empty() && l->size() != ip.size())
            return unexpected(std::string{"peer.ports, peer.passwords and peer.localips: none, or one per peer.ips entry"});
    std::vector<ExternalPeer> out;
    for (std::size_t i = 0; i < ip.size(); ++i) {
        auto p = make_peer(ip[i], asn[i], ports.empty() ? "" : ports[i], passwords.empty() ? "" : passwords[i],
                           locals.empty() ? "" : locals[i]);
        if (!p) return unexpected(p.error());
        for (const auto& q : out)
            if (q.address == p->address) return unexpected(p->address.to_string() + " is listed twice");
        out.push_back(std::move(*p));
    }
    return out;
}

}  // namespace

NodeBgp node_bgp(const k8s::Node& node) {
    NodeBgp out;
    auto error = [&](const char* key, const std::string& why) {
        out.errors.push_back("node " + node.name + ": annotation " + key + ": " + why + "; ignored");
    };
    if (const std::string* yaml = annotation(node, kPeersAnnotation)) {
        if (auto p = peers_yaml(*yaml)) out.peers = std::move(*p);
        else error(kPeersAnnotation, p.error());
    } else if (auto p = peers_lists(node); p) {
        out.peers = std::move(*p);
    } else {
        error(kPeerIpsAnnotation, p.error());
    }
    if (const std::string* asn = annotation(node, kNodeAsnAnnotation)) {
        auto a = number<std::uint64_t>(trim(*asn));
        if (a && usable_peer_asn(*a)) out.asn = static_cast<std::uint32_t>(*a);
        else error(kNodeAsnAnnotation, "'" + *asn + "' is not a usable AS number");
    }
    const std::string* pas = annotation(node, kPrependAsAnnotation);
    const std::string* prn = annotation(node, kPrependRepeatAnnotation);
    if (pas || prn) {
        auto a = pas ? number<std::uint64_t>(trim(*pas)) : std::nullopt;
        auto r = prn ? number<int>(trim(*prn)) : std::nullopt;
        if (!pas || !prn) error(pas ? kPrependAsAnnotation : kPrependRepeatAnnotation, "path-prepend.as and path-prepend.repeat-n go together");
        else if (!a || !usable_peer_asn(*a)) error(kPrependAsAnnotation, "'" + *pas + "' is not a usable AS number");
        else if (!r || *r < 1 || *r > bgp::kMaxPrepend)
            error(kPrependRepeatAnnotation, "'" + *prn + "' is not a count from 1 to " + std::to_string(bgp::kMaxPrepend));
        else {
            out.prepend_asn = static_cast<std::uint32_t>(*a);
            out.prepend_count = *r;
        }
    }
    if (const std::string* c = annotation(node, kCommunitiesAnnotation)) {
        std::vector<std::uint32_t> list;
        bool ok = true;
        for (const auto& item : split_commas(*c)) {
            if (item.empty()) continue;
            auto v = bgp::parse_community(item);
            if (!v) {
                error(kCommunitiesAnnotation, "'" + item + "' is not a community (a number, A:B or a well-known name)");
                ok = false;
                break;
            }
            list.push_back(*v);
        }
        if (ok) {
            std::sort(list.begin(), list.end());
            list.erase(std::unique(list.begin(), list.end()), list.end());
            out.communities = std::move(list);
        }
    }
    if (const std::string* r = annotation(node, kImportRejectAnnotation)) {
        std::vector<Prefix> list;
        bool ok = true;
        for (const auto& item : split_commas(*r)) {
            if (item.empty()) continue;
            auto p = Prefix::parse(item);
            if (!p) {  // host bits set are refused too
                error(kImportRejectAnnotation, "'" + item + "' is not a CIDR");
                ok = false;
                break;
            }
            list.push_back(*p);
        }
        if (ok) out.import_reject = std::move(list);
    }
    return out;
}

}  // namespace kroute::daemon
