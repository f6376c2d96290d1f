// `mayfly-ca init` run as a user would: files, modes, encryption, chains that
// `openssl verify -x509_strict` accepts, and a refusal to overwrite.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "mayfly/file_util.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace init_command_test {

const std::string kBinary = std::string(MAYFLY_BINARY_DIR) + "/daemon/mayfly-ca";

class InitCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTextFile(dir_.File("ca.toml"),
                           "trust_domain = \"example.org\"\n"
                           "state_dir = \"" + dir_.File("ca") + "\"\n"
                           "[ca]\nkey_passphrase_file = \"" + dir_.File("pass") + "\"\n");
  }
  testing::CommandResult Init(const std::string& extra = "") {
    return testing::RunCommand(kBinary + " init --config " + dir_.File("ca.toml") + " " + extra);
  }
  std::string Ca(const std::string& name) const { return dir_.File("ca/" + name); }
  testing::TempDir dir_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

TEST_F(InitCommandTest, CreatesAVerifiableEncryptedCa) {
  auto r = Init();
  ASSERT_EQ(r.status, 0) << r.output;

  EXPECT_EQ(ModeOf(dir_.File("ca")), 0700u);
  for (const char* key : {"root.key", "intermediate.key", "admin.key", "ca.db"}) {
    EXPECT_EQ(ModeOf(Ca(key)), 0600u) << key;
  }
  EXPECT_EQ(ModeOf(dir_.File("pass")), 0600u);
  for (const char* key : {"root.key", "intermediate.key"}) {
    EXPECT_NE(ReadFile(Ca(key))->find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos) << key;
  }

  std::string verify = "openssl verify -x509_strict -CAfile " + Ca("root.pem") + " ";
  auto inter = testing::RunCommand(verify + Ca("intermediate.pem"));
  EXPECT_EQ(inter.status, 0) << inter.output;
  auto admin = testing::RunCommand(verify + "-untrusted " + Ca("intermediate.pem") + " -purpose sslclient " +
                                   Ca("admin.pem"));
  EXPECT_EQ(admin.status, 0) << admin.output;
  auto crl = testing::RunCommand("openssl crl -noout -CAfile " + Ca("root.pem") + " -in " + Ca("root.crl.pem"));
  EXPECT_NE(crl.output.find("verify OK"), std::string::npos) << crl.output;

  // The printed fingerprint is the root's, as openssl computes it.
  auto fp = testing::RunCommand("openssl x509 -noout -fingerprint -sha256 -in " + Ca("root.pem"));
  std::string hex;
  for (char c : fp.output.substr(fp.output.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex.push_back(static_cast<char>(std::tolower(c)));
  }
  EXPECT_NE(r.output.find("sha256:" + hex), std::string::npos) << r.output;
}

TEST_F(InitCommandTest, RefusesToOverwriteAnExistingCa) {
  ASSERT_EQ(Init().status, 0);
  std::string root_before = ReadFile(Ca("root.pem")).value();
  auto again = Init();
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("refusing to overwrite"), std::string::npos) << again.output;
  EXPECT_EQ(ReadFile(Ca("root.pem")).value(), root_before);
}

TEST_F(InitCommandTest, JsonOutputAndConfigAfterTheSubcommand) {
  auto r = testing::RunCommand(kBinary + " --json init --config " + dir_.File("ca.toml"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"ca_fingerprint\":\"sha256:"), std::string::npos) << r.output;
}

TEST_F(InitCommandTest, ConfigErrorsAreOneClearLine) {
  auto missing = testing::RunCommand(kBinary + " init --config " + dir_.File("nope.toml"));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("nope.toml"), std::string::npos) << missing.output;
  testing::WriteTextFile(dir_.File("bad.toml"), "trust_domain = \"example.org\"\nbogus_key = 1\n");
  auto bad = testing::RunCommand(kBinary + " init --config " + dir_.File("bad.toml"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("bogus_key"), std::string::npos) << bad.output;
}

}  // namespace init_command_test
}  // namespace mayfly
