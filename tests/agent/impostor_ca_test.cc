// A certificate of the CA's own PKI that names the CA's address is not the
// CA: a real mayfly-ca issues a workload certificate with IP SAN 127.0.0.1
// (its registration entry allows it), an impostor HTTPS server on 127.0.0.1
// presents it and serves an attacker's root at /v1/bundle, and the real agent
// and the admin CLI (--server) must refuse to talk to it: the error names
// what it presented and the CA's SPIFFE ID, no request reaches it, and the
// agent's trusted roots stay as they were.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "net/net_test_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace impostor_ca_test {

using testing::kAgentBinary;
using testing::kCaBinary;
using testing::RunCommand;

constexpr char kWorkloadId[] = "spiffe://example.org/web";
constexpr char kCaId[] = "spiffe://example.org/mayfly/ca";

class ImpostorCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[[entry]]\nspiffe_id = \"" + std::string(kWorkloadId) + "\"\nnode = \"node-1\"\n"
             "ips = [\"127.0.0.1\"]\n");
    ca_.Start();
    fingerprint_ = ca_.WriteToken("node-1", Path("token"));
    mkdir(Path("out").c_str(), 0755);
    testing::WriteTextFile(Path("agent.toml"), AgentToml(ca_.api()));
    auto once = Once("agent.toml");
    ASSERT_EQ(once.status, 0) << once.output;
    trusted_ = File("agent/bundle.pem");
    published_ = File("out/bundle.pem");
    ASSERT_FALSE(trusted_.empty());
    ASSERT_EQ(published_, trusted_);

    // The impostor: the workload certificate the agent just got (it chains
    // to the CA's root and names 127.0.0.1), serving another PKI's root.
    attacker_root_ = CertToPem(testing::TestPki::Make()->root.get()).value();
    auto key = LoadKeyFile(Path("out/web.key"));
    ASSERT_TRUE(key) << key.error().ToString();
    auto tls = net::MakeServerTlsContext({.cert_chain_pem = File("out/web.pem"), .key = key->get(),
                                          .client_trust_pem = File("ca/root.pem")});
    ASSERT_TRUE(tls) << tls.error().ToString();
    impostor_ = std::make_unique<net::testing::RunningServer>([this](net::HttpRequest request, net::Respond respond) {
      ++requests_;
      net::HttpResponse response;
      if (request.path == "/v1/bundle") {
        response.content_type = "application/x-pem-file";
        // The real root first: a first contact that pins it would go on.
        response.body = File("ca/root.pem") + attacker_root_;
      } else {
        response.body = "{}";
      }
      respond(std::move(response));
    });
    auto port = impostor_->server().ListenTls("127.0.0.1:0", *tls);
    ASSERT_TRUE(port) << port.error().ToString();
    impostor_url_ = "https://127.0.0.1:" + std::to_string(*port);
  }

  std::string Path(const std::string& name) const { return ca_.Path(name); }
  std::string File(const std::string& name) const { return ReadFile(Path(name)).value_or(""); }

  std::string AgentToml(const std::string& server, const std::string& state = "agent") const {
    return "server = \"" + server + "\"\n"
           "ca_fingerprint = \"" + fingerprint_ + "\"\n"
           "join_token_file = \"" + Path("token") + "\"\n"
           "state_dir = \"" + Path(state) + "\"\n"
           "crl_path = \"" + Path("out/crl.pem") + "\"\n"
           "bundle_path = \"" + Path("out/bundle.pem") + "\"\n"
           "[[workload]]\nspiffe_id = \"" + kWorkloadId + "\"\nips = [\"127.0.0.1\"]\n"
           "cert = \"" + Path("out/web.pem") + "\"\nkey = \"" + Path("out/web.key") + "\"\n";
  }

  testing::CommandResult Once(const std::string& config) {
    return RunCommand(kAgentBinary + " once --config " + Path(config));
  }

  // The refusal names what the impostor presented and what was expected.
  static void ExpectNamesTheImpostor(const std::string& output, const std::string& expected) {
    EXPECT_NE(output.find("the server is not the CA: it presents \"" + std::string(kWorkloadId) + "\", expected " +
                          expected),
              std::string::npos)
        << output;
  }

  testing::CaFixture ca_;
  std::string fingerprint_;
  std::string trusted_, published_, attacker_root_;
  std::atomic<int> requests_{0};  // before impostor_: its handler counts here
  std::unique_ptr<net::testing::RunningServer> impostor_;
  std::string impostor_url_;
};

TEST_F(ImpostorCaTest, TheAgentRefusesAServerWithoutTheCasIdAndKeepsItsRoots) {
  testing::WriteTextFile(Path("impostor.toml"), AgentToml(impostor_url_));
  auto refused = Once("impostor.toml");
  EXPECT_NE(refused.status, 0) << refused.output;
  ExpectNamesTheImpostor(refused.output, kCaId);
  EXPECT_EQ(requests_.load(), 0) << "no request may reach the impostor";
  EXPECT_EQ(File("agent/bundle.pem"), trusted_);
  EXPECT_EQ(File("out/bundle.pem"), published_);
  EXPECT_EQ(File("agent/bundle.pem").find(attacker_root_), std::string::npos);

  // The real CA is still trusted.
  auto back = Once("agent.toml");
  EXPECT_EQ(back.status, 0) << back.output;
  EXPECT_EQ(File("agent/bundle.pem"), trusted_);
}

TEST_F(ImpostorCaTest, AnEnrollingAgentRefusesItBeforeSendingTheToken) {
  // A new agent pinned to the real root: first contact fetches the bundle
  // unverified and keeps only the pinned root (the impostor serves it), then
  // enrollment must find no CA behind the impostor's certificate.
  fingerprint_ = ca_.WriteToken("node-1", Path("token"));
  testing::WriteTextFile(Path("impostor.toml"), AgentToml(impostor_url_, "fresh-agent"));
  auto refused = Once("impostor.toml");
  EXPECT_NE(refused.status, 0) << refused.output;
  ExpectNamesTheImpostor(refused.output, "spiffe://<any trust domain>/mayfly/ca");
  EXPECT_EQ(requests_.load(), 1) << "only the unverified first-contact GET /v1/bundle";
  EXPECT_FALSE(std::filesystem::exists(Path("fresh-agent/node.pem")));
  EXPECT_EQ(File("fresh-agent/bundle.pem"), File("ca/root.pem"));
}

TEST_F(ImpostorCaTest, TheAdminCliRefusesItWithServer) {
  const std::string remote = kCaBinary + " --cert " + Path("ca/admin.pem") + " --key " + Path("ca/admin.key") +
                             " --ca-bundle " + Path("ca/root.pem") + " --server ";
  auto real = RunCommand(remote + ca_.api() + " certs");
  ASSERT_EQ(real.status, 0) << real.output;

  auto refused = RunCommand(remote + impostor_url_ + " certs");
  EXPECT_NE(refused.status, 0) << refused.output;
  ExpectNamesTheImpostor(refused.output, kCaId);
  EXPECT_EQ(requests_.load(), 0) << "no request may reach the impostor";

  auto revoke = RunCommand(remote + impostor_url_ + " revoke --node node-1");
  EXPECT_NE(revoke.status, 0) << revoke.output;
  EXPECT_EQ(requests_.load(), 0) << "no request may reach the impostor";
}

}  // namespace impostor_ca_test
}  // namespace mayfly
