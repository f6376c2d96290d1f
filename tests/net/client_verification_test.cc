// How the API listener verifies client certificates: chains are built from
// its client trust alone (not from what the client sends), certificates of
// a recovery CA arrive apart from verified ones, the verified issuer is
// recorded (after a resumption too), and a resumed TLS session never
// outlives its client certificate.
#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include "mayfly/ca_certs.h"
#include "net/net_test_util.h"
#include "support/wait.h"

namespace mayfly::net::testing {
namespace client_verification_test {

// Answers with what the server recorded about the client's certificate.
void PeerHandler(HttpRequest request, Respond respond) {
  boost::json::object o;
  o["client_id"] = request.peer.client_spiffe_id;
  o["issuer_key_id"] = request.peer.client_issuer_key_id;
  o["verified"] = request.peer.client_cert != nullptr;
  o["recovery"] = request.peer.recovery_cert != nullptr;
  HttpResponse response;
  response.body = boost::json::serialize(o);
  respond(std::move(response));
}

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct SslSessionDeleter {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;

// One connection with a raw OpenSSL client: the handshake (offering
// `session` for resumption when given), one request, the answer and the
// session the server's ticket left.
struct Connection {
  bool handshake = false;
  bool resumed = false;
  boost::json::object answer;
  SessionPtr session;
};

Connection Connect(uint16_t port, ssl::context& client, SSL_SESSION* session = nullptr) {
  Connection c;
  RawSocket socket(port);
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(client.native_handle()));
  if (!socket.connected() || !ssl || SSL_set_fd(ssl.get(), socket.fd()) != 1) return c;
  if (session != nullptr) SSL_set_session(ssl.get(), session);
  if (SSL_connect(ssl.get()) != 1) return c;
  const std::string request = "GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) return c;
  std::string reply;
  char buf[4096];
  int n;
  while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
  // A client certificate the server refuses in TLS 1.3 shows only here:
  // the handshake completed on our side, then came the server's alert.
  const size_t body = reply.find("\r\n\r\n");
  if (body == std::string::npos) return c;
  c.handshake = true;
  c.resumed = SSL_session_reused(ssl.get()) == 1;
  c.answer = ParseJson(reply.substr(body + 4));
  c.session.reset(SSL_get1_session(ssl.get()));
  // Our close_notify: SSL_free marks the session of a connection that was
  // not shut down as not resumable.
  SSL_shutdown(ssl.get());
  return c;
}

class ClientVerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = NetPki::Make();
    intermediate_pem_ = CertToPem(pki_.pki->intermediate.get()).value();
  }

  uint16_t Listen(RunningServer& server, ServerTlsConfig config) {
    auto port = server.server().ListenTls("127.0.0.1:0", MakeServerTlsContext(config).value());
    EXPECT_TRUE(port.has_value()) << port.error().ToString();
    return port.value_or(0);
  }
  ServerTlsConfig Config(std::string client_trust, std::string recovery = "") const {
    ServerTlsConfig config{pki_.server_chain_pem, pki_.server_key.get(), std::move(client_trust)};
    config.client_recovery_pem = std::move(recovery);
    return config;
  }
  // A client presenting `chain_pem` with `key` (the leaf alone, or the whole
  // chain when `send_intermediates`), trusting our server.
  std::shared_ptr<ssl::context> ClientContext(const std::string& chain_pem, const EVP_PKEY* key,
                                              bool send_intermediates = false) const {
    ClientTlsConfig config;
    config.trust_pem = pki_.root_pem;
    config.cert_chain_pem = chain_pem;
    config.key = key;
    config.send_intermediates = send_intermediates;
    return MakeClientTlsContext(config).value();
  }

  NetPki pki_;
  std::string intermediate_pem_;
};

TEST_F(ClientVerificationTest, TheVerifiedIssuerIsRecorded) {
  RunningServer server(PeerHandler);
  const uint16_t port = Listen(server, Config(pki_.root_pem + intermediate_pem_));
  auto c = Connect(port, *ClientContext(pki_.client_chain_pem, pki_.client_key.get()));
  ASSERT_TRUE(c.handshake);
  EXPECT_EQ(c.answer["verified"], true);
  EXPECT_EQ(c.answer["client_id"], kClientId);
  EXPECT_EQ(c.answer["issuer_key_id"].as_string(), SubjectKeyIdHex(pki_.pki->intermediate.get()));
}

TEST_F(ClientVerificationTest, TheIntermediateAClientSendsIsNotUsed) {
  RunningServer server(PeerHandler);
  // The intermediate is only in what the client sends: no chain.
  const uint16_t port = Listen(server, Config(pki_.root_pem));
  EXPECT_FALSE(Connect(port, *ClientContext(pki_.client_chain_pem, pki_.client_key.get(), true)).handshake);
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
}

