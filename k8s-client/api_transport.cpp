// ApiTransport: cpp-httplib with OpenSSL verification done our way (see the header).
#include "k8s-client/api_transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "common/ip.hpp"
#include "common/log.hpp"

namespace kroute::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kConnectTimeout = 10s;
constexpr std::size_t kMaxErrorBody = 1U << 20U;
constexpr std::size_t kMaxBody = 256U << 20U;

struct X509Free {
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, X509Free>;
using BioPtr = std::unique_ptr<BIO, X509Free>;

std::string openssl_error() {
    unsigned long e = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

Expected<std::vector<X509Ptr>, std::string> parse_certs(const std::string& pem, const char* what) {
    std::vector<X509Ptr> out;
    BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) return unexpected(std::string{what} + ": " + openssl_error());
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    ERR_clear_error();  // the loop ends on an expected "no start line"
    if (out.empty()) return unexpected(std::string{what} + ": no PEM certificate found");
    return out;
}

// TLS material parsed once; each request's SSL_CTX gets its own copies (cpp-httplib's
// set_ca_cert_store takes ownership of the store).
struct TlsMaterial {
    std::vector<X509Ptr> ca;
    std::vector<X509Ptr> client_chain;
    PkeyPtr client_key;
};

Expected<TlsMaterial, std::string> parse_tls(const ClientConfig& cfg) {
    TlsMaterial m;
    if (!cfg.ca_pem.empty()) {
        auto ca = parse_certs(cfg.ca_pem, "certificate authority");
        if (!ca) return unexpected(std::move(ca).error());
        m.ca = std::move(*ca);
    }
    if (!cfg.client_cert_pem.empty()) {
        auto chain = parse_certs(cfg.client_cert_pem, "client certificate");
        if (!chain) return unexpected(std::move(chain).error());
        m.client_chain = std::move(*chain);
        BioPtr bio{BIO_new_mem_buf(cfg.client_key_pem.data(), static_cast<int>(cfg.client_key_pem.size()))};
        m.client_key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
        if (!m.client_key) return unexpected("client key: " + openssl_error());
    }
    return m;
}

std::string describe(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection: return "cannot connect";
        case httplib::Error::ConnectionTimeout: return "connect timed out";
        case httplib::Error::Read: return "read failed (timeout or connection closed)";
        case httplib::Error::Write: return "write failed (connection closed; a rejected client certificate?)";
        case httplib::Error::SSLConnection: return "TLS handshake failed";
        case httplib::Error::SSLServerVerification: return "TLS server verification failed";
        case httplib::Error::Canceled: return "canceled";
        default: return httplib::to_string(e);
    }
}

bool is_ip_literal(const std::string& host) { return IpAddress::parse(host).has_value(); }


}  // namespace

struct ApiTransport::Tls : TlsMaterial {};

Expected<std::unique_ptr<ApiTransport>, std::string> ApiTransport::create(ClientConfig cfg) {
    auto url = parse_server_url(cfg.server);
    if (!url) return unexpected(std::move(url).error());
    auto tls = parse_tls(cfg);
    if (!tls) return unexpected(std::move(tls).error());
    std::unique_ptr<ApiTransport> t{new ApiTransport(std::move(cfg), std::move(*url))};
    static_cast<TlsMaterial&>(*t->tls_) = std::move(*tls);
    if (!t->url_.https && (!t->cfg_.token.empty() || !t->cfg_.token_file.empty()))
        // client-go applies credentials only over TLS (clientcmd client_config.go).
        log::get("k8s")->warn("server {} is plain http: not sending the bearer token", t->cfg_.server);
    return t;
}

ApiTransport::ApiTransport(ClientConfig cfg, ServerUrl url)
    : cfg_{std::move(cfg)}, url_{std::move(url)}, tls_{std::make_unique<Tls>()}, tokens_{cfg_.token, cfg_.token_file} {}

