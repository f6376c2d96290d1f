// mayfly-agent with several CA servers (`servers = [...]`) against a real
// mayfly-ca: a dead first server costs no enrollment and no renewal, it is
// not retried on every call while it stays dead, a server killed mid-run
// causes no lapse, and one that comes back is used again. The second
// "server" is the same daemon reached through a TCP relay (one CA, two
// addresses) that the test can kill and restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/lapse_watch.h"
#include "support/tcp_relay.h"
#include "support/wait.h"

namespace mayfly {
namespace agent_failover_test {

using testing::kAgentBinary;
using testing::LapseWatch;
using testing::TcpRelay;
using testing::WaitUntil;

// Short lifetimes so renewals come every few seconds: workload certificates
// live 10 s (renewed after about 5 s), the node's 20 s.
constexpr const char* kShortTtls =
    "[issuance]\nmin_ttl = \"10s\"\ndefault_ttl = \"10s\"\nnode_ttl = \"20s\"\nbackdate = \"1s\"\n"
    "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\nttl = \"10s\"\n";

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

// A 127.0.0.1 port with nothing listening on it.
uint16_t DeadPort() {
  TcpRelay probe(0);
  EXPECT_TRUE(probe.Start());
  return probe.port();  // closed again when `probe` goes
}

class AgentFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init(kShortTtls);
    ca_.Start();
    fingerprint_ = ca_.WriteToken("node-1", ca_.Path("token"));
  }

  void WriteAgentToml(const std::vector<std::string>& servers) {
    std::string list;
    for (const std::string& s : servers) list += (list.empty() ? "\"" : ", \"") + s + "\"";
    testing::WriteTextFile(ca_.Path("agent.toml"),
                           "servers = [" + list + "]\n"
                           "ca_fingerprint = \"" + fingerprint_ + "\"\n"
                           "join_token_file = \"" + ca_.Path("token") + "\"\n"
                           "state_dir = \"" + ca_.Path("agent") + "\"\n"
                           "crl_path = \"" + ca_.Path("out/crl.pem") + "\"\n"
                           "refresh = \"1s\"\n"
                           "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\nttl = \"10s\"\n"
                           "cert = \"" + ca_.Path("web.pem") + "\"\nkey = \"" + ca_.Path("web.key") + "\"\n");
  }

  std::unique_ptr<testing::ChildProcess> StartAgent() {
    auto agent = testing::ChildProcess::Start({kAgentBinary, "run", "--config", ca_.Path("agent.toml")});
    EXPECT_TRUE(agent);
    return agent;
  }

  // The serial of the workload certificate on disk, "" when none.
  std::string WebSerial() const {
    auto cert = CertFromPem(ReadFile(ca_.Path("web.pem")).value_or(""));
    return cert ? CertSerialHex(cert->get()) : "";
  }

  std::string NodeSerial() const {
    auto cert = CertFromPem(ReadFile(ca_.Path("agent/node.pem")).value_or(""));
    return cert ? CertSerialHex(cert->get()) : "";
  }

  testing::CaFixture ca_;
  std::string fingerprint_;
};

TEST_F(AgentFailoverTest, OnceEnrollsAndIssuesThroughTheLiveServerWhenTheFirstRefuses) {
  const std::string dead = "https://127.0.0.1:" + std::to_string(DeadPort());
  WriteAgentToml({dead, ca_.api()});
  auto once = testing::RunCommand(kAgentBinary + " once --config " + ca_.Path("agent.toml"));
  ASSERT_EQ(once.status, 0) << once.output;
  EXPECT_NE(once.output.find("CA server " + dead + " is down"), std::string::npos) << once.output;
  EXPECT_NE(once.output.find("enrolled with " + ca_.api()), std::string::npos) << once.output;
  EXPECT_NE(WebSerial(), "");
  EXPECT_EQ(testing::CountOf(once.output, "CA server " + dead + " is down"), 1) << "one line per state change";

  // The status shows both servers: the dead one in back-off, the live one up.
  auto status = testing::RunCommand(kAgentBinary + " status --config " + ca_.Path("agent.toml"));
  ASSERT_EQ(status.status, 0) << status.output;
  const size_t dead_row = status.output.find(dead + " ");
  const size_t live_row = status.output.find(ca_.api() + " ");
  ASSERT_NE(dead_row, std::string::npos) << status.output;
  ASSERT_NE(live_row, std::string::npos) << status.output;
  auto row = [&](size_t at) { return status.output.substr(at, status.output.find('\n', at) - at); };
  EXPECT_NE(row(dead_row).find("back-off until"), std::string::npos) << status.output;
  EXPECT_NE(row(dead_row).find("connection refused"), std::string::npos) << status.output;
  EXPECT_NE(row(live_row).find(" up "), std::string::npos) << status.output;
  auto json = testing::RunCommand(kAgentBinary + " status --json --config " + ca_.Path("agent.toml"));
  ASSERT_EQ(json.status, 0) << json.output;
  EXPECT_NE(json.output.find("{\"url\":\"" + dead + "\",\"in_backoff\":true"), std::string::npos) << json.output;
  EXPECT_NE(json.output.find("{\"url\":\"" + ca_.api() + "\",\"in_backoff\":false"), std::string::npos)
      << json.output;
}

