// mayfly-agent once against a real mayfly-ca: enrollment, workload issuance,
// idempotence, a CA outage, revocation and a wrong pin.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace agent_once_test {

using testing::kAgentBinary;
using testing::RunCommand;

class AgentOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n"
             "dns = [\"web.internal\"]\nips = [\"127.0.0.1\"]\nttl = \"10m\"\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/api\"\nnode = \"node-*\"\n");
    ca_.Start();
    fingerprint_ = ca_.WriteToken("node-1", Path("token"));
    WriteConfig(fingerprint_);
  }

  std::string Path(const std::string& name) const { return ca_.Path(name); }

  void WriteConfig(const std::string& fingerprint) {
    testing::WriteTextFile(
        Path("agent.toml"),
        ca_.AgentTomlHead(fingerprint) +
        "crl_on_change = \"echo crl >> " + Path("crl-hook.log") + "\"\n"
        "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\ndns = [\"web.internal\"]\n"
        "ips = [\"127.0.0.1\"]\nttl = \"5m\"\ncert = \"" + Path("out/web.pem") + "\"\n"
        "key = \"" + Path("out/web.key") + "\"\nmode = \"0640\"\n"
        "on_renew = \"echo $MAYFLY_SERIAL >> " + Path("web-hook.log") + "\"\n"
        "[[workload]]\nspiffe_id = \"spiffe://example.org/api\"\nkey_type = \"ed25519\"\n"
        "cert = \"" + Path("out/api.pem") + "\"\nkey = \"" + Path("out/api.key") + "\"\n");
    mkdir(Path("out").c_str(), 0755);
  }

  testing::CommandResult Once() { return RunCommand(kAgentBinary + " once --config " + Path("agent.toml")); }

  std::string Serial(const std::string& pem_file) {
    auto cert = CertFromPem(ReadFile(Path(pem_file)).value_or(""));
    return cert ? CertSerialHex(cert->get()) : "";
  }
  int Lines(const std::string& file) {
    std::string text = ReadFile(Path(file)).value_or("");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  int Mode(const std::string& file) {
    struct stat st{};
    return stat(Path(file).c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  }
  void ExpectVerifies(const std::string& pem_file) {
    auto r = RunCommand("openssl verify -x509_strict -CAfile " + Path("out/bundle.pem") + " -untrusted " +
                        Path(pem_file) + " " + Path(pem_file));
    EXPECT_EQ(r.status, 0) << r.output;
    auto key_pub = RunCommand("openssl pkey -pubout -in " + Path(pem_file.substr(0, pem_file.size() - 4) + ".key"));
    auto cert_pub = RunCommand("openssl x509 -noout -pubkey -in " + Path(pem_file));
    EXPECT_EQ(key_pub.output, cert_pub.output) << pem_file;
  }

  testing::CaFixture ca_;
  std::string fingerprint_;
};

TEST_F(AgentOnceTest, EnrollsIssuesPublishesAndIsIdempotent) {
  auto first = Once();
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_EQ(first.output.find(ReadFile(Path("token")).value().substr(0, 20)), std::string::npos)
      << "the token must never be logged";
  EXPECT_EQ(Mode("agent"), 0700);
  EXPECT_EQ(Mode("agent/node.key"), 0600);
  ExpectVerifies("out/web.pem");
  ExpectVerifies("out/api.pem");
  EXPECT_EQ(Mode("out/web.key"), 0640);
  EXPECT_EQ(Mode("out/web.pem"), 0640);
  EXPECT_EQ(Mode("out/api.key"), 0600);
  auto node = RunCommand("openssl verify -x509_strict -CAfile " + Path("out/bundle.pem") + " -untrusted " +
                         Path("agent/node.pem") + " " + Path("agent/node.pem"));
  EXPECT_EQ(node.status, 0) << node.output;
  auto crl = RunCommand("openssl crl -noout -in " + Path("out/crl.pem"));
  EXPECT_EQ(crl.status, 0) << crl.output;
  EXPECT_EQ(Lines("web-hook.log"), 1);
  EXPECT_EQ(Lines("crl-hook.log"), 1);

  const std::string web = Serial("out/web.pem"), api = Serial("out/api.pem"), node_serial = Serial("agent/node.pem");
  auto second = Once();
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_EQ(Serial("out/web.pem"), web);
  EXPECT_EQ(Serial("out/api.pem"), api);
  EXPECT_EQ(Serial("agent/node.pem"), node_serial);
  EXPECT_EQ(Lines("web-hook.log"), 1);
  EXPECT_EQ(Lines("crl-hook.log"), 1);

  auto status = RunCommand(kAgentBinary + " status --json --config " + Path("agent.toml"));
  ASSERT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find(web), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("spiffe://example.org/mayfly/node/node-1"), std::string::npos) << status.output;
}

