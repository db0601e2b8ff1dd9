// The kubeconfig the fake apiserver writes for its clients (kubectl, kroute's tests). Pure.
#pragma once

#include <string>
#include <string_view>

namespace kroute::fake_apiserver {

// "https://127.0.0.1:6443", "https://[::1]:6443" (IPv6 literals bracketed, as client-go's JoinHostPort).
[[nodiscard]] std::string server_url(std::string_view host, int port);

// One cluster/user/context named "fake": server, certificate-authority-data (base64 of the PEM), token.
[[nodiscard]] std::string render_kubeconfig(std::string_view server, std::string_view ca_pem, std::string_view token);

}  // namespace kroute::fake_apiserver
