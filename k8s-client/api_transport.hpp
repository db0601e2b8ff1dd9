// ApiTransport: one HTTP(S) request at a time to the API server, as client-go's transport makes
// them: TLS verified against the cluster CA (always, unless the config says
// insecure-skip-tls-verify), the server name checked (or tls-server-name), client certificates, the
// bearer token from TokenSource (re-read every minute and after a 401) sent only over TLS, and the
// CA file re-read after a failed handshake (CA rotation). Blocking (cpp-httplib); used by one
// thread, which another thread may interrupt.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "k8s-client/api_request.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/token_source.hpp"

namespace httplib {
class ClientImpl;
}

namespace kroute::k8s {

struct ApiResponse {
    bool transport_ok = false;   // false: no HTTP answer (connect, TLS, read failure; see transport_error)
    std::string transport_error;
    int status = 0;
    std::string retry_after;     // the Retry-After header, if any
    std::string body;            // non-200 responses (up to 1 MiB), and 200 bodies not streamed
};

class ApiTransport {
public:
    // Parses the server URL and the TLS material once; an error says what is unusable.
    [[nodiscard]] static Expected<std::unique_ptr<ApiTransport>, std::string> create(ClientConfig cfg);
    ~ApiTransport();

    [[nodiscard]] const ServerUrl& url() const noexcept { return url_; }
    [[nodiscard]] const ClientConfig& config() const noexcept { return cfg_; }

    // GET `path`. `on_ok_chunk` receives a 200 body's bytes as they arrive (false aborts); without
    // it the body is collected into the response.
    [[nodiscard]] ApiResponse get(const std::string& path, std::chrono::seconds read_timeout,
                                  const std::function<bool(std::string_view)>& on_ok_chunk = {});
    // PATCH `path` with `body` of `content_type` (e.g. application/strategic-merge-patch+json).
    [[nodiscard]] ApiResponse patch(const std::string& path, std::string_view content_type, const std::string& body,
                                    std::chrono::seconds timeout);

    // After a 401: the token file is re-read before the next request.
    void invalidate_token() { tokens_.invalidate(); }

    // Any thread: the request in flight returns at once, and so does every later one, until
    // resume(). Used to stop the thread that owns the transport.
    void interrupt();
    void resume() { interrupted_ = false; }

private:
    ApiTransport(ClientConfig cfg, ServerUrl url);
    struct Tls;

    // What every request shares: the client, the headers, interruption, transport errors, a 401.
    // `send(client, headers, response)` makes the call; a streaming one fills the status itself.
    template <class Send>
    [[nodiscard]] ApiResponse exchange(std::chrono::seconds timeout, Send send);
    [[nodiscard]] Expected<std::unique_ptr<httplib::ClientImpl>, std::string> make_client(std::chrono::seconds read_timeout);
    [[nodiscard]] Expected<std::unique_ptr<httplib::ClientImpl>, std::string> make_tls_client();
    void reload_ca();
    void set_active(httplib::ClientImpl* cli);

    ClientConfig cfg_;
    ServerUrl url_;
    std::unique_ptr<Tls> tls_;
    TokenSource tokens_;

    std::atomic<bool> interrupted_{false};
    std::mutex active_mu_;
    httplib::ClientImpl* active_ = nullptr;
};

}  // namespace kroute::k8s