ApiTransport::~ApiTransport() = default;

void ApiTransport::interrupt() {
    interrupted_ = true;
    std::lock_guard lock{active_mu_};
    if (active_ != nullptr) active_->stop();  // shuts the socket: a blocked read returns
}

void ApiTransport::set_active(httplib::ClientImpl* cli) {
    std::lock_guard lock{active_mu_};
    active_ = cli;
    // An interrupt() between the caller's check and here must still cancel this request.
    if (cli != nullptr && interrupted_) cli->stop();
}

Expected<std::unique_ptr<httplib::ClientImpl>, std::string> ApiTransport::make_client(std::chrono::seconds read_timeout) {
    std::unique_ptr<httplib::ClientImpl> cli;
    if (url_.https) {
        auto made = make_tls_client();
        if (!made) return unexpected(std::move(made).error());
        cli = std::move(*made);
    } else {
        cli = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
    }
    cli->set_connection_timeout(kConnectTimeout);
    cli->set_read_timeout(read_timeout);
    cli->set_write_timeout(kConnectTimeout);
    cli->set_url_encode(false);  // the request paths encode their values themselves
    cli->set_keep_alive(false);
    cli->set_tcp_nodelay(true);  // as Go's net/http: a request is not held back by Nagle
    // A watch is quiet for minutes and its read timeout outlasts the server's timeoutSeconds: an
    // API server that vanished without a FIN or RST (a partition, a dead control-plane node) would
    // go unnoticed that long. TCP keepalive, as Go's dialer does but quicker (15 s idle, 3 probes
    // 5 s apart), notices it in about 30 s; the reflector then re-lists once the server answers.
    cli->set_socket_options([](socket_t sock) {
        const int on = 1;
        const int idle = 15;
        const int interval = 5;
        const int count = 3;
        (void)::setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        (void)::setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        (void)::setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        (void)::setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    });
    return cli;
}

