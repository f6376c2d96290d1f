// The mission end to end: nginx terminates mutual TLS with the certificate,
// bundle and CRL that mayfly-agent wrote; a client with an agent-issued
// certificate gets in, and once an operator revokes it, it no longer does.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/nginx.h"

namespace mayfly {
namespace nginx_mtls_test {

using testing::kAgentBinary;
using testing::RunCommand;

class NginxMtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n"
             "dns = [\"localhost\"]\nips = [\"127.0.0.1\"]\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/client\"\nnode = \"node-1\"\n");
    ca_.Start();
    const std::string fingerprint = ca_.WriteToken("node-1", Path("token"));
    // The CRL hook reloads nginx, as an operator would configure it.
    testing::WriteTextFile(
        Path("agent.toml"),
        ca_.AgentTomlHead(fingerprint) +
        "crl_on_change = \"test -f " + Path("nginx.pid") + " && kill -HUP $(cat " + Path("nginx.pid") + ") || true\"\n"
        "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\ndns = [\"localhost\"]\nips = [\"127.0.0.1\"]\n"
        "cert = \"" + Path("out/web.pem") + "\"\nkey = \"" + Path("out/web.key") + "\"\n"
        "[[workload]]\nspiffe_id = \"spiffe://example.org/client\"\n"
        "cert = \"" + Path("out/client.pem") + "\"\nkey = \"" + Path("out/client.key") + "\"\n");
    auto once = Once();
    ASSERT_EQ(once.status, 0) << once.output;
    std::string error;
    nginx_ = testing::Nginx::Start(ca_.Path(""), testing::AgentOutFiles(ca_.Path("")), error);
    ASSERT_TRUE(nginx_) << error;
  }

  std::string Path(const std::string& name) const { return ca_.Path(name); }
  testing::CommandResult Once() { return RunCommand(kAgentBinary + " once --config " + Path("agent.toml")); }

  // curl through nginx with this client certificate (none when empty); the
  // server is checked against the agent's bundle. Returns the HTTP status,
  // 0 when the TLS handshake itself failed.
  int Get(const std::string& cert = "out/client.pem", const std::string& key = "out/client.key") {
    std::string cmd = "curl -s -o " + Path("body.txt") + " -w '%{http_code}' --cacert " + Path("out/bundle.pem");
    if (!cert.empty()) cmd += " --cert " + Path(cert) + " --key " + Path(key);
    return std::atoi(RunCommand(cmd + " " + nginx_->url()).output.c_str());
  }

  // Waits until nginx answers `status`: it reloads asynchronously.
  int Await(int status, const std::string& cert = "out/client.pem", const std::string& key = "out/client.key") {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int got = Get(cert, key);
    while (got != status && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      got = Get(cert, key);
    }
    return got;
  }

  testing::CaFixture ca_;
  std::unique_ptr<testing::Nginx> nginx_;
};

TEST_F(NginxMtlsTest, AnIssuedClientGetsInUntilItIsRevoked) {
  ASSERT_EQ(Get(), 200) << nginx_->error_log();
  EXPECT_NE(ReadFile(Path("body.txt")).value_or("").find("verified"), std::string::npos);
  // nginx answers 400 to a client without a certificate.
  EXPECT_EQ(Get("", ""), 400);

  auto cert = CertFromPem(ReadFile(Path("out/client.pem")).value_or(""));
  ASSERT_TRUE(cert);
  const std::string serial = CertSerialHex(cert->get());
  // Keep the revoked pair: the agent replaces its own revoked certificate,
  // and a stolen copy is what must stop working.
  ASSERT_EQ(RunCommand("cp " + Path("out/client.pem") + " " + Path("stolen.pem") + " && cp " +
                       Path("out/client.key") + " " + Path("stolen.key")).status,
            0);
  auto revoke = ca_.Cli("revoke --serial " + serial + " --reason keyCompromise");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  auto once = Once();  // publishes the new CRL; its hook reloads nginx
  ASSERT_EQ(once.status, 0) << once.output;

  EXPECT_EQ(Await(400, "stolen.pem", "stolen.key"), 400)
      << "nginx still accepts the revoked certificate\n" << nginx_->error_log();
  EXPECT_NE(nginx_->error_log().find("certificate revoked"), std::string::npos) << nginx_->error_log();

  // The agent already replaced its own revoked certificate: the workload is
  // back in with a new one.
  auto replaced = CertFromPem(ReadFile(Path("out/client.pem")).value_or(""));
  ASSERT_TRUE(replaced);
  EXPECT_NE(CertSerialHex(replaced->get()), serial);
  EXPECT_EQ(Await(200), 200) << nginx_->error_log();
}

}  // namespace nginx_mtls_test
}  // namespace mayfly
