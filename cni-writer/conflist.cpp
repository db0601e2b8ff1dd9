// Conflist rendering. The JSON is handled as nlohmann::ordered_json so that a template's keys keep
// their order and the keys kroute does not manage pass through untouched (kube-router does the
// same with its partial unmarshaller, pkg/utils/cni.go).
#include "cni-writer/conflist.hpp"

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kroute::cni {
namespace {

using Json = nlohmann::ordered_json;
using Error = std::string;

// Linux limits: an interface name is at most IFNAMSIZ-1 = 15 bytes; an MTU is at least 68 for
// IPv4 (RFC 791) and 1280 for IPv6 (RFC 8200 §5); the bridge driver caps it at 65535.
constexpr std::size_t kMaxIfnameLength = 15;
constexpr int kMinMtuV4 = 68;
constexpr int kMinMtuV6 = 1280;
constexpr int kMaxMtu = 65535;

// host-local's old single-range form keeps these at the ipam level; once the subnet moves into
// "ranges" they describe a range that is no longer there.
constexpr std::string_view kLegacyRangeKeys[] = {"subnet", "rangeStart", "rangeEnd", "gateway"};

constexpr std::string_view kDefaultTemplate = R"({
  "cniVersion": "0.4.0",
  "name": "kubernetes",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "kube-bridge",
      "isGateway": true,
      "isDefaultGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local"
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      },
      "snat": true
    }
  ]
}
)";

