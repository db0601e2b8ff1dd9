#include "tests/fake-apiserver/kubeconfig.hpp"

#include "tests/fake-apiserver/base64.hpp"

namespace kroute::fake_apiserver {

std::string server_url(std::string_view host, int port) {
    const bool v6 = host.find(':') != std::string_view::npos;
    std::string url = "https://";
    url += v6 ? "[" + std::string(host) + "]" : std::string(host);
    url += ":" + std::to_string(port);
    return url;
}

std::string render_kubeconfig(std::string_view server, std::string_view ca_pem, std::string_view token) {
    // Values are double-quoted YAML scalars; none of them can hold a quote or backslash
    // (URL, base64, and a token checked by the caller), so no escaping is needed.
    std::string out;
    out += "apiVersion: v1\n";
    out += "kind: Config\n";
    out += "clusters:\n";
    out += "- name: fake\n";
    out += "  cluster:\n";
    out += "    server: \"" + std::string(server) + "\"\n";
    out += "    certificate-authority-data: \"" + base64_encode(ca_pem) + "\"\n";
    out += "users:\n";
    out += "- name: fake\n";
    out += "  user:\n";
    out += "    token: \"" + std::string(token) + "\"\n";
    out += "contexts:\n";
    out += "- name: fake\n";
    out += "  context:\n";
    out += "    cluster: fake\n";
    out += "    user: fake\n";
    out += "current-context: fake\n";
    return out;
}

}  // namespace kroute::fake_apiserver
