// The mTLS API listener with HttpClient: client certificates, keep-alive,
// context renewal and the allow-list (the connection limits:
// server_admission_test.cc).
#include <gtest/gtest.h>

#include "net/net_test_util.h"

namespace mayfly::net::testing {
namespace server_tls_test {

class ServerTlsTest : public TlsServerTest {};

TEST_F(ServerTlsTest, RoundTripCarriesTheVerifiedClientCertificate) {
  RunningServer server;
  auto client = Client(Listen(server));
  auto res = client.Request("POST", "/v1/echo?spiffe_id=spiffe%3A%2F%2Fexample.org%2Fa%20b&x=1",
                            R"({"k":1})", {{"X-Custom-Header", "v"}});
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->content_type, "application/json");
  auto echo = ParseJson(res->body);
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["path"], "/v1/echo");
  EXPECT_EQ(echo["query"].as_object()["spiffe_id"], "spiffe://example.org/a b");
  EXPECT_EQ(echo["query"].as_object()["x"], "1");
  EXPECT_EQ(echo["headers"].as_object()["x-custom-header"], "v");
  EXPECT_EQ(echo["body"], R"({"k":1})");
  EXPECT_EQ(echo["listener"], static_cast<int>(Listener::kApi));
  EXPECT_EQ(echo["ip"], "127.0.0.1");
  EXPECT_EQ(echo["client_id"], kClientId);
  bool saw_server = false, saw_extra = false;
  for (const auto& [name, value] : res->headers) {
    saw_server = saw_server || (name == "server" && value == "mayfly");
    saw_extra = saw_extra || (name == "x-echo" && value == "1");
  }
  EXPECT_TRUE(saw_server);
  EXPECT_TRUE(saw_extra);
}

TEST_F(ServerTlsTest, AClientWithoutACertificateCompletesTheHandshake) {
  RunningServer server;
  auto client = Client(Listen(server), /*with_cert=*/false);
  auto res = client.Request("GET", "/v1/bundle");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  auto echo = ParseJson(res->body);
  EXPECT_EQ(echo["has_cert"], false);
  EXPECT_EQ(echo["client_id"], "");
}

TEST_F(ServerTlsTest, ACertificateFromAnotherCaFailsTheHandshake) {
  RunningServer server;
  uint16_t port = Listen(server);
  NetPki other = NetPki::Make();
  ClientTlsConfig config;
  config.trust_pem = pki_.root_pem;  // trusts our server...
  config.cert_chain_pem = other.client_chain_pem;  // ...but presents a foreign cert
  config.key = other.client_key.get();
  auto client = HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port),
                                   MakeClientTlsContext(config).value())
                    .value();
  auto res = client.Request("GET", "/v1/bundle");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("https://127.0.0.1:"), std::string::npos) << res.error().message;
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
  EXPECT_EQ(server.server().stats().requests, 0u);
}

TEST_F(ServerTlsTest, AnExpiredClientCertificateFailsTheHandshake) {
  RunningServer server;
  uint16_t port = Listen(server);
  // Issued by our own CA, but its hour ended an hour ago.
  const auto now = pki_.pki->clock.Now();
  pki_.pki->clock.Set(now - std::chrono::hours(2));
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string expired = pki_.pki->IssueFor(key.get(), kClientId, {}, std::chrono::hours(1)).Pem() +
                              CertToPem(pki_.pki->intermediate.get()).value();
  pki_.pki->clock.Set(now);
  ClientTlsConfig config;
  config.trust_pem = pki_.root_pem;
  config.cert_chain_pem = expired;
  config.key = key.get();
  auto client = HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port), MakeClientTlsContext(config).value())
                    .value();
  auto res = client.Request("GET", "/v1/bundle");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
  EXPECT_EQ(server.server().stats().requests, 0u);
}

TEST_F(ServerTlsTest, KeepAliveServesTwoRequestsOnOneConnection) {
  RunningServer server;
  auto client = Client(Listen(server));
  ASSERT_TRUE(client.Request("GET", "/a").has_value());
  auto second = client.Request("GET", "/b");
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(ParseJson(second->body)["path"], "/b");
  EXPECT_EQ(server.server().stats().accepted, 1u);
  EXPECT_EQ(server.server().stats().requests, 2u);
}

TEST_F(ServerTlsTest, TheClientReconnectsWhenTheServerClosedAnIdleConnection) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  RunningServer server(EchoHandler, options);
  auto client = Client(Listen(server));
  ASSERT_TRUE(client.Request("GET", "/a").has_value());
  ASSERT_TRUE(WaitFor([&] { return server.server().active_connections() == 0; }));
  auto res = client.Request("GET", "/b");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(server.server().stats().accepted, 2u);
}

TEST_F(ServerTlsTest, ConnectionCloseIsHonoured) {
  RunningServer server;
  auto client = Client(Listen(server));
  auto res = client.Request("GET", "/a", "", {{"Connection", "close"}});
  ASSERT_TRUE(res.has_value());
  bool close = false;
  for (const auto& [name, value] : res->headers) close = close || (name == "connection" && value == "close");
  EXPECT_TRUE(close);
  EXPECT_TRUE(WaitFor([&] { return server.server().active_connections() == 0; }));
  ASSERT_TRUE(client.Request("GET", "/b").has_value());
  EXPECT_EQ(server.server().stats().accepted, 2u);
}

TEST_F(ServerTlsTest, NewConnectionsUseARenewedTlsContext) {
  RunningServer server;
  uint16_t port = Listen(server);
  NetPki next = NetPki::Make();
  ClientTlsConfig config;
  config.trust_pem = next.root_pem;  // trusts only the next server certificate
  auto client_ctx = MakeClientTlsContext(config).value();
  auto url = "https://127.0.0.1:" + std::to_string(port);
  auto before = HttpClient::ForUrl(url, client_ctx).value().Request("GET", "/");
  ASSERT_FALSE(before.has_value());
  EXPECT_NE(before.error().message.find("verifying the server's certificate failed"), std::string::npos)
      << before.error().message;
  server.server().SetTlsContext(next.ServerContext());
  auto after = HttpClient::ForUrl(url, client_ctx).value().Request("GET", "/");
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
}

TEST_F(ServerTlsTest, PeersOutsideTheAllowListAreClosedBeforeTls) {
  ServerOptions options;
  options.allow_cidrs = {ParseCidr("10.0.0.0/8").value()};
  RunningServer server(EchoHandler, options);
  uint16_t port = Listen(server);
  auto res = Client(port).Request("GET", "/");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(server.server().stats().refused_not_allowed, 1u);
  EXPECT_EQ(server.server().stats().handshake_failures, 0u);

  options.allow_cidrs.push_back(ParseCidr("127.0.0.0/8").value());
  server.server().UpdateOptions(options);
  auto ok = Client(port).Request("GET", "/");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
}

}  // namespace server_tls_test
}  // namespace mayfly::net::testing
