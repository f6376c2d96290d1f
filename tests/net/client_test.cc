// HttpClient failures: each is kUnavailable naming the endpoint and the cause.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "net/net_test_util.h"
#include "support/temp_dir.h"

namespace mayfly::net::testing {
namespace client_test {

using boost::asio::ip::tcp;

// A TCP port that accepts connections (the kernel's backlog does) but never
// answers: a hung server.
class SilentPort {
 public:
  SilentPort() : acceptor_(ioc_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {}
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
};

// A port nothing listens on.
uint16_t ClosedPort() {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

void ExpectUnavailable(const Result<HttpResponse>& r, const std::string& endpoint,
                       const std::string& cause) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message.rfind(endpoint + ": ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find(cause), std::string::npos) << r.error().message;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = NetPki::Make(); }
  NetPki pki_;
};

TEST_F(ClientTest, ConnectionRefusedNamesTheUrl) {
  std::string url = "https://127.0.0.1:" + std::to_string(ClosedPort());
  auto client = HttpClient::ForUrl(url, pki_.ClientContext()).value();
  ExpectUnavailable(client.Request("GET", "/v1/bundle"), url, "connection refused");
}

TEST_F(ClientTest, AHungServerTimesOut) {
  SilentPort silent;
  std::string url = "https://127.0.0.1:" + std::to_string(silent.port());
  auto client = HttpClient::ForUrl(url, pki_.ClientContext(), ClientOptions{std::chrono::seconds(1)}).value();
  auto start = std::chrono::steady_clock::now();
  ExpectUnavailable(client.Request("GET", "/"), url, "TLS handshake: timed out after 1s");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ClientTest, AnUntrustedServerFailsVerificationWithOpensslsReason) {
  RunningServer server;
  uint16_t port = server.server().ListenTls("127.0.0.1:0", pki_.ServerContext()).value();
  NetPki other = NetPki::Make();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto client = HttpClient::ForUrl(url, other.ClientContext(false)).value();
  ExpectUnavailable(client.Request("GET", "/"), url,
                    "verifying the server's certificate failed: unable to get local issuer certificate");
}

TEST_F(ClientTest, TheServerNameIsChecked) {
  NetPki named = NetPki::Make({"ca.internal"});  // no DNS SAN "localhost"
  RunningServer server;
  uint16_t port = server.server().ListenTls("127.0.0.1:0", named.ServerContext()).value();
  std::string by_ip = "https://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(HttpClient::ForUrl(by_ip, named.ClientContext()).value().Request("GET", "/").has_value());
  std::string by_name = "https://localhost:" + std::to_string(port);
  auto client = HttpClient::ForUrl(by_name, named.ClientContext()).value();
  ExpectUnavailable(client.Request("GET", "/"), by_name, "hostname mismatch");
}

TEST_F(ClientTest, AMissingUnixSocketIsUnavailable) {
  mayfly::testing::TempDir dir;
  std::string path = dir.File("missing.sock");
  auto client = HttpClient::ForUnixSocket(path).value();
  ExpectUnavailable(client.Request("GET", "/"), path, "connecting");
}

TEST_F(ClientTest, AUrlPrefixIsPrependedToEveryTarget) {
  RunningServer server;
  uint16_t port = server.server().ListenTls("127.0.0.1:0", pki_.ServerContext()).value();
  auto client =
      HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port) + "/ca/", pki_.ClientContext()).value();
  auto res = client.Request("GET", "/v1/crl?format=pem");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  auto echo = ParseJson(res->body);
  EXPECT_EQ(echo["path"], "/ca/v1/crl");
  EXPECT_EQ(echo["query"].as_object()["format"], "pem");
}

TEST_F(ClientTest, UnusableUrlsAndRequestsAreInvalidArguments) {
  auto ctx = pki_.ClientContext();
  for (const char* url : {"ftp://x:1", "https://", "https://host:0", "https://::1:443", "https://h:1/a?b"}) {
    auto r = HttpClient::ForUrl(url, ctx);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << url;
  }
  EXPECT_FALSE(HttpClient::ForUrl("https://127.0.0.1:8443", nullptr).has_value());
  EXPECT_TRUE(HttpClient::ForUrl("https://[::1]", ctx).has_value());
  auto client = HttpClient::ForUrl("https://127.0.0.1:1", ctx).value();
  EXPECT_EQ(client.Request("GET", "no-slash").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.Request("GET", "/", "", {{"X", "a\r\nInjected: 1"}}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.Request("GE T", "/").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace client_test
}  // namespace mayfly::net::testing
