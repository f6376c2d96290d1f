// HttpClient checks who the server is, not only that some trusted root signed
// its certificate for the URL's host: the SPIFFE ID of the verified chain's
// leaf must be the expected one, or no request is sent.
#include <gtest/gtest.h>

#include <atomic>

#include "net/net_test_util.h"

namespace mayfly::net::testing {
namespace server_identity_test {

constexpr char kCaId[] = "spiffe://example.org/mayfly/ca";

class ServerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = NetPki::Make(); }

  // A server on 127.0.0.1 presenting a certificate of the test PKI with
  // `spiffe_id` and IP SAN 127.0.0.1; returns its URL.
  std::string Serve(const std::string& spiffe_id) {
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    auto spki = PublicKeyOf(key.get()).value();
    LeafSpec spec;
    spec.public_key = &spki;
    spec.spiffe_id = spiffe_id;
    spec.ips = {ParseIpAddress("127.0.0.1").value()};
    spec.ttl = std::chrono::hours(1);
    std::string chain = pki_.pki->issuer->Issue(spec).value().Pem() + CertToPem(pki_.pki->intermediate.get()).value();
    // The server builds client chains from its own trust only: root and intermediate.
    auto tls = MakeServerTlsContext({.cert_chain_pem = chain,
                                     .key = key.get(),
                                     .client_trust_pem = pki_.root_pem + CertToPem(pki_.pki->intermediate.get()).value()});
    EXPECT_TRUE(tls) << tls.error().ToString();
    server_ = std::make_unique<RunningServer>([this](HttpRequest request, Respond respond) {
      ++requests_;
      EchoHandler(std::move(request), std::move(respond));
    });
    return "https://127.0.0.1:" + std::to_string(server_->server().ListenTls("127.0.0.1:0", *tls).value());
  }

  Result<HttpResponse> Get(const std::string& url, std::optional<ServerIdentity> expected) {
    auto client = HttpClient::ForUrl(url, pki_.ClientContext(), {.server_identity = std::move(expected)});
    if (!client) return std::unexpected(client.error());
    auto response = client->Request("GET", "/v1/bundle");
    seen_ = client->verified_server();
    return response;
  }

  NetPki pki_;
  std::atomic<int> requests_{0};
  std::unique_ptr<RunningServer> server_;
  VerifiedServer seen_;
};

TEST_F(ServerIdentityTest, TheCaIsAccepted) {
  const std::string url = Serve(kCaId);
  for (const std::string td : {"example.org", ""}) {
    auto r = Get(url, ServerIdentity{.trust_domain = td});
    ASSERT_TRUE(r) << td << ": " << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(seen_.spiffe_id, kCaId);
    EXPECT_EQ(seen_.root_der, CertToDer(pki_.pki->root.get()).value()) << "the root the chain verified to";
  }
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(ServerIdentityTest, AnotherIdentityOfTheSamePkiIsRefusedBeforeTheRequest) {
  struct Case {
    std::string presented;
    ServerIdentity expected;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"spiffe://example.org/web", {.trust_domain = "example.org"},
       "it presents \"spiffe://example.org/web\", expected spiffe://example.org/mayfly/ca"},
      {"spiffe://example.org/web", {},
       "it presents \"spiffe://example.org/web\", expected spiffe://<any trust domain>/mayfly/ca"},
      {"spiffe://example.org/mayfly/node/web-1", {.trust_domain = "example.org"},
       "it presents \"spiffe://example.org/mayfly/node/web-1\", expected spiffe://example.org/mayfly/ca"},
      {"spiffe://example.org/mayfly/ca", {.trust_domain = "other.org"},
       "it presents \"spiffe://example.org/mayfly/ca\", expected spiffe://other.org/mayfly/ca"},
  };
  for (const Case& c : cases) {
    const std::string url = Serve(c.presented);
    auto r = Get(url, c.expected);
    ASSERT_FALSE(r) << c.presented;
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().message,
              url + ": TLS verification failed: the server is not the CA: " + c.message);
    EXPECT_EQ(seen_.spiffe_id, c.presented);
    EXPECT_EQ(requests_.load(), 0) << c.presented;
    // Without an expected identity the same server is reached: only the
    // check above tells it from the CA.
    EXPECT_TRUE(Get(url, std::nullopt));
    requests_ = 0;
  }
}

TEST_F(ServerIdentityTest, PlainHttpCannotProveAnIdentity) {
  auto client = HttpClient::ForUrl("http://127.0.0.1:1", nullptr, {.server_identity = ServerIdentity{}});
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ServerIdentityTest, TheCasIdentityIsReadFromTheCallersOwnCertificate) {
  auto ca = CaIdentityOf(pki_.client_chain_pem, "--cert admin.pem");
  ASSERT_TRUE(ca) << ca.error().ToString();
  EXPECT_EQ(ca->ToString(), kCaId);
  auto none = CaIdentityOf(pki_.root_pem, "--cert root.pem");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidSpiffeId);
  EXPECT_EQ(none.error().message.rfind("--cert root.pem carries no single SPIFFE ID", 0), 0u) << none.error().message;
}

}  // namespace server_identity_test
}  // namespace mayfly::net::testing
