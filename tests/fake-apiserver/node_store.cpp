#include "tests/fake-apiserver/node_store.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "tests/fake-apiserver/base64.hpp"

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;

namespace {

json* member(json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}
const json* member(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

std::string string_at(const json& obj, const char* outer, const char* inner) {
    const json* o = member(obj, outer);
    const json* v = o ? member(*o, inner) : nullptr;
    return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::string name_of(const json& node) { return string_at(node, "metadata", "name"); }

// Order-insensitive equality: a PUT may send the same object with its keys in another order.
bool same(const json& a, const json& b) {
    if (a.is_object() && b.is_object()) {
        if (a.size() != b.size()) return false;
        for (const auto& [k, v] : a.items()) {
            const json* other = member(b, k.c_str());
            if (!other || !same(v, *other)) return false;
        }
        return true;
    }
    if (a.is_array() && b.is_array()) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!same(a[i], b[i])) return false;
        }
        return true;
    }
    return a == b;
}

// RFC 1123 subdomain, as apimachinery's IsDNS1123Subdomain checks metadata.name.
bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 253) return false;
    const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(n.front()) || !alnum(n.back())) return false;
    return std::all_of(n.begin(), n.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

json envelope(EventType t, const json& stored) {
    return {{"type", to_string(t)}, {"object", with_type_meta(stored)}};
}

constexpr std::string_view kContinueExpired =
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter.";

}  // namespace

std::string_view to_string(EventType t) noexcept {
    switch (t) {
        case EventType::kAdded: return "ADDED";
        case EventType::kModified: return "MODIFIED";
        case EventType::kDeleted: return "DELETED";
    }
    return "ERROR";
}

json with_type_meta(const json& stored) {
    json out = {{"kind", "Node"}, {"apiVersion", "v1"}};
    if (stored.is_object()) {
        for (const auto& [k, v] : stored.items()) out[k] = v;
    }
    return out;
}

NodeStore::NodeStore(std::size_t compaction_window, Now now, NewUid new_uid)
    : window_{compaction_window}, now_{std::move(now)}, new_uid_{std::move(new_uid)} {}

