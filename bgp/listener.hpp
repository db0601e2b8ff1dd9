// The BGP listener: one acceptor per listen address (a dual-stack wildcard when none is given),
// handing every accepted connection to the Speaker, which decides whose it is.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::bgp {

class Listener {
public:
    using AcceptHandler = std::function<void(asio::ip::tcp::socket)>;

    Listener(asio::io_context& ioc, AcceptHandler on_accept);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds and starts accepting. Port 0 picks an ephemeral port, shared by every address.
    [[nodiscard]] Expected<void, std::string> listen(const std::vector<IpAddress>& addresses, std::uint16_t port);
    void close();
    [[nodiscard]] std::uint16_t port() const noexcept;

    // RFC 2385: the TCP MD5 key the kernel checks on SYNs from `peer` (empty: none, removed), on
    // every acceptor now and on those listen() opens later. The error never contains the key.
    [[nodiscard]] Expected<void, std::string> set_md5_key(const IpAddress& peer, const std::string& key);

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace kroute::bgp
