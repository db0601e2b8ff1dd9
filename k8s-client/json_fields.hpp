// Type-checked access to the API's JSON, shared by the object parsers (Node, Service,
// EndpointSlice) and the list envelope. Wire input never throws: a wrong type is an error naming
// the field. Pure code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::k8s::json_fields {

using Json = nlohmann::json;

// The member `key` of `object` if present and not null; nullptr otherwise.
[[nodiscard]] const Json* member(const Json& object, const char* key);

// A string member; "" when absent or null. `where` names it in the error.
[[nodiscard]] Expected<std::string, std::string> optional_string(const Json& object, const char* key,
                                                                 const std::string& where);

// An object of strings (labels, annotations, selectors); empty when absent.
[[nodiscard]] Expected<std::map<std::string, std::string>, std::string> string_map(const Json& object, const char* key,
                                                                                   const std::string& where);

// An array member; nullptr when absent or null, an error when not an array.
[[nodiscard]] Expected<const Json*, std::string> optional_array(const Json& object, const char* key,
                                                                const std::string& where);

// An object member; nullptr when absent or null, an error when not an object.
[[nodiscard]] Expected<const Json*, std::string> optional_object(const Json& object, const char* key,
                                                                 const std::string& where);

// An array of IP address strings (spec.clusterIPs, endpoints[].addresses); an unparseable one is
// an error naming its index.
[[nodiscard]] Expected<std::vector<IpAddress>, std::string> ip_list(const Json& object, const char* key,
                                                                    const std::string& where);

// metadata of any object: name (required), namespace (required when `namespaced`), uid,
// resourceVersion, labels, annotations.
struct ObjectMeta {
    std::string name;
    std::string ns;
    std::string uid;
    std::string resource_version;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
};
[[nodiscard]] Expected<ObjectMeta, std::string> parse_object_meta(const Json& object, std::string_view what,
                                                                  bool namespaced);

}  // namespace kroute::k8s::json_fields
