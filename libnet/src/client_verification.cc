// Client certificate verification for the API server: chains from the trust
// store only, the recovery store, sessions capped at the certificate's life.
#include "client_verification.h"
#include "trust_store.h"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <ctime>

#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly::net {
namespace {

// The failures that say only "this certificate's issuer is not in the
// store", reported at the leaf: the ones a certificate from a recovery CA
// (absent from the client trust) fails with. Nothing else is retried.
bool IsIssuerNotFound(long error) {
  return error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE || error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
}

void FreeRecoveryStore(void*, void* store, CRYPTO_EX_DATA*, int, long, void*) {
  X509_STORE_free(static_cast<X509_STORE*>(store));
}

// The SSL_CTX slot that owns a context's recovery store, freed with it.
int RecoveryStoreIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeRecoveryStore);
  return index;
}

// Verifies the client's chain in place of X509_verify_cert (OpenSSL then
// records the result and the verified chain as usual). Returns 1 when the
// handshake may go on, which is only when one of two complete, callback-free
// verifications succeeded:
// - against the client trust store, with the client's own intermediates
//   removed, so no CA the server does not list (a revoked intermediate the
//   client still sends, say) can be part of a verified chain; or
// - when that failed only for want of the leaf's issuer, against the
//   recovery store with the same parameters (purpose, depth, time). The
//   error of the first verification stays recorded, so the connection never
//   counts the certificate as verified (RecordClientCertificate).
// Expiry, a bad signature, a wrong purpose or any other failure of the
// first verification fails the handshake, as without this callback. TLS
// 1.3's CertificateVerify still proves that the client holds the key.
int VerifyClientChain(X509_STORE_CTX* ctx, void* recovery_store) {
  X509_STORE_CTX_set0_untrusted(ctx, nullptr);
  if (X509_verify_cert(ctx) == 1) return 1;
  if (recovery_store == nullptr || X509_STORE_CTX_get_error_depth(ctx) != 0 ||
      !IsIssuerNotFound(X509_STORE_CTX_get_error(ctx))) {
    return 0;
  }
  OsslPtr<X509_STORE_CTX> recovery(X509_STORE_CTX_new());
  if (!recovery || X509_STORE_CTX_init(recovery.get(), static_cast<X509_STORE*>(recovery_store),
                                       X509_STORE_CTX_get0_cert(ctx), nullptr) != 1 ||
      X509_STORE_CTX_set_default(recovery.get(), "ssl_client") != 1 ||
      X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(recovery.get()), X509_STORE_CTX_get0_param(ctx)) != 1) {
    return 0;
  }
  // The client trust's intermediates are anchors (TrustStoreWithCaAnchors);
  // a recovery chain still goes up to a root.
  X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(recovery.get()), X509_V_FLAG_PARTIAL_CHAIN);
  return X509_verify_cert(recovery.get()) == 1 ? 1 : 0;
}

// The hex SubjectKeyIdentifier of the certificate right above the leaf in
// the chain this handshake verified ("" when there is none), the same key
// id the CA's records use for its CA certificates.
std::string VerifiedIssuerKeyId(const SSL* ssl) {
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) < 2) return "";
  return SubjectKeyIdHex(sk_X509_value(chain, 1));
}

// The verified issuer kept with a session by OnNewSession.
std::string SessionIssuerKeyId(SSL_SESSION* session) {
  void* data = nullptr;
  size_t len = 0;
  if (session == nullptr || SSL_SESSION_get0_ticket_appdata(session, &data, &len) != 1 || data == nullptr) return "";
  return std::string(static_cast<const char*>(data), len);
}

// Called for each session the server caches (a TLS 1.3 ticket, a TLS 1.2
// session id), after a full handshake and after each resumption (which
// OpenSSL restarts the session's lifetime on). The session may be resumed
// only while its client certificate is valid: its timeout is cut to what is
// left of the certificate's life. Returns 0: no reference is kept.
int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  const X509* cert = SSL_SESSION_get0_peer(session);
  if (cert == nullptr) return 0;
  // OpenSSL keeps session times in whole seconds and may stamp the session
  // in another second than this callback runs in (a loaded server): the
  // cut counts from the session's own stamp and leaves one second of slack,
  // so a session never resumes past its certificate's last second.
  const int64_t left =
      ToUnixSeconds(CertNotAfter(cert)) - static_cast<int64_t>(SSL_SESSION_get_time(session)) - 1;
  if (left < SSL_SESSION_get_timeout(session)) {
    SSL_SESSION_set_timeout(session, static_cast<long>(std::max<int64_t>(left, 0)));
  }
  // A resumed handshake verifies no chain: the issuer comes with the session
  // (copied from the one resumed).
  if (const std::string issuer = VerifiedIssuerKeyId(ssl); !issuer.empty()) {
    SSL_SESSION_set1_ticket_appdata(session, issuer.data(), issuer.size());
  }
  return 0;
}

}  // namespace

Result<void> UseClientVerification(SSL_CTX* ctx, const std::string& recovery_pem) {
  X509_STORE* recovery_store = nullptr;  // owned by ctx once set
  if (!recovery_pem.empty()) {
    auto trust = TrustStoreFromPem(recovery_pem, "TLS client recovery");
    if (!trust) return std::unexpected(trust.error());
    ClearOpensslErrors();
    if (RecoveryStoreIndex() < 0 || SSL_CTX_set_ex_data(ctx, RecoveryStoreIndex(), trust->store.get()) != 1) {
      return OpensslError("keeping the TLS client recovery store");
    }
    recovery_store = trust->store.release();  // the context frees it (FreeRecoveryStore)
  }
  // Ask for a certificate, verify it, but do not demand one (no
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT): routes decide who needs a caller
  // certificate. No per-error verify callback: VerifyClientChain runs whole
  // verifications and the server reads the result back.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, VerifyClientChain, recovery_store);
  SSL_CTX_sess_set_new_cb(ctx, OnNewSession);
  return Ok();
}

void RecordClientCertificate(SSL* ssl, PeerInfo& peer) {
  OsslPtr<X509> cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return;
  // A completed handshake with a certificate verified it against the client
  // trust (X509_V_OK) or, failing the issuer alone, against the recovery
  // store (VerifyClientChain); a resumption carries the result of the
  // handshake that made the session.
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) {
    std::string issuer = SSL_session_reused(ssl) == 1 ? SessionIssuerKeyId(SSL_get_session(ssl))
                                                      : VerifiedIssuerKeyId(ssl);
    peer.SetClientCert(std::move(cert), std::move(issuer));
  } else if (IsIssuerNotFound(result)) {
    peer.recovery_cert = std::move(cert);
  }
}

}  // namespace mayfly::net
