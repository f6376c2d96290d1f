// The agent (root) writes workload files into directories their services can
// write: no symbolic link planted there, before or during a write, may make
// it change or give away another file.
#include <gtest/gtest.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "agent_publish.h"
#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace mayfly {
namespace publish_links_test {

using testing::kAgentBinary;
using testing::RunCommand;
using testing::TempDir;

constexpr char kVictimText[] = "the node's private key\n";

struct stat StatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

// The attacker: a user who can write the output directory. Each time the
// agent renames a file into place (IN_MOVED_TO), it replaces that name at
// once with a symbolic link to `victim`, the instant between the agent's
// rename and whatever the agent does next by path.
class LinkSwapper {
 public:
  LinkSwapper(std::string dir, std::string victim) : dir_(std::move(dir)), victim_(std::move(victim)) {
    inotify_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    stop_ = eventfd(0, EFD_CLOEXEC);
    EXPECT_GE(inotify_, 0);
    EXPECT_GE(inotify_add_watch(inotify_, dir_.c_str(), IN_MOVED_FROM | IN_MOVED_TO), 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~LinkSwapper() {
    uint64_t one = 1;
    EXPECT_EQ(write(stop_, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    thread_.join();
    close(inotify_);
    close(stop_);
  }
  int swaps() const { return swaps_.load(); }

 private:
  void Run() {
    std::map<uint32_t, std::string> moved_from;  // rename cookie -> old name
    alignas(inotify_event) char buf[8192];
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {stop_, POLLIN, 0}};
    while (poll(fds, 2, -1) >= 0 && (fds[1].revents & POLLIN) == 0) {
      ssize_t n = read(inotify_, buf, sizeof buf);
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buf + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        const std::string name = event->len > 0 ? event->name : "";
        if (event->mask & IN_MOVED_FROM) moved_from[event->cookie] = name;
        if ((event->mask & IN_MOVED_TO) == 0) continue;
        // Its own renames (from ".swap-...") are not the agent's.
        if (moved_from[event->cookie].starts_with(".swap-")) continue;
        const std::string swap = dir_ + "/.swap-" + name;
        if (symlink(victim_.c_str(), swap.c_str()) == 0 && rename(swap.c_str(), (dir_ + "/" + name).c_str()) == 0) {
          ++swaps_;
        }
      }
    }
  }

  std::string dir_, victim_;
  int inotify_ = -1;
  int stop_ = -1;
  std::atomic<int> swaps_{0};
  std::thread thread_;
};

class PublishLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the agent's chown is what is under test";
    ASSERT_NE(getpwnam("nobody"), nullptr);
    ASSERT_NE(getgrnam("nogroup"), nullptr);
    ASSERT_EQ(mkdir(out().c_str(), 0777), 0);  // the service's user can write here
    ASSERT_EQ(mkdir(dir_.File("state").c_str(), 0700), 0);
    testing::WriteTextFile(victim(), kVictimText);
    ASSERT_EQ(chmod(victim().c_str(), 0600), 0);
    workload_.spiffe_id = "spiffe://example.org/web";
    workload_.cert = out() + "/web.pem";
    workload_.key = out() + "/web.key";
    workload_.owner = "nobody:nogroup";
    workload_.mode = 0640;
  }

  std::string out() const { return dir_.File("out"); }
  std::string victim() const { return dir_.File("state/node.key"); }

  void ExpectVictimUntouched() {
    struct stat st = StatOf(victim());
    EXPECT_EQ(st.st_uid, 0u) << "the victim was given away";
    EXPECT_EQ(st.st_gid, 0u) << "the victim was given away";
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(ReadFile(victim()).value_or(""), kVictimText);
  }

  TempDir dir_;
  WorkloadConfig workload_;
};

TEST_F(PublishLinksTest, ALinkSwappedInAfterEachRenameGivesNothingAway) {
  constexpr int kRounds = 200;
  LinkSwapper attacker(out(), victim());
  int written = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto r = agent::WriteWorkloadFiles(workload_, "key " + std::to_string(round) + "\n",
                                       "cert " + std::to_string(round) + "\n");
    written += r.has_value() ? 1 : 0;
    // Both renames were answered with a link before the next round starts.
    ASSERT_TRUE(testing::WaitUntil([&] { return attacker.swaps() >= 2 * (round + 1); }))
        << "round " << round << ": " << (r ? "written" : r.error().message);
    std::filesystem::remove(workload_.key);
    std::filesystem::remove(workload_.cert);
  }
  EXPECT_EQ(written, kRounds);
  ExpectVictimUntouched();
}

