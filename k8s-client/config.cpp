// Client configuration: in-cluster (client-go rest.InClusterConfig) and kubeconfig (client-go
// clientcmd), reduced to what a node daemon needs (k8s-api.md §1). Reads files; never throws.
#include "k8s-client/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "k8s-client/api_request.hpp"

namespace kroute::k8s {
namespace {

namespace fs = std::filesystem;

// Kubeconfigs, certificates and tokens are kilobytes; a path naming a device or a huge file is a
// mistake to report, not something to read forever.
constexpr std::size_t kMaxFileBytes = 16 << 20;

Expected<std::string, std::string> read_file(const std::string& path) {
    std::ifstream in{path, std::ios::binary};
    if (!in) return unexpected("cannot read " + path);
    std::string out;
    char chunk[64 * 1024];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        out.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (out.size() > kMaxFileBytes) return unexpected(path + " is larger than 16 MiB");
    }
    if (in.bad()) return unexpected("cannot read " + path);
    return out;
}

std::string trim_space(std::string s) {
    auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

Expected<std::string, std::string> decode_base64(std::string_view in, const std::string& what) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=') { padding = true; continue; }
        else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (v < 0 || padding) return unexpected(what + ": invalid base64");
        acc = (acc << 6U) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU));
        }
    }
    if (bits >= 6) return unexpected(what + ": truncated base64");
    return out;
}

// A scalar string member of a YAML map; "" when absent. A non-scalar is an error.
Expected<std::string, std::string> yaml_string(const YAML::Node& map, const char* key, const std::string& where) {
    const YAML::Node v = map[key];
    if (!v || v.IsNull()) return std::string{};
    if (!v.IsScalar()) return unexpected(where + "." + key + ": expected a string");
    return v.as<std::string>();
}

// The `field` map of the entry named `name` in the list `list_key` (clusters/users/contexts).
Expected<YAML::Node, std::string> find_named(const YAML::Node& root, const char* list_key, const char* field,
                                             const std::string& name) {
    const YAML::Node list = root[list_key];
    if (!list || list.IsNull()) return unexpected(std::string{list_key} + ": missing (looking for \"" + name + "\")");
    if (!list.IsSequence()) return unexpected(std::string{list_key} + ": expected a list");
    for (const auto& entry : list) {
        if (!entry.IsMap()) continue;
        const YAML::Node n = entry["name"];
        if (n && n.IsScalar() && n.as<std::string>() == name) {
            YAML::Node body = entry[field];
            if (!body || body.IsNull()) return YAML::Node{YAML::NodeType::Map};
            if (!body.IsMap()) return unexpected(std::string{list_key} + " \"" + name + "\": " + field + " is not a map");
            return body;
        }
    }
    return unexpected(std::string{list_key} + ": no entry named \"" + name + "\"");
}

std::string resolve_path(const std::string& path, const fs::path& base_dir) {
    if (path.empty() || fs::path{path}.is_absolute()) return path;
    return (base_dir / path).lexically_normal().string();
}

// `<key>-data` (base64 PEM) wins over `<key>` (a file), as in client-go.
Expected<std::string, std::string> pem_from(const YAML::Node& map, const std::string& key, const std::string& where,
                                            const fs::path& base_dir, const FileReader& read) {
    auto data = yaml_string(map, (key + "-data").c_str(), where);
    if (!data) return unexpected(std::move(data).error());
    if (!data->empty()) return decode_base64(*data, where + "." + key + "-data");
    auto file = yaml_string(map, key.c_str(), where);
    if (!file) return unexpected(std::move(file).error());
    if (file->empty()) return std::string{};
    auto content = read(resolve_path(*file, base_dir));
    if (!content) return unexpected(where + "." + key + ": " + content.error());
    return content;
}

