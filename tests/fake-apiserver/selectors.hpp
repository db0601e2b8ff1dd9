// fieldSelector and labelSelector as the apiserver parses them (apimachinery pkg/fields and
// pkg/labels). Field selectors: the resource's field labels (ResourceInfo::field_labels:
// metadata.name everywhere, spec.unschedulable on Nodes, metadata.namespace on namespaced kinds).
// Label selectors: key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"
#include "tests/fake-apiserver/resources.hpp"
#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

struct Requirement {
    enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
    std::string key;
    Op op = Op::kEquals;
    std::vector<std::string> values;
};

class Filter {
public:
    // Parses both selectors for resource `r`; an error is the 400 BadRequest the apiserver sends.
    [[nodiscard]] static Expected<Filter, ApiError> parse(const ResourceInfo& r, std::string_view field_selector,
                                                          std::string_view label_selector);
    [[nodiscard]] bool matches(const Json& object) const;
    [[nodiscard]] bool empty() const noexcept { return fields_.empty() && labels_.empty(); }

private:
    std::vector<Requirement> fields_;
    std::vector<Requirement> labels_;
};

}  // namespace kroute::fake_apiserver
