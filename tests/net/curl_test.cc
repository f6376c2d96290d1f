// Real TLS clients against the API listener: curl and openssl s_client check
// mTLS, the version floor and session resumption.
#include <gtest/gtest.h>

#include "mayfly/keys.h"
#include "net/net_test_util.h"
#include "support/temp_dir.h"

namespace mayfly::net::testing {
namespace curl_test {

using mayfly::testing::RunCommand;
using mayfly::testing::TempDir;
using mayfly::testing::WriteTextFile;

class RealClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = NetPki::Make();
    root_ = dir_.File("root.pem");
    cert_ = dir_.File("client.pem");
    key_ = dir_.File("client.key");
    WriteTextFile(root_, pki_.root_pem);
    WriteTextFile(cert_, pki_.client_chain_pem);
    WriteTextFile(key_, PrivateKeyToPem(pki_.client_key.get()).value());
  }

  uint16_t Listen(RunningServer& server, std::string min_version = "1.3") {
    return server.server().ListenTls("127.0.0.1:0", pki_.ServerContext(std::move(min_version))).value();
  }
  std::string Curl(uint16_t port, const std::string& extra) {
    return "curl -sS --max-time 10 --cacert " + root_ + " " + extra + " https://127.0.0.1:" +
           std::to_string(port) + "/v1/echo?spiffe_id=x";
  }
  std::string SClient(uint16_t port, const std::string& extra) {
    return "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " + root_ + " " +
           extra + " < /dev/null";
  }

  NetPki pki_;
  TempDir dir_;
  std::string root_, cert_, key_;
};

TEST_F(RealClientTest, CurlWithAClientCertificate) {
  RunningServer server;
  uint16_t port = Listen(server);
  auto r = RunCommand(Curl(port, "--cert " + cert_ + " --key " + key_));
  ASSERT_EQ(r.status, 0) << r.output;
  auto echo = ParseJson(r.output);
  EXPECT_EQ(echo["client_id"], kClientId);
  EXPECT_EQ(echo["query"].as_object()["spiffe_id"], "x");
}

TEST_F(RealClientTest, PipelinedRequestsAndLargeBodiesCrossTlsRecords) {
  RunningServer server;
  uint16_t port = Listen(server);
  // Two requests in one write, the first with a body spanning several TLS
  // records (and several of the server's socket reads), echoed back in a
  // response that spans several records too.
  const std::string big(60 * 1024, 'x');  // under the 64 KiB max_body
  WriteTextFile(dir_.File("requests.txt"),
                "POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(big.size()) +
                    "\r\n\r\n" + big + "GET /v1/echo?second=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  auto r = RunCommand("openssl s_client -quiet -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " + root_ +
                      " -cert " + cert_ + " -cert_chain " + cert_ + " -key " + key_ + " < " +
                      dir_.File("requests.txt") + " 2>/dev/null");
  size_t first = r.output.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << r.output.substr(0, 300) << "..."
                                      << r.output.substr(r.output.size() > 600 ? r.output.size() - 600 : 0);
  EXPECT_NE(r.output.find("HTTP/1.1 200", first + 1), std::string::npos) << "the pipelined second request";
  EXPECT_NE(r.output.find(big), std::string::npos) << "the 60 KiB body echoed whole";
  EXPECT_NE(r.output.find("\"second\":\"1\""), std::string::npos);
}

TEST_F(RealClientTest, CurlWithoutAClientCertificateStillConnects) {
  RunningServer server;
  auto r = RunCommand(Curl(Listen(server), ""));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(ParseJson(r.output)["has_cert"], false);
}

TEST_F(RealClientTest, CurlLimitedToTls12IsRefusedByDefault) {
  RunningServer server;
  auto r = RunCommand(Curl(Listen(server), "--tlsv1.2 --tls-max 1.2"));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
}

TEST_F(RealClientTest, Tls12WorksWhenAllowedWithAnAeadCipher) {
  RunningServer server;
  uint16_t port = Listen(server, "1.2");
  auto r = RunCommand(Curl(port, "--tlsv1.2 --tls-max 1.2 --cert " + cert_ + " --key " + key_));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(ParseJson(r.output)["client_id"], kClientId);
  // A CBC suite is never negotiated, even at 1.2.
  auto cbc = RunCommand(SClient(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256"));
  EXPECT_NE(cbc.status, 0) << cbc.output;
  // Nor anything older than 1.2: a client willing to speak TLS 1.0 and 1.1
  // (security level 0 lifts OpenSSL's own client-side ban) is refused.
  for (const char* old_version : {"-tls1", "-tls1_1"}) {
    auto r = RunCommand(SClient(port, std::string(old_version) + " -cipher DEFAULT:@SECLEVEL=0"));
    EXPECT_NE(r.status, 0) << old_version << ": " << r.output;
    EXPECT_EQ(r.output.find("Cipher is ECDHE"), std::string::npos) << old_version << ": " << r.output;
  }
}

TEST_F(RealClientTest, OpensslSClientTls12IsRefused) {
  RunningServer server;
  uint16_t port = Listen(server);
  auto r = RunCommand(SClient(port, "-tls1_2"));
  EXPECT_NE(r.status, 0) << r.output;
  auto ok = RunCommand(SClient(port, "-tls1_3 -verify_return_error"));
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("TLSv1.3"), std::string::npos) << ok.output;
}

TEST_F(RealClientTest, Tls13SessionsResumeWithTickets) {
  RunningServer server;
  uint16_t port = Listen(server);
  std::string session = dir_.File("session.pem");
  // s_client sends only the first certificate of -cert; -cert_chain adds the
  // intermediate the server needs to reach its root.
  std::string mtls = "-cert " + cert_ + " -cert_chain " + cert_ + " -key " + key_ + " ";
  // -ign_eof with an HTTP request keeps the connection until the tickets arrive.
  auto first = RunCommand("printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
                          "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                          root_ + " " + mtls + "-sess_out " + session + " -ign_eof");
  ASSERT_EQ(first.status, 0) << first.output;
  auto second = RunCommand("printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
                           "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                           root_ + " " + mtls + "-sess_in " + session + " -ign_eof");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("Reused, TLSv1.3"), std::string::npos) << second.output;
  // The resumed session still carries the verified client certificate.
  EXPECT_NE(second.output.find(kClientId), std::string::npos) << second.output;
}

}  // namespace curl_test
}  // namespace mayfly::net::testing
