// The real daemon and one kept-alive mTLS connection: a node certificate
// that expires while its connection stays open is refused at the next
// request on that same connection, not only at the next handshake.
#include <gtest/gtest.h>

#include <optional>

#include <boost/json.hpp>

#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace client_cert_lifetime_test {

namespace json = boost::json;

class ClientCertLifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Node certificates live 3 s (1 s backdated); a kept-alive connection
    // may idle far longer than that.
    ca_.Init("auto_rotate = false\n"
             "[issuance]\nmin_ttl = \"1s\"\nnode_ttl = \"3s\"\nbackdate = \"1s\"\n"
             "[limits]\nidle_timeout = \"60s\"\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/db\"\nnode = \"node-1\"\n");
    ca_.Start();
  }
  void TearDown() override { ca_.Stop(); }

  net::HttpClient Client(const std::string& chain_pem = "", const EVP_PKEY* key = nullptr) {
    net::ClientTlsConfig tls;
    tls.trust_pem = ReadFile(ca_.Path("ca/root.pem")).value();
    tls.cert_chain_pem = chain_pem;
    tls.key = key;
    return net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext(tls).value()).value();
  }
  static std::string CsrBody(const std::vector<std::string>& uris) {
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    return json::serialize(json::object{{"csr", MakeCsrPem(key.get(), uris, {}, {}).value()}});
  }
  // The daemon's count of accepted connections (on every listener), read
  // from its metrics listener over one kept-alive connection.
  int64_t AcceptedConnections() {
    if (!metrics_) metrics_.emplace(net::HttpClient::ForUrl(ca_.metrics_url(), nullptr).value());
    auto metrics = metrics_->Request("GET", "/metrics");
    EXPECT_TRUE(metrics) << metrics.error().ToString();
    if (!metrics) return -1;
    const std::string name = "\nmayfly_connections_accepted_total ";
    const size_t line = metrics->body.find(name);
    EXPECT_NE(line, std::string::npos) << metrics->body;
    return line == std::string::npos ? -1 : std::stoll(metrics->body.substr(line + name.size()));
  }

  testing::CaFixture ca_;
  std::optional<net::HttpClient> metrics_;
};

TEST_F(ClientCertLifetimeTest, AKeptAliveConnectionIsRefusedOnceItsNodeCertificateExpires) {
  auto token = ca_.Cli("--json token create --node node-1");
  ASSERT_EQ(token.status, 0) << token.output;
  auto node_key = GenerateKey(KeyType::kEcdsaP256).value();
  auto enrolled = Client().Request(
      "POST", "/v1/enroll",
      json::serialize(json::object{{"token", json::parse(token.output).at("token")},
                                   {"csr", MakeCsrPem(node_key.get(), {}, {}, {}).value()}}));
  ASSERT_TRUE(enrolled) << enrolled.error().ToString();
  ASSERT_EQ(enrolled->status, 200) << enrolled->body;
  const auto cert = json::parse(enrolled->body);
  const std::string leaf = std::string(cert.at("certificate").as_string());
  const TimePoint not_after = CertNotAfter(CertFromPem(leaf).value().get());

  auto node = Client(leaf + std::string(cert.at("chain").as_string()), node_key.get());
  auto first = node.Request("POST", "/v1/sign", CsrBody({"spiffe://example.org/db"}));
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->status, 200) << first->body;
  const int64_t accepted = AcceptedConnections();

  // Until the wall clock (the daemon's) is past the certificate's last second.
  ASSERT_TRUE(testing::WaitUntil([&] { return SystemClock::Instance().Now() > not_after + std::chrono::seconds(1); },
                                 std::chrono::seconds(30), std::chrono::milliseconds(100)));
  auto after = node.Request("POST", "/v1/sign", CsrBody({"spiffe://example.org/db"}));
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_EQ(after->status, 401) << after->body;
  EXPECT_NE(after->body.find("the client certificate expired at " + FormatRfc3339(not_after)), std::string::npos)
      << after->body;
  auto renew = node.Request("POST", "/v1/renew", CsrBody({}));
  ASSERT_TRUE(renew) << renew.error().ToString();
  EXPECT_EQ(renew->status, 401) << renew->body;
  EXPECT_EQ(AcceptedConnections(), accepted) << "the requests after expiry came on the same connection";
}

}  // namespace client_cert_lifetime_test
}  // namespace mayfly