namespace {

httplib::Headers request_headers(const std::string& token) {
    httplib::Headers headers{{"Accept", "application/json"}, {"User-Agent", "kroute/0.1"}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return headers;
}

}  // namespace

template <class Send>
ApiResponse ApiTransport::exchange(std::chrono::seconds timeout, Send send) {
    ApiResponse out;
    if (interrupted_) {
        out.transport_error = "canceled";
        return out;
    }
    auto cli = make_client(timeout);
    if (!cli) {
        out.transport_error = std::move(cli).error();
        return out;
    }
    const auto headers = request_headers(url_.https ? tokens_.token(Clock::now()) : std::string{});
    set_active(cli->get());
    httplib::Result res = send(**cli, headers, out);
    set_active(nullptr);
    out.transport_ok = static_cast<bool>(res);
    if (!res) {
        out.transport_error = describe(res.error());
        if (res.error() == httplib::Error::SSLServerVerification || res.error() == httplib::Error::SSLConnection) {
            out.transport_error += " (" + openssl_error() + ")";
            reload_ca();
        }
        return out;
    }
    if (out.status == 0) {  // not streamed: the whole answer is in `res`
        out.status = res->status;
        if (res->has_header("Retry-After")) out.retry_after = res->get_header_value("Retry-After");
        out.body = res->body.size() > kMaxErrorBody ? res->body.substr(0, kMaxErrorBody) : res->body;
    }
    if (out.status == 401) invalidate_token();  // a rotated token: re-read the file right away
    return out;
}

ApiResponse ApiTransport::get(const std::string& path, std::chrono::seconds read_timeout,
                              const std::function<bool(std::string_view)>& on_ok_chunk) {
    return exchange(read_timeout, [&](httplib::ClientImpl& cli, const httplib::Headers& headers, ApiResponse& out) {
        return cli.Get(
            path, headers,
            [&out](const httplib::Response& r) {
                out.status = r.status;
                if (r.has_header("Retry-After")) out.retry_after = r.get_header_value("Retry-After");
                return true;
            },
            [&](const char* data, std::size_t len) {
                if (interrupted_) return false;
                if (out.status == 200) {
                    if (on_ok_chunk) return on_ok_chunk(std::string_view{data, len});
                    if (out.body.size() + len > kMaxBody) return false;
                } else if (out.body.size() >= kMaxErrorBody) {
                    return true;
                }
                out.body.append(data, len);
                return true;
            });
    });
}

ApiResponse ApiTransport::patch(const std::string& path, std::string_view content_type, const std::string& body,
                                std::chrono::seconds timeout) {
    return exchange(timeout, [&](httplib::ClientImpl& cli, const httplib::Headers& headers, ApiResponse&) {
        return cli.Patch(path, headers, body, std::string{content_type});
    });
}

// The cluster CA may have been rotated under us: take the file's current content if it changed.
void ApiTransport::reload_ca() {
    if (cfg_.ca_file.empty()) return;
    std::ifstream in{cfg_.ca_file, std::ios::binary};
    std::ostringstream buf;
    if (in) buf << in.rdbuf();
    std::string pem = buf.str();
    if (!in || pem.empty() || pem == cfg_.ca_pem) return;
    auto certs = parse_certs(pem, "certificate authority");
    if (!certs) {
        log::get("k8s")->warn("{}: {}; keeping the previous CA", cfg_.ca_file, certs.error());
        return;
    }
    log::get("k8s")->info("{} changed: verifying the API server against the new CA", cfg_.ca_file);
    cfg_.ca_pem = std::move(pem);
    tls_->ca = std::move(*certs);
}


Expected<std::unique_ptr<httplib::ClientImpl>, std::string> ApiTransport::make_tls_client() {
    // Verify with OpenSSL during the handshake (chain against our CA, name via
    // X509_VERIFY_PARAM): cpp-httplib's own check would also trust the system roots next to the
    // cluster CA. Its verification is off so it leaves the SSL_CTX's verify mode alone.
    const std::string& verify_name = cfg_.tls_server_name.empty() ? url_.host : cfg_.tls_server_name;
    // SNI is the client's host: use the server name when the URL holds an IP literal, mapped back
    // to that IP for the connect.
    const bool sni_override = !cfg_.tls_server_name.empty() && is_ip_literal(url_.host);
    auto cli = std::make_unique<httplib::SSLClient>(sni_override ? cfg_.tls_server_name : url_.host, url_.port);
    if (sni_override) cli->set_hostname_addr_map({{cfg_.tls_server_name, url_.host}});
    SSL_CTX* ctx = cli->ssl_context();
    if (ctx == nullptr) return unexpected("TLS setup: " + openssl_error());
    cli->enable_server_certificate_verification(false);
    if (cfg_.insecure_skip_tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        if (!tls_->ca.empty()) {
            X509_STORE* store = X509_STORE_new();
            for (const auto& c : tls_->ca) X509_STORE_add_cert(store, c.get());
            SSL_CTX_set_cert_store(ctx, store);  // the context owns it now
        } else {
            SSL_CTX_set_default_verify_paths(ctx);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        const int ok = is_ip_literal(verify_name) ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                                                  : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), 0);
        if (ok != 1) return unexpected("TLS setup: cannot verify name " + verify_name + ": " + openssl_error());
    }
    if (!tls_->client_chain.empty()) {
        if (SSL_CTX_use_certificate(ctx, tls_->client_chain.front().get()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, tls_->client_key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
            return unexpected("client certificate: " + openssl_error());
        for (std::size_t i = 1; i < tls_->client_chain.size(); ++i) {
            X509_up_ref(tls_->client_chain[i].get());
            SSL_CTX_add_extra_chain_cert(ctx, tls_->client_chain[i].get());
        }
    }
    return std::unique_ptr<httplib::ClientImpl>{std::move(cli)};
}

}  // namespace kroute::k8s
