// Node parsing: the API's JSON (a NodeList item, a watch event's object, a `kubectl get -o json`
// List item) to the Node model. Pure code. Wire input never throws: every access is type-checked
// and a wrong type is an error naming the field.
#include "k8s-client/node.hpp"

#include "k8s-client/json_fields.hpp"
#include "k8s-client/resource.hpp"

#include <nlohmann/json.hpp>

#include <string_view>

namespace kroute::k8s {
namespace {

using Json = nlohmann::json;
using json_fields::member;
using json_fields::optional_string;

// kube-router's annotations win over the spec (kube-router pkg/utils/pod_cidr.go): they let an
// operator assign pod CIDRs where the controller-manager does not.
constexpr std::string_view kPodCidrsAnnotation = "kube-router.io/pod-cidrs";
constexpr std::string_view kPodCidrAnnotation = "kube-router.io/pod-cidr";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Expected<Prefix, std::string> parse_cidr(std::string_view text, const std::string& where) {
    auto p = Prefix::parse(trim(text));
    if (!p) return unexpected(where + ": invalid CIDR \"" + std::string{text} + "\"");
    return *p;
}

Expected<std::vector<Prefix>, std::string> pod_cidrs_from_annotation(const std::string& value, std::string_view key) {
    std::vector<Prefix> out;
    std::string_view rest = value;
    const std::string where = "metadata.annotations[\"" + std::string{key} + "\"]";
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (trim(item).empty()) continue;
        auto p = parse_cidr(item, where);
        if (!p) return unexpected(std::move(p).error());
        out.push_back(*p);
    }
    return out;
}

Expected<std::vector<Prefix>, std::string> pod_cidrs_from_spec(const Json& node) {
    std::vector<Prefix> out;
    const Json* spec = member(node, "spec");
    if (spec == nullptr) return out;
    if (!spec->is_object()) return unexpected(std::string{"spec: expected an object, got "} + spec->type_name());
    if (const Json* list = member(*spec, "podCIDRs")) {
        if (!list->is_array()) return unexpected(std::string{"spec.podCIDRs: expected an array, got "} + list->type_name());
        for (std::size_t i = 0; i < list->size(); ++i) {
            const std::string where = "spec.podCIDRs[" + std::to_string(i) + "]";
            const Json& item = (*list)[i];
            if (!item.is_string()) return unexpected(where + ": expected a string, got " + item.type_name());
            auto p = parse_cidr(item.get_ref<const std::string&>(), where);
            if (!p) return unexpected(std::move(p).error());
            out.push_back(*p);
        }
        if (!out.empty()) return out;
    }
    // Older servers (< 1.16) and some tools set only the single-family field.
    auto single = optional_string(*spec, "podCIDR", "spec.podCIDR");
    if (!single) return unexpected(std::move(single).error());
    if (!single->empty()) {
        auto p = parse_cidr(*single, "spec.podCIDR");
        if (!p) return unexpected(std::move(p).error());
        out.push_back(*p);
    }
    return out;
}

Expected<void, std::string> parse_addresses(const Json& node, Node& out) {
    const Json* status = member(node, "status");
    if (status == nullptr) return {};
    if (!status->is_object()) return unexpected(std::string{"status: expected an object, got "} + status->type_name());
    const Json* addresses = member(*status, "addresses");
    if (addresses == nullptr) return {};
    if (!addresses->is_array())
        return unexpected(std::string{"status.addresses: expected an array, got "} + addresses->type_name());
    for (std::size_t i = 0; i < addresses->size(); ++i) {
        const std::string where = "status.addresses[" + std::to_string(i) + "]";
        const Json& a = (*addresses)[i];
        if (!a.is_object()) return unexpected(where + ": expected an object, got " + a.type_name());
        auto type = optional_string(a, "type", where + ".type");
        if (!type) return unexpected(std::move(type).error());
        // Hostname, InternalDNS, ExternalDNS carry names, not addresses: not ours to parse.
        const bool internal = *type == "InternalIP";
        if (!internal && *type != "ExternalIP") continue;
        auto text = optional_string(a, "address", where + ".address");
        if (!text) return unexpected(std::move(text).error());
        auto ip = IpAddress::parse(*text);
        if (!ip) return unexpected(where + ".address: invalid " + *type + " \"" + *text + "\"");
        (internal ? out.internal_ips : out.external_ips).push_back(*ip);
    }
    return {};
}

Expected<void, std::string> parse_conditions(const Json& node, Node& out) {
    const Json* status = member(node, "status");
    if (status == nullptr || !status->is_object()) return {};  // parse_addresses reports a bad status
    auto conditions = json_fields::optional_array(*status, "conditions", "status.conditions");
    if (!conditions) return unexpected(std::move(conditions).error());
    if (*conditions == nullptr) return {};
    for (std::size_t i = 0; i < (*conditions)->size(); ++i) {
        const std::string where = "status.conditions[" + std::to_string(i) + "]";
        const Json& c = (**conditions)[i];
        if (!c.is_object()) return unexpected(where + ": expected an object, got " + c.type_name());
        auto type = optional_string(c, "type", where + ".type");
        if (!type) return unexpected(std::move(type).error());
        if (*type != "NetworkUnavailable") continue;
        auto st = optional_string(c, "status", where + ".status");
        if (!st) return unexpected(std::move(st).error());
        auto reason = optional_string(c, "reason", where + ".reason");
        if (!reason) return unexpected(std::move(reason).error());
        out.network_unavailable = Node::Condition{std::move(*st), std::move(*reason)};
    }
    return {};
}

Expected<Node, std::string> parse_node_impl(const Json& object) {
    auto meta = json_fields::parse_object_meta(object, "node", /*namespaced=*/false);
    if (!meta) return unexpected(std::move(meta).error());
    Node node;
    node.name = std::move(meta->name);
    node.uid = std::move(meta->uid);
    node.resource_version = std::move(meta->resource_version);
    node.labels = std::move(meta->labels);
    node.annotations = std::move(meta->annotations);
    auto prefix_error = [&node](std::string e) { return unexpected("node " + node.name + ": " + std::move(e)); };

    Expected<std::vector<Prefix>, std::string> cidrs = std::vector<Prefix>{};
    if (auto it = node.annotations.find(std::string{kPodCidrsAnnotation}); it != node.annotations.end() && !trim(it->second).empty()) {
        cidrs = pod_cidrs_from_annotation(it->second, kPodCidrsAnnotation);
    } else if (auto it1 = node.annotations.find(std::string{kPodCidrAnnotation});
               it1 != node.annotations.end() && !trim(it1->second).empty()) {
        cidrs = pod_cidrs_from_annotation(it1->second, kPodCidrAnnotation);
    } else {
        cidrs = pod_cidrs_from_spec(object);
    }
    if (!cidrs) return prefix_error(std::move(cidrs).error());
    node.pod_cidrs = std::move(*cidrs);

    if (auto addrs = parse_addresses(object, node); !addrs) return prefix_error(std::move(addrs).error());
    if (auto conds = parse_conditions(object, node); !conds) return prefix_error(std::move(conds).error());
    return node;
}

}  // namespace

std::optional<IpAddress> Node::address(Family family) const {
    // kube-router's getPrimaryNodeIP: the first InternalIP, else the first ExternalIP.
    for (const auto& ip : internal_ips)
        if (ip.family() == family) return ip;
    for (const auto& ip : external_ips)
        if (ip.family() == family) return ip;
    return std::nullopt;
}

std::optional<Prefix> Node::pod_cidr(Family family) const {
    for (const auto& p : pod_cidrs)
        if (p.family() == family) return p;
    return std::nullopt;
}

Expected<Node, std::string> parse_node(const nlohmann::json& object) {
    try {
        return parse_node_impl(object);
    } catch (const std::exception& e) {  // defensive: nlohmann never throws on the checked paths above
        return unexpected(std::string{"node: "} + e.what());
    }
}

Expected<ListResult<Node>, std::string> parse_node_list(const nlohmann::json& list) {
    return parse_list<Node>(list, kNodes, parse_node);
}

std::string object_key(const Node& n) { return n.name; }

bool same_content(const Node& a, const Node& b) { return equal_but_resource_version(a, b); }

}  // namespace kroute::k8s