Expected<ClientConfig, std::string> parse_kubeconfig_impl(const std::string& text, const fs::path& base_dir,
                                                         const FileReader& read) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return unexpected(std::string{"not valid YAML: "} + e.what());
    }
    if (!root.IsMap()) return unexpected(std::string{"not a kubeconfig (expected a map)"});

    auto context_name = yaml_string(root, "current-context", "kubeconfig");
    if (!context_name) return unexpected(std::move(context_name).error());
    if (context_name->empty()) return unexpected(std::string{"current-context is not set"});
    auto context = find_named(root, "contexts", "context", *context_name);
    if (!context) return unexpected(std::move(context).error());
    const std::string ctx_where = "context \"" + *context_name + "\"";
    auto cluster_name = yaml_string(*context, "cluster", ctx_where);
    if (!cluster_name) return unexpected(std::move(cluster_name).error());
    if (cluster_name->empty()) return unexpected(ctx_where + " names no cluster");
    auto user_name = yaml_string(*context, "user", ctx_where);
    if (!user_name) return unexpected(std::move(user_name).error());

    ClientConfig cfg;
    auto cluster = find_named(root, "clusters", "cluster", *cluster_name);
    if (!cluster) return unexpected(std::move(cluster).error());
    const std::string cl_where = "cluster \"" + *cluster_name + "\"";
    auto server = yaml_string(*cluster, "server", cl_where);
    if (!server) return unexpected(std::move(server).error());
    if (server->empty()) return unexpected(cl_where + " has no server");
    cfg.server = *server;
    auto ca = pem_from(*cluster, "certificate-authority", cl_where, base_dir, read);
    if (!ca) return unexpected(std::move(ca).error());
    cfg.ca_pem = std::move(*ca);
    if (auto data = yaml_string(*cluster, "certificate-authority-data", cl_where); data && data->empty()) {
        if (auto file = yaml_string(*cluster, "certificate-authority", cl_where); file)
            cfg.ca_file = resolve_path(*file, base_dir);
    }
    if (const YAML::Node insecure = (*cluster)["insecure-skip-tls-verify"]; insecure && !insecure.IsNull()) {
        if (!insecure.IsScalar()) return unexpected(cl_where + ".insecure-skip-tls-verify: expected a boolean");
        bool b = false;
        if (!YAML::convert<bool>::decode(insecure, b))
            return unexpected(cl_where + ".insecure-skip-tls-verify: expected a boolean");
        cfg.insecure_skip_tls_verify = b;
    }
    if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty())
        // client-go transport.go: "specifying a root certificates file with the insecure flag is not allowed"
        return unexpected(cl_where + ": certificate-authority together with insecure-skip-tls-verify is not allowed");
    auto sni = yaml_string(*cluster, "tls-server-name", cl_where);
    if (!sni) return unexpected(std::move(sni).error());
    cfg.tls_server_name = std::move(*sni);

    if (user_name->empty()) return cfg;  // a context without a user: anonymous
    auto user = find_named(root, "users", "user", *user_name);
    if (!user) return unexpected(std::move(user).error());
    const std::string u_where = "user \"" + *user_name + "\"";
    for (const char* plugin : {"exec", "auth-provider"}) {
        if (const YAML::Node p = (*user)[plugin]; p && !p.IsNull())
            return unexpected(u_where + " uses an " + std::string{plugin} +
                              " credential plugin, which kroute does not support: use a token, tokenFile or a "
                              "client certificate (or run in-cluster)");
    }
    if (const YAML::Node p = (*user)["username"]; p && !p.IsNull())
        return unexpected(u_where + " uses basic auth (username/password), which kroute does not support");
    auto token = yaml_string(*user, "token", u_where);
    if (!token) return unexpected(std::move(token).error());
    cfg.token = std::move(*token);
    auto token_file = yaml_string(*user, "tokenFile", u_where);
    if (!token_file) return unexpected(std::move(token_file).error());
    cfg.token_file = resolve_path(*token_file, base_dir);
    if (!cfg.token_file.empty() && cfg.token.empty()) {
        auto t = read(cfg.token_file);
        if (!t) return unexpected(u_where + ".tokenFile: " + t.error());
        cfg.token = trim_space(std::move(*t));
    }
    auto cert = pem_from(*user, "client-certificate", u_where, base_dir, read);
    if (!cert) return unexpected(std::move(cert).error());
    cfg.client_cert_pem = std::move(*cert);
    auto key = pem_from(*user, "client-key", u_where, base_dir, read);
    if (!key) return unexpected(std::move(key).error());
    cfg.client_key_pem = std::move(*key);
    if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty())
        return unexpected(u_where + ": client-certificate and client-key must be given together");
    return cfg;
}

}  // namespace

Expected<ClientConfig, std::string> load_in_cluster_config(const std::string& secrets_dir) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0')
        return unexpected(std::string{
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
            "(or give --kubeconfig)"});
    ClientConfig cfg;
    cfg.server = "https://" + join_host_port(host, port);
    const fs::path dir{secrets_dir};
    cfg.token_file = (dir / "token").string();
    auto token = read_file(cfg.token_file);
    if (!token) return unexpected("in-cluster config: " + token.error());
    cfg.token = trim_space(std::move(*token));
    if (cfg.token.empty()) return unexpected("in-cluster config: " + cfg.token_file + " is empty");
    cfg.ca_file = (dir / "ca.crt").string();
    auto ca = read_file(cfg.ca_file);
    if (ca) {
        cfg.ca_pem = std::move(*ca);
    } else {
        // client-go logs and falls back to the system roots (rest/config.go InClusterConfig).
        log::get("k8s")->warn("in-cluster config: {}; verifying the API server against the system roots",
                              ca.error());
    }
    return cfg;
}

Expected<ClientConfig, std::string> parse_kubeconfig(const std::string& text, const std::string& base_dir,
                                                    const FileReader& read) {
    try {
        return parse_kubeconfig_impl(text, fs::path{base_dir}, read);
    } catch (const std::exception& e) {  // yaml-cpp conversions; defensive
        return unexpected(std::string{e.what()});
    }
}

Expected<ClientConfig, std::string> load_kubeconfig(const std::string& path) {
    auto text = read_file(path);
    if (!text) return unexpected("kubeconfig " + path + ": " + text.error());
    auto cfg = parse_kubeconfig(*text, fs::path{path}.parent_path().string(), read_file);
    if (!cfg) return unexpected("kubeconfig " + path + ": " + cfg.error());
    return cfg;
}

Expected<ClientConfig, std::string> resolve_config(const std::string& kubeconfig_path, const std::string& master) {
    std::string server = master;
    if (!server.empty() && server.find("://") == std::string::npos) server = "https://" + server;
    Expected<ClientConfig, std::string> cfg =
        kubeconfig_path.empty() ? load_in_cluster_config() : load_kubeconfig(kubeconfig_path);
    if (!cfg) {
        // clientcmd.BuildConfigFromFlags: --master alone is enough to talk to an unauthenticated server.
        if (kubeconfig_path.empty() && !server.empty()) {
            ClientConfig bare;
            bare.server = server;
            return bare;
        }
        return cfg;
    }
    if (!server.empty()) cfg->server = server;
    return cfg;
}

}  // namespace kroute::k8s