TEST_F(AgentOnceTest, CaDownKeepsTheFilesAndRecoversAfterRestart) {
  ASSERT_EQ(Once().status, 0);
  const std::string cert = ReadFile(Path("out/web.pem")).value(), key = ReadFile(Path("out/web.key")).value();
  // Make the workload due so the agent must call the CA.
  testing::WriteTextFile(Path("out/web.key"), ReadFile(Path("out/api.key")).value());
  const std::string mismatched_key = ReadFile(Path("out/web.key")).value();
  ca_.Stop();
  auto down = Once();
  EXPECT_NE(down.status, 0) << down.output;
  EXPECT_NE(down.output.find("mayfly-agent: "), std::string::npos) << down.output;
  EXPECT_EQ(ReadFile(Path("out/web.pem")).value(), cert);
  EXPECT_EQ(ReadFile(Path("out/web.key")).value(), mismatched_key);
  EXPECT_EQ(Lines("web-hook.log"), 1);

  ca_.Start();
  WriteConfig(fingerprint_);
  auto back = Once();
  ASSERT_EQ(back.status, 0) << back.output;
  EXPECT_NE(ReadFile(Path("out/web.pem")).value(), cert);
  ExpectVerifies("out/web.pem");
  EXPECT_EQ(Lines("web-hook.log"), 2);
  (void)key;
}

TEST_F(AgentOnceTest, RevokedWorkloadIsPublishedAndReplaced) {
  ASSERT_EQ(Once().status, 0);
  const std::string web = Serial("out/web.pem"), api = Serial("out/api.pem");
  auto revoke = ca_.Cli("revoke --serial " + web);
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  auto again = Once();
  ASSERT_EQ(again.status, 0) << again.output;
  auto listed = RunCommand("openssl crl -noout -text -in " + Path("out/crl.pem"));
  std::string upper = web;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_NE(listed.output.find(upper), std::string::npos) << listed.output;
  EXPECT_NE(Serial("out/web.pem"), web);
  EXPECT_EQ(Serial("out/api.pem"), api);
  EXPECT_EQ(Lines("web-hook.log"), 2);
  EXPECT_EQ(Lines("crl-hook.log"), 2);
}

TEST_F(AgentOnceTest, RevokedNodeNeedsANewTokenThenReEnrolls) {
  ASSERT_EQ(Once().status, 0);
  const std::string node = Serial("agent/node.pem"), web = ReadFile(Path("out/web.pem")).value();
  auto revoke = ca_.Cli("revoke --node node-1");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  auto refused = Once();
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("join token"), std::string::npos) << refused.output;
  EXPECT_EQ(ReadFile(Path("out/web.pem")).value(), web) << "a refusal must not touch the files";

  ca_.WriteToken("node-1", Path("token"));
  auto again = Once();
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(Serial("agent/node.pem"), node);
  EXPECT_NE(ReadFile(Path("out/web.pem")).value(), web);
  ExpectVerifies("out/web.pem");
}

TEST_F(AgentOnceTest, ANodeKeyOthersCanReadIsRefused) {
  ASSERT_EQ(Once().status, 0);
  ASSERT_EQ(chmod(Path("agent/node.key").c_str(), 0644), 0);
  auto refused = Once();
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("node key " + Path("agent/node.key") + " is open to its group or others (mode 0644)"),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("chmod 600 " + Path("agent/node.key")), std::string::npos) << refused.output;
  ASSERT_EQ(chmod(Path("agent/node.key").c_str(), 0600), 0);
  ASSERT_EQ(chmod(Path("agent").c_str(), 0755), 0);
  refused = Once();
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("chmod 700 " + Path("agent")), std::string::npos) << refused.output;
  ASSERT_EQ(chmod(Path("agent").c_str(), 0700), 0);
  auto again = Once();
  EXPECT_EQ(again.status, 0) << again.output;
}

TEST_F(AgentOnceTest, KilledMidIssuanceItFinishesOnTheNextRun) {
  ASSERT_EQ(Once().status, 0);
  std::mt19937 random(20261126);
  int killed_while_running = 0;
  for (int round = 0; round < 12; ++round) {
    // Both workloads must be issued again: new keys, new certificates.
    std::filesystem::remove(Path("out/web.pem"));
    std::filesystem::remove(Path("out/api.pem"));
    auto agent = testing::ChildProcess::Start({kAgentBinary, "once", "--config", Path("agent.toml")});
    ASSERT_TRUE(agent);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 120)(random)));
    killed_while_running += agent->Stop(SIGKILL) == -SIGKILL ? 1 : 0;
    // The next run repairs whatever the kill left: both pairs whole and matching.
    auto again = Once();
    ASSERT_EQ(again.status, 0) << "round " << round << ": " << again.output;
    ExpectVerifies("out/web.pem");
    ExpectVerifies("out/api.pem");
    EXPECT_FALSE(std::filesystem::exists(Path("agent/node.key.next")));
  }
  EXPECT_GT(killed_while_running, 0) << "no kill landed while the agent was working";
  std::cout << "kills while issuing: " << killed_while_running << " of 12\n";
}

TEST_F(AgentOnceTest, WrongFingerprintIsRefusedAndNothingIsWritten) {
  WriteConfig("sha256:" + std::string(64, 'a'));
  auto r = Once();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("ca_fingerprint"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(Path("agent/node.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("agent/bundle.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("out/web.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("out/crl.pem")));
}

TEST_F(AgentOnceTest, MissingTokenFailsClearly) {
  std::filesystem::remove(Path("token"));
  auto r = Once();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("join token"), std::string::npos) << r.output;
}

}  // namespace agent_once_test
}  // namespace mayfly
