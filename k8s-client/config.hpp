// How to reach the API server: in-cluster service-account config or a kubeconfig file.
#pragma once

#include <functional>
#include <string>

#include "common/expected.hpp"

namespace kroute::k8s {

struct ClientConfig {
    std::string server;            // "https://10.96.0.1:443"
    std::string ca_pem;            // PEM bundle to verify the server with (empty: system roots)
    bool insecure_skip_tls_verify = false;
    std::string tls_server_name;   // SNI / name to verify, when not the server's host
    std::string token;             // bearer token (static)
    std::string token_file;        // bearer token file, re-read (rotating service-account tokens)
    std::string client_cert_pem;   // client certificate auth
    std::string client_key_pem;
    // Added by k8s-client: the file ca_pem was read from, if any. The watcher re-reads it after a
    // failed TLS handshake (CA rotation; client-go 1.36 ClientsAllowCARotation).
    std::string ca_file;
};

// KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}.
// `secrets_dir` is overridable for tests.
[[nodiscard]] Expected<ClientConfig, std::string> load_in_cluster_config(
    const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig file: current-context -> cluster (server, certificate-authority[-data],
// insecure-skip-tls-verify, tls-server-name) + user (token, tokenFile, client-certificate[-data],
// client-key[-data]). exec and auth-provider users are refused with an error naming them.
// Relative paths resolve against the kubeconfig's directory.
[[nodiscard]] Expected<ClientConfig, std::string> load_kubeconfig(const std::string& path);

// Reads a file a kubeconfig names (certificate authority, client certificate and key, token file).
using FileReader = std::function<Expected<std::string, std::string>(const std::string& path)>;
// The kubeconfig's text itself, its relative paths resolved against base_dir and read with `read`
// (load_kubeconfig reads from disk, at most 16 MiB a file; the fuzz target reads nothing).
[[nodiscard]] Expected<ClientConfig, std::string> parse_kubeconfig(const std::string& text, const std::string& base_dir,
                                                                   const FileReader& read);

// kube-router's order: --kubeconfig if given, else in-cluster; `master` (if not empty) overrides
// the server.
[[nodiscard]] Expected<ClientConfig, std::string> resolve_config(const std::string& kubeconfig_path,
                                                                 const std::string& master);

}  // namespace kroute::k8s
