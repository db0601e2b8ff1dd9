// libFuzzer target: a kubeconfig's text (YAML). The files it names are not read: the reader the
// target passes refuses every path, which is an error path of its own. Nothing may crash, throw or
// hang; errors are values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "k8s-client/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const kroute::k8s::FileReader no_files = [](const std::string& path) -> kroute::Expected<std::string, std::string> {
        if (path.size() % 2 == 0) return std::string("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        return kroute::unexpected("cannot read " + path);
    };
    (void)kroute::k8s::parse_kubeconfig(text, "/nonexistent-kubeconfig-dir", no_files);
    return 0;
}