// CNI spec §"Network configuration": the network name must match ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$.
bool valid_network_name(std::string_view name) {
    if (name.empty()) return false;
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name.front())) return false;
    for (char c : name) {
        if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

bool valid_ifname(std::string_view name) {
    if (name.empty() || name.size() > kMaxIfnameLength || name == "." || name == "..") return false;
    for (char c : name) {
        if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
    }
    return true;
}

Expected<void, Error> check_inputs(const std::vector<Prefix>& pod_cidrs, const ConflistOptions& options) {
    if (pod_cidrs.empty()) return unexpected(Error{"no podCIDR: the node has no pod address range yet"});
    bool any_v6 = false;
    for (std::size_t i = 0; i < pod_cidrs.size(); ++i) {
        any_v6 = any_v6 || pod_cidrs[i].family() == Family::kIpv6;
        for (std::size_t j = 0; j < i; ++j) {
            // host-local refuses overlapping range sets; say so before kubelet does, pod by pod.
            if (pod_cidrs[i].overlaps(pod_cidrs[j])) {
                return unexpected("podCIDRs " + pod_cidrs[j].to_string() + " and " + pod_cidrs[i].to_string() +
                                  " overlap");
            }
        }
    }
    const int min_mtu = any_v6 ? kMinMtuV6 : kMinMtuV4;
    if (options.mtu < min_mtu || options.mtu > kMaxMtu) {
        return unexpected("MTU " + std::to_string(options.mtu) + " is out of range [" + std::to_string(min_mtu) +
                          ", " + std::to_string(kMaxMtu) + "]");
    }
    if (!valid_ifname(options.bridge)) {
        return unexpected("bridge name \"" + options.bridge + "\" is not a valid interface name (1-15 bytes, no '/', ':' or spaces)");
    }
    return {};
}

// The one bridge plugin of the list: kroute writes its addresses, so it must be unambiguous.
Expected<Json*, Error> find_bridge(Json& plugins) {
    Json* bridge = nullptr;
    for (std::size_t i = 0; i < plugins.size(); ++i) {
        Json& plugin = plugins[i];
        if (!plugin.is_object()) return unexpected("plugins[" + std::to_string(i) + "] is not an object");
        auto type = plugin.find("type");
        if (type == plugin.end() || !type->is_string()) {
            return unexpected("plugins[" + std::to_string(i) + "] has no string \"type\"");
        }
        if (type->get_ref<const std::string&>() != "bridge") continue;
        if (bridge != nullptr) return unexpected(Error{"the template has more than one bridge plugin"});
        bridge = &plugin;
    }
    if (bridge == nullptr) return unexpected(Error{"the template has no plugin of type \"bridge\""});
    return bridge;
}

Expected<void, Error> fill_ipam(Json& bridge, const std::vector<Prefix>& pod_cidrs, const ConflistOptions& options) {
    auto it = bridge.find("ipam");
    if (it == bridge.end()) it = bridge.emplace("ipam", Json{{"type", "host-local"}}).first;
    Json& ipam = *it;
    if (!ipam.is_object()) return unexpected(Error{"the bridge plugin's \"ipam\" is not an object"});
    if (auto type = ipam.find("type"); type == ipam.end()) {
        ipam["type"] = "host-local";
    } else if (!type->is_string() || type->get_ref<const std::string&>() != "host-local") {
        return unexpected("the bridge plugin's ipam type is " + type->dump() + "; kroute writes host-local ranges only");
    }

    if (ipam.contains("subnet")) {
        for (std::string_view key : kLegacyRangeKeys) ipam.erase(std::string{key});
    }
    // One range set per podCIDR, in the given order: host-local gives each pod one address from
    // each set, hence one per family on a dual-stack node. Ranges from the template are replaced,
    // not merged (kube-router appends and never removes): a changed podCIDR must not leave the
    // old one allocatable.
    Json ranges = Json::array();
    for (const Prefix& cidr : pod_cidrs) {
        ranges.push_back(Json::array({Json{{"subnet", cidr.to_string()}}}));
    }
    ipam["ranges"] = std::move(ranges);
    if (!options.ipam_data_dir.empty()) ipam["dataDir"] = options.ipam_data_dir;
    return {};
}

Expected<std::string, Error> render(const std::string& template_json, const std::vector<Prefix>& pod_cidrs,
                                    const ConflistOptions& options) {
    if (auto ok = check_inputs(pod_cidrs, options); !ok) return unexpected(ok.error());

    const bool builtin = template_json.empty();
    Json conf;
    try {
        conf = Json::parse(builtin ? std::string{kDefaultTemplate} : template_json);
    } catch (const Json::parse_error& e) {
        return unexpected("the template is not JSON: " + std::string{e.what()});
    }
    if (!conf.is_object()) return unexpected(Error{"the template is not a JSON object"});
    // The template is the operator's word on the list's name and version; the options fill them
    // in when it says nothing (and always for the built-in template, whose values are defaults).
    // Missing ones go first, where the CNI spec's examples have them.
    Json head = Json::object();
    for (auto [key, value] : {std::pair{"cniVersion", &options.cni_version}, std::pair{"name", &options.network_name}}) {
        auto it = conf.find(key);
        if (builtin || it == conf.end()) {
            head[key] = *value;
        } else if (!it->is_string()) {
            return unexpected("the template's \"" + std::string{key} + "\" is not a string");
        }
    }
    for (auto& item : conf.items()) {
        if (!head.contains(item.key())) head[item.key()] = std::move(item.value());
    }
    conf = std::move(head);

    const auto& name = conf["name"].get_ref<const std::string&>();
    if (!valid_network_name(name)) {
        return unexpected("network name \"" + name + "\" is not valid (CNI: ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$)");
    }
    if (conf["cniVersion"].get_ref<const std::string&>().empty()) return unexpected(Error{"cniVersion is empty"});

    // Looked up only now: inserting into an ordered_json invalidates its iterators.
    auto plugins = conf.find("plugins");
    if (plugins == conf.end()) {
        if (conf.contains("type")) {
            return unexpected(Error{"the template is a single-plugin .conf, not a conflist (no \"plugins\" list)"});
        }
        return unexpected(Error{"the template has no \"plugins\" list"});
    }
    if (!plugins->is_array()) return unexpected(Error{"the template's \"plugins\" is not a list"});

    auto bridge = find_bridge(*plugins);
    if (!bridge) return unexpected(bridge.error());
    // kroute creates the bridge and sets its MTU itself: the plugin must use the same ones.
    (**bridge)["bridge"] = options.bridge;
    (**bridge)["mtu"] = options.mtu;
    if (auto ok = fill_ipam(**bridge, pod_cidrs, options); !ok) return unexpected(ok.error());

    // Invalid UTF-8 cannot come out of parse(); `replace` only keeps dump() from ever throwing.
    return conf.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string default_template() { return std::string{kDefaultTemplate}; }

Expected<std::string, std::string> render_conflist(const std::string& template_json,
                                                   const std::vector<Prefix>& pod_cidrs,
                                                   const ConflistOptions& options) {
    try {
        return render(template_json, pod_cidrs, options);
    } catch (const std::exception& e) {  // bad_alloc, or a json type error this code did not foresee
        return unexpected("rendering the conflist failed: " + std::string{e.what()});
    }
}

}  // namespace kroute::cni
