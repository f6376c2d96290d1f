// mayfly-agent run against a real mayfly-ca: renews a short-lived workload
// certificate before it expires, runs its hook once per renewal, exits 0 on
// SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace {

using testing::kAgentBinary;

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
  std::string hooks = ReadFile(ca.Path("hook.log")).value_or("");
  EXPECT_EQ(std::count(hooks.begin(), hooks.end(), '\n'), 2) << hooks;
  EXPECT_NE(hooks.find(CertSerialHex(second->get())), std::string::npos);

  auto status = testing::RunCommand(kAgentBinary + " status --config " + ca.Path("agent.toml"));
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find(CertSerialHex(second->get())), std::string::npos) << status.output;

  EXPECT_EQ(agent->Stop(SIGTERM, std::chrono::seconds(5)), 0) << agent->output();
  ca.Stop();
}

}  // namespace
}  // namespace mayfly
