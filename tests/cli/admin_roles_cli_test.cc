// The real daemon: `mayfly-ca admin create | list | revoke`, the created
// credential used over mTLS with curl within its role, and the admin socket
// refusing a uid other than its owner's.
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace admin_roles_cli_test {

namespace json = boost::json;

class AdminRolesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ca_.Init(""));
    ASSERT_NO_FATAL_FAILURE(ca_.Start());
  }
  void TearDown() override { ca_.Stop(); }

  // curl with the credential in `dir`; returns the HTTP status, the body in `out`.
  int Curl(const std::string& dir, const std::string& args, const std::string& out) {
    auto r = testing::RunCommand("curl -s -o " + ca_.Path(out) + " -w '%{http_code}' --cacert " +
                                 ca_.Path("ca/root.pem") + " --cert " + ca_.Path(dir + "/admin.pem") + " --key " +
                                 ca_.Path(dir + "/admin.key") + " " + args);
    return std::atoi(r.output.c_str());
  }

  testing::CaFixture ca_;
};

TEST_F(AdminRolesCliTest, ViewerCreatedListedUsedAndRevoked) {
  auto create = ca_.Cli("admin create --name alice --role viewer --out " + ca_.Path("alice"));
  ASSERT_EQ(create.status, 0) << create.output;
  struct stat st{};
  ASSERT_EQ(stat(ca_.Path("alice/admin.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(create.output.find("PRIVATE KEY"), std::string::npos) << create.output;

  auto list = ca_.Cli("admin list");
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("alice"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("viewer"), std::string::npos) << list.output;

  EXPECT_EQ(Curl("alice", ca_.api() + "/v1/admin/certs", "certs.json"), 200);
  testing::WriteTextFile(ca_.Path("token.req"), "{\"node\":\"node-1\"}");
  EXPECT_EQ(Curl("alice", "-X POST --data @" + ca_.Path("token.req") + " " + ca_.api() + "/v1/admin/tokens",
                 "token.json"), 403);
  const std::string refused = ReadFile(ca_.Path("token.json")).value_or("");
  EXPECT_NE(refused.find("forbidden"), std::string::npos) << refused;
  EXPECT_NE(refused.find("operator"), std::string::npos) << refused;

  // The refusal is audited (type "refused", actor alice's identity); refused
  // events are batched, not flushed per call, so await them.
  std::string audit;
  EXPECT_TRUE(testing::WaitUntil([&] {
    audit = ca_.Cli("--json audit").output;
    return audit.find("\"refused\"") != std::string::npos &&
           audit.find("spiffe://example.org/mayfly/admin/alice") != std::string::npos;
  })) << audit;

  auto revoke = ca_.Cli("admin revoke --name alice");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  const int after = Curl("alice", ca_.api() + "/v1/admin/certs", "after.json");
  EXPECT_TRUE(after == 401 || after == 403 || after == 0) << after;
}

TEST_F(AdminRolesCliTest, BadRoleNamesTheFlag) {
  auto bad = ca_.Cli("admin create --name bob --role root --out " + ca_.Path("bob"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--role"), std::string::npos) << bad.output;
  EXPECT_NE(access(ca_.Path("bob/admin.key").c_str(), F_OK), 0);
  // What the API refuses by its JSON field is reported by the flag that set it.
  auto ttl = ca_.Cli("admin create --name bob --role viewer --ttl 5 --out " + ca_.Path("bob"));
  EXPECT_NE(ttl.status, 0);
  EXPECT_NE(ttl.output.find("--ttl"), std::string::npos) << ttl.output;
  EXPECT_EQ(ttl.output.find("field \"ttl\""), std::string::npos) << ttl.output;
  auto name = ca_.Cli("admin create --name 'b/b' --role viewer --out " + ca_.Path("bob"));
  EXPECT_NE(name.status, 0);
  EXPECT_NE(name.output.find("--name"), std::string::npos) << name.output;
  auto token = ca_.Cli("token create --node web-1 --ttl 99d");
  EXPECT_NE(token.status, 0);
  EXPECT_NE(token.output.find("--ttl"), std::string::npos) << token.output;
  EXPECT_EQ(token.output.find("field \"ttl\""), std::string::npos) << token.output;
}

// The admin socket answers only its owner uid and root: a child running as
// nobody (65534) connects and gets nothing back.
TEST_F(AdminRolesCliTest, SocketRefusesAnotherUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid (nobody)";
  const std::string sock = ca_.Path("admin.sock");
  // For this test only: let nobody reach the socket, so the refusal seen is
  // the daemon's peer check, not the file mode.
  for (std::string p = sock; p.size() > 1 && p != "/tmp"; p = p.substr(0, p.rfind('/'))) {
    struct stat st{};
    if (stat(p.c_str(), &st) == 0) chmod(p.c_str(), (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0711 : 0666));
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(3);
    const std::string req = "GET /v1/admin/certs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) _exit(0);  // closed already: refused
    char buf[64];
    const ssize_t n = read(fd, buf, sizeof buf);
    // Closed without an answer, or a 403: refused. A 200 would be a hole.
    _exit(n <= 0 || std::string(buf, n).find(" 403 ") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: setuid failed, 3: connect failed, 1: the daemon answered";
  // Root (the socket's owner here) is still served.
  EXPECT_EQ(ca_.Cli("admin list").status, 0);
  // The refusal is audited with the peer's uid (events are batched: await it).
  std::string audit;
  EXPECT_TRUE(testing::WaitUntil([&] {
    audit = ca_.Cli("--json audit").output;
    return audit.find("\"admin_refused\"") != std::string::npos && audit.find("uid:65534") != std::string::npos;
  })) << audit;
}

}  // namespace admin_roles_cli_test
}  // namespace mayfly
