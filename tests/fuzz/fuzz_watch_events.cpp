// libFuzzer target: a watch stream from the API server, as bytes. The framer cuts it into JSON
// values at a chunk boundary taken from the first byte (chunks are unrelated to values); every value
// is parsed as a watch event, and its object as a Node, a Service and an EndpointSlice, whatever the
// kind, so that a malformed object of any shape reaches every model's parser. Nothing may crash,
// throw or hang; errors are values.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "k8s-client/endpoint_slice.hpp"
#include "k8s-client/node.hpp"
#include "k8s-client/object_cache.hpp"
#include "k8s-client/service.hpp"
#include "k8s-client/watch_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    kroute::k8s::WatchStreamParser framer;
    kroute::k8s::NodeCache nodes;
    std::vector<nlohmann::json> values;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        if (!framer.feed(bytes.substr(at, chunk), values)) break;
    }
    (void)framer.at_value_boundary();
    for (auto& value : values) {
        (void)kroute::k8s::parse_node(value);
        (void)kroute::k8s::parse_service(value);
        (void)kroute::k8s::parse_endpoint_slice(value);
        auto event = kroute::k8s::parse_watch_event(std::move(value));
        if (!event) continue;
        if (auto node = kroute::k8s::parse_node(event->object)) {
            using T = kroute::k8s::WatchEvent::Type;
            const auto type = event->type == T::kDeleted  ? kroute::k8s::EventType::kDeleted
                              : event->type == T::kAdded ? kroute::k8s::EventType::kAdded
                                                         : kroute::k8s::EventType::kModified;
            (void)nodes.apply(type, std::move(*node));
        }
    }
    return 0;
}