TEST_F(AgentFailoverTest, AServerThatAcceptsAndClosesIsBackedOffNotTriedOnEveryCall) {
  TcpRelay closing(0);  // accepts, then closes: the TLS handshake fails
  ASSERT_TRUE(closing.Start());
  TcpRelay live(PortOf(ca_.api()));  // counts the connections to the live server
  ASSERT_TRUE(live.Start());
  WriteAgentToml({closing.url(), live.url()});
  auto agent = StartAgent();
  ASSERT_TRUE(agent->WaitForLineContaining("enrolled with " + live.url())) << agent->output();

  // Renewals keep coming through the live server, each pass refreshing the
  // CRL (refresh = 1s) too, so every pass makes calls.
  LapseWatch watch(ca_.Path("web.pem"));
  const int closing_before = closing.accepted();
  const int live_before = live.accepted();
  ASSERT_TRUE(watch.WaitForRenewals(3, std::chrono::seconds(40))) << agent->output();
  EXPECT_EQ(watch.lapses(), std::vector<std::string>{});
  const int to_closing = closing.accepted() - closing_before;
  const int to_live = live.accepted() - live_before;
  // Each pass opens at least one connection to the server that answers;
  // the closed one is tried only when its back-off (1 s, 2 s, 4 s, ...) ends.
  EXPECT_GE(to_live, 10) << agent->output();
  EXPECT_LT(to_closing * 2, to_live) << "the dead server was tried " << to_closing << " times, the live one "
                                     << to_live << " times";
  EXPECT_EQ(testing::CountOf(agent->output(), "CA server " + closing.url() + " is down"), 1) << agent->output();
  EXPECT_EQ(agent->Stop(SIGTERM), 0) << agent->output();
}

TEST_F(AgentFailoverTest, AKilledServerCostsNoRenewalAndIsUsedAgainWhenItComesBack) {
  TcpRelay first(PortOf(ca_.api()));
  TcpRelay second(PortOf(ca_.api()));
  ASSERT_TRUE(first.Start());
  ASSERT_TRUE(second.Start());
  WriteAgentToml({first.url(), second.url()});
  auto agent = StartAgent();
  ASSERT_TRUE(agent->WaitForLineContaining("enrolled with " + first.url())) << agent->output();
  LapseWatch watch(ca_.Path("web.pem"));
  ASSERT_TRUE(watch.WaitForRenewals(1, std::chrono::seconds(20))) << agent->output();
  const int second_before = second.accepted();
  const std::string node_before = NodeSerial();

  // The first server dies as a killed process does: open connections reset,
  // the port closed. Workload (10 s) and node (20 s) certificates keep being
  // renewed through the second, without a lapse.
  first.Kill();
  ASSERT_TRUE(agent->WaitForLineContaining("CA server " + first.url() + " is down")) << agent->output();
  ASSERT_TRUE(watch.WaitForRenewals(4, std::chrono::seconds(40))) << agent->output();
  EXPECT_EQ(watch.lapses(), std::vector<std::string>{});
  EXPECT_GT(second.accepted(), second_before);
  EXPECT_NE(NodeSerial(), node_before) << "the node certificate was renewed too";

  // It comes back on its address: once its back-off ends it is first again.
  ASSERT_TRUE(first.Start(PortOf(first.url())));
  ASSERT_TRUE(agent->WaitForLineContaining("CA server " + first.url() + " answers again", std::chrono::seconds(70)))
      << agent->output();
  // Calls go to it first again: every pass connects to it.
  const int first_back = first.accepted();
  EXPECT_TRUE(WaitUntil([&] { return first.accepted() >= first_back + 3; }, std::chrono::seconds(20)))
      << first.accepted() << " connections after its return, " << first_back << " before";
  ASSERT_TRUE(watch.WaitForRenewals(1, std::chrono::seconds(20))) << agent->output();
  EXPECT_EQ(watch.lapses(), std::vector<std::string>{});
  EXPECT_EQ(testing::CountOf(agent->output(), "CA server " + first.url() + " is down"), 1) << agent->output();
  EXPECT_EQ(agent->Stop(SIGTERM), 0) << agent->output();
}

}  // namespace agent_failover_test
}  // namespace mayfly
