#include "tests/fake-apiserver/store.hpp"

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

std::string name_of(const json& obj) { return string_at(obj, "metadata", "name"); }
std::string namespace_of(const json& obj) { return string_at(obj, "metadata", "namespace"); }

// The store key: etcd's key below the resource prefix.
std::string key_of(const ResourceInfo& r, std::string_view ns, std::string_view name) {
    return r.namespaced ? std::string(ns) + "/" + std::string(name) : std::string(name);
}

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

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 subdomain, as apimachinery's IsDNS1123Subdomain checks metadata.name.
bool valid_subdomain(std::string_view n) {
    if (n.empty() || n.size() > 253) return false;
    if (!lower_alnum(n.front()) || !lower_alnum(n.back())) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-' || c == '.'; });
}

// RFC 1123 label (namespaces) and RFC 1035 label (Service names: must start with a letter).
bool valid_label(std::string_view n, bool rfc1035) {
    if (n.empty() || n.size() > 63) return false;
    if (!lower_alnum(n.front()) || !lower_alnum(n.back())) return false;
    if (rfc1035 && !(n.front() >= 'a' && n.front() <= 'z')) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

std::string subdomain_error(const std::string& value) {
    return "Invalid value: \"" + value +
           "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
           "must start and end with an alphanumeric character";
}

std::string name_error(const ResourceInfo& r, const std::string& name) {
    if (r.id == Resource::kServices) {
        return "Invalid value: \"" + name +
               "\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex "
               "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    }
    return subdomain_error(name);
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

json envelope(Resource r, EventType t, const json& stored) {
    return {{"type", to_string(t)}, {"object", with_type_meta(r, stored)}};
}

bool one_of(const json& v, std::initializer_list<const char*> values) {
    return v.is_string() && std::any_of(values.begin(), values.end(), [&](const char* s) { return v == s; });
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

json with_type_meta(Resource r, const json& stored) {
    const ResourceInfo& ri = info(r);
    json out = {{"kind", ri.kind}, {"apiVersion", ri.api_version}};
    if (stored.is_object()) {
        for (const auto& [k, v] : stored.items()) out[k] = v;
    }
    return out;
}

Store::Store(std::size_t compaction_window, ServiceIpRanges service_ips, Now now, NewUid new_uid)
    : window_{compaction_window},
      service_ips_{std::move(service_ips)},
      now_{std::move(now)},
      new_uid_{std::move(new_uid)} {}

Expected<json, ApiError> Store::parse_object(const Scope& scope, std::string_view body) const {
    const ResourceInfo& r = info(scope.resource);
    auto parsed = parse_json(body);
    if (!parsed || !parsed->is_object()) {
        return unexpected(bad_request("the object provided is unrecognized: the body is not a JSON object"));
    }
    json obj = std::move(*parsed);
    if (const json* kind = member(obj, "kind"); kind && *kind != r.kind) {
        return unexpected(bad_request("the kind of the object (" + to_wire(*kind) + ") is not " + std::string(r.kind)));
    }
    if (const json* av = member(obj, "apiVersion"); av && *av != r.api_version) {
        return unexpected(bad_request("the apiVersion of the object (" + to_wire(*av) + ") is not " +
                                      std::string(r.api_version)));
    }
    obj.erase("kind");
    obj.erase("apiVersion");
    json* md = member(obj, "metadata");
    if (!md || !md->is_object()) return unexpected(invalid(r, "", "metadata.name", "Required value: name is required"));
    const std::string name = name_of(obj);
    if (name.empty()) return unexpected(invalid(r, "", "metadata.name", "Required value: name is required"));
    const bool name_ok = r.id == Resource::kServices ? valid_label(name, true) : valid_subdomain(name);
    if (!name_ok) return unexpected(invalid(r, name, "metadata.name", name_error(r, name)));
    if (r.namespaced) {
        // rest.BeforeCreate / BeforeUpdate: a body without a namespace takes the request's, one
        // naming another is refused.
        const json* ns = member(*md, "namespace");
        const std::string body_ns = ns && ns->is_string() ? ns->get<std::string>() : "";
        if (!body_ns.empty() && body_ns != scope.ns) {
            return unexpected(
                bad_request("the namespace of the provided object does not match the namespace sent on the request"));
        }
        if (!valid_label(scope.ns, false)) {
            return unexpected(invalid(r, name, "metadata.namespace",
                                      "Invalid value: \"" + scope.ns +
                                          "\": a lowercase RFC 1123 label must consist of lower case alphanumeric "
                                          "characters or '-', and must start and end with an alphanumeric character"));
        }
        (*md)["namespace"] = scope.ns;
    }
    for (const char* field : {"labels", "annotations"}) {
        const json* m = member(*md, field);
        if (!m || m->is_null()) continue;
        const bool ok = m->is_object() && std::all_of(m->begin(), m->end(), [](const json& v) { return v.is_string(); });
        if (!ok) return unexpected(bad_request(std::string("metadata.") + field + " must map strings to strings"));
    }
    if (r.has_status) {
        for (const char* field : {"spec", "status"}) {
            const json* m = member(obj, field);
            if (m && !m->is_object() && !m->is_null()) {
                return unexpected(bad_request(std::string(field) + " must be an object"));
            }
            if (!m || m->is_null()) obj[field] = json::object();
        }
    }
    return obj;
}

Expected<void, ApiError> Store::prepare_service(json& svc, const json* old) const {
    // SetDefaults_Service, ValidateService and the Service REST's ClusterIP allocation (its
    // dual-stack rules included).
    const ResourceInfo& r = info(Resource::kServices);
    const std::string name = name_of(svc);
    json& spec = svc["spec"];
    if (!spec.contains("type")) spec["type"] = "ClusterIP";
    if (!one_of(spec["type"], {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"})) {
        return unexpected(invalid(r, name, "spec.type",
                                  "Unsupported value: " + to_wire(spec["type"]) +
                                      ": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", "
                                      "\"NodePort\""));
    }
    const std::string type = spec["type"].get<std::string>();
    if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
    if (json* ports = member(spec, "ports"); ports && !ports->is_null()) {
        if (!ports->is_array()) return unexpected(bad_request("spec.ports must be an array"));
        for (std::size_t i = 0; i < ports->size(); ++i) {
            json& p = (*ports)[i];
            const std::string field = "spec.ports[" + std::to_string(i) + "]";
            if (!p.is_object()) return unexpected(bad_request(field + " must be an object"));
            const json* port = member(p, "port");
            if (!port || !port->is_number_integer() || port->get<long long>() < 1 || port->get<long long>() > 65535) {
                return unexpected(invalid(r, name, field + ".port",
                                          "Invalid value: " + (port ? to_wire(*port) : std::string("0")) +
                                              ": must be between 1 and 65535, inclusive"));
            }
            // A copy: inserting into p (an ordered_map, a vector underneath) may move *port.
            const json port_value = *port;
            if (!p.contains("protocol")) p["protocol"] = "TCP";
            if (!p.contains("targetPort")) p["targetPort"] = port_value;
        }
    }
    if (type == "ExternalName") {
        // An ExternalName Service is only a DNS CNAME: ValidateService forbids the ClusterIP
        // fields. dropTypeDependentFields first drops those a Service turned into an ExternalName
        // one still carries unchanged (a merge patch of spec.type, a PUT of the object read back).
        const json* old_spec = old ? member(*old, "spec") : nullptr;
        const bool had_cluster_ip = old_spec && !(member(*old_spec, "type") && (*old_spec)["type"] == "ExternalName");
        for (const char* field : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
            const json* v = member(spec, field);
            const json* was = had_cluster_ip ? member(*old_spec, field) : nullptr;
            const bool unset = !v || v->is_null() || *v == "" || (v->is_array() && v->empty());
            if (unset || (was && same(*v, *was))) {
                spec.erase(field);
                continue;
            }
            const std::string path = std::string_view{field} == "clusterIP" ? "spec.clusterIPs" : "spec." + std::string(field);
            return unexpected(invalid(r, name, path, "Forbidden: may not be set for ExternalName services"));
        }
        const json* target = member(spec, "externalName");
        std::string cname = target && target->is_string() ? target->get<std::string>() : "";
        if (!cname.empty() && cname.back() == '.') cname.pop_back();  // fully qualified
        if (cname.empty()) return unexpected(invalid(r, name, "spec.externalName", "Required value"));
        if (!valid_subdomain(cname)) return unexpected(invalid(r, name, "spec.externalName", subdomain_error(cname)));
        return {};
    }

    // patchAllocatedValues: an update that leaves out the allocated ClusterIPs keeps them, and the
    // families they were allocated for.
    std::vector<std::string> old_ips;
    if (old) {
        const json* old_spec = member(*old, "spec");
        for (const char* field : {"clusterIP", "clusterIPs", "ipFamilies"}) {
            const json* was = old_spec ? member(*old_spec, field) : nullptr;
            if (was && (!spec.contains(field) || spec[field] == "" || spec[field].is_null())) spec[field] = *was;
        }
        if (const json* was = old_spec ? member(*old_spec, "clusterIPs") : nullptr; was && was->is_array())
            for (const auto& ip : *was)
                if (ip.is_string()) old_ips.push_back(ip.get<std::string>());
    }
    const std::string old_ip = old_ips.empty() ? std::string{} : old_ips.front();
    if (!old_ip.empty()) {
        for (const json* given : {member(spec, "clusterIP"), member(spec, "clusterIPs")}) {
            const json* first = given && given->is_array() ? (given->empty() ? nullptr : &(*given)[0]) : given;
            if (first && first->is_string() && *first != "" && *first != old_ip)
                return unexpected(invalid(r, name, "spec.clusterIPs[0]",
                                          "Invalid value: []string{\"" + first->get<std::string>() +
                                              "\"}: may not change once set"));
        }
    }
    // clusterIP is clusterIPs[0]; either may be given.
    std::vector<std::string> ips;
    if (const json* list = member(spec, "clusterIPs"); list && list->is_array() && !list->empty()) {
        for (const auto& ip : *list) {
            if (!ip.is_string()) return unexpected(bad_request("spec.clusterIPs must hold strings"));
            ips.push_back(ip.get<std::string>());
        }
        if (spec.contains("clusterIP") && spec["clusterIP"].is_string() && spec["clusterIP"] != "" &&
            spec["clusterIP"] != ips[0]) {
            return unexpected(invalid(r, name, "spec.clusterIPs",
                                      "Invalid value: " + to_wire(spec["clusterIPs"]) +
                                          ": first value must match `clusterIP`"));
        }
    } else if (spec.contains("clusterIP") && spec["clusterIP"].is_string() && spec["clusterIP"] != "") {
        ips.push_back(spec["clusterIP"].get<std::string>());
    }

    // ipFamilyPolicy and ipFamilies (the dual-stack rules of the Service REST's initIPFamilyFields).
    const json* policy_field = member(spec, "ipFamilyPolicy");
    const bool policy_given = policy_field && !policy_field->is_null() && *policy_field != "";
    if (policy_given && !one_of(*policy_field, {"SingleStack", "PreferDualStack", "RequireDualStack"})) {
        return unexpected(invalid(r, name, "spec.ipFamilyPolicy",
                                  "Unsupported value: " + to_wire(*policy_field) +
                                      ": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\""));
    }
    std::string policy = policy_given ? policy_field->get<std::string>() : "";
    const bool headless = !ips.empty() && ips.front() == "None";
    if (headless && ips.size() > 1)
        return unexpected(invalid(r, name, "spec.clusterIPs", "Invalid value: " + to_wire(spec["clusterIPs"]) +
                                                                 ": a headless Service has exactly one value, \"None\""));
    std::vector<std::string> families;
    if (const json* f = member(spec, "ipFamilies"); f && f->is_array()) {
        for (std::size_t i = 0; i < f->size(); ++i) {
            const json& fam = (*f)[i];
            const std::string field = "spec.ipFamilies[" + std::to_string(i) + "]";
            if (!one_of(fam, {"IPv4", "IPv6"}))
                return unexpected(invalid(r, name, field, "Unsupported value: " + to_wire(fam) +
                                                              ": supported values: \"IPv4\", \"IPv6\""));
            const std::string value = fam.get<std::string>();
            if (std::find(families.begin(), families.end(), value) != families.end())
                return unexpected(invalid(r, name, field, "Duplicate value: \"" + value + "\""));
            if (service_ips_.of(value) == nullptr)
                return unexpected(invalid(r, name, field, "Invalid value: \"" + value + "\": not configured on this cluster"));
            families.push_back(value);
        }
    }
    if (old) {
        std::vector<std::string> old_families;
        if (const json* f = member(*old, "spec") ? member((*old)["spec"], "ipFamilies") : nullptr; f && f->is_array())
            for (const auto& fam : *f)
                if (fam.is_string()) old_families.push_back(fam.get<std::string>());
        if (policy == "SingleStack") {
            // A downgrade: SingleStack with the fields as they were is clear intent to release the
            // secondary family (clusterIPs[0] stays, it is immutable).
            if (ips.size() > 1 && ips == old_ips) ips.resize(1);
            if (families.size() > 1 && families == old_families) families.resize(1);
        } else if (ips.size() < old_ips.size() && !ips.empty()) {
            return unexpected(invalid(r, name, "spec.ipFamilyPolicy",
                                      "Invalid value: " + (policy_given ? to_wire(*policy_field) : std::string("null")) +
                                          ": must be 'SingleStack' to release the secondary cluster IP"));
        } else if (families.size() < old_families.size() && !families.empty()) {
            return unexpected(invalid(r, name, "spec.ipFamilyPolicy",
                                      "Invalid value: " + (policy_given ? to_wire(*policy_field) : std::string("null")) +
                                          ": must be 'SingleStack' to release the secondary IP family"));
        }
    }
    // Without a policy, two families or two addresses can only mean RequireDualStack; anything
    // else defaults to SingleStack (so that a PUT leaving the policy out never drops an IP).
    if (!policy_given) policy = families.size() == 2 || ips.size() == 2 ? "RequireDualStack" : "SingleStack";
    if (policy == "RequireDualStack" && !service_ips_.dual_stack()) {
        return unexpected(invalid(r, name, "spec.ipFamilyPolicy",
                                  "Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"));
    }
    if (!headless) {
        std::vector<std::string> ip_families;
        for (std::size_t i = 0; i < ips.size(); ++i) {
            const std::string field = "spec.clusterIPs[" + std::to_string(i) + "]";
            auto fam = ip_family_of(ips[i]);
            if (!fam) return unexpected(invalid(r, name, field, "Invalid value: \"" + ips[i] + "\": must be a valid IP address"));
            if (std::find(ip_families.begin(), ip_families.end(), *fam) != ip_families.end())
                return unexpected(invalid(r, name, "spec.clusterIPs", "Invalid value: " + to_wire(spec["clusterIPs"]) +
                                                                         ": may specify no more than one IP for each IP family"));
            if (i < families.size() && families[i] != *fam)
                return unexpected(invalid(r, name, field, "Invalid value: \"" + ips[i] + "\": expected an " + families[i] +
                                                              " address, as spec.ipFamilies[" + std::to_string(i) + "] says"));
            // The address names the family; one the cluster has no range for cannot be inferred
            // (an IPv6 ClusterIP on an IPv4-only cluster).
            if (i >= families.size() && service_ips_.of(*fam) == nullptr)
                return unexpected(invalid(r, name, field, "Invalid value: " + to_wire(json(ips)) + ": " + *fam +
                                                              " is an unsupported IP family"));
            ip_families.push_back(*fam);
        }
        if (families.size() < ip_families.size()) families = ip_families;
    }
    if (families.empty()) families.push_back(service_ips_.primary().family());
    if (policy != "SingleStack" && service_ips_.dual_stack() && families.size() == 1)
        families.push_back(std::string_view{families.front()} == "IPv4" ? "IPv6" : "IPv4");
    if (policy == "SingleStack" && families.size() > 1) {
        return unexpected(invalid(r, name, "spec.ipFamilyPolicy",
                                  "Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when "
                                  "multiple IP families are specified"));
    }

    // Allocation: given addresses must be free and in their family's range; missing ones are
    // allocated from it.
    const auto in_use = [&](const std::string& candidate) {
        for (const auto& [key, other] : objects(Resource::kServices)) {
            const json* other_spec = member(other, "spec");
            const json* list = other_spec ? member(*other_spec, "clusterIPs") : nullptr;
            if (list && list->is_array() && std::find(list->begin(), list->end(), json(candidate)) != list->end()) return true;
        }
        return false;
    };
    if (!headless) {
        for (std::size_t i = 0; i < families.size(); ++i) {
            const ServiceIpRange& range = *service_ips_.of(families[i]);
            if (i < ips.size()) {
                if (std::find(old_ips.begin(), old_ips.end(), ips[i]) != old_ips.end()) continue;  // its own
                const std::string failed =
                    "Invalid value: []string{\"" + ips[i] + "\"}: failed to allocate IP " + ips[i] + ": ";
                if (!range.contains(ips[i])) {
                    return unexpected(invalid(r, name, "spec.clusterIPs",
                                              failed + "provided IP is not in the valid range. The range of valid IPs is " +
                                                  range.cidr()));
                }
                if (in_use(ips[i]))
                    return unexpected(invalid(r, name, "spec.clusterIPs", failed + "provided IP is already allocated"));
                continue;
            }
            auto free = range.first_free(in_use);
            if (!free) {
                return unexpected(ApiError{500, "InternalError",
                                           "Internal error occurred: failed to allocate a serviceIP: range is full",
                                           json::object()});
            }
            ips.push_back(*free);
        }
    }
    spec["clusterIP"] = ips.front();
    spec["clusterIPs"] = ips;
    spec["ipFamilies"] = families;
    spec["ipFamilyPolicy"] = policy;
    const std::string ip = ips.front();
    const bool has_ports = spec.contains("ports") && spec["ports"].is_array() && !spec["ports"].empty();
    if (!has_ports && ip != "None") return unexpected(invalid(r, name, "spec.ports", "Required value"));
    if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
    if ((type == "NodePort" || type == "LoadBalancer") && !spec.contains("externalTrafficPolicy")) {
        spec["externalTrafficPolicy"] = "Cluster";
    }
    return {};
}

Expected<void, ApiError> Store::prepare(Resource r, json& obj, const json* old) const {
    switch (r) {
        case Resource::kNodes: return {};
        case Resource::kServices: return prepare_service(obj, old);
        case Resource::kEndpointSlices: {
            // discovery/v1 validation and SetDefaults_EndpointPort; endpoints and ports are
            // atomic lists, served as null when absent (the Go nil slice).
            const ResourceInfo& ri = info(r);
            const std::string name = name_of(obj);
            const json* type = member(obj, "addressType");
            if (!type || type->is_null()) return unexpected(invalid(ri, name, "addressType", "Required value"));
            if (!one_of(*type, {"FQDN", "IPv4", "IPv6"})) {
                return unexpected(invalid(ri, name, "addressType",
                                          "Unsupported value: " + to_wire(*type) +
                                              ": supported values: \"FQDN\", \"IPv4\", \"IPv6\""));
            }
            if (old && old->value("addressType", json()) != *type) {
                return unexpected(invalid(ri, name, "addressType",
                                          "Invalid value: " + to_wire(*type) + ": field is immutable"));
            }
            for (const char* field : {"endpoints", "ports"}) {
                json* list = member(obj, field);
                if (!list) {
                    obj[field] = nullptr;
                    continue;
                }
                if (!list->is_array() && !list->is_null()) return unexpected(bad_request(std::string(field) + " must be an array"));
                if (!list->is_array()) continue;
                for (std::size_t i = 0; i < list->size(); ++i) {
                    json& item = (*list)[i];
                    const std::string path = std::string(field) + "[" + std::to_string(i) + "]";
                    if (!item.is_object()) return unexpected(bad_request(path + " must be an object"));
                    if (std::string_view(field) == "ports") {
                        if (!item.contains("name")) item["name"] = "";
                        if (!item.contains("protocol")) item["protocol"] = "TCP";
                        continue;
                    }
                    const json* addrs = member(item, "addresses");
                    if (!addrs || !addrs->is_array() || addrs->empty()) {
                        return unexpected(invalid(ri, name, path + ".addresses", "Required value: must contain at least 1 address"));
                    }
                }
            }
            return {};
        }
    }
    return {};
}

void Store::record(Resource r, EventType type, const json& object, json previous) {
    log_.push_back(Event{rv_, r, namespace_of(object), type, object, std::move(previous)});
    while (log_.size() > window_) {
        compacted_rv_ = log_.front().rv;
        log_.pop_front();
    }
}

Expected<WriteResult, ApiError> Store::insert(Resource r, json obj, bool seeding) {
    const ResourceInfo& ri = info(r);
    const std::string name = name_of(obj);
    const std::string key = key_of(ri, namespace_of(obj), name);
    if (objects(r).contains(key)) return unexpected(already_exists(ri, name));
    // Service PrepareForCreate: the status is the server's (the zero ServiceStatus). A seed file
    // keeps its status, uid and creationTimestamp: it may be a `kubectl get -o json` of a cluster.
    if (r == Resource::kServices && (!seeding || !obj["status"].contains("loadBalancer"))) {
        obj["status"] = {{"loadBalancer", json::object()}};
    }
    if (auto p = prepare(r, obj, nullptr); !p) return unexpected(std::move(p).error());
    json& md = obj["metadata"];
    ++rv_;
    if (!seeding || !md.contains("uid")) md["uid"] = new_uid_();
    md["resourceVersion"] = std::to_string(rv_);
    if (!seeding || !md.contains("creationTimestamp")) md["creationTimestamp"] = now_();
    auto& stored = objects(r)[key] = std::move(obj);
    if (!seeding) record(r, EventType::kAdded, stored, nullptr);
    return WriteResult{with_type_meta(r, stored), 201};
}

Expected<void, ApiError> Store::seed(Resource r, const json& doc) {
    const ResourceInfo& ri = info(r);
    const json* items = doc.is_array() ? &doc : member(doc, "items");
    if (!items || !items->is_array()) {
        return unexpected(bad_request(std::string(ri.plural) + " file: expected a " + std::string(ri.list_kind) +
                                      ", List or array"));
    }
    for (const auto& item : *items) {
        const std::string ns = ri.namespaced ? (namespace_of(item).empty() ? "default" : namespace_of(item)) : "";
        auto obj = parse_object(Scope{r, ns}, to_wire(item));
        if (!obj) return unexpected(std::move(obj).error());
        auto stored = insert(r, std::move(*obj), true);
        if (!stored) return unexpected(std::move(stored).error());
    }
    compacted_rv_ = rv_;
    log_.clear();
    return {};
}

Expected<std::uint64_t, ApiError> Store::parse_rv(std::string_view rv) const {
    auto v = to_u64(rv);
    if (!v) return unexpected(bad_request("resourceVersion: Invalid value: \"" + std::string(rv) + "\""));
    return *v;
}

ApiError Store::too_old(std::uint64_t rv) const {
    return expired("too old resource version: " + std::to_string(rv) + " (" + std::to_string(compacted_rv_) + ")");
}

ApiError Store::too_large(std::uint64_t rv) const {
    // apiserver pkg/storage/errors.go NewTooLargeResourceVersionError: 504 with a cause.
    return ApiError{504, "Timeout",
                    "Too large resource version: " + std::to_string(rv) + ", current: " + std::to_string(rv_),
                    {{"causes", json::array({{{"reason", "ResourceVersionTooLarge"},
                                              {"message", "Too large resource version"}}})},
                     {"retryAfterSeconds", 1}}};
}

Expected<json, ApiError> Store::list(const Scope& scope, const ListOptions& opts) const {
    const ResourceInfo& ri = info(scope.resource);
    auto filter = Filter::parse(ri, opts.field_selector, opts.label_selector);
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

    // The list's etcd prefix: one namespace's keys, or all of them. Continue tokens hold the key
    // relative to it, as etcd3's do.
    const std::string prefix = ri.namespaced && !scope.ns.empty() ? scope.ns + "/" : "";
    const Objects& objs = objects(scope.resource);
    json items = json::array();
    std::string last;
    std::uint64_t remaining = 0;
    bool more = false;
    for (auto it = objs.lower_bound(prefix + start); it != objs.end() && it->first.starts_with(prefix); ++it) {
        if (!filter->matches(it->second)) continue;
        if (limit > 0 && items.size() >= limit) {
            more = true;
            ++remaining;
            continue;
        }
        items.push_back(it->second);
        last = it->first.substr(prefix.size());
    }

    json md = {{"resourceVersion", std::to_string(list_rv)}};
    if (more) {
        // Same shape as the apiserver's token (etcd3 continueToken): base64 of {"v","rv","start"}.
        json token = {{"v", "meta.k8s.io/v1"}, {"rv", list_rv}, {"start", last + '\0'}};
        md["continue"] = base64_encode(to_wire(token));
        if (filter->empty()) md["remainingItemCount"] = remaining;
    }
    return json{{"kind", ri.list_kind},
                {"apiVersion", ri.api_version},
                {"metadata", std::move(md)},
                {"items", std::move(items)}};
}

Expected<json, ApiError> Store::get(const Scope& scope, std::string_view name) const {
    const ResourceInfo& ri = info(scope.resource);
    const Objects& objs = objects(scope.resource);
    auto it = objs.find(key_of(ri, scope.ns, name));
    if (it == objs.end()) return unexpected(not_found(ri, name));
    return with_type_meta(scope.resource, it->second);
}

Expected<WriteResult, ApiError> Store::create(const Scope& scope, std::string_view body) {
    auto obj = parse_object(scope, body);
    if (!obj) return unexpected(std::move(obj).error());
    return insert(scope.resource, std::move(*obj), false);
}

Expected<WriteResult, ApiError> Store::store_update(Resource r, const json& old, json updated, Subresource sub) {
    const ResourceInfo& ri = info(r);
    const std::string name = name_of(old);
    json* md = member(updated, "metadata");
    if (!md || !md->is_object()) return unexpected(invalid(ri, name, "metadata", "Required value"));
    if (name_of(updated) != name) return unexpected(invalid(ri, name, "metadata.name", "field is immutable"));
    if (ri.namespaced && namespace_of(updated) != namespace_of(old)) {
        return unexpected(invalid(ri, name, "metadata.namespace", "field is immutable"));
    }
    const std::string client_rv = string_at(updated, "metadata", "resourceVersion");
    const std::string old_rv = string_at(old, "metadata", "resourceVersion");
    // Optimistic concurrency: a write naming a resourceVersion must name the current one.
    if (!client_rv.empty() && client_rv != old_rv) return unexpected(conflict(ri, name));

    const json* old_md = member(old, "metadata");
    const json* old_created = old_md ? member(*old_md, "creationTimestamp") : nullptr;
    (*md)["uid"] = string_at(old, "metadata", "uid");
    (*md)["resourceVersion"] = old_rv;
    (*md)["creationTimestamp"] = old_created ? *old_created : json();
    if (ri.has_status) {
        // The main resource's strategy keeps the old status, the /status strategy the old spec.
        if (sub == Subresource::kNone) {
            updated["status"] = old.value("status", json::object());
        } else {
            updated["spec"] = old.value("spec", json::object());
        }
        for (const char* field : {"spec", "status"}) {
            if (!updated[field].is_object()) updated[field] = json::object();
        }
    }
    if (sub == Subresource::kNone) {
        if (auto p = prepare(r, updated, &old); !p) return unexpected(std::move(p).error());
    }
    if (same(updated, old)) return WriteResult{with_type_meta(r, old), 200};

    ++rv_;
    (*md)["resourceVersion"] = std::to_string(rv_);
    json previous = old;  // `old` aliases the map entry about to be replaced
    auto& stored = objects(r)[key_of(ri, namespace_of(old), name)] = std::move(updated);
    record(r, EventType::kModified, stored, std::move(previous));
    return WriteResult{with_type_meta(r, stored), 200};
}

Expected<WriteResult, ApiError> Store::update(const Scope& scope, std::string_view name, std::string_view body,
                                              Subresource sub) {
    const ResourceInfo& ri = info(scope.resource);
    auto obj = parse_object(scope, body);
    if (!obj) return unexpected(std::move(obj).error());
    if (name_of(*obj) != name) {
        return unexpected(bad_request("the name of the object (" + name_of(*obj) +
                                      ") does not match the name on the URL (" + std::string(name) + ")"));
    }
    const Objects& objs = objects(scope.resource);
    auto it = objs.find(key_of(ri, scope.ns, name));
    if (it == objs.end()) return unexpected(not_found(ri, name));
    return store_update(scope.resource, it->second, std::move(*obj), sub);
}

Expected<WriteResult, ApiError> Store::patch(const Scope& scope, std::string_view name, std::string_view content_type,
                                             std::string_view body, Subresource sub) {
    const ResourceInfo& ri = info(scope.resource);
    const auto type = patch_type_from_content_type(content_type);
    if (!type) return unexpected(unsupported_media_type(content_type));
    const json patch_doc = parse_json(body).value_or(json(json::value_t::discarded));
    if (patch_doc.is_discarded()) {
        return unexpected(bad_request(*type == PatchType::kApplyPatch
                                          ? "error decoding patch: this fake API server takes apply patches as JSON only"
                                          : "error decoding patch: the body is not valid JSON"));
    }
    const Objects& objs = objects(scope.resource);
    auto it = objs.find(key_of(ri, scope.ns, name));
    if (it == objs.end()) {
        // Server-side apply creates what is absent (not through /status).
        if (*type != PatchType::kApplyPatch || sub != Subresource::kNone) return unexpected(not_found(ri, name));
        json obj = patch_doc;
        if (!obj.is_object()) return unexpected(bad_request("an apply patch must be a JSON object"));
        if (!member(obj, "metadata")) obj["metadata"] = json::object();
        if (name_of(obj) != name) {
            return unexpected(bad_request("the name of the object (" + name_of(obj) +
                                          ") does not match the name on the URL (" + std::string(name) + ")"));
        }
        return create(scope, to_wire(obj));
    }
    auto patched = apply_patch(with_type_meta(scope.resource, it->second), *type, patch_doc);
    if (!patched) {
        return unexpected(ApiError{422, "Invalid",
                                   ri.qualified_kind() + " \"" + std::string(name) + "\" is invalid: " + patched.error(),
                                   json::object()});
    }
    if (!patched->is_object()) return unexpected(bad_request("the patched object is not a JSON object"));
    if (patched->value("kind", json(ri.kind)) != ri.kind ||
        patched->value("apiVersion", json(ri.api_version)) != ri.api_version) {
        return unexpected(bad_request("a patch may not change kind or apiVersion"));
    }
    patched->erase("kind");
    patched->erase("apiVersion");
    return store_update(scope.resource, it->second, std::move(*patched), sub);
}

Expected<json, ApiError> Store::remove(const Scope& scope, std::string_view name) {
    const ResourceInfo& ri = info(scope.resource);
    Objects& objs = objects(scope.resource);
    auto it = objs.find(key_of(ri, scope.ns, name));
    if (it == objs.end()) return unexpected(not_found(ri, name));
    json last = it->second;
    const std::string uid = string_at(last, "metadata", "uid");
    ++rv_;
    last["metadata"]["resourceVersion"] = std::to_string(rv_);  // DELETED carries the deletion's RV
    json previous = std::move(it->second);
    objs.erase(it);
    record(scope.resource, EventType::kDeleted, last, previous);
    if (scope.resource == Resource::kServices) return with_type_meta(scope.resource, previous);
    return success_status(ri, name, uid);
}

void Store::compact() {
    compacted_rv_ = rv_;
    log_.clear();
}

Expected<Store::WatchStart, ApiError> Store::start_watch(const Scope& scope, const WatchOptions& opts,
                                                         const Filter& filter) const {
    WatchStart start;
    const bool from_now = opts.resource_version.empty() || opts.resource_version == "0";
    if (from_now || opts.send_initial_events) {
        // "Get State and Start at Most Recent": synthetic ADDED for every current object.
        if (!from_now) {
            auto rv = parse_rv(opts.resource_version);
            if (!rv) return unexpected(std::move(rv).error());
        }
        const ResourceInfo& ri = info(scope.resource);
        const std::string prefix = ri.namespaced && !scope.ns.empty() ? scope.ns + "/" : "";
        const Objects& objs = objects(scope.resource);
        for (auto it = objs.lower_bound(prefix); it != objs.end() && it->first.starts_with(prefix); ++it) {
            if (filter.matches(it->second)) start.events.push_back(envelope(scope.resource, EventType::kAdded, it->second));
        }
        if (opts.send_initial_events) start.events.push_back(bookmark(scope.resource, rv_, true));
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
    auto events = events_since(scope, start.cursor, filter);
    if (!events) return unexpected(std::move(events).error());
    start.events = std::move(*events);
    return start;
}

Expected<std::vector<json>, ApiError> Store::events_since(const Scope& scope, std::uint64_t& cursor,
                                                          const Filter& filter) const {
    if (cursor < compacted_rv_) return unexpected(too_old(cursor));
    std::vector<json> out;
    const Resource r = scope.resource;
    auto first = std::find_if(log_.begin(), log_.end(), [&](const Event& e) { return e.rv > cursor; });
    for (auto it = first; it != log_.end(); ++it) {
        const Event& e = *it;
        if (e.resource != r || (!scope.ns.empty() && e.ns != scope.ns)) continue;
        if (filter.empty()) {
            out.push_back(envelope(r, e.type, e.object));
            continue;
        }
        // A selector watch sees objects enter (ADDED) and leave (DELETED) its selection.
        const bool now_in = filter.matches(e.object);
        const bool was_in = !e.previous.is_null() && filter.matches(e.previous);
        switch (e.type) {
            case EventType::kAdded:
                if (now_in) out.push_back(envelope(r, EventType::kAdded, e.object));
                break;
            case EventType::kDeleted:
                if (was_in) out.push_back(envelope(r, EventType::kDeleted, e.object));
                break;
            case EventType::kModified:
                if (now_in && was_in) out.push_back(envelope(r, EventType::kModified, e.object));
                if (now_in && !was_in) out.push_back(envelope(r, EventType::kAdded, e.object));
                if (!now_in && was_in) out.push_back(envelope(r, EventType::kDeleted, e.object));
                break;
        }
    }
    cursor = std::max(cursor, rv_);
    return out;
}

json Store::bookmark(Resource r, std::uint64_t rv, bool initial_events_end) {
    // Go's encoding of each kind's zero value: fields without omitempty stay, as "" or null, and
    // structs are never omitted.
    json md = {{"resourceVersion", std::to_string(rv)}, {"creationTimestamp", nullptr}};
    if (initial_events_end) md["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    json object = with_type_meta(r, {{"metadata", std::move(md)}});
    switch (r) {
        case Resource::kNodes: {
            json node_info = json::object();
            for (const char* k : {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                                  "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion", "operatingSystem",
                                  "architecture"}) {
                node_info[k] = "";
            }
            object["spec"] = json::object();
            object["status"] = {{"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 0}}}}},
                                {"nodeInfo", std::move(node_info)}};
            break;
        }
        case Resource::kServices:
            object["spec"] = json::object();
            object["status"] = {{"loadBalancer", json::object()}};
            break;
        case Resource::kEndpointSlices:
            object["addressType"] = "";
            object["endpoints"] = nullptr;
            object["ports"] = nullptr;
            break;
    }
    return {{"type", "BOOKMARK"}, {"object", std::move(object)}};
}

json Store::error_event(const ApiError& e) { return {{"type", "ERROR"}, {"object", status_json(e)}}; }

}  // namespace kroute::fake_apiserver
