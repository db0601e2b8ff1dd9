// The local debug API behind kroutectl: one JSON request line in, one JSON document out, over a
// unix socket that only root may open. `handle_api_request` is the pure part (request -> reply,
// built from snapshots on the io_context thread); ApiServer is the Asio shell around it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/asio.hpp"
#include "common/expected.hpp"
#include "daemon/controller.hpp"
#include "daemon/platform/fib.hpp"

namespace kroute::daemon {

struct ApiContext {
    const Controller& controller;
    // The kernel's view; nullopt with --no-fib. `lists`: with the route lists (a million routes
    // are copied), else the counts only (FibSnapshot::kernel_routes, desired_routes).
    std::function<std::optional<FibSnapshot>(bool lists)> fib_snapshot;
    // An operator's action on a session (kroutectl neighbor IP reset|soft-reset|shutdown|enable);
    // unset: refused.
    std::function<Expected<std::string, std::string>(const IpAddress&, bgp::PeerAction, const std::string&)> peer_action{};
};

// {"command":"status"|"neighbors"|"neighbor"|"rib"|"routes"|"node"|"config", ...arguments}
// -> the reply; {"error": "..."} for a bad request.
[[nodiscard]] nlohmann::json handle_api_request(const nlohmann::json& request, const ApiContext& ctx);

class ApiServer {
public:
    ApiServer(asio::io_context& ioc, std::string socket_path, ApiContext ctx);
    ~ApiServer();
    // Creates the socket's directory (0755) and the socket (0600: root only), replacing a stale one.
    [[nodiscard]] Expected<void, std::string> start();
    void stop();

private:
    void accept();
    asio::io_context& ioc_;
    std::string path_;
    ApiContext ctx_;
    std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
};

}  // namespace kroute::daemon
