// TLS context construction: settings as specified, and clear refusals.
#include "mayfly/net/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "net/net_test_util.h"

namespace mayfly::net::testing {
namespace tls_context_test {

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = NetPki::Make(); }
  ServerTlsConfig ServerConfig() const {
    return ServerTlsConfig{pki_.server_chain_pem, pki_.server_key.get(), pki_.root_pem};
  }
  NetPki pki_;
};

TEST_F(TlsContextTest, TheServerContextIsStrict) {
  auto ctx = MakeServerTlsContext(ServerConfig());
  ASSERT_TRUE(ctx.has_value()) << ctx.error().ToString();
  SSL_CTX* native = (*ctx)->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_PEER) << "asks, but does not demand, a cert";
  EXPECT_EQ(SSL_CTX_get_verify_callback(native), nullptr);
  const uint64_t options = SSL_CTX_get_options(native);
  EXPECT_TRUE(options & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(options & SSL_OP_NO_RENEGOTIATION);
  // Stateful TLS 1.3 tickets: one per handshake, sessions in a bounded cache.
  EXPECT_TRUE(options & SSL_OP_NO_TICKET);
  EXPECT_EQ(SSL_CTX_get_num_tickets(native), 1u);
  EXPECT_EQ(SSL_CTX_sess_get_cache_size(native), 1024);
  STACK_OF(X509_NAME)* cas = SSL_CTX_get_client_CA_list(native);
  ASSERT_NE(cas, nullptr);
  EXPECT_EQ(sk_X509_NAME_num(cas), 1);

  auto tls12 = ServerConfig();
  tls12.min_version = "1.2";
  auto ctx12 = MakeServerTlsContext(tls12);
  ASSERT_TRUE(ctx12.has_value());
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx12)->native_handle()), TLS1_2_VERSION);
}

TEST_F(TlsContextTest, BadServerConfigsAreRefused) {
  auto version = ServerConfig();
  version.min_version = "1.1";
  EXPECT_EQ(MakeServerTlsContext(version).error().code, ErrorCode::kInvalidArgument);

  auto no_key = ServerConfig();
  no_key.key = nullptr;
  EXPECT_EQ(MakeServerTlsContext(no_key).error().code, ErrorCode::kInvalidArgument);

  auto wrong_key = ServerConfig();
  wrong_key.key = pki_.client_key.get();
  auto r = MakeServerTlsContext(wrong_key);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCrypto);
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos) << r.error().message;

  auto garbage = ServerConfig();
  garbage.cert_chain_pem = "not a certificate";
  EXPECT_FALSE(MakeServerTlsContext(garbage).has_value());
  auto bad_trust = ServerConfig();
  bad_trust.client_trust_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_FALSE(MakeServerTlsContext(bad_trust).has_value());
}

// The number of certificates in a store.
int CertCount(X509_STORE* store) {
  if (store == nullptr) return 0;
  int certs = 0;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++certs;
  }
  return certs;
}

TEST_F(TlsContextTest, ClientContextsVerifyTheServerAgainstExactlyTheGivenRoots) {
  auto plain = MakeClientTlsContext(ClientTlsConfig{pki_.root_pem});
  ASSERT_TRUE(plain.has_value()) << plain.error().ToString();
  SSL_CTX* native = (*plain)->native_handle();
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_verify_callback(native), nullptr) << "OpenSSL's verdict stands";
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_3_VERSION);
  EXPECT_TRUE(SSL_CTX_get_options(native) & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(SSL_CTX_get_options(native) & SSL_OP_NO_RENEGOTIATION);
  // The given root and nothing else: not the system's default store.
  X509_STORE* verify_store = nullptr;
  ASSERT_EQ(SSL_CTX_get0_verify_cert_store(native, &verify_store), 1);
  EXPECT_EQ(CertCount(verify_store), 1);
  EXPECT_EQ(CertCount(SSL_CTX_get_cert_store(native)), 0);
  EXPECT_EQ(SSL_CTX_get0_certificate(native), nullptr) << "no client certificate unless given";

  ClientTlsConfig tls12{pki_.root_pem};
  tls12.min_version = "1.2";
  auto ctx12 = MakeClientTlsContext(tls12);
  ASSERT_TRUE(ctx12.has_value());
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx12)->native_handle()), TLS1_2_VERSION);
}

TEST_F(TlsContextTest, ClientContextsCarryTheGivenCertificateAndRefuseHalfConfigs) {
  ClientTlsConfig with_cert{pki_.root_pem, pki_.client_chain_pem, pki_.client_key.get()};
  auto ctx = MakeClientTlsContext(with_cert);
  ASSERT_TRUE(ctx.has_value()) << ctx.error().ToString();
  SSL_CTX* native = (*ctx)->native_handle();
  X509* leaf = SSL_CTX_get0_certificate(native);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_check_private_key(leaf, pki_.client_key.get()), 1);
  // The leaf alone by default (a Mayfly server builds chains from its own
  // trust), and no chain built from the trust store at each handshake.
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(native, &chain), 1);
  EXPECT_EQ(chain == nullptr ? 0 : sk_X509_num(chain), 0) << "only the leaf is sent";
  EXPECT_TRUE(SSL_CTX_get_mode(native) & SSL_MODE_NO_AUTO_CHAIN);
  ClientTlsConfig with_chain = with_cert;
  with_chain.send_intermediates = true;
  auto chained = MakeClientTlsContext(with_chain);
  ASSERT_TRUE(chained.has_value()) << chained.error().ToString();
  ASSERT_EQ(SSL_CTX_get0_chain_certs((*chained)->native_handle(), &chain), 1);
  EXPECT_EQ(chain == nullptr ? 0 : sk_X509_num(chain), 1) << "the intermediate is sent with the leaf";

  EXPECT_EQ(MakeClientTlsContext(ClientTlsConfig{}).error().code, ErrorCode::kInvalidArgument);
  ClientTlsConfig cert_without_key{pki_.root_pem, pki_.client_chain_pem};
  EXPECT_EQ(MakeClientTlsContext(cert_without_key).error().code, ErrorCode::kInvalidArgument);
  ClientTlsConfig wrong_key{pki_.root_pem, pki_.client_chain_pem, pki_.server_key.get()};
  EXPECT_EQ(MakeClientTlsContext(wrong_key).error().code, ErrorCode::kCrypto);
  ClientTlsConfig bad_version{pki_.root_pem};
  bad_version.min_version = "1.1";
  EXPECT_EQ(MakeClientTlsContext(bad_version).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace tls_context_test
}  // namespace mayfly::net::testing
