// `signal` + `pid_file`: the real agent (root) signals the pid a pid file
// names only when the file is a regular file that root or the workload's
// owner wrote and no one else can write, and the pid is a process it may
// name.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace signal_pid_file_test {

using testing::kAgentBinary;
using testing::RunCommand;

struct Case {
  const char* name;
  const char* owner;  // the workload's owner
  // Makes run/web.pid (naming `pid`) as the case wants it.
  std::function<void(const std::string& pid_file, pid_t pid)> plant;
  const char* error;  // "" when the signal must be sent
  bool service_as_nobody = false;  // the service runs as nobody instead of root
  const char* on_renew = "";       // the workload's on_renew ($PID_FILE: the pid file's path)
};

uid_t Nobody() { return getpwnam("nobody")->pw_uid; }

void Plain(const std::string& path, pid_t pid, mode_t mode = 0644, uid_t uid = 0) {
  testing::WriteTextFile(path, std::to_string(pid) + "\n");
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
  ASSERT_EQ(chown(path.c_str(), uid, static_cast<gid_t>(-1)), 0);
}

const Case kCases[] = {
    {"RootOwned", "", [](const std::string& f, pid_t pid) { Plain(f, pid); }, ""},
    {"ASymbolicLink", "",
     [](const std::string& f, pid_t pid) {
       Plain(f + ".real", pid);
       ASSERT_EQ(symlink((f + ".real").c_str(), f.c_str()), 0);
     },
     "is a symbolic link; refusing to follow it"},
    {"WorldWritable", "", [](const std::string& f, pid_t pid) { Plain(f, pid, 0666); },
     "is writable by its group or others"},
    {"GroupWritable", "", [](const std::string& f, pid_t pid) { Plain(f, pid, 0664); },
     "is writable by its group or others"},
    {"OwnedByAnotherUser", "", [](const std::string& f, pid_t pid) { Plain(f, pid, 0644, Nobody()); },
     "neither root nor the workload's owner"},
    {"OwnersFileNamingARootProcess", "nobody", [](const std::string& f, pid_t pid) { Plain(f, pid, 0644, Nobody()); },
     "which runs as uid 0; refusing to signal it"},
    {"OwnersFileNamingItsProcess", "nobody",
     [](const std::string& f, pid_t pid) { Plain(f, pid, 0644, Nobody()); }, "", true},
    {"NamingInit", "", [](const std::string& f, pid_t) { Plain(f, 1); }, "names pid 1"},
    {"AFifo", "", [](const std::string& f, pid_t) { ASSERT_EQ(mkfifo(f.c_str(), 0644), 0); },
     "is not a regular file"},
    // The hook runs before the signal, as the agent's child: it names the agent.
    {"NamingTheAgent", "", [](const std::string&, pid_t) {}, "(init, the agent or its parent)", false,
     "echo $PPID > $PID_FILE"},
    {"NotAPid", "", [](const std::string& f, pid_t) { testing::WriteTextFile(f, "4194305 and more\n"); },
     "does not hold a process id"},
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class SignalPidFileTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: file owners are part of the test";
    ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n");
    ca_.Start();
    fingerprint_ = ca_.WriteToken("node-1", ca_.Path("token"));
    ASSERT_EQ(mkdir(ca_.Path("run").c_str(), 0755), 0);
    // The "service": a root process that says when it gets SIGHUP, and
    // answers SIGUSR1 with a marker (to tell when pending signals were seen).
    std::vector<std::string> argv = {"/bin/sh", "-c", "trap 'echo got-hup' HUP; trap 'echo marker' USR1; "
                                                      "echo ready; while :; do sleep 0.02; done"};
    if (GetParam().service_as_nobody) {
      argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
    }
    service_ = testing::ChildProcess::Start(argv);
    ASSERT_TRUE(service_ && service_->WaitForLine("ready"));
  }

  void WriteConfig(const std::string& owner, std::string on_renew) {
    for (size_t at; (at = on_renew.find("$PID_FILE")) != std::string::npos;) {
      on_renew.replace(at, 9, ca_.Path("run/web.pid"));
    }
    testing::WriteTextFile(ca_.Path("agent.toml"),
                           ca_.AgentTomlHead(fingerprint_) +
                               "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\n"
                               "cert = \"" + ca_.Path("out/web.pem") + "\"\nkey = \"" + ca_.Path("out/web.key") +
                               "\"\nsignal = \"HUP\"\npid_file = \"" + ca_.Path("run/web.pid") + "\"\n" +
                               (owner.empty() ? "" : "owner = \"" + owner + "\"\n") +
                               (on_renew.empty() ? "" : "on_renew = \"" + on_renew + "\"\n"));
  }

  // True when the service got SIGHUP: two SIGUSR1 markers later, any
  // SIGHUP sent before them has been handled.
  bool GotHup() {
    for (int i = 0; i < 2; ++i) {
      kill(service_->pid(), SIGUSR1);
      EXPECT_TRUE(service_->WaitForLine("marker"));
    }
    return service_->output().find("got-hup") != std::string::npos;
  }

  testing::CaFixture ca_;
  std::string fingerprint_;
  std::unique_ptr<testing::ChildProcess> service_;
};

TEST_P(SignalPidFileTest, RealAgent) {
  const Case& c = GetParam();
  WriteConfig(c.owner, c.on_renew);
  c.plant(ca_.Path("run/web.pid"), service_->pid());
  auto once = RunCommand(kAgentBinary + " once --config " + ca_.Path("agent.toml"));
  EXPECT_EQ(once.status, 0) << once.output;  // a signal not sent is logged, not fatal
  ASSERT_TRUE(std::filesystem::exists(ca_.Path("out/web.pem"))) << once.output;
  if (*c.error == '\0') {
    EXPECT_TRUE(GotHup()) << once.output;
    return;
  }
  EXPECT_NE(once.output.find("signal not sent"), std::string::npos) << once.output;
  EXPECT_NE(once.output.find(c.error), std::string::npos) << once.output;
  EXPECT_NE(once.output.find(ca_.Path("run/web.pid")), std::string::npos) << once.output;
  EXPECT_FALSE(GotHup()) << once.output;
}

INSTANTIATE_TEST_SUITE_P(PidFiles, SignalPidFileTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace signal_pid_file_test
}  // namespace mayfly