TEST_F(ClientVerificationTest, AnIntermediateIsAnAnchorOnlyWhenItChainsToATrustedRoot) {
  RunningServer server(PeerHandler);
  // Another CA's intermediate, listed without its root: trusting it alone
  // would make it a root nobody configured.
  NetPki other = NetPki::Make();
  const std::string other_intermediate = CertToPem(other.pki->intermediate.get()).value();
  const uint16_t port = Listen(server, Config(pki_.root_pem + intermediate_pem_ + other_intermediate));
  EXPECT_FALSE(Connect(port, *ClientContext(other.client_chain_pem, other.client_key.get(), true)).handshake);
  // Ours, which chains to the listed root, is one: its leaves verify, the
  // chain ends at it, and that is the issuer recorded.
  auto c = Connect(port, *ClientContext(pki_.client_chain_pem, pki_.client_key.get()));
  ASSERT_TRUE(c.handshake);
  EXPECT_EQ(c.answer["verified"], true);
  EXPECT_EQ(c.answer["issuer_key_id"].as_string(), SubjectKeyIdHex(pki_.pki->intermediate.get()));
  // With its root listed too, the other CA's leaves verify: what kept them
  // out was the missing root.
  RunningServer both(PeerHandler);
  const uint16_t both_port = Listen(both, Config(pki_.root_pem + intermediate_pem_ + other.root_pem + other_intermediate));
  auto o = Connect(both_port, *ClientContext(other.client_chain_pem, other.client_key.get()));
  ASSERT_TRUE(o.handshake);
  EXPECT_EQ(o.answer["verified"], true);
}

TEST_F(ClientVerificationTest, AnExpiredIntermediateIsRefusedAtTheHandshake) {
  // An anchor's validity is checked at each handshake, not only when the
  // trust is built: an intermediate of our root that expired an hour ago,
  // and a leaf under it that is still within its own hour.
  const TimePoint now = pki_.pki->clock.Now();
  ManualClock then(now - std::chrono::hours(3));
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto expired = MakeIntermediateCert(key.get(), pki_.pki->root.get(), pki_.pki->root_key.get(),
                                      {true, "example.org", {}, {}}, std::chrono::hours(2), then);
  ASSERT_TRUE(expired.has_value()) << expired.error().ToString();
  auto leaf_key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string leaf =
      mayfly::testing::MintLeaf(expired->get(), key.get(), leaf_key.get(), kClientId, true, now - std::chrono::minutes(30));
  RunningServer server(PeerHandler);
  const uint16_t port = Listen(server, Config(pki_.root_pem + CertToPem(expired->get()).value()));
  EXPECT_FALSE(Connect(port, *ClientContext(leaf, leaf_key.get())).handshake);
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
}

TEST_F(ClientVerificationTest, ARecoveryCaCertificateArrivesApartFromVerifiedOnes) {
  RunningServer server(PeerHandler);
  const uint16_t port = Listen(server, Config(pki_.root_pem, pki_.root_pem + intermediate_pem_));
  auto c = Connect(port, *ClientContext(pki_.client_chain_pem, pki_.client_key.get()));
  ASSERT_TRUE(c.handshake);
  EXPECT_EQ(c.answer["verified"], false);
  EXPECT_EQ(c.answer["recovery"], true);
  EXPECT_EQ(c.answer["client_id"], "");

  // Recovery is for a missing issuer only: an expired certificate of the
  // recovery CA, or one of another CA, still fails the handshake.
  const auto now = pki_.pki->clock.Now();
  pki_.pki->clock.Set(now - std::chrono::hours(2));
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string expired = pki_.pki->IssueFor(key.get(), kClientId, {}, std::chrono::hours(1)).Pem();
  pki_.pki->clock.Set(now);
  EXPECT_FALSE(Connect(port, *ClientContext(expired, key.get())).handshake);
  NetPki other = NetPki::Make();
  EXPECT_FALSE(Connect(port, *ClientContext(other.client_chain_pem, other.client_key.get())).handshake);
}

TEST_F(ClientVerificationTest, AResumedSessionEndsWithItsClientCertificate) {
  RunningServer server(PeerHandler);
  const uint16_t port = Listen(server, Config(pki_.root_pem + intermediate_pem_));
  // A certificate with a few seconds left (sessions end a second early).
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  pki_.pki->clock.Set(SystemClock::Instance().Now());
  const IssuedCert short_lived = pki_.pki->IssueFor(key.get(), kClientId, {}, std::chrono::seconds(5));
  const TimePoint not_after = short_lived.not_after;
  auto client = ClientContext(short_lived.Pem() + intermediate_pem_, key.get());

  auto full = Connect(port, *client);
  ASSERT_TRUE(full.handshake);
  ASSERT_TRUE(full.session && SSL_SESSION_is_resumable(full.session.get()) == 1);
  // While the certificate is valid the session resumes, with the verified
  // issuer it was made with.
  auto resumed = Connect(port, *client, full.session.get());
  ASSERT_TRUE(resumed.handshake);
  ASSERT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.answer["verified"], true);
  EXPECT_EQ(resumed.answer["issuer_key_id"].as_string(), SubjectKeyIdHex(pki_.pki->intermediate.get()));

  ASSERT_TRUE(mayfly::testing::WaitUntil(
      [&] { return SystemClock::Instance().Now() > not_after + std::chrono::seconds(1); }, std::chrono::seconds(20),
      std::chrono::milliseconds(100)));
  // Neither the first session nor the one its resumption renewed resumes
  // now; the full handshake then refuses the expired certificate.
  for (SSL_SESSION* session : {full.session.get(), resumed.session.get()}) {
    auto late = Connect(port, *client, session);
    EXPECT_FALSE(late.handshake && late.resumed) << "a session outlived its client certificate";
    EXPECT_FALSE(late.handshake);
  }
}

}  // namespace client_verification_test
}  // namespace mayfly::net::testing
