// mayfly-agent run against a real mayfly-ca: renews a short-lived workload
// certificate before it expires, runs its hook once per renewal, exits 0 on
// SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace agent_run_test {

using testing::kAgentBinary;

// The log line of a renewal comes before its hook and status file: polled.
using testing::WaitUntil;

int Lines(const std::string& path) {
  std::string text = ReadFile(path).value_or("");
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(AgentRunTest, RenewsBeforeExpiryAndStopsOnSigterm) {
  testing::CaFixture ca;
  // 1 minute certificates with a 1 second backdate: due after about 30 s.
  ca.Init("[issuance]\nmin_ttl = \"1m\"\ndefault_ttl = \"1m\"\nbackdate = \"1s\"\n"
          "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\nttl = \"1m\"\n");
  ca.Start();
  const std::string fingerprint = ca.WriteToken("node-1", ca.Path("token"));
  testing::WriteTextFile(ca.Path("agent.toml"),
                         "server = \"" + ca.api() + "\"\n"
                         "ca_fingerprint = \"" + fingerprint + "\"\n"
                         "join_token_file = \"" + ca.Path("token") + "\"\n"
                         "state_dir = \"" + ca.Path("agent") + "\"\n"
                         "renew_at = 0.5\n"
                         "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\nttl = \"1m\"\n"
                         "cert = \"" + ca.Path("web.pem") + "\"\nkey = \"" + ca.Path("web.key") + "\"\n"
                         "on_renew = \"echo $MAYFLY_SERIAL >> " + ca.Path("hook.log") + "\"\n");
  auto agent = testing::ChildProcess::Start({kAgentBinary, "run", "--config", ca.Path("agent.toml")});
  ASSERT_TRUE(agent);
  ASSERT_TRUE(agent->WaitForLineContaining("renewed spiffe://example.org/web")) << agent->output();
  auto first = CertFromPem(ReadFile(ca.Path("web.pem")).value());
  ASSERT_TRUE(first);
  const TimePoint first_expiry = CertNotAfter(first->get());

  ASSERT_TRUE(agent->WaitForLineContaining("renewed spiffe://example.org/web", std::chrono::seconds(50)))
      << agent->output();
  auto second = CertFromPem(ReadFile(ca.Path("web.pem")).value());
  ASSERT_TRUE(second);
  EXPECT_NE(CertSerialHex(second->get()), CertSerialHex(first->get()));
  EXPECT_LT(SystemClock::Instance().Now(), first_expiry) << "renewed only after expiry";
  const std::string serial = CertSerialHex(second->get());
  EXPECT_TRUE(WaitUntil([&] { return Lines(ca.Path("hook.log")) == 2; }));
  EXPECT_NE(ReadFile(ca.Path("hook.log")).value_or("").find(serial), std::string::npos);
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(ca.Path("agent/status.json")).value_or("").find(serial) != std::string::npos;
  }));
  auto status = testing::RunCommand(kAgentBinary + " status --config " + ca.Path("agent.toml"));
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find(serial), std::string::npos) << status.output;
  EXPECT_EQ(Lines(ca.Path("hook.log")), 2) << "one hook run per renewal";

  EXPECT_EQ(agent->Stop(SIGTERM, std::chrono::seconds(5)), 0) << agent->output();
  ca.Stop();
}

}  // namespace agent_run_test
}  // namespace mayfly

namespace mayfly {
namespace agent_run_test {

TEST(AgentRunTest, SighupAddsAWorkloadAndABadConfigKeepsTheRunningOne) {
  testing::CaFixture ca;
  ca.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n"
          "[[entry]]\nspiffe_id = \"spiffe://example.org/api\"\nnode = \"node-1\"\n");
  ca.Start();
  const std::string fingerprint = ca.WriteToken("node-1", ca.Path("token"));
  const std::string web = "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\n"
                          "cert = \"" + ca.Path("web.pem") + "\"\nkey = \"" + ca.Path("web.key") + "\"\n";
  const std::string api = "[[workload]]\nspiffe_id = \"spiffe://example.org/api\"\n"
                          "cert = \"" + ca.Path("api.pem") + "\"\nkey = \"" + ca.Path("api.key") + "\"\n";
  testing::WriteTextFile(ca.Path("agent.toml"), ca.AgentTomlHead(fingerprint) + web);
  auto agent = testing::ChildProcess::Start({kAgentBinary, "run", "--config", ca.Path("agent.toml")});
  ASSERT_TRUE(agent);
  ASSERT_TRUE(agent->WaitForLineContaining("renewed spiffe://example.org/web")) << agent->output();
  EXPECT_FALSE(ReadFile(ca.Path("api.pem")));

  // A second workload appears in the config: SIGHUP, and it is issued at once.
  testing::WriteTextFile(ca.Path("agent.toml"), ca.AgentTomlHead(fingerprint) + web + api);
  agent->Signal(SIGHUP);
  ASSERT_TRUE(agent->WaitForLineContaining("renewed spiffe://example.org/api")) << agent->output();
  auto issued = CertFromPem(ReadFile(ca.Path("api.pem")).value_or(""));
  ASSERT_TRUE(issued);
  EXPECT_EQ(CertSpiffeId(issued->get()), "spiffe://example.org/api");

  // A broken config is refused with the reason; the agent keeps running.
  testing::WriteTextFile(ca.Path("agent.toml"), ca.AgentTomlHead(fingerprint) + "renew_at = \"soon\"\n" + web);
  agent->Signal(SIGHUP);
  auto kept = agent->WaitForLineContaining("SIGHUP: keeping the running configuration");
  ASSERT_TRUE(kept) << agent->output();
  EXPECT_NE(kept->find("renew_at"), std::string::npos) << *kept;
  EXPECT_EQ(agent->Stop(SIGTERM), 0) << agent->output();
}

}  // namespace agent_run_test
}  // namespace mayfly
