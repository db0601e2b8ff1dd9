// libFuzzer target: the --nodes-file content, as NodesFileWatcher reads it: JSON (kind NodeList or
// List), every Node parsed, and the whole list applied to a cache that already holds an earlier
// list (deletions, additions, changes). Nothing may crash, throw or hang; errors are values.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s-client/node.hpp"
#include "k8s-client/object_cache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return 0;
    auto list = kroute::k8s::parse_node_list(json);
    if (!list) return 0;
    kroute::k8s::NodeCache cache;
    (void)cache.replace(list->items);  // as if read before
    for (auto& node : list->items) {
        (void)kroute::k8s::object_key(node);
        (void)node.pod_cidr(kroute::Family::kIpv4);
        (void)node.address(kroute::Family::kIpv6);
    }
    if (list->items.size() > 1) list->items.pop_back();  // the next read lost a node
    (void)cache.replace(std::move(list->items));
    return 0;
}