Expected<json, ApiError> NodeStore::parse_node(std::string_view body) const {
    auto parsed = parse_json(body);
    if (!parsed || !parsed->is_object()) {
        return unexpected(bad_request("the object provided is unrecognized: the body is not a JSON object"));
    }
    json obj = std::move(*parsed);
    if (const json* kind = member(obj, "kind"); kind && *kind != "Node") {
        return unexpected(bad_request("the kind of the object (" + to_wire(*kind) + ") is not Node"));
    }
    if (const json* av = member(obj, "apiVersion"); av && *av != "v1") {
        return unexpected(bad_request("the apiVersion of the object (" + to_wire(*av) + ") is not v1"));
    }
    obj.erase("kind");
    obj.erase("apiVersion");
    const json* md = member(obj, "metadata");
    if (!md || !md->is_object()) return unexpected(invalid("", "metadata.name", "Required value: name is required"));
    const std::string name = name_of(obj);
    if (name.empty()) return unexpected(invalid("", "metadata.name", "Required value: name is required"));
    if (!valid_name(name)) {
        return unexpected(invalid(name, "metadata.name",
                                  "Invalid value: \"" + name +
                                      "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                      "characters, '-' or '.', and must start and end with an alphanumeric character"));
    }
    for (const char* field : {"labels", "annotations"}) {
        const json* m = member(*md, field);
        if (!m || m->is_null()) continue;
        const bool ok = m->is_object() && std::all_of(m->begin(), m->end(), [](const json& v) { return v.is_string(); });
        if (!ok) return unexpected(bad_request(std::string("metadata.") + field + " must map strings to strings"));
    }
    for (const char* field : {"spec", "status"}) {
        const json* m = member(obj, field);
        if (m && !m->is_object() && !m->is_null()) {
            return unexpected(bad_request(std::string(field) + " must be an object"));
        }
        if (!m || m->is_null()) obj[field] = json::object();
    }
    return obj;
}

void NodeStore::record(EventType type, const json& object, json previous) {
    log_.push_back(Event{rv_, type, object, std::move(previous)});
    while (log_.size() > window_) {
        compacted_rv_ = log_.front().rv;
        log_.pop_front();
    }
}

Expected<void, ApiError> NodeStore::seed(const json& doc) {
    const json* items = doc.is_array() ? &doc : member(doc, "items");
    if (!items || !items->is_array()) return unexpected(bad_request("nodes file: expected a NodeList, List or array"));
    for (const auto& item : *items) {
        auto node = parse_node(to_wire(item));
        if (!node) return unexpected(std::move(node).error());
        json& md = (*node)["metadata"];
        ++rv_;
        if (!md.contains("uid")) md["uid"] = new_uid_();
        md["resourceVersion"] = std::to_string(rv_);
        if (!md.contains("creationTimestamp")) md["creationTimestamp"] = now_();
        const std::string name = name_of(*node);
        nodes_[name] = std::move(*node);
    }
    compacted_rv_ = rv_;
    log_.clear();
    return {};
}

Expected<std::uint64_t, ApiError> NodeStore::parse_rv(std::string_view rv) const {
    auto v = to_u64(rv);
    if (!v) return unexpected(bad_request("resourceVersion: Invalid value: \"" + std::string(rv) + "\""));
    return *v;
}

ApiError NodeStore::too_old(std::uint64_t rv) const {
    return expired("too old resource version: " + std::to_string(rv) + " (" + std::to_string(compacted_rv_) + ")");
}

ApiError NodeStore::too_large(std::uint64_t rv) const {
    // apiserver pkg/storage/errors.go NewTooLargeResourceVersionError: 504 with a cause.
    return ApiError{504, "Timeout",
                    "Too large resource version: " + std::to_string(rv) + ", current: " + std::to_string(rv_),
                    {{"causes", json::array({{{"reason", "ResourceVersionTooLarge"},
                                              {"message", "Too large resource version"}}})},
                     {"retryAfterSeconds", 1}}};
}

Expected<json, ApiError> NodeStore::list(const ListOptions& opts) const {
    auto filter = NodeFilter::parse(opts.field_selector, opts.label_selector);
    if (!filter) return unexpected(std::move(filter).error());

    const bool rv_given = !opts.resource_version.empty() && opts.resource_version != "0";
    if (rv_given && !opts.continue_token.empty()) {
        return unexpected(bad_request("specifying resource version is not allowed when using continue"));
    }
    if (rv_given) {
        auto rv = parse_rv(opts.resource_version);
        if (!rv) return unexpected(std::move(rv).error());
        if (*rv > rv_) return unexpected(too_large(*rv));
    }

    std::uint64_t limit = 0;  // 0: everything
    if (!opts.limit.empty()) {
        const auto parsed = to_u64(opts.limit);
        if (!parsed) return unexpected(bad_request("limit: Invalid value: \"" + opts.limit + "\""));
        limit = *parsed;
    }
    // The watch cache serves resourceVersion=0 and ignores limit (client-go relies on it).
    if (opts.resource_version == "0" && opts.continue_token.empty()) limit = 0;

    std::uint64_t list_rv = rv_;
    std::string start;
    if (!opts.continue_token.empty()) {
        auto raw = base64_decode(opts.continue_token);
        json token = raw ? json::parse(*raw, nullptr, false) : json();
        const json* trv = member(token, "rv");
        const json* tstart = member(token, "start");
        if (!trv || !trv->is_number_unsigned() || !tstart || !tstart->is_string()) {
            return unexpected(bad_request("continue key is not valid: incorrect encoded start resourceVersion"));
        }
        list_rv = trv->get<std::uint64_t>();
        if (list_rv < compacted_rv_) return unexpected(expired(std::string(kContinueExpired)));
        start = tstart->get<std::string>();
    }

    json items = json::array();
    std::string last;
    std::uint64_t remaining = 0;
    bool more = false;
    for (auto it = nodes_.lower_bound(start); it != nodes_.end(); ++it) {
        if (!filter->matches(it->second)) continue;
        if (limit > 0 && items.size() >= limit) {
            more = true;
            ++remaining;
            continue;
        }
        items.push_back(it->second);
        last = it->first;
    }

    json md = {{"resourceVersion", std::to_string(list_rv)}};
    if (more) {
        // Same shape as the apiserver's token (etcd3 continueToken): base64 of {"v","rv","start"}.
        json token = {{"v", "meta.k8s.io/v1"}, {"rv", list_rv}, {"start", last + '\0'}};
        md["continue"] = base64_encode(to_wire(token));
        if (filter->empty()) md["remainingItemCount"] = remaining;
    }
    return json{{"kind", "NodeList"}, {"apiVersion", "v1"}, {"metadata", std::move(md)}, {"items", std::move(items)}};
}

Expected<json, ApiError> NodeStore::get(std::string_view name) const {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) return unexpected(not_found(name));
    return with_type_meta(it->second);
}

Expected<WriteResult, ApiError> NodeStore::create(std::string_view body) {
    auto node = parse_node(body);
    if (!node) return unexpected(std::move(node).error());
    const std::string name = name_of(*node);
    if (nodes_.contains(name)) return unexpected(already_exists(name));
    json& md = (*node)["metadata"];
    ++rv_;
    md["uid"] = new_uid_();
    md["resourceVersion"] = std::to_string(rv_);
    md["creationTimestamp"] = now_();
    auto& stored = nodes_[name] = std::move(*node);
    record(EventType::kAdded, stored, nullptr);
    return WriteResult{with_type_meta(stored), 201};
}

Expected<WriteResult, ApiError> NodeStore::store_update(const json& old, json updated, Subresource sub) {
    const std::string name = name_of(old);
    json* md = member(updated, "metadata");
    if (!md || !md->is_object()) return unexpected(invalid(name, "metadata", "Required value"));
    if (name_of(updated) != name) return unexpected(invalid(name, "metadata.name", "field is immutable"));
    const std::string client_rv = string_at(updated, "metadata", "resourceVersion");
    const std::string old_rv = string_at(old, "metadata", "resourceVersion");
    // Optimistic concurrency: a write naming a resourceVersion must name the current one.
    if (!client_rv.empty() && client_rv != old_rv) return unexpected(conflict(name));

    const json* old_md = member(old, "metadata");
    const json* old_created = old_md ? member(*old_md, "creationTimestamp") : nullptr;
    (*md)["uid"] = string_at(old, "metadata", "uid");
    (*md)["resourceVersion"] = old_rv;
    (*md)["creationTimestamp"] = old_created ? *old_created : json();
    // nodeStrategy keeps the old status on the main resource, nodeStatusStrategy the old spec on /status.
    if (sub == Subresource::kNone) {
        updated["status"] = old.value("status", json::object());
    } else {
        updated["spec"] = old.value("spec", json::object());
    }
    for (const char* field : {"spec", "status"}) {
        if (!updated[field].is_object()) updated[field] = json::object();
    }
    if (same(updated, old)) return WriteResult{with_type_meta(old), 200};

    ++rv_;
    (*md)["resourceVersion"] = std::to_string(rv_);
    json previous = old;  // `old` aliases the map entry about to be replaced
    auto& stored = nodes_[name] = std::move(updated);
    record(EventType::kModified, stored, std::move(previous));
    return WriteResult{with_type_meta(stored), 200};
}

Expected<WriteResult, ApiError> NodeStore::update(std::string_view name, std::string_view body, Subresource sub) {
    auto node = parse_node(body);
    if (!node) return unexpected(std::move(node).error());
    if (name_of(*node) != name) {
        return unexpected(bad_request("the name of the object (" + name_of(*node) +
                                      ") does not match the name on the URL (" + std::string(name) + ")"));
    }
    auto it = nodes_.find(name);
    if (it == nodes_.end()) return unexpected(not_found(name));
    return store_update(it->second, std::move(*node), sub);
}

Expected<WriteResult, ApiError> NodeStore::patch(std::string_view name, std::string_view content_type,
                                                 std::string_view body, Subresource sub) {
    const auto type = patch_type_from_content_type(content_type);
    if (!type) return unexpected(unsupported_media_type(content_type));
    const json patch_doc = parse_json(body).value_or(json(json::value_t::discarded));
    if (patch_doc.is_discarded()) {
        return unexpected(bad_request(*type == PatchType::kApplyPatch
                                          ? "error decoding patch: this fake API server takes apply patches as JSON only"
                                          : "error decoding patch: the body is not valid JSON"));
    }
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
        // Server-side apply creates what is absent (not through /status).
        if (*type != PatchType::kApplyPatch || sub != Subresource::kNone) return unexpected(not_found(name));
        json obj = patch_doc;
        if (!obj.is_object()) return unexpected(bad_request("an apply patch must be a JSON object"));
        if (!member(obj, "metadata")) obj["metadata"] = json::object();
        if (name_of(obj) != name) {
            return unexpected(bad_request("the name of the object (" + name_of(obj) +
                                          ") does not match the name on the URL (" + std::string(name) + ")"));
        }
        return create(to_wire(obj));
    }
    auto patched = apply_patch(with_type_meta(it->second), *type, patch_doc);
    if (!patched) return unexpected(ApiError{422, "Invalid", "Node \"" + std::string(name) + "\" is invalid: " +
                                                                 patched.error(), json::object()});
    if (!patched->is_object()) return unexpected(bad_request("the patched object is not a JSON object"));
    if (patched->value("kind", json("Node")) != "Node" || patched->value("apiVersion", json("v1")) != "v1") {
        return unexpected(bad_request("a patch may not change kind or apiVersion"));
    }
    patched->erase("kind");
    patched->erase("apiVersion");
    return store_update(it->second, std::move(*patched), sub);
}