TEST_F(PublishLinksTest, ALinkAtTheTargetIsRefusedAndItsTargetUntouched) {
  ASSERT_EQ(symlink(victim().c_str(), workload_.key.c_str()), 0);
  auto r = agent::WriteWorkloadFiles(workload_, "key\n", "cert\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(workload_.key + " is a symbolic link"), std::string::npos) << r.error().message;
  EXPECT_TRUE(S_ISLNK(StatOf(workload_.key).st_mode)) << "the link is left for the administrator to see";
  EXPECT_FALSE(std::filesystem::exists(workload_.cert));
  ExpectVictimUntouched();
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(out())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(PublishLinksTest, AnOutputDirectoryThatIsALinkIsRefused) {
  const std::string linked = dir_.File("linked");
  ASSERT_EQ(symlink(dir_.File("state").c_str(), linked.c_str()), 0);
  workload_.key = linked + "/node.key";
  workload_.cert = linked + "/web.pem";
  auto r = agent::WriteWorkloadFiles(workload_, "key\n", "cert\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("directory " + linked + " is a symbolic link"), std::string::npos)
      << r.error().message;
  ExpectVictimUntouched();
  EXPECT_FALSE(std::filesystem::exists(dir_.File("state/web.pem")));
}

TEST_F(PublishLinksTest, OwnerAndModeAreThoseOfTheWorkload) {
  ASSERT_TRUE(agent::WriteWorkloadFiles(workload_, "key\n", "cert\n"));
  for (const std::string& path : {workload_.key, workload_.cert}) {
    struct stat st = StatOf(path);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << path;
    EXPECT_EQ(st.st_uid, getpwnam("nobody")->pw_uid) << path;
    EXPECT_EQ(st.st_gid, getgrnam("nogroup")->gr_gid) << path;
    EXPECT_EQ(st.st_mode & 07777, 0640u) << path;
  }
  workload_.owner = "nobody:no-such-group-here";
  auto r = agent::WriteWorkloadFiles(workload_, "key2\n", "cert2\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no group named no-such-group-here"), std::string::npos) << r.error().message;
  EXPECT_EQ(ReadFile(workload_.key).value_or(""), "key\n") << "nothing is written for an unknown owner";
}

// The real agent against a real CA: owner and mode as configured, nothing
// else left in the directory.
TEST_F(PublishLinksTest, TheAgentWritesAWorkloadWithOwnerAndMode) {
  testing::CaFixture ca;
  ca.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n");
  ca.Start();
  const std::string fingerprint = ca.WriteToken("node-1", ca.Path("token"));
  testing::WriteTextFile(ca.Path("agent.toml"),
                         ca.AgentTomlHead(fingerprint) +
                             "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\n"
                             "cert = \"" + out() + "/web.pem\"\nkey = \"" + out() + "/web.key\"\n"
                             "owner = \"nobody:nogroup\"\nmode = \"0640\"\n");
  auto once = RunCommand(kAgentBinary + " once --config " + ca.Path("agent.toml"));
  ASSERT_EQ(once.status, 0) << once.output;
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(out())) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"web.key", "web.pem"}));
  for (const char* name : {"web.key", "web.pem"}) {
    struct stat st = StatOf(out() + "/" + std::string(name));
    EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
    EXPECT_EQ(st.st_uid, getpwnam("nobody")->pw_uid) << name;
    EXPECT_EQ(st.st_gid, getgrnam("nogroup")->gr_gid) << name;
    EXPECT_EQ(st.st_mode & 07777, 0640u) << name;
  }
  auto pub = RunCommand("openssl pkey -pubout -in " + out() + "/web.key");
  auto cert_pub = RunCommand("openssl x509 -noout -pubkey -in " + out() + "/web.pem");
  EXPECT_EQ(pub.output, cert_pub.output);
}

}  // namespace publish_links_test
}  // namespace mayfly
