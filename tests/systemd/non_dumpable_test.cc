// Both daemons make themselves non-dumpable first thing (keys sit in their
// memory): started as an unprivileged user, their /proc/<pid> files belong
// to root, the kernel's sign of a non-dumpable process (a dumpable one's
// belong to its user).
#include <gtest/gtest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace non_dumpable_test {

using testing::ChildProcess;

class NonDumpableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to start the daemons as another user";
    ASSERT_NE(getpwnam("nobody"), nullptr);
    ASSERT_NE(getgrnam("nogroup"), nullptr);
  }

  // The process runs as nobody, and its /proc/<pid> files belong to root.
  static void ExpectNonDumpable(pid_t pid) {
    struct stat st {};
    ASSERT_EQ(stat(("/proc/" + std::to_string(pid) + "/status").c_str(), &st), 0);
    std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status").value_or("");
    const uid_t nobody = getpwnam("nobody")->pw_uid;
    EXPECT_NE(status.find("\nUid:\t" + std::to_string(nobody)), std::string::npos)
        << "the process does not run as nobody:\n" << status;
    EXPECT_EQ(st.st_uid, 0u) << "a dumpable process's /proc files belong to its user";
  }

  // Hands `dir` to nobody and starts `argv` as nobody (setpriv).
  static std::unique_ptr<ChildProcess> StartAsNobody(const std::string& dir, std::vector<std::string> argv) {
    auto r = testing::RunCommand("chown -R nobody:nogroup " + dir);
    EXPECT_EQ(r.status, 0) << r.output;
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
    return ChildProcess::Start(argv);
  }
};

TEST_F(NonDumpableTest, Agent) {
  testing::TempDir dir;
  ASSERT_EQ(mkdir(dir.File("agent").c_str(), 0700), 0);
  // A CA that does not answer: the agent keeps retrying, logging each try.
  testing::WriteTextFile(dir.File("agent.toml"),
                         "server = \"https://127.0.0.1:1\"\n"
                         "ca_fingerprint = \"sha256:" + std::string(64, 'a') + "\"\n"
                         "state_dir = \"" + dir.File("agent") + "\"\n");
  auto agent = StartAsNobody(dir.path(), {testing::kAgentBinary, "run", "--config", dir.File("agent.toml")});
  ASSERT_TRUE(agent);
  // Past main's first lines: it is logging its first pass.
  ASSERT_TRUE(agent->WaitForLineContaining("first contact")) << agent->output();
  ExpectNonDumpable(agent->pid());
  agent->Stop(SIGTERM);
}

TEST_F(NonDumpableTest, Ca) {
  testing::CaFixture ca;
  ca.Init("");
  auto daemon = StartAsNobody(ca.Path(""), {testing::kCaBinary, "serve", "--config", ca.Path("ca.toml")});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(daemon->WaitForLine("ready ")) << daemon->output();
  ExpectNonDumpable(daemon->pid());
  EXPECT_EQ(daemon->Stop(SIGTERM), 0) << daemon->output();
}

}  // namespace non_dumpable_test
}  // namespace mayfly
