#include "tests/fake-apiserver/tls_certs.hpp"

#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace kroute::fake_apiserver {

namespace {

std::string openssl_error(const std::string& what) {
    std::string msg = what;
    if (const unsigned long e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    ERR_clear_error();
    return msg;
}

bool is_ip(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

EvpPkeyPtr make_key() { return EvpPkeyPtr{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")}; }

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) return false;
    const bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

// A certificate for `key` named `cn`, signed by issuer/issuer_key (self-signed when issuer is null).
Expected<X509Ptr, std::string> make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                                         const std::vector<std::pair<int, std::string>>& exts) {
    X509Ptr cert{X509_new()};
    if (!cert) return unexpected(openssl_error("X509_new"));
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return unexpected(openssl_error("RAND_bytes"));
    serial[0] &= 0x7f;  // positive, as RFC 5280 §4.1.2.2 requires
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    const bool serial_ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    if (!serial_ok) return unexpected(openssl_error("serial"));

    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_set_version(cert.get(), 2) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) || X509_set_pubkey(cert.get(), key) != 1) {
        return unexpected(openssl_error("building certificate " + cn));
    }
    for (const auto& [nid, value] : exts) {
        if (!add_ext(cert.get(), issuer ? issuer : cert.get(), nid, value)) {
            return unexpected(openssl_error("extension " + value));
        }
    }
    if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
        return unexpected(openssl_error("X509_sign"));
    }
    return cert;
}

Expected<std::string, std::string> to_pem(X509* cert) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return unexpected(openssl_error("PEM_write_bio_X509"));
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || !data) return unexpected(std::string("empty PEM"));
    return std::string(data, static_cast<std::size_t>(len));
}

Expected<std::string, std::string> key_to_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return unexpected(openssl_error("PEM_write_bio_PrivateKey"));
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || !data) return unexpected(std::string("empty PEM"));
    return std::string(data, static_cast<std::size_t>(len));
}

// Signs a fresh server key for `names` with the CA in `b` (ca, ca_key, ca_pem, ca_key_pem set).
Expected<CertBundle, std::string> issue_server_cert(CertBundle b, const std::vector<std::string>& names) {
    std::string san;
    for (const auto& n : names) {
        if (n.empty() || n.find(',') != std::string::npos) continue;
        if (!san.empty()) san += ',';
        san += (is_ip(n) ? "IP:" : "DNS:") + n;
    }
    if (san.empty()) return unexpected(std::string("no usable subjectAltName"));
    b.key = make_key();
    if (!b.key) return unexpected(openssl_error("EVP_PKEY_Q_keygen"));
    auto cert = make_cert(b.key.get(), "fake-apiserver", b.ca.get(), b.ca_key.get(),
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                           {NID_ext_key_usage, "serverAuth"},
                           {NID_authority_key_identifier, "keyid"},
                           {NID_subject_alt_name, san}});
    if (!cert) return unexpected(std::move(cert).error());
    auto cert_pem = to_pem(cert->get());
    if (!cert_pem) return unexpected(std::move(cert_pem).error());
    b.cert = std::move(*cert);
    b.cert_pem = std::move(*cert_pem);
    return b;
}

}  // namespace

Expected<CertBundle, std::string> make_certificates(const std::vector<std::string>& names) {
    CertBundle b;
    b.ca_key = make_key();
    if (!b.ca_key) return unexpected(openssl_error("EVP_PKEY_Q_keygen"));
    auto ca = make_cert(b.ca_key.get(), "fake-apiserver-ca", nullptr, nullptr,
                        {{NID_basic_constraints, "critical,CA:TRUE"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                         {NID_subject_key_identifier, "hash"}});
    if (!ca) return unexpected(std::move(ca).error());
    b.ca = std::move(*ca);
    auto ca_pem = to_pem(b.ca.get());
    if (!ca_pem) return unexpected(std::move(ca_pem).error());
    auto ca_key_pem = key_to_pem(b.ca_key.get());
    if (!ca_key_pem) return unexpected(std::move(ca_key_pem).error());
    b.ca_pem = std::move(*ca_pem);
    b.ca_key_pem = std::move(*ca_key_pem);
    return issue_server_cert(std::move(b), names);
}

Expected<CertBundle, std::string> make_certificates(const std::vector<std::string>& names, const std::string& ca_pem,
                                                    const std::string& ca_key_pem) {
    CertBundle b;
    {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())),
                                                      &BIO_free};
        if (bio) b.ca.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!b.ca) return unexpected(openssl_error("CA certificate"));
    }
    {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio{
            BIO_new_mem_buf(ca_key_pem.data(), static_cast<int>(ca_key_pem.size())), &BIO_free};
        if (bio) b.ca_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        if (!b.ca_key) return unexpected(openssl_error("CA key"));
    }
    if (X509_check_ca(b.ca.get()) != 1) return unexpected(std::string("CA certificate: not a CA"));
    if (X509_check_private_key(b.ca.get(), b.ca_key.get()) != 1) {
        return unexpected(openssl_error("CA key does not match the CA certificate"));
    }
    // Written back as they were read: a reused ca.crt stays byte-identical to what clients hold.
    b.ca_pem = ca_pem;
    b.ca_key_pem = ca_key_pem;
    return issue_server_cert(std::move(b), names);
}

}  // namespace kroute::fake_apiserver
