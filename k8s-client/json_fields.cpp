#include "k8s-client/json_fields.hpp"

namespace kroute::k8s::json_fields {

const Json* member(const Json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

Expected<std::string, std::string> optional_string(const Json& object, const char* key, const std::string& where) {
    const Json* v = member(object, key);
    if (v == nullptr) return std::string{};
    if (!v->is_string()) return unexpected(where + ": expected a string, got " + v->type_name());
    return v->get<std::string>();
}

Expected<std::map<std::string, std::string>, std::string> string_map(const Json& object, const char* key,
                                                                      const std::string& where) {
    std::map<std::string, std::string> out;
    const Json* v = member(object, key);
    if (v == nullptr) return out;
    if (!v->is_object()) return unexpected(where + ": expected an object, got " + v->type_name());
    for (const auto& [k, val] : v->items()) {
        if (!val.is_string()) return unexpected(where + "[\"" + k + "\"]: expected a string, got " + val.type_name());
        out.emplace(k, val.get<std::string>());
    }
    return out;
}

Expected<const Json*, std::string> optional_array(const Json& object, const char* key, const std::string& where) {
    const Json* v = member(object, key);
    if (v != nullptr && !v->is_array()) return unexpected(where + ": expected an array, got " + v->type_name());
    return v;
}

Expected<const Json*, std::string> optional_object(const Json& object, const char* key, const std::string& where) {
    const Json* v = member(object, key);
    if (v != nullptr && !v->is_object()) return unexpected(where + ": expected an object, got " + v->type_name());
    return v;
}

Expected<std::vector<IpAddress>, std::string> ip_list(const Json& object, const char* key, const std::string& where) {
    std::vector<IpAddress> out;
    auto list = optional_array(object, key, where);
    if (!list) return unexpected(std::move(list).error());
    if (*list == nullptr) return out;
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        const Json& item = (**list)[i];
        const std::string at = where + "[" + std::to_string(i) + "]";
        if (!item.is_string()) return unexpected(at + ": expected a string, got " + item.type_name());
        auto ip = IpAddress::parse(item.get_ref<const std::string&>());
        if (!ip) return unexpected(at + ": invalid IP address \"" + item.get<std::string>() + "\"");
        out.push_back(*ip);
    }
    return out;
}

Expected<ObjectMeta, std::string> parse_object_meta(const Json& object, std::string_view what, bool namespaced) {
    if (!object.is_object())
        return unexpected(std::string{what} + ": expected an object, got " + object.type_name());
    const Json* metadata = member(object, "metadata");
    if (metadata == nullptr) return unexpected(std::string{"metadata: missing"});
    if (!metadata->is_object()) return unexpected(std::string{"metadata: expected an object, got "} + metadata->type_name());

    ObjectMeta meta;
    auto name = optional_string(*metadata, "name", "metadata.name");
    if (!name) return unexpected(std::move(name).error());
    if (name->empty()) return unexpected(std::string{"metadata.name: missing"});
    meta.name = std::move(*name);
    auto ns = optional_string(*metadata, "namespace", "metadata.namespace");
    if (!ns) return unexpected(std::move(ns).error());
    meta.ns = std::move(*ns);
    const std::string who = std::string{what} + " " + (meta.ns.empty() ? meta.name : meta.ns + "/" + meta.name);
    auto fail = [&who](std::string e) { return unexpected(who + ": " + std::move(e)); };
    if (namespaced && meta.ns.empty()) return fail("metadata.namespace: missing");

    auto uid = optional_string(*metadata, "uid", "metadata.uid");
    if (!uid) return fail(std::move(uid).error());
    meta.uid = std::move(*uid);
    auto rv = optional_string(*metadata, "resourceVersion", "metadata.resourceVersion");
    if (!rv) return fail(std::move(rv).error());
    meta.resource_version = std::move(*rv);
    auto labels = string_map(*metadata, "labels", "metadata.labels");
    if (!labels) return fail(std::move(labels).error());
    meta.labels = std::move(*labels);
    auto annotations = string_map(*metadata, "annotations", "metadata.annotations");
    if (!annotations) return fail(std::move(annotations).error());
    meta.annotations = std::move(*annotations);
    return meta;
}

}  // namespace kroute::k8s::json_fields
