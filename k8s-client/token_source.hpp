// The bearer token for API requests: a static token, or a file re-read at most once per `refresh`
// and right after a 401 (bound service-account tokens rotate; client-go
// transport.NewCachedFileTokenSource, k8s-api.md §1.1). The caller passes `now`. Thread: the
// watcher's own.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace kroute::k8s {

class TokenSource {
public:
    using Clock = std::chrono::steady_clock;

    TokenSource(std::string static_token, std::string token_file, std::chrono::seconds refresh = std::chrono::seconds{60});

    // The token to send ("" = none). A failed re-read keeps the previous token (logged once per
    // failure streak).
    [[nodiscard]] std::string token(Clock::time_point now);

    // After a 401: the next token() re-reads the file.
    void invalidate() noexcept { stale_ = true; }

private:
    std::string static_token_;
    std::string token_file_;
    std::chrono::seconds refresh_;
    std::string cached_;
    std::optional<Clock::time_point> read_at_;
    bool stale_ = false;
    bool read_failing_ = false;
};

}  // namespace kroute::k8s
