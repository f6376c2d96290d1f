// agent.toml's CA servers: `server` (one URL) or `servers` (several), exactly
// one of the two, each an https URL, none twice.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "agent_config.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace {

constexpr const char* kTrust = "ca_bundle = \"root.pem\"\n";

Result<AgentConfig> Load(const testing::TempDir& dir, const std::string& head) {
  const std::string path = dir.File("agent.toml");
  std::ofstream(path) << head << kTrust;
  return LoadAgentConfig(path);
}

// The error names the file, the key and what was expected.
void ExpectError(const Result<AgentConfig>& cfg, const testing::TempDir& dir, const std::string& key,
                 const std::string& expected) {
  ASSERT_FALSE(cfg.has_value()) << "loaded";
  EXPECT_EQ(cfg.error().code, ErrorCode::kConfig);
  const std::string& m = cfg.error().message;
  EXPECT_EQ(m.rfind(dir.File("agent.toml"), 0), 0u) << m;
  EXPECT_NE(m.find(": " + key + ": "), std::string::npos) << m;
  EXPECT_NE(m.find(expected), std::string::npos) << m;
}

TEST(AgentServersConfigTest, ServerIsAListOfOne) {
  testing::TempDir dir;
  auto cfg = Load(dir, "server = \"https://ca.internal:8443\"\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->servers, std::vector<std::string>{"https://ca.internal:8443"});
}

TEST(AgentServersConfigTest, ServersKeepTheirOrder) {
  testing::TempDir dir;
  auto cfg = Load(dir, "servers = [\"https://ca2:8443\", \"https://ca1:8443\", \"https://10.0.0.3\"]\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->servers, (std::vector<std::string>{"https://ca2:8443", "https://ca1:8443", "https://10.0.0.3"}));
}

TEST(AgentServersConfigTest, BothKeysAreRefused) {
  testing::TempDir dir;
  ExpectError(Load(dir, "server = \"https://ca1:8443\"\nservers = [\"https://ca2:8443\"]\n"), dir, "servers",
              "expected either server or servers, not both");
}

TEST(AgentServersConfigTest, NeitherKeyIsRefused) {
  testing::TempDir dir;
  ExpectError(Load(dir, ""), dir, "server", "required key is missing (or servers)");
}

TEST(AgentServersConfigTest, AnEmptyListIsRefused) {
  testing::TempDir dir;
  ExpectError(Load(dir, "servers = []\n"), dir, "servers", "expected at least one URL");
}

TEST(AgentServersConfigTest, EveryServerMustBeAnHttpsUrl) {
  testing::TempDir dir;
  ExpectError(Load(dir, "servers = [\"https://ca1:8443\", \"http://ca2:8443\"]\n"), dir, "servers[1]",
              "expected an https:// URL like \"https://ca.internal:8443\", got \"http://ca2:8443\"");
  ExpectError(Load(dir, "servers = [\"https://\"]\n"), dir, "servers[0]", "expected an https:// URL");
  ExpectError(Load(dir, "servers = [\"https://ca1:8443\", 8443]\n"), dir, "servers[1]",
              "expected a string, got integer 8443");
  ExpectError(Load(dir, "servers = \"https://ca1:8443\"\n"), dir, "servers", "expected an array of strings");
  ExpectError(Load(dir, "server = \"ca1:8443\"\n"), dir, "server", "expected an https:// URL");
  ExpectError(Load(dir, "server = [\"https://ca1:8443\"]\n"), dir, "server", "expected a string");
}

TEST(AgentServersConfigTest, AServerListedTwiceIsRefused) {
  testing::TempDir dir;
  ExpectError(Load(dir, "servers = [\"https://ca1:8443\", \"https://ca2:8443\", \"https://ca1:8443/\"]\n"), dir,
              "servers[2]", "expected a server not listed before, got \"https://ca1:8443/\"");
}

}  // namespace
}  // namespace mayfly
