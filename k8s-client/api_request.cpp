#include "k8s-client/api_request.hpp"

#include <charconv>

namespace kroute::k8s {

Expected<ServerUrl, std::string> parse_server_url(std::string_view url) {
    ServerUrl out;
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        out.https = false;
        out.port = 80;
        rest.remove_prefix(7);
    } else {
        return unexpected("server URL \"" + std::string{url} + "\": expected https:// or http://");
    }
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        out.base_path = std::string{path};
    }
    std::string_view port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return unexpected("server URL \"" + std::string{url} + "\": unclosed [");
        out.host = std::string{authority.substr(1, close - 1)};
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return unexpected("server URL \"" + std::string{url} + "\": junk after ]");
            port = after.substr(1);
        }
    } else {
        auto colon = authority.rfind(':');
        if (colon != std::string_view::npos && authority.find(':') != colon)
            return unexpected("server URL \"" + std::string{url} + "\": an IPv6 host must be bracketed");
        out.host = std::string{authority.substr(0, colon)};
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (out.host.empty()) return unexpected("server URL \"" + std::string{url} + "\": no host");
    if (!port.empty()) {
        int p = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || end != port.data() + port.size() || p <= 0 || p > 65535)
            return unexpected("server URL \"" + std::string{url} + "\": bad port \"" + std::string{port} + "\"");
        out.port = p;
    }
    return out;
}

std::string join_host_port(std::string_view host, std::string_view port) {
    std::string out;
    if (host.find(':') != std::string_view::npos)
        out.append("[").append(host).append("]");
    else
        out.append(host);
    return out.append(":").append(port);
}

std::string url_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4U]);
            out.push_back(kHex[c & 0xFU]);
        }
    }
    return out;
}

std::string list_path(const ServerUrl& server, const ResourceKind& kind, const ListRequest& req) {
    std::string path = server.base_path + kind.collection_path();
    std::string query;
    auto add = [&query](std::string_view key, std::string_view value) {
        query.append(query.empty() ? "?" : "&").append(key).append("=").append(url_encode(value));
    };
    if (!req.continue_token.empty()) add("continue", req.continue_token);
    if (req.limit > 0) add("limit", std::to_string(req.limit));
    if (req.continue_token.empty() && !req.resource_version.empty()) add("resourceVersion", req.resource_version);
    return path + query;
}

std::string watch_path(const ServerUrl& server, const ResourceKind& kind, std::string_view resource_version,
                       std::chrono::seconds timeout) {
    std::string path = server.base_path + kind.collection_path() + "?allowWatchBookmarks=true";
    if (!resource_version.empty()) path.append("&resourceVersion=").append(url_encode(resource_version));
    path.append("&timeoutSeconds=").append(std::to_string(timeout.count())).append("&watch=true");
    return path;
}

std::string auth_failure_hint(int http_status, std::string_view verb, const ResourceKind& kind) {
    if (http_status == 401)
        return "the API server rejected our credentials (401 Unauthorized): check the service account token "
               "(or the kubeconfig user)";
    const std::string resource{kind.resource};
    return "the API server forbids it (403 Forbidden): grant list and watch on " + resource +
           " to kroute's service account (ClusterRole rule: apiGroups [\"" + std::string{kind.group} +
           "\"], resources [\"" + resource + "\"], verbs [\"get\", \"list\", \"watch\"]); the " +
           std::string{verb} + " was refused";
}

}  // namespace kroute::k8s
