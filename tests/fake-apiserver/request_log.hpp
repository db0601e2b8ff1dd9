// The API requests a client sent, kept for GET /fake/requests so that tests can check what went
// over the wire: the token, the query parameters, the content type and body of a patch. Bounded:
// the last `capacity` requests. Pure.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

struct RequestRecord {
    std::string method;
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;    // decoded
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent
    std::string body;
};

class RequestLog {
public:
    explicit RequestLog(std::size_t capacity) : capacity_{capacity} {}

    // {"method","path","query":{name: value},"headers":{lower-case name: value},"content_type","body"}:
    // a repeated parameter keeps its last value, a repeated header its values joined by ", "
    // (RFC 9110 §5.3); content_type is "" without a Content-Type header.
    void add(const RequestRecord& r);
    void clear() noexcept { entries_.clear(); }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    // Oldest first.
    [[nodiscard]] Json to_json() const;

private:
    std::size_t capacity_;
    std::deque<Json> entries_;
};

}  // namespace kroute::fake_apiserver
