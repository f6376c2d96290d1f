// Builds the strict server and client TLS contexts.
#include "mayfly/net/tls_context.h"

#include <openssl/ssl.h>

#include <memory>
#include <string_view>
#include <vector>

#include "client_verification.h"
#include "trust_store.h"
#include "mayfly/identity.h"
#include "mayfly/x509_util.h"

namespace mayfly::net {
namespace {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// TLS 1.2 is only offered with forward secrecy and AEAD; TLS 1.3's suites are
// all AEAD already, so OpenSSL's default TLS 1.3 list stays.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
// Distinguishes Mayfly's sessions in the server's session cache; OpenSSL
// refuses to resume a session of a verifying server without it.
constexpr std::string_view kSessionIdContext = "mayfly";
// Sessions a server keeps for resumption; each holds its client's
// certificate, and the oldest go first.
constexpr long kSessionCacheSize = 1024;

Result<int> ParseMinVersion(const std::string& version) {
  if (version == "1.3") return TLS1_3_VERSION;
  if (version == "1.2") return TLS1_2_VERSION;
  return MakeError(ErrorCode::kInvalidArgument,
                   "TLS min_version must be \"1.2\" or \"1.3\", not " + QuoteForMessage(version));
}

// The settings both sides share: versions, ciphers, groups, no compression or
// renegotiation.
Result<SslCtxPtr> NewContext(const SSL_METHOD* method, const std::string& min_version) {
  auto version = ParseMinVersion(min_version);
  if (!version) return std::unexpected(version.error());
  ClearOpensslErrors();
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return OpensslError("creating a TLS context");
  if (SSL_CTX_set_min_proto_version(ctx.get(), *version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return OpensslError("setting the TLS versions");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its record buffers (about 34 KiB) back until
  // its next record: a daemon holding thousands of keep-alive agents.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return OpensslError("setting the TLS 1.2 ciphers");
  }
  if (SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) {
    return OpensslError("setting the key exchange groups");
  }
  return ctx;
}

// Installs our certificate, its intermediates when `send_intermediates`,
// and its key. Without intermediates the peer gets the leaf alone: OpenSSL
// would otherwise build a chain from the context's trust store on every
// handshake (SSL_MODE_NO_AUTO_CHAIN stops that).
Result<void> UseCertificate(SSL_CTX* ctx, const std::string& chain_pem, const EVP_PKEY* key,
                            bool send_intermediates) {
  auto certs = CertsFromPem(chain_pem);
  if (!certs) return WithContext(certs.error(), "TLS certificate chain");
  ClearOpensslErrors();
  if (X509_check_private_key((*certs)[0].get(), key) != 1) {
    return OpensslError("the TLS private key does not match the certificate");
  }
  if (SSL_CTX_use_certificate(ctx, (*certs)[0].get()) != 1) {
    return OpensslError("installing the TLS certificate");
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
  for (size_t i = 1; send_intermediates && i < certs->size(); ++i) {
    // add1: the context takes its own reference; ours is freed with `certs`.
    if (SSL_CTX_add1_chain_cert(ctx, (*certs)[i].get()) != 1) {
      return OpensslError("adding an intermediate to the TLS chain");
    }
  }
  // SSL_CTX_use_PrivateKey only takes a reference despite the non-const type.
  if (SSL_CTX_use_PrivateKey(ctx, const_cast<EVP_PKEY*>(key)) != 1) {
    return OpensslError("installing the TLS private key");
  }
  return Ok();
}

// A verification store of the certificates in `pem` (TrustStoreFromPem, or
// TrustStoreWithCaAnchors when `ca_anchors`); when `client_ca_names` is set,
// their subjects are also advertised in the CertificateRequest so clients
// pick a fitting certificate.
Result<void> UseTrust(SSL_CTX* ctx, const std::string& pem, bool client_ca_names, bool ca_anchors) {
  auto trust = ca_anchors ? TrustStoreWithCaAnchors(pem, "TLS trust") : TrustStoreFromPem(pem, "TLS trust");
  if (!trust) return std::unexpected(trust.error());
  for (const auto& cert : trust->certs) {
    if (client_ca_names && SSL_CTX_add_client_CA(ctx, cert.get()) != 1) {
      return OpensslError("advertising a client CA");
    }
  }
  // set1: the context takes its own reference; ours is freed with `trust`.
  if (SSL_CTX_set1_verify_cert_store(ctx, trust->store.get()) != 1) {
    return OpensslError("installing the TLS trust store");
  }
  return Ok();
}

// Hands the configured SSL_CTX to Asio, which owns it from then on.
Result<std::shared_ptr<ssl::context>> Wrap(SslCtxPtr ctx) {
  try {
    return std::make_shared<ssl::context>(ctx.release());  // takes ownership
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("creating the TLS context: ") + e.what());
  }
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const ServerTlsConfig& config) {
  if (config.key == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "the TLS server needs a private key");
  }
  auto ctx = NewContext(TLS_server_method(), config.min_version);
  if (!ctx) return std::unexpected(ctx.error());
  if (auto r = UseCertificate(ctx->get(), config.cert_chain_pem, config.key, true); !r) {
    return std::unexpected(r.error());
  }
  if (!config.client_trust_pem.empty()) {
    // Intermediates as anchors: a client chain costs one signature check
    // (the leaf's), not one per certificate up to the root.
    if (auto r = UseTrust(ctx->get(), config.client_trust_pem, true, true); !r) {
      return std::unexpected(r.error());
    }
  } else {
    // An empty store: any certificate a client presents fails verification.
    OsslPtr<X509_STORE> empty(X509_STORE_new());
    if (!empty || SSL_CTX_set1_verify_cert_store(ctx->get(), empty.get()) != 1) {
      return OpensslError("installing an empty TLS trust store");
    }
  }
  // Chains from the store above only; recovery certificates; sessions no
  // longer than their client certificate (client_verification.h).
  if (auto r = UseClientVerification(ctx->get(), config.client_recovery_pem); !r) {
    return std::unexpected(r.error());
  }
  SSL_CTX_set_verify_depth(ctx->get(), 4);
  if (SSL_CTX_set_session_id_context(
          ctx->get(), reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
          kSessionIdContext.size()) != 1) {
    return OpensslError("setting the TLS session id context");
  }
  // TLS 1.3 resumption with stateful tickets: one per handshake, naming a
  // session kept in a bounded cache, for no longer than the client's
  // certificate is valid (UseClientVerification). OpenSSL 3.0 builds a stateless ticket by
  // encoding the session and decoding it back, which decodes the client's
  // certificate again through the provider decoders: ~0.5 ms of server CPU,
  // a sixth of a whole new connection, spent on every handshake although
  // Mayfly's own clients never resume (docs/networking.md).
  SSL_CTX_set_options(ctx->get(), SSL_OP_NO_TICKET);
  if (SSL_CTX_set_num_tickets(ctx->get(), 1) != 1) return OpensslError("setting the TLS session tickets");
  SSL_CTX_sess_set_cache_size(ctx->get(), kSessionCacheSize);
  return Wrap(std::move(*ctx));
}

Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const ClientTlsConfig& config) {
  if (config.trust_pem.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the TLS client needs trusted roots");
  }
  if (!config.cert_chain_pem.empty() && config.key == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "a TLS client certificate needs its key");
  }
  auto ctx = NewContext(TLS_client_method(), config.min_version);
  if (!ctx) return std::unexpected(ctx.error());
  if (!config.cert_chain_pem.empty()) {
    if (auto r = UseCertificate(ctx->get(), config.cert_chain_pem, config.key, config.send_intermediates); !r) {
      return std::unexpected(r.error());
    }
  }
  if (auto r = UseTrust(ctx->get(), config.trust_pem, false, false); !r) return std::unexpected(r.error());
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(ctx->get(), 4);
  return Wrap(std::move(*ctx));
}

}  // namespace mayfly::net