Expected<json, ApiError> NodeStore::remove(std::string_view name) {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) return unexpected(not_found(name));
    json last = it->second;
    const std::string uid = string_at(last, "metadata", "uid");
    ++rv_;
    last["metadata"]["resourceVersion"] = std::to_string(rv_);  // DELETED carries the deletion's RV
    json previous = std::move(it->second);
    nodes_.erase(it);
    record(EventType::kDeleted, last, std::move(previous));
    return success_status(name, uid);
}

void NodeStore::compact() {
    compacted_rv_ = rv_;
    log_.clear();
}

Expected<NodeStore::WatchStart, ApiError> NodeStore::start_watch(const WatchOptions& opts,
                                                                 const NodeFilter& filter) const {
    WatchStart start;
    const bool from_now = opts.resource_version.empty() || opts.resource_version == "0";
    if (from_now || opts.send_initial_events) {
        // "Get State and Start at Most Recent": synthetic ADDED for every current object.
        if (!from_now) {
            auto rv = parse_rv(opts.resource_version);
            if (!rv) return unexpected(std::move(rv).error());
        }
        for (const auto& [name, node] : nodes_) {
            if (filter.matches(node)) start.events.push_back(envelope(EventType::kAdded, node));
        }
        if (opts.send_initial_events) start.events.push_back(bookmark(rv_, true));
        start.cursor = rv_;
        return start;
    }
    auto rv = parse_rv(opts.resource_version);
    if (!rv) return unexpected(std::move(rv).error());
    // A resourceVersion this store never reached comes from another history (this server was
    // restarted: its log starts afresh). The apiserver's watch cache waits up to 3 s for such an
    // RV, then fails the watch with TooLargeResourceVersion (cacher.go); the store has no lag to
    // wait for. Without this a client would wait silently until the counter caught up.
    if (*rv > rv_) return unexpected(too_large(*rv));
    start.cursor = *rv;
    auto events = events_since(start.cursor, filter);
    if (!events) return unexpected(std::move(events).error());
    start.events = std::move(*events);
    return start;
}

