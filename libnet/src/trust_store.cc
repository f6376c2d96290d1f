// Trust anchors from PEM, for the server's client trust and recovery stores and the client's roots.
#include "trust_store.h"

#include <openssl/x509_vfy.h>

#include "mayfly/x509_util.h"

namespace mayfly::net {

Result<TrustStore> TrustStoreFromPem(const std::string& pem, std::string_view what) {
  auto certs = CertsFromPem(pem);
  if (!certs) return WithContext(certs.error(), std::string(what) + " certificates");
  ClearOpensslErrors();
  TrustStore trust{OsslPtr<X509_STORE>(X509_STORE_new()), std::move(*certs)};
  if (!trust.store) return OpensslError("creating the " + std::string(what) + " store");
  for (const auto& cert : trust.certs) {
    // add_cert takes its own reference.
    if (X509_STORE_add_cert(trust.store.get(), cert.get()) != 1) {
      return OpensslError("adding a certificate to the " + std::string(what) + " store");
    }
  }
  return trust;
}

}  // namespace mayfly::net
