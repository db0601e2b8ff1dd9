// The resources the fake serves and what differs between them: names on the wire, scope, and
// which field selectors the apiserver accepts for them. Pure data.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kroute::fake_apiserver {

enum class Resource { kNodes, kServices, kEndpointSlices };
inline constexpr std::size_t kResourceCount = 3;

struct ResourceInfo {
    Resource id;
    std::string_view plural;       // "endpointslices": the path segment and Status details.kind
    std::string_view group;        // "" for the core group
    std::string_view api_version;  // "v1", "discovery.k8s.io/v1"
    std::string_view kind;         // "EndpointSlice"
    std::string_view list_kind;    // "EndpointSliceList"
    bool namespaced;
    bool has_status;  // a /status subresource: the main resource keeps the old status, /status the old spec
    std::span<const std::string_view> field_labels;  // supported by fieldSelector

    // `endpointslices.discovery.k8s.io`, `services`: how NotFound and Conflict messages name the resource.
    [[nodiscard]] std::string qualified_resource() const;
    // `EndpointSlice.discovery.k8s.io`, `Service`: how Invalid messages name the kind.
    [[nodiscard]] std::string qualified_kind() const;
};

[[nodiscard]] const ResourceInfo& info(Resource r) noexcept;
// "nodes", "services", "endpointslices".
[[nodiscard]] std::optional<Resource> resource_named(std::string_view plural) noexcept;

}  // namespace kroute::fake_apiserver
