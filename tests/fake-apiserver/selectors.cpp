#include "tests/fake-apiserver/selectors.hpp"

#include <algorithm>

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

// Splits on commas that are not inside parentheses ("a in (x,y),b" -> two terms).
std::vector<std::string_view> split_terms(std::string_view s) {
    std::vector<std::string_view> out;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '(') ++depth;
        if (s[i] == ')') --depth;
        if (s[i] == ',' && depth == 0) {
            out.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    out.push_back(trim(s.substr(start)));
    return out;
}

// key=value | key==value | key!=value
bool split_equality(std::string_view term, Requirement& r) {
    if (auto p = term.find("!="); p != std::string_view::npos) {
        r = {std::string(trim(term.substr(0, p))), Requirement::Op::kNotEquals, {std::string(trim(term.substr(p + 2)))}};
        return true;
    }
    if (auto p = term.find("=="); p != std::string_view::npos) {
        r = {std::string(trim(term.substr(0, p))), Requirement::Op::kEquals, {std::string(trim(term.substr(p + 2)))}};
        return true;
    }
    if (auto p = term.find('='); p != std::string_view::npos) {
        r = {std::string(trim(term.substr(0, p))), Requirement::Op::kEquals, {std::string(trim(term.substr(p + 1)))}};
        return true;
    }
    return false;
}

Expected<Requirement, ApiError> parse_label_term(std::string_view term) {
    auto fail = [&](const char* why) {
        return unexpected(bad_request("unable to parse requirement: " + std::string(why) + ": \"" +
                                      std::string(term) + "\""));
    };
    Requirement r;
    for (const auto& [word, op] : {std::pair{std::string_view{" notin "}, Requirement::Op::kNotIn},
                                   std::pair{std::string_view{" in "}, Requirement::Op::kIn}}) {
        const auto p = term.find(word);
        if (p == std::string_view::npos) continue;
        auto list = trim(term.substr(p + word.size()));
        if (list.size() < 2 || list.front() != '(' || list.back() != ')') return fail("expected a (list)");
        r.key = std::string(trim(term.substr(0, p)));
        r.op = op;
        list = list.substr(1, list.size() - 2);
        std::size_t start = 0;
        while (start <= list.size()) {
            auto end = list.find(',', start);
            if (end == std::string_view::npos) end = list.size();
            r.values.emplace_back(trim(list.substr(start, end - start)));
            start = end + 1;
        }
        if (r.key.empty()) return fail("empty key");
        return r;
    }
    if (split_equality(term, r)) {
        if (r.key.empty()) return fail("empty key");
        return r;
    }
    if (term.find_first_of("<>()") != std::string_view::npos) return fail("unsupported operator");
    if (!term.empty() && term.front() == '!') {
        r = {std::string(trim(term.substr(1))), Requirement::Op::kNotExists, {}};
    } else {
        r = {std::string(term), Requirement::Op::kExists, {}};
    }
    if (r.key.empty() || r.key.find(' ') != std::string::npos) return fail("invalid key");
    return r;
}

bool holds(const Requirement& r, const std::string* value) {
    const auto in_values = [&] {
        return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
    };
    switch (r.op) {
        case Requirement::Op::kEquals:
        case Requirement::Op::kIn: return in_values();
        case Requirement::Op::kNotEquals:
        case Requirement::Op::kNotIn: return !in_values();
        case Requirement::Op::kExists: return value != nullptr;
        case Requirement::Op::kNotExists: return value == nullptr;
    }
    return false;
}

const json* member(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

std::string string_at(const json& obj, const char* outer, const char* inner) {
    const json* o = member(obj, outer);
    const json* v = o ? member(*o, inner) : nullptr;
    return v && v->is_string() ? v->get<std::string>() : "";
}

// The value of a supported field label, as the registries' GetAttrs render it.
std::string field_value(const json& object, const std::string& key) {
    if (key == "metadata.name") return string_at(object, "metadata", "name");
    if (key == "metadata.namespace") return string_at(object, "metadata", "namespace");
    const json* spec = member(object, "spec");
    const json* u = spec ? member(*spec, "unschedulable") : nullptr;
    return u && u->is_boolean() && u->get<bool>() ? "true" : "false";
}

}  // namespace

Expected<Filter, ApiError> Filter::parse(const ResourceInfo& resource, std::string_view field_selector,
                                         std::string_view label_selector) {
    Filter f;
    if (!trim(field_selector).empty()) {
        for (auto term : split_terms(field_selector)) {
            Requirement r;
            if (!split_equality(term, r)) {
                return unexpected(bad_request("invalid selector: '" + std::string(field_selector) +
                                              "'; can't understand '" + std::string(term) + "'"));
            }
            const auto& labels = resource.field_labels;
            if (std::find(labels.begin(), labels.end(), r.key) == labels.end()) {
                return unexpected(bad_request("field label not supported: " + r.key));
            }
            f.fields_.push_back(std::move(r));
        }
    }
    if (!trim(label_selector).empty()) {
        for (auto term : split_terms(label_selector)) {
            auto r = parse_label_term(term);
            if (!r) return unexpected(std::move(r).error());
            f.labels_.push_back(std::move(*r));
        }
    }
    return f;
}

bool Filter::matches(const json& object) const {
    if (!object.is_object()) return false;
    for (const auto& r : fields_) {
        const auto v = field_value(object, r.key);
        if (!holds(r, &v)) return false;
    }
    const json* md = member(object, "metadata");
    const json* labels = md ? member(*md, "labels") : nullptr;
    if (labels && !labels->is_object()) labels = nullptr;
    for (const auto& r : labels_) {
        std::string value;
        bool present = false;
        if (labels) {
            if (auto it = labels->find(r.key); it != labels->end() && it->is_string()) {
                value = it->get<std::string>();
                present = true;
            }
        }
        if (!holds(r, present ? &value : nullptr)) return false;
    }
    return true;
}

}  // namespace kroute::fake_apiserver
