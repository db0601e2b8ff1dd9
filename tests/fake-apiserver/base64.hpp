// Standard base64 (RFC 4648 §4, with padding): continue tokens and kubeconfig
// certificate-authority-data. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kroute::fake_apiserver {

[[nodiscard]] std::string base64_encode(std::string_view in);
// nullopt for characters outside the alphabet or a bad length; padding is required.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view in);

}  // namespace kroute::fake_apiserver