Expected<std::vector<json>, ApiError> NodeStore::events_since(std::uint64_t& cursor, const NodeFilter& filter) const {
    if (cursor < compacted_rv_) return unexpected(too_old(cursor));
    std::vector<json> out;
    auto first = std::find_if(log_.begin(), log_.end(), [&](const Event& e) { return e.rv > cursor; });
    for (auto it = first; it != log_.end(); ++it) {
        const Event& e = *it;
        if (filter.empty()) {
            out.push_back(envelope(e.type, e.object));
            continue;
        }
        // A selector watch sees objects enter (ADDED) and leave (DELETED) its selection.
        const bool now_in = filter.matches(e.object);
        const bool was_in = !e.previous.is_null() && filter.matches(e.previous);
        switch (e.type) {
            case EventType::kAdded:
                if (now_in) out.push_back(envelope(EventType::kAdded, e.object));
                break;
            case EventType::kDeleted:
                if (was_in) out.push_back(envelope(EventType::kDeleted, e.object));
                break;
            case EventType::kModified:
                if (now_in && was_in) out.push_back(envelope(EventType::kModified, e.object));
                if (now_in && !was_in) out.push_back(envelope(EventType::kAdded, e.object));
                if (!now_in && was_in) out.push_back(envelope(EventType::kDeleted, e.object));
                break;
        }
    }
    cursor = std::max(cursor, rv_);
    return out;
}

json NodeStore::bookmark(std::uint64_t rv, bool initial_events_end) {
    json md = {{"resourceVersion", std::to_string(rv)}, {"creationTimestamp", nullptr}};
    if (initial_events_end) md["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    json node_info = json::object();
    for (const char* k : {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                          "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"}) {
        node_info[k] = "";
    }
    return {{"type", "BOOKMARK"},
            {"object",
             {{"kind", "Node"},
              {"apiVersion", "v1"},
              {"metadata", std::move(md)},
              {"spec", json::object()},
              {"status", {{"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 0}}}}}, {"nodeInfo", std::move(node_info)}}}}}};
}

json NodeStore::error_event(const ApiError& e) { return {{"type", "ERROR"}, {"object", status_json(e)}}; }

}  // namespace kroute::fake_apiserver
