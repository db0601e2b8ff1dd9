// What the list/watch client asks the API server: the server URL split for cpp-httplib, the LIST
// and WATCH request paths (k8s-api.md §2, §3.1), and the RBAC hint for a refused request. Pure code.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "k8s-client/resource.hpp"

namespace kroute::k8s {

struct ServerUrl {
    bool https = true;
    std::string host;       // without brackets: "10.96.0.1", "fd00::1", "api.example"
    int port = 443;
    std::string base_path;  // "" or "/k8s/clusters/c-1" (no trailing slash)
};

// "https://10.96.0.1:443", "https://[fd00::1]:6443", "http://127.0.0.1:8080/prefix".
[[nodiscard]] Expected<ServerUrl, std::string> parse_server_url(std::string_view url);

// net.JoinHostPort: an IPv6 literal is bracketed.
[[nodiscard]] std::string join_host_port(std::string_view host, std::string_view port);

// Percent-encodes everything but RFC 3986 unreserved characters (continue tokens are base64).
[[nodiscard]] std::string url_encode(std::string_view s);

struct ListRequest {
    std::string resource_version;  // "0": any (watch cache), "": most recent (quorum), "N": not older than N
    std::string continue_token;
    int limit = 500;               // 0: unpaged
};
// GET /api/v1/nodes?... (every namespace's objects for a namespaced kind); a continue page sends
// no resourceVersion (client-go tools/pager).
[[nodiscard]] std::string list_path(const ServerUrl& server, const ResourceKind& kind, const ListRequest& req);

// GET /api/v1/nodes?allowWatchBookmarks=true&resourceVersion=RV&timeoutSeconds=N&watch=true
[[nodiscard]] std::string watch_path(const ServerUrl& server, const ResourceKind& kind,
                                     std::string_view resource_version, std::chrono::seconds timeout);

// What to tell an operator about a 401/403 on `verb` ("list", "watch") of `kind`: for a 403 the
// ClusterRole rule that is missing.
[[nodiscard]] std::string auth_failure_hint(int http_status, std::string_view verb, const ResourceKind& kind);

}  // namespace kroute::k8s
