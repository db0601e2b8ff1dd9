// libFuzzer target: the CNI conflist template (--cni-conf-template, the ConfigMap's cni-conf.json),
// rendered for a dual-stack node and for an IPv4-only one; a rendered conflist is rendered again
// (a template that is itself a rendered conflist must work). Nothing may crash, throw or hang;
// errors are values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cni-writer/conflist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    static const std::vector<kroute::Prefix> dual{*kroute::Prefix::parse("10.244.1.0/24"),
                                                  *kroute::Prefix::parse("fd00:244:1::/64")};
    static const std::vector<kroute::Prefix> v4{*kroute::Prefix::parse("10.244.2.0/24")};
    kroute::cni::ConflistOptions options;
    options.mtu = 1450;
    options.ipam_data_dir = "/var/lib/cni/kroute";
    auto once = kroute::cni::render_conflist(text, dual, options);
    if (once) (void)kroute::cni::render_conflist(*once, v4, options);
    return 0;
}
