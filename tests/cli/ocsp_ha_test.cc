// Two real daemons on one PostgreSQL store: a revocation made on one
// reaches the other's OCSP answers (already cached as good) within 2 s.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>

#include "support/child_process.h"
#include "support/pg_test_schema.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"
#include "support/wait.h"

namespace mayfly {
namespace ocsp_ha_test {

const std::string kBinary = std::string(MAYFLY_BINARY_DIR) + "/daemon/mayfly-ca";

struct Instance {
  std::string config;
  std::unique_ptr<testing::ChildProcess> process;
  std::string ocsp_url;
};

class OcspHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::PgTestSchema::NotConfigured(); !why.empty()) {
      if (testing::PgTestSchema::Required()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    auto schema = testing::PgTestSchema::Create();
    ASSERT_TRUE(schema) << schema.error().ToString();
    schema_ = std::move(*schema);
    testing::WriteTextFile(Path("pass"), "correct horse battery staple\n");
    ::chmod(Path("pass").c_str(), 0600);
    a_ = Configure("a");
    b_ = Configure("b");
    ASSERT_EQ(Cli(a_, "init").status, 0);
    ASSERT_EQ(Cli(b_, "init").status, 0);
    Start(a_);
    Start(b_);
  }

  void TearDown() override {
    for (Instance* instance : {&a_, &b_}) {
      if (instance->process) instance->process->Stop(SIGTERM);
    }
  }

  std::string Path(const std::string& name) const { return dir_.File(name); }

  Instance Configure(const std::string& name) {
    Instance instance{.config = Path("ca-" + name + ".toml")};
    testing::WriteTextFile(instance.config,
                           "trust_domain = \"example.org\"\n"
                           "state_dir = \"" + Path("state-" + name) + "\"\n"
                           "listen = \"127.0.0.1:0\"\n"
                           "metrics_listen = \"127.0.0.1:0\"\n"
                           "admin_socket = \"" + Path(name + ".sock") + "\"\n"
                           "server_names = [\"localhost\", \"127.0.0.1\"]\n"
                           "[ca]\nkey_passphrase_file = \"" + Path("pass") + "\"\n"
                           "[ocsp]\nlisten = \"127.0.0.1:0\"\n"
                           "[store]\nbackend = \"postgresql\"\nurl = \"" + schema_->url() + "\"\n"
                           "password_file = \"" + schema_->password_file() + "\"\n");
    return instance;
  }

  void Start(Instance& instance) {
    instance.process = testing::ChildProcess::Start({kBinary, "serve", "--config", instance.config});
    ASSERT_TRUE(instance.process);
    auto ready = instance.process->WaitForLine("ready ");
    ASSERT_TRUE(ready) << instance.process->output();
    const std::string key = "ocsp=127.0.0.1:";
    const size_t at = ready->find(key);
    ASSERT_NE(at, std::string::npos) << *ready;
    instance.ocsp_url = "http://127.0.0.1:" +
                        ready->substr(at + key.size(), ready->find_first_of(" \n", at + key.size()) -
                                                           at - key.size()) +
                        "/ocsp";
  }

  testing::CommandResult Cli(const Instance& instance, const std::string& args) {
    return testing::RunCommand(kBinary + " --config " + instance.config + " " + args);
  }

  std::string Ask(const Instance& instance) {
    return testing::RunCommand("openssl ocsp -no_nonce -issuer " + Path("state-a/intermediate.pem") + " -cert " +
                               Path("state-a/admin.pem") + " -url " + instance.ocsp_url + " -CAfile " +
                               Path("state-a/root.pem") + " 2>&1")
        .output;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PgTestSchema> schema_;
  Instance a_, b_;
};

TEST_F(OcspHaTest, RevocationOnOneInstanceReachesTheOthersAnswersWithinTwoSeconds) {
  std::string out = Ask(b_);
  ASSERT_NE(out.find("admin.pem: good"), std::string::npos) << out;
  ASSERT_NE(out.find("Response verify OK"), std::string::npos) << out;
  auto serial = testing::RunCommand("openssl x509 -noout -serial -in " + Path("state-a/admin.pem"));
  std::string hex = serial.output.substr(serial.output.find('=') + 1);
  hex.erase(hex.find_last_not_of("\r\n") + 1);
  auto revoke = Cli(a_, "revoke --serial " + hex);
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        out = Ask(b_);
        return out.find("admin.pem: revoked") != std::string::npos;
      },
      std::chrono::seconds(2)))
      << out;
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
}

}  // namespace ocsp_ha_test
}  // namespace mayfly
