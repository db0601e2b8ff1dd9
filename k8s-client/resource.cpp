#include "k8s-client/resource.hpp"

#include <nlohmann/json.hpp>

#include "k8s-client/json_fields.hpp"

namespace kroute::k8s {

using json_fields::member;
using json_fields::optional_string;

std::string ResourceKind::collection_path() const {
    std::string path = group.empty() ? std::string{"/api/"} : std::string{"/apis/"}.append(group).append("/");
    return path.append(version).append("/").append(resource);
}

std::optional<std::string> raw_object_key(const nlohmann::json& object, const ResourceKind& kind) {
    if (!object.is_object()) return std::nullopt;
    const auto* metadata = member(object, "metadata");
    if (metadata == nullptr || !metadata->is_object()) return std::nullopt;
    const auto* name = member(*metadata, "name");
    if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) return std::nullopt;
    if (!kind.namespaced) return name->get<std::string>();
    const auto* ns = member(*metadata, "namespace");
    if (ns == nullptr || !ns->is_string() || ns->get_ref<const std::string&>().empty()) return std::nullopt;
    return ns->get<std::string>() + "/" + name->get<std::string>();
}

Expected<ListEnvelope, std::string> parse_list_envelope(const nlohmann::json& list, const ResourceKind& kind) {
    const std::string what = std::string{kind.what} + " list";
    if (!list.is_object()) return unexpected(what + ": expected an object, got " + list.type_name());
    auto list_kind = optional_string(list, "kind", "kind");
    if (!list_kind) return unexpected(std::move(list_kind).error());
    const std::string expected_kind = std::string{kind.kind} + "List";
    if (!list_kind->empty() && *list_kind != expected_kind && *list_kind != "List")
        return unexpected("kind: expected " + expected_kind + " or List, got \"" + *list_kind + "\"");
    ListEnvelope out;
    if (const auto* metadata = member(list, "metadata")) {
        if (!metadata->is_object())
            return unexpected(std::string{"metadata: expected an object, got "} + metadata->type_name());
        auto rv = optional_string(*metadata, "resourceVersion", "metadata.resourceVersion");
        if (!rv) return unexpected(std::move(rv).error());
        out.resource_version = std::move(*rv);
        auto cont = optional_string(*metadata, "continue", "metadata.continue");
        if (!cont) return unexpected(std::move(cont).error());
        out.continue_token = std::move(*cont);
    }
    out.items = member(list, "items");
    if (out.items != nullptr && !out.items->is_array())
        return unexpected(std::string{"items: expected an array, got "} + out.items->type_name());
    return out;
}

Expected<void, std::string> check_item_kind(const nlohmann::json& item, const ResourceKind& kind) {
    if (!item.is_object()) return {};  // the object parser says what is wrong with it
    auto item_kind = optional_string(item, "kind", "kind");
    if (item_kind && !item_kind->empty() && *item_kind != kind.kind)
        return unexpected("kind \"" + *item_kind + "\" is not " + std::string{kind.kind});
    return {};
}

}  // namespace kroute::k8s
