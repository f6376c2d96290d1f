// CaClient's fail-over rules, against two HTTPS servers that both prove the
// CA's identity: 502/503/504 move a call to the next server, a decision
// (4xx) does not, and an enrollment whose request was sent is never resent
// elsewhere (the first server may have spent the one-time token).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "agent_ca_client.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "net/net_test_util.h"
#include "support/tcp_relay.h"

namespace mayfly {
namespace ca_client_failover_test {

using net::testing::NetPki;

// One CA server that answers every request with `status` (200: a
// certificate answer; else an API error) and counts the requests per path.
class ScriptedServer {
 public:
  ScriptedServer(const NetPki& pki, const std::string& certificate) : certificate_(certificate) {
    server_ = std::make_unique<net::testing::RunningServer>([this](net::HttpRequest request, net::Respond respond) {
      std::lock_guard lock(mu_);
      ++requests_[request.path];
      net::HttpResponse response;
      response.status = status_;
      response.body =
          status_ == 200
              ? boost::json::serialize(boost::json::object{{"certificate", certificate_}, {"spiffe_id", kNode}})
              : boost::json::serialize(boost::json::object{
                    {"error", boost::json::object{{"code", status_ >= 500 ? "unavailable" : "forbidden"},
                                                  {"message", "answered " + std::to_string(status_)}}}});
      respond(std::move(response));
    });
    url_ = "https://127.0.0.1:" +
           std::to_string(server_->server().ListenTls("127.0.0.1:0", pki.ServerContext()).value());
  }

  void Answer(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  int Requests(const std::string& path) {
    std::lock_guard lock(mu_);
    return requests_[path];
  }
  const std::string& url() const { return url_; }

  static constexpr const char* kNode = "spiffe://example.org/mayfly/node/node-1";

 private:
  std::string certificate_;
  std::mutex mu_;
  int status_ = 200;                    // guarded by mu_
  std::map<std::string, int> requests_;  // guarded by mu_
  std::unique_ptr<net::testing::RunningServer> server_;
  std::string url_;
};

class CaClientFailoverTest : public ::testing::Test {
 protected:
  CaClientFailoverTest()
      : pki_(NetPki::Make()),
        node_cert_(pki_.pki->IssueFor(GenerateKey(KeyType::kEcdsaP256).value().get(), ScriptedServer::kNode).Pem()),
        first_(pki_, node_cert_),
        second_(pki_, node_cert_),
        servers_({first_.url(), second_.url()}, SystemClock::Instance()) {}

  // Before enrollment: anonymous calls only.
  agent::CaClient Anonymous() { return agent::CaClient::Create(servers_, pki_.root_pem, "", nullptr).value(); }
  agent::CaClient Node() {
    return agent::CaClient::Create(servers_, pki_.root_pem, pki_.client_chain_pem, pki_.client_key.get()).value();
  }

