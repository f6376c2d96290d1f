// Before its first enrollment the agent knows no trust domain, so it accepts
// the CA's path (/mayfly/ca) in any; the node certificate it then receives
// must be in the trust domain of the CA that answered.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "agent_ca_client.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "net/net_test_util.h"

namespace mayfly {
namespace enroll_trust_domain_test {

using net::testing::NetPki;

class EnrollTrustDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = NetPki::Make();  // the CA presents spiffe://example.org/mayfly/ca
    server_ = std::make_unique<net::testing::RunningServer>([this](net::HttpRequest, net::Respond respond) {
      std::lock_guard lock(mu_);
      net::HttpResponse response;
      response.body = boost::json::serialize(boost::json::object{{"certificate", answer_}});
      respond(std::move(response));
    });
    url_ = "https://127.0.0.1:" + std::to_string(server_->server().ListenTls("127.0.0.1:0", pki_.ServerContext()).value());
  }

  // The answer to /v1/enroll: a node certificate for `spiffe_id` from a
  // test PKI of `trust_domain`.
  void Answer(const std::string& trust_domain, const std::string& spiffe_id) {
    auto pki = testing::TestPki::Make({.trust_domain = trust_domain});
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    std::lock_guard lock(mu_);
    answer_ = pki->IssueFor(key.get(), spiffe_id).Pem();
  }

  Result<agent::IssuedPem> Enroll() {
    agent::ServerPool servers({url_}, SystemClock::Instance());
    auto client = agent::CaClient::Create(servers, pki_.root_pem, "", nullptr);
    if (!client) return std::unexpected(client.error());
    return client->Enroll("token", "csr");
  }

  NetPki pki_;
  std::mutex mu_;
  std::string answer_;  // guarded by mu_
  std::unique_ptr<net::testing::RunningServer> server_;
  std::string url_;
};

TEST_F(EnrollTrustDomainTest, TheNodeJoinsTheTrustDomainOfTheCaThatAnswered) {
  Answer("example.org", "spiffe://example.org/mayfly/node/node-1");
  auto same = Enroll();
  ASSERT_TRUE(same) << same.error().ToString();

  Answer("other.org", "spiffe://other.org/mayfly/node/node-1");
  auto other = Enroll();
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(other.error().message,
            "POST /v1/enroll: the node certificate is in trust domain \"other.org\", the CA that issued it is "
            "\"spiffe://example.org/mayfly/ca\"");
}

}  // namespace enroll_trust_domain_test
}  // namespace mayfly
