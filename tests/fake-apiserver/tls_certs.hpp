// A throw-away PKI for the fake apiserver: a self-signed CA and a server certificate it signs,
// with subjectAltNames for every name clients use (Go's TLS ignores the CN). ECDSA P-256 keys,
// SHA-256 signatures, made with OpenSSL 3's EVP API. The server certificate is fresh at every start;
// the CA may be carried over from an earlier run (its cert and key PEM), so that clients holding the
// old kubeconfig still trust a restarted server, as they trust a restarted control plane.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/expected.hpp"

namespace kroute::fake_apiserver {

struct OpenSslDelete {
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, OpenSslDelete>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDelete>;

struct CertBundle {
    std::string ca_pem;      // written to ca.crt and into the kubeconfig
    std::string ca_key_pem;  // written to ca.key (PKCS#8), for the next run to reuse
    std::string cert_pem;    // the server's certificate
    X509Ptr ca;
    EvpPkeyPtr ca_key;
    X509Ptr cert;
    EvpPkeyPtr key;          // the server's private key
};

// A fresh CA and a server certificate it signs.
// `names`: IP literals become iPAddress SANs, anything else dNSName SANs.
[[nodiscard]] Expected<CertBundle, std::string> make_certificates(const std::vector<std::string>& names);

// A fresh server certificate signed by an existing CA (PEM certificate and private key, as
// make_certificates wrote them). Errors: unparseable PEM, a certificate that is not a CA, or a
// key that is not the certificate's.
[[nodiscard]] Expected<CertBundle, std::string> make_certificates(const std::vector<std::string>& names,
                                                                  const std::string& ca_pem,
                                                                  const std::string& ca_key_pem);

}  // namespace kroute::fake_apiserver
