#include "bgp/listener.hpp"

#include <netinet/tcp.h>

#include "bgp/session.hpp"
#include "common/log.hpp"

namespace kroute::bgp {

using tcp = asio::ip::tcp;

// Shared with the pending accepts, so that closing (or destroying) the Listener while an accept
// is queued is safe.
struct Listener::State : std::enable_shared_from_this<Listener::State> {
    State(asio::io_context& i, AcceptHandler h) : ioc{i}, on_accept{std::move(h)} {}

    void accept_next(const std::shared_ptr<tcp::acceptor>& acceptor) {
        acceptor->async_accept([self = shared_from_this(), acceptor](boost::system::error_code ec, tcp::socket s) {
            if (self->closed || !acceptor->is_open()) return;
            if (!ec) {
                self->on_accept(std::move(s));
            } else {
                log::get("bgp")->warn("accept: {}", ec.message());
            }
            self->accept_next(acceptor);
        });
    }

    // Keys go on acceptors of the peer's family; the dual-stack wildcard takes IPv4 peers too.
    Expected<void, std::string> apply_key(tcp::acceptor& acceptor, const IpAddress& peer, const std::string& key) {
        boost::system::error_code ec;
        const auto local = acceptor.local_endpoint(ec);
        if (ec) return unexpected("TCP MD5 key for " + peer.to_string() + ": " + ec.message());
        const bool v6_socket = local.protocol() == tcp::v6();
        if (!v6_socket && !peer.is_v4()) return {};
        if (v6_socket && peer.is_v4()) {
            asio::ip::v6_only only;
            acceptor.get_option(only, ec);
            if (ec || only.value()) return {};
        }
        if (auto r = set_tcp_md5_key(acceptor.native_handle(), v6_socket, peer, key); !r) {
            return unexpected("TCP MD5 key for " + peer.to_string() + " on " + local.address().to_string() + ": " +
                              r.error().message());
        }
        return {};
    }

    asio::io_context& ioc;
    AcceptHandler on_accept;
    std::map<IpAddress, std::string> md5_keys;
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
    std::uint16_t port = 0;
    bool closed = false;
};

Listener::Listener(asio::io_context& ioc, AcceptHandler on_accept)
    : state_{std::make_shared<State>(ioc, std::move(on_accept))} {}

Listener::~Listener() { close(); }

Expected<void, std::string> Listener::listen(const std::vector<IpAddress>& addresses, std::uint16_t port) {
    std::vector<tcp::endpoint> endpoints;
    bool wildcard = addresses.empty();
    if (wildcard) {
        endpoints.emplace_back(asio::ip::address_v6::any(), port);
    } else {
        for (const auto& a : addresses) endpoints.emplace_back(to_asio(a), port);
    }
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        auto ep = endpoints[i];
        if (state_->port != 0) ep.port(state_->port);  // one ephemeral port for all addresses
        auto acceptor = std::make_shared<tcp::acceptor>(state_->ioc);
        boost::system::error_code ec;
        acceptor->open(ep.protocol(), ec);
        if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && ep.address().is_v6()) {
            // The wildcard takes IPv4 too (IPv4-mapped); an explicit IPv6 address only itself.
            acceptor->set_option(asio::ip::v6_only(!wildcard), ec);
        }
        if (!ec) acceptor->bind(ep, ec);
        if (ec && wildcard && ep.address().is_v6()) {
            // No IPv6 on this host: fall back to the IPv4 wildcard.
            acceptor = std::make_shared<tcp::acceptor>(state_->ioc);
            ep = tcp::endpoint{asio::ip::address_v4::any(), ep.port()};
            ec.clear();
            acceptor->open(ep.protocol(), ec);
            if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
            if (!ec) acceptor->bind(ep, ec);
        }
        if (ec) {
            close();
            return unexpected("cannot listen on " + ep.address().to_string() + " port " + std::to_string(ep.port()) +
                              ": " + ec.message());
        }
        // SYN-ACKs leave with the listener's TTL: 255, or a GTSM peer (RFC 5082 §3) would drop
        // them; each accepted socket is then given its peer's own TTL.
        {
            const bool v6_socket = ep.protocol() == tcp::v6();
            auto r = set_ttl_options(acceptor->native_handle(), v6_socket, !v6_socket, 255, 0);
            asio::ip::v6_only only{true};
            if (r && v6_socket) acceptor->get_option(only, ec);
            if (r && !ec && v6_socket && !only.value()) {
                r = set_ttl_options(acceptor->native_handle(), true, true, 255, 0);  // IPv4-mapped
            }
            if (!r) ec = boost::system::error_code{r.error().value(), boost::system::generic_category()};
        }
        if (ec) {
            close();
            return unexpected("cannot set the TTL on " + ep.address().to_string() + ": " + ec.message());
        }
        // Keys before listen(): no SYN from a keyed peer is ever accepted unsigned.
        for (const auto& [peer, key] : state_->md5_keys) {
            if (auto r = state_->apply_key(*acceptor, peer, key); !r) {
                close();
                return r;
            }
        }
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            close();
            return unexpected("cannot listen on " + ep.address().to_string() + " port " + std::to_string(ep.port()) +
                              ": " + ec.message());
        }
        state_->port = acceptor->local_endpoint().port();
        log::get("bgp")->info("listening on {} port {}", ep.address().to_string(), state_->port);
        state_->acceptors.push_back(acceptor);
        state_->accept_next(acceptor);
    }
    state_->closed = false;
    return {};
}

void Listener::close() {
    state_->closed = true;
    for (auto& a : state_->acceptors) {
        boost::system::error_code ec;
        a->close(ec);
    }
    state_->acceptors.clear();
}

std::uint16_t Listener::port() const noexcept { return state_->port; }

Expected<void, std::string> Listener::set_md5_key(const IpAddress& peer, const std::string& key) {
    if (key.size() > TCP_MD5SIG_MAXKEYLEN) {
        return unexpected("TCP MD5 key for " + peer.to_string() + ": longer than " +
                          std::to_string(TCP_MD5SIG_MAXKEYLEN) + " bytes");
    }
    if (key.empty()) {
        if (state_->md5_keys.erase(peer) == 0) return {};
    } else {
        state_->md5_keys[peer] = key;
    }
    Expected<void, std::string> result;
    for (auto& a : state_->acceptors) {
        if (auto r = state_->apply_key(*a, peer, key); !r && result) result = r;
    }
    return result;
}

}  // namespace kroute::bgp
