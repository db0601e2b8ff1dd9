// The kinds of object kroute lists and watches, where the API serves them, and the list envelope
// they share (kind XList, metadata.resourceVersion / continue, items). Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"

namespace kroute::k8s {

struct ResourceKind {
    std::string_view group;     // "" (the core group) or "discovery.k8s.io"
    std::string_view version;   // "v1"
    std::string_view resource;  // "nodes": the path segment, and the resource an RBAC rule names
    std::string_view kind;      // "Node"
    std::string_view what;      // "node": how log lines and errors name one object
    bool namespaced = false;

    // "/api/v1/nodes", "/apis/discovery.k8s.io/v1/endpointslices": every namespace's objects.
    [[nodiscard]] std::string collection_path() const;
};

inline constexpr ResourceKind kNodes{"", "v1", "nodes", "Node", "node", false};
inline constexpr ResourceKind kServices{"", "v1", "services", "Service", "service", true};
inline constexpr ResourceKind kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
                                              "endpointslice", true};

// One page of a list, or a whole file of one: the objects that parsed, one error per item that did
// not (skipped), and the envelope's metadata.
template <class T>
struct ListResult {
    std::vector<T> items;
    std::vector<std::string> errors;
    // The keys (raw_object_key) of the skipped items whose metadata still names them: a reflector
    // keeps the last usable version of those rather than taking them for deleted.
    std::vector<std::string> malformed_keys;
    std::string resource_version;  // metadata.resourceVersion
    std::string continue_token;    // metadata.continue
};

// The envelope of a list: the API's `<Kind>List`, or the `List` that `kubectl get -o json` prints
// (whose items carry their own kind). `items` points into `list` (nullptr: no items).
struct ListEnvelope {
    const nlohmann::json* items = nullptr;
    std::string resource_version;
    std::string continue_token;
};
[[nodiscard]] Expected<ListEnvelope, std::string> parse_list_envelope(const nlohmann::json& list, const ResourceKind& kind);

// The cache key of an object that may not parse (object_key's: "name", or "namespace/name" for a
// namespaced kind), from its metadata.name and metadata.namespace alone; nullopt when they do not
// name it.
[[nodiscard]] std::optional<std::string> raw_object_key(const nlohmann::json& object, const ResourceKind& kind);

// An item of a `List` names its kind; it must be `kind`'s. Items of a `<Kind>List` carry none.
[[nodiscard]] Expected<void, std::string> check_item_kind(const nlohmann::json& item, const ResourceKind& kind);

// Equal in everything but metadata.resourceVersion, for models whose == compares every field.
template <class T>
[[nodiscard]] bool equal_but_resource_version(const T& a, const T& b) {
    T x = a;
    x.resource_version = b.resource_version;
    return x == b;
}

// A list of `kind`, each item parsed by `parse` (json -> Expected<T, std::string>): items that fail
// are skipped, each with an error naming its index.
template <class T, class Parse>
[[nodiscard]] Expected<ListResult<T>, std::string> parse_list(const nlohmann::json& list, const ResourceKind& kind,
                                                              Parse parse) {
    try {
        auto envelope = parse_list_envelope(list, kind);
        if (!envelope) return unexpected(std::move(envelope).error());
        ListResult<T> out;
        out.resource_version = std::move(envelope->resource_version);
        out.continue_token = std::move(envelope->continue_token);
        if (envelope->items == nullptr) return out;
        for (std::size_t i = 0; i < envelope->items->size(); ++i) {
            const nlohmann::json& item = (*envelope->items)[i];
            const std::string where = "items[" + std::to_string(i) + "]: ";
            if (auto k = check_item_kind(item, kind); !k) {
                out.errors.push_back(where + k.error());
                continue;
            }
            auto object = parse(item);
            if (object) {
                out.items.push_back(std::move(*object));
            } else {
                out.errors.push_back(where + object.error());
                if (auto key = raw_object_key(item, kind)) out.malformed_keys.push_back(std::move(*key));
            }
        }
        return out;
    } catch (const std::exception& e) {  // defensive: the parsers type-check every access
        return unexpected(std::string{kind.what} + " list: " + e.what());
    }
}

}  // namespace kroute::k8s
