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
  X509StackPtr others(sk_X509_new_null());
  if (!others) return OpensslError("listing the " + std::string(what) + " intermediates");
  for (auto& cert : *certs) {
    if (IsSelfSigned(cert.get())) {
      roots.push_back(std::move(cert));
      continue;
    }
    OsslPtr<X509> ref(cert.get());
    if (X509_up_ref(cert.get()) != 1) {
      ref.release();  // no reference was taken
      return OpensslError("listing the " + std::string(what) + " intermediates");
    }
    if (sk_X509_push(others.get(), ref.get()) == 0) {
      return OpensslError("listing the " + std::string(what) + " intermediates");
    }
    ref.release();  // the stack holds it now
  }
  auto root_store = StoreOf({}, what);
  if (!root_store) return std::unexpected(root_store.error());
  for (const auto& root : roots) {
    if (X509_STORE_add_cert(root_store->store.get(), root.get()) != 1) {
      return OpensslError("adding a root to the " + std::string(what) + " store");
    }
  }
  std::vector<OsslPtr<X509>> anchors = std::move(roots);
  for (auto& cert : *certs) {
    if (cert && ChainsToRoots(cert.get(), root_store->store.get(), others.get())) anchors.push_back(std::move(cert));
  }
  auto trust = StoreOf(std::move(anchors), what);
  if (!trust) return std::unexpected(trust.error());
  if (X509_STORE_set_flags(trust->store.get(), X509_V_FLAG_PARTIAL_CHAIN) != 1) {
    return OpensslError("making the " + std::string(what) + " intermediates anchors");
  }
  return trust;
}

}  // namespace mayfly::net
