#include "k8s-client/token_source.hpp"

#include <fstream>
#include <sstream>

#include "common/log.hpp"

namespace kroute::k8s {

TokenSource::TokenSource(std::string static_token, std::string token_file, std::chrono::seconds refresh)
    : static_token_{std::move(static_token)}, token_file_{std::move(token_file)}, refresh_{refresh}, cached_{static_token_} {}

std::string TokenSource::token(Clock::time_point now) {
    if (token_file_.empty()) return static_token_;
    if (!stale_ && read_at_ && now - *read_at_ < refresh_) return cached_;
    read_at_ = now;
    stale_ = false;
    std::ifstream in{token_file_, std::ios::binary};
    std::ostringstream buf;
    if (in) buf << in.rdbuf();
    std::string t = buf.str();
    // client-go strings.TrimSpace()s the file: kubelet writes no newline, humans do.
    auto first = t.find_first_not_of(" \t\r\n");
    auto last = t.find_last_not_of(" \t\r\n");
    t = first == std::string::npos ? std::string{} : t.substr(first, last - first + 1);
    if (!in || t.empty()) {
        if (!read_failing_)
            log::get("k8s")->warn("token file {}: {}; keeping the previous token", token_file_,
                                  !in ? "cannot read" : "empty");
        read_failing_ = true;
        return cached_;
    }
    if (read_failing_) log::get("k8s")->info("token file {}: readable again", token_file_);
    read_failing_ = false;
    cached_ = std::move(t);
    return cached_;
}

}  // namespace kroute::k8s
