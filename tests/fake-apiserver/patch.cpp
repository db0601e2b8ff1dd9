#include "tests/fake-apiserver/patch.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;

namespace {

// The list patch strategies of Node and Service (k8s.io/api/core/v1 types.go
// `patchStrategy:"merge"` tags); EndpointSlice's lists are atomic. Paths do not collide between
// the kinds (a Node has no spec.ports, an EndpointSlice's ports are top-level). An empty merge key
// means a list of scalars merged as a set.
struct ListStrategy {
    std::string_view path;
    std::string_view merge_key;
};
constexpr std::array<ListStrategy, 6> kMergeLists{{
    {"metadata.ownerReferences", "uid"},
    {"metadata.finalizers", ""},
    {"status.conditions", "type"},
    {"status.addresses", "type"},
    {"status.volumesAttached", "name"},
    {"spec.ports", "port"},
}};

constexpr int kMaxDepth = 64;  // outside input: bound the recursion

const ListStrategy* list_strategy(std::string_view path) {
    for (const auto& s : kMergeLists) {
        if (s.path == path) return &s;
    }
    return nullptr;
}

std::string join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

using MergeResult = Expected<std::optional<json>, std::string>;  // nullopt: delete this value

MergeResult merge_value(const json* target, const json& patch, const std::string& path, int depth);

// A value taken from the patch as a whole still loses its directives and null members.
Expected<json, std::string> clean(const json& patch, const std::string& path, int depth) {
    auto r = merge_value(nullptr, patch, path, depth);
    if (!r) return unexpected(std::move(r).error());
    return r->value_or(json());
}

Expected<json, std::string> merge_keyed_list(const json& target, const json& patch, std::string_view key,
                                             const std::string& path, int depth) {
    json out = target;
    // {"$patch":"replace"} as an item: the list is the patch's other items.
    const bool replace = std::any_of(patch.begin(), patch.end(), [](const json& e) {
        return e.is_object() && e.value("$patch", json()) == "replace";
    });
    if (replace) out = json::array();
    for (const auto& item : patch) {
        if (!item.is_object()) return unexpected("list " + path + " must hold objects");
        if (replace && item.value("$patch", json()) == "replace") continue;
        auto k = item.find(std::string(key));
        if (k == item.end()) {
            return unexpected("map in list " + path + " does not contain declared merge key: " + std::string(key));
        }
        auto existing = std::find_if(out.begin(), out.end(), [&](const json& e) {
            return e.is_object() && e.contains(std::string(key)) && e[std::string(key)] == *k;
        });
        if (item.value("$patch", json()) == "delete") {
            out.erase(std::remove_if(out.begin(), out.end(),
                                     [&](const json& e) {
                                         return e.is_object() && e.contains(std::string(key)) &&
                                                e[std::string(key)] == *k;
                                     }),
                      out.end());
            continue;
        }
        auto merged = merge_value(existing == out.end() ? nullptr : &*existing, item, path, depth + 1);
        if (!merged) return unexpected(std::move(merged).error());
        if (existing == out.end()) {
            if (*merged) out.push_back(std::move(**merged));
        } else if (*merged) {
            *existing = std::move(**merged);
        } else {
            out.erase(existing);
        }
    }
    return out;
}

json merge_primitive_list(const json& target, const json& patch) {
    json out = target;
    for (const auto& v : patch) {
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return out;
}

MergeResult merge_object(const json* target, const json& patch, const std::string& path, int depth) {
    if (auto p = patch.find("$patch"); p != patch.end()) {
        if (*p == "delete") return std::optional<json>{};
        if (*p != "replace") return unexpected("unknown patch directive " + to_wire(*p) + " at " + path);
        json stripped = patch;
        stripped.erase("$patch");
        auto r = clean(stripped, path, depth);
        if (!r) return unexpected(std::move(r).error());
        return std::optional<json>{std::move(*r)};
    }
    json out = target && target->is_object() ? *target : json::object();
    for (const auto& [key, value] : patch.items()) {
        if (key == "$retainKeys" || starts_with(key, "$setElementOrder/")) continue;
        if (starts_with(key, "$deleteFromPrimitiveList/")) {
            const auto field = key.substr(std::string_view("$deleteFromPrimitiveList/").size());
            auto it = out.find(field);
            if (it == out.end() || !it->is_array() || !value.is_array()) continue;
            it->erase(std::remove_if(it->begin(), it->end(),
                                     [&](const json& e) {
                                         return std::find(value.begin(), value.end(), e) != value.end();
                                     }),
                      it->end());
            continue;
        }
        if (starts_with(key, "$")) return unexpected("unknown patch directive " + key + " at " + path);
        if (value.is_null()) {
            out.erase(key);
            continue;
        }
        auto existing = out.find(key);
        auto merged = merge_value(existing == out.end() ? nullptr : &*existing, value, join(path, key), depth + 1);
        if (!merged) return unexpected(std::move(merged).error());
        if (*merged) {
            out[key] = std::move(**merged);
        } else {
            out.erase(key);
        }
    }
    if (auto retain = patch.find("$retainKeys"); retain != patch.end() && retain->is_array()) {
        for (auto it = out.begin(); it != out.end();) {
            if (std::find(retain->begin(), retain->end(), it.key()) == retain->end()) {
                it = out.erase(it);
            } else {
                ++it;
            }
        }
    }
    return std::optional<json>{std::move(out)};
}

MergeResult merge_value(const json* target, const json& patch, const std::string& path, int depth) {
    if (depth > kMaxDepth) return unexpected(std::string("patch nested too deeply"));
    if (patch.is_object()) return merge_object(target, patch, path, depth);
    if (patch.is_array()) {
        const auto* strategy = list_strategy(path);
        const json empty = json::array();
        const json& base = target && target->is_array() ? *target : empty;
        if (strategy && strategy->merge_key.empty()) return std::optional<json>{merge_primitive_list(base, patch)};
        if (strategy) {
            auto r = merge_keyed_list(base, patch, strategy->merge_key, path, depth);
            if (!r) return unexpected(std::move(r).error());
            return std::optional<json>{std::move(*r)};
        }
        json out = json::array();  // replaced: its objects still lose directives and nulls
        for (const auto& item : patch) {
            auto r = clean(item, path, depth + 1);
            if (!r) return unexpected(std::move(r).error());
            out.push_back(std::move(*r));
        }
        return std::optional<json>{std::move(out)};
    }
    return std::optional<json>{patch};
}

}  // namespace

std::optional<PatchType> patch_type_from_content_type(std::string_view content_type) {
    auto media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    if (media == "application/json-patch+json") return PatchType::kJsonPatch;
    if (media == "application/merge-patch+json") return PatchType::kMergePatch;
    if (media == "application/strategic-merge-patch+json") return PatchType::kStrategicMergePatch;
    if (media == "application/apply-patch+yaml") return PatchType::kApplyPatch;
    return std::nullopt;
}

Expected<json, std::string> strategic_merge_patch(const json& target, const json& patch) {
    if (!patch.is_object()) return unexpected(std::string("a strategic merge patch must be a JSON object"));
    auto r = merge_value(&target, patch, "", 0);
    if (!r) return unexpected(std::move(r).error());
    if (!*r) return unexpected(std::string("the patch deletes the whole object"));
    return std::move(**r);
}

Expected<json, std::string> apply_patch(const json& target, PatchType type, const json& patch) {
    switch (type) {
        case PatchType::kJsonPatch: {
            if (!patch.is_array()) return unexpected(std::string("a JSON patch must be an array of operations"));
            try {
                return target.patch(patch);
            } catch (const json::exception& e) {
                return unexpected(std::string(e.what()));
            }
        }
        case PatchType::kMergePatch: {
            if (!patch.is_object()) return unexpected(std::string("a merge patch must be a JSON object"));
            json out = target;
            out.merge_patch(patch);
            return out;
        }
        case PatchType::kStrategicMergePatch:
        case PatchType::kApplyPatch: return strategic_merge_patch(target, patch);
    }
    return unexpected(std::string("unknown patch type"));
}

}  // namespace kroute::fake_apiserver
