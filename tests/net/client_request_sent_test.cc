// HttpClient::request_sent(): false when a request failed before any of it
// was written (connecting, the TLS handshake, the server check), true once
// it was -- what lets the agent resend a one-time enrollment elsewhere only
// when no server can have acted on it.
#include <gtest/gtest.h>

#include "mayfly/net/client.h"
#include "net/net_test_util.h"
#include "support/tcp_relay.h"

namespace mayfly::net {
namespace {

using testing::NetPki;
using testing::RunningServer;

class ClientRequestSentTest : public ::testing::Test {
 protected:
  NetPki pki_ = NetPki::Make();
};

TEST_F(ClientRequestSentTest, NotSentWhenTheConnectionIsRefused) {
  uint16_t port = 0;
  {
    mayfly::testing::TcpRelay probe(0);
    ASSERT_TRUE(probe.Start());
    port = probe.port();
  }  // closed: nothing listens there now
  auto client = HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port), pki_.ClientContext()).value();
  ASSERT_FALSE(client.Request("POST", "/v1/enroll", "{}"));
  EXPECT_FALSE(client.request_sent());
}

TEST_F(ClientRequestSentTest, NotSentWhenTheServerClosesDuringTheHandshake) {
  mayfly::testing::TcpRelay closing(0);  // accepts and closes
  ASSERT_TRUE(closing.Start());
  auto client = HttpClient::ForUrl(closing.url(), pki_.ClientContext()).value();
  ASSERT_FALSE(client.Request("POST", "/v1/enroll", "{}"));
  EXPECT_FALSE(client.request_sent());
}

TEST_F(ClientRequestSentTest, NotSentToAServerThatIsNotTheOneExpected) {
  RunningServer server;
  uint16_t port = server.server().ListenTls("127.0.0.1:0", pki_.ServerContext()).value();
  auto client = HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port), pki_.ClientContext(),
                                   {.server_identity = ServerIdentity{.trust_domain = "other.org"}})
                    .value();
  auto response = client.Request("POST", "/v1/enroll", "{}");
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().message.find("the server is not the CA"), std::string::npos);
  EXPECT_FALSE(client.request_sent());
}

TEST_F(ClientRequestSentTest, SentOnceWritten) {
  RunningServer server;
  uint16_t port = server.server().ListenTls("127.0.0.1:0", pki_.ServerContext()).value();
  auto client = HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port), pki_.ClientContext()).value();
  ASSERT_TRUE(client.Request("POST", "/v1/enroll", "{}"));
  EXPECT_TRUE(client.request_sent());
  // A request that cannot be built is not sent.
  ASSERT_FALSE(client.Request("POST", "no-slash"));
  EXPECT_FALSE(client.request_sent());
}

}  // namespace
}  // namespace mayfly::net
