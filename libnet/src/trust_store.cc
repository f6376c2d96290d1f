// Trust anchors from PEM, for the server's client trust and recovery stores and the client's roots.
#include "trust_store.h"

#include <openssl/x509_vfy.h>

#include "mayfly/x509_util.h"

namespace mayfly::net {
namespace {

Result<TrustStore> StoreOf(std::vector<OsslPtr<X509>> certs, std::string_view what) {
  ClearOpensslErrors();
  TrustStore trust{OsslPtr<X509_STORE>(X509_STORE_new()), std::move(certs)};
  if (!trust.store) return OpensslError("creating the " + std::string(what) + " store");
  for (const auto& cert : trust.certs) {
    // add_cert takes its own reference.
    if (X509_STORE_add_cert(trust.store.get(), cert.get()) != 1) {
      return OpensslError("adding a certificate to the " + std::string(what) + " store");
    }
  }
  return trust;
}

bool IsSelfSigned(X509* cert) { return X509_check_issued(cert, cert) == X509_V_OK; }

// Whether `cert` verifies up to `roots` through `others`, at any time.
bool ChainsToRoots(X509* cert, X509_STORE* roots, STACK_OF(X509)* others) {
  OsslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), roots, cert, others) != 1) return false;
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ClearOpensslErrors();
  return ok;
}

}  // namespace

Result<TrustStore> TrustStoreFromPem(const std::string& pem, std::string_view what) {
  auto certs = CertsFromPem(pem);
  if (!certs) return WithContext(certs.error(), std::string(what) + " certificates");
  return StoreOf(std::move(*certs), what);
}

Result<TrustStore> TrustStoreWithCaAnchors(const std::string& pem, std::string_view what) {
  auto certs = CertsFromPem(pem);
  if (!certs) return WithContext(certs.error(), std::string(what) + " certificates");
  std::vector<OsslPtr<X509>> roots;
  std::vector<OsslPtr<X509>> others;
  for (auto& cert : *certs) (IsSelfSigned(cert.get()) ? roots : others).push_back(std::move(cert));
  auto root_trust = StoreOf(std::move(roots), what);
  if (!root_trust) return std::unexpected(root_trust.error());
  // Declared after `others`, so the stack goes before the certificates it borrows.
  X509BorrowedStackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return OpensslError("listing the " + std::string(what) + " intermediates");
  for (const auto& cert : others) {
    if (sk_X509_push(untrusted.get(), cert.get()) == 0) {
      return OpensslError("listing the " + std::string(what) + " intermediates");
    }
  }
  std::vector<OsslPtr<X509>> anchors = std::move(root_trust->certs);
  for (auto& cert : others) {
    if (ChainsToRoots(cert.get(), root_trust->store.get(), untrusted.get())) anchors.push_back(std::move(cert));
  }
  auto trust = StoreOf(std::move(anchors), what);
  if (!trust) return std::unexpected(trust.error());
  if (X509_STORE_set_flags(trust->store.get(), X509_V_FLAG_PARTIAL_CHAIN) != 1) {
    return OpensslError("making the " + std::string(what) + " intermediates anchors");
  }
  return trust;
}

}  // namespace mayfly::net
