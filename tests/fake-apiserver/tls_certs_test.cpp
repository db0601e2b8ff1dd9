#include "tests/fake-apiserver/tls_certs.hpp"

#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <openssl/x509v3.h>

using namespace kroute::fake_apiserver;

namespace {

// The subjectAltNames of `cert` as "IP:1.2.3.4" / "DNS:name".
std::vector<std::string> sans(X509* cert) {
    std::vector<std::string> out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS) {
            out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                               static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName))));
        } else if (n->type == GEN_IPADD) {
            char buf[INET6_ADDRSTRLEN] = {};
            const int len = ASN1_STRING_length(n->d.iPAddress);
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), buf, sizeof buf);
            out.push_back(std::string("IP:") + buf);
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

}  // namespace

TEST_CASE("the server certificate chains to the CA and names every address", "[fake-apiserver][tls]") {
    auto b = make_certificates({"::1", "127.0.0.1", "localhost"});
    REQUIRE(b);
    CHECK(b->ca_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
    CHECK(b->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);

    // Verified the way a client would: a store holding only the CA, purpose sslserver, host check.
    X509_STORE* store = X509_STORE_new();
    REQUIRE(X509_STORE_add_cert(store, b->ca.get()) == 1);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    REQUIRE(X509_STORE_CTX_init(ctx, store, b->cert.get(), nullptr) == 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx), "127.0.0.1");
    const int verified = X509_verify_cert(ctx);
    CAPTURE(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    CHECK(verified == 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);

    CHECK(sans(b->cert.get()) == std::vector<std::string>{"IP:::1", "IP:127.0.0.1", "DNS:localhost"});
    CHECK(X509_check_ca(b->ca.get()) == 1);
    CHECK(X509_check_ca(b->cert.get()) == 0);
    CHECK(X509_check_private_key(b->cert.get(), b->key.get()) == 1);
}

TEST_CASE("each call makes a fresh CA", "[fake-apiserver][tls]") {
    auto a = make_certificates({"127.0.0.1"});
    auto b = make_certificates({"127.0.0.1"});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->ca_pem != b->ca_pem);
    CHECK(X509_verify(b->cert.get(), X509_get0_pubkey(a->ca.get())) != 1);
}

TEST_CASE("no usable name is an error, not a certificate", "[fake-apiserver][tls]") {
    CHECK_FALSE(make_certificates({}));
    CHECK_FALSE(make_certificates({"", "a,b"}));
}

TEST_CASE("a server certificate from an existing CA chains to it", "[fake-apiserver][tls]") {
    auto first = make_certificates({"127.0.0.1"});
    REQUIRE(first);
    CHECK(first->ca_key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);

    auto again = make_certificates({"127.0.0.1", "localhost"}, first->ca_pem, first->ca_key_pem);
    REQUIRE(again);
    CHECK(again->ca_pem == first->ca_pem);
    CHECK(again->ca_key_pem == first->ca_key_pem);
    CHECK(again->cert_pem != first->cert_pem);                            // a fresh server certificate
    CHECK(X509_verify(again->cert.get(), X509_get0_pubkey(first->ca.get())) == 1);  // signed by the old CA
    CHECK(X509_check_private_key(again->cert.get(), again->key.get()) == 1);
    CHECK(sans(again->cert.get()) == std::vector<std::string>{"IP:127.0.0.1", "DNS:localhost"});
}

TEST_CASE("an unusable existing CA is an error", "[fake-apiserver][tls]") {
    auto a = make_certificates({"127.0.0.1"});
    auto b = make_certificates({"127.0.0.1"});
    REQUIRE(a);
    REQUIRE(b);
    CHECK_FALSE(make_certificates({"127.0.0.1"}, a->ca_pem, b->ca_key_pem));  // another CA's key
    auto not_ca = make_certificates({"127.0.0.1"}, a->cert_pem, a->ca_key_pem);  // the server certificate
    REQUIRE_FALSE(not_ca);
    CHECK(not_ca.error() == "CA certificate: not a CA");
    CHECK_FALSE(make_certificates({"127.0.0.1"}, "garbage", a->ca_key_pem));
    CHECK_FALSE(make_certificates({"127.0.0.1"}, a->ca_pem, "garbage"));
    CHECK_FALSE(make_certificates({}, a->ca_pem, a->ca_key_pem));
}
