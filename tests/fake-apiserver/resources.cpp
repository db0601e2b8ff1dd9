#include "tests/fake-apiserver/resources.hpp"

#include <array>

namespace kroute::fake_apiserver {

namespace {

// The field labels each registry's GetAttrs exposes: NodeToSelectableFields adds
// spec.unschedulable; a cluster-scoped object has no metadata.namespace, namespaced ones do.
constexpr std::array<std::string_view, 2> kNodeFields{"metadata.name", "spec.unschedulable"};
constexpr std::array<std::string_view, 2> kNamespacedFields{"metadata.name", "metadata.namespace"};

constexpr std::array<ResourceInfo, kResourceCount> kResources{{
    {Resource::kNodes, "nodes", "", "v1", "Node", "NodeList", false, true, kNodeFields},
    {Resource::kServices, "services", "", "v1", "Service", "ServiceList", true, true, kNamespacedFields},
    {Resource::kEndpointSlices, "endpointslices", "discovery.k8s.io", "discovery.k8s.io/v1", "EndpointSlice",
     "EndpointSliceList", true, false, kNamespacedFields},
}};

}  // namespace

std::string ResourceInfo::qualified_resource() const {
    return group.empty() ? std::string(plural) : std::string(plural) + "." + std::string(group);
}

std::string ResourceInfo::qualified_kind() const {
    return group.empty() ? std::string(kind) : std::string(kind) + "." + std::string(group);
}

const ResourceInfo& info(Resource r) noexcept { return kResources[static_cast<std::size_t>(r)]; }

std::optional<Resource> resource_named(std::string_view plural) noexcept {
    for (const auto& r : kResources) {
        if (r.plural == plural) return r.id;
    }
    return std::nullopt;
}

}  // namespace kroute::fake_apiserver
