#include "tests/fake-apiserver/request_log.hpp"

#include <algorithm>
#include <cctype>

namespace kroute::fake_apiserver {

using json = nlohmann::ordered_json;

void RequestLog::add(const RequestRecord& r) {
    json query = json::object();
    for (const auto& [k, v] : r.query) query[k] = v;
    json headers = json::object();
    for (const auto& [k, v] : r.headers) {
        std::string name = k;
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        if (auto it = headers.find(name); it != headers.end()) {
            *it = it->get<std::string>() + ", " + v;
        } else {
            headers[name] = v;
        }
    }
    const std::string content_type = headers.value("content-type", "");
    entries_.push_back({{"method", r.method},
                        {"path", r.path},
                        {"query", std::move(query)},
                        {"headers", std::move(headers)},
                        {"content_type", content_type},
                        {"body", r.body}});
    while (entries_.size() > capacity_) entries_.pop_front();
}

json RequestLog::to_json() const {
    json out = json::array();
    for (const auto& e : entries_) out.push_back(e);
    return out;
}

}  // namespace kroute::fake_apiserver