  NetPki pki_;
  std::string node_cert_;
  ScriptedServer first_;
  ScriptedServer second_;
  agent::ServerPool servers_;
};

TEST_F(CaClientFailoverTest, RenewalsSignaturesAndFetchesMoveOnAfter502503And504) {
  for (int status : {502, 503, 504}) {
    SCOPED_TRACE(status);
    first_.Answer(status);
    servers_.Restore({{.url = first_.url()}});  // up again: tried first
    auto client = Node();
    auto renewed = client.Renew("csr");
    ASSERT_TRUE(renewed) << renewed.error().ToString();
    EXPECT_EQ(client.answered_by(), second_.url());
    EXPECT_TRUE(servers_.InBackoff(0));
    EXPECT_NE(servers_.states()[0].last_error.find("HTTP " + std::to_string(status)), std::string::npos)
        << servers_.states()[0].last_error;

    servers_.Restore({{.url = first_.url()}});
    ASSERT_TRUE(client.Sign("csr", std::chrono::hours(1)));
    EXPECT_EQ(client.answered_by(), second_.url());

    servers_.Restore({{.url = first_.url()}});
    std::string etag;
    ASSERT_TRUE(client.GetIfChanged("/v1/crl", etag));
    EXPECT_EQ(client.answered_by(), second_.url());
  }
  EXPECT_EQ(first_.Requests("/v1/renew"), 3);
  EXPECT_EQ(second_.Requests("/v1/renew"), 3);
  EXPECT_EQ(second_.Requests("/v1/sign"), 3);
  EXPECT_EQ(second_.Requests("/v1/crl"), 3);
}

TEST_F(CaClientFailoverTest, ADecisionIsTheAnswerAndIsNotAskedOfAnotherServer) {
  for (int status : {400, 401, 403, 404, 409, 429}) {
    SCOPED_TRACE(status);
    first_.Answer(status);
    auto client = Node();
    auto renewed = client.Renew("csr");
    ASSERT_FALSE(renewed);
    EXPECT_NE(renewed.error().message.find("HTTP " + std::to_string(status)), std::string::npos)
        << renewed.error().message;
    EXPECT_FALSE(servers_.InBackoff(0)) << "a server that decides is up";
  }
  EXPECT_EQ(first_.Requests("/v1/renew"), 6);
  EXPECT_EQ(second_.Requests("/v1/renew"), 0);
}

TEST_F(CaClientFailoverTest, AnEnrollmentThatReachedAServerIsNotResentToAnother) {
  first_.Answer(503);
  auto client = Anonymous();
  auto enrolled = client.Enroll("token", "csr");
  ASSERT_FALSE(enrolled);
  EXPECT_EQ(enrolled.error().code, ErrorCode::kUnavailable) << enrolled.error().ToString();
  EXPECT_EQ(first_.Requests("/v1/enroll"), 1);
  EXPECT_EQ(second_.Requests("/v1/enroll"), 0) << "the token may have been spent by the first";
  // The first backs off: the next attempt (the agent's next pass) goes to
  // the second.
  EXPECT_TRUE(servers_.InBackoff(0));
  auto again = client.Enroll("token", "csr");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(client.answered_by(), second_.url());
  EXPECT_EQ(first_.Requests("/v1/enroll"), 1);
}

TEST_F(CaClientFailoverTest, AnEnrollmentThatCouldNotConnectOrShakeHandsMovesOn) {
  testing::TcpRelay closing(0);  // accepts and closes: the TLS handshake fails
  ASSERT_TRUE(closing.Start());
  agent::ServerPool servers({closing.url(), first_.url()}, SystemClock::Instance());
  auto client = agent::CaClient::Create(servers, pki_.root_pem, "", nullptr).value();
  auto enrolled = client.Enroll("token", "csr");
  ASSERT_TRUE(enrolled) << enrolled.error().ToString();
  EXPECT_EQ(client.answered_by(), first_.url());
  EXPECT_EQ(closing.accepted(), 1);
  EXPECT_TRUE(servers.InBackoff(0));
}

TEST_F(CaClientFailoverTest, AServerThatIsNotTheCaIsSkippedLikeADeadOne) {
  // Another PKI's server: its certificate does not chain to the pinned roots.
  NetPki other = NetPki::Make();
  ScriptedServer impostor(other, node_cert_);
  agent::ServerPool servers({impostor.url(), first_.url()}, SystemClock::Instance());
  auto client = agent::CaClient::Create(servers, pki_.root_pem, pki_.client_chain_pem, pki_.client_key.get()).value();
  ASSERT_TRUE(client.Renew("csr"));
  EXPECT_EQ(client.answered_by(), first_.url());
  EXPECT_EQ(impostor.Requests("/v1/renew"), 0) << "no request reaches a server that failed verification";
  EXPECT_NE(servers.states()[0].last_error.find("verifying the server's certificate failed"), std::string::npos)
      << servers.states()[0].last_error;
}

}  // namespace ca_client_failover_test
}  // namespace mayfly
