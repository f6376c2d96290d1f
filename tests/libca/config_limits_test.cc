// [limits] keys of the connection admission: max_connections_per_ip and
// handshake_timeout, their defaults, and the errors a bad value gets.
#include <gtest/gtest.h>

#include "mayfly/config.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace config_limits_test {

Result<CaConfig> Load(const std::string& limits) {
  testing::TempDir dir;
  const std::string path = dir.File("ca.toml");
  testing::WriteTextFile(path, "trust_domain = \"example.org\"\n[limits]\n" + limits);
  return LoadCaConfig(path);
}

TEST(ConfigLimitsTest, DefaultsLeaveRoomForManyAgentsBehindOneAddress) {
  auto cfg = Load("");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->limits.max_connections, 4096);
  EXPECT_EQ(cfg->limits.max_connections_per_ip, 256);
  EXPECT_EQ(cfg->limits.handshake_timeout, std::chrono::seconds(5));
  EXPECT_EQ(cfg->limits.header_timeout, std::chrono::seconds(10));
}

TEST(ConfigLimitsTest, TheKeysAreRead) {
  auto cfg = Load("max_connections = 64\nmax_connections_per_ip = 8\nhandshake_timeout = \"2s\"\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->limits.max_connections, 64);
  EXPECT_EQ(cfg->limits.max_connections_per_ip, 8);
  EXPECT_EQ(cfg->limits.handshake_timeout, std::chrono::seconds(2));
}

TEST(ConfigLimitsTest, BadValuesNameTheKeyAndWhatWasExpected) {
  struct Case {
    const char* toml;
    const char* key;
    const char* expected;
  };
  for (const Case& c : {
           Case{"max_connections_per_ip = 0\n", "limits.max_connections_per_ip",
                "expected a positive integer, got integer 0"},
           Case{"max_connections_per_ip = \"64\"\n", "limits.max_connections_per_ip",
                "expected a positive integer"},
           Case{"handshake_timeout = \"0s\"\n", "limits.handshake_timeout", "expected a duration"},
           Case{"handshake_timeout = 5\n", "limits.handshake_timeout", "expected a duration string like \"90s\""},
           Case{"handshake_timeot = \"5s\"\n", "limits.handshake_timeot", "unknown key"},
       }) {
    auto cfg = Load(c.toml);
    ASSERT_FALSE(cfg) << c.toml;
    EXPECT_EQ(cfg.error().code, ErrorCode::kConfig);
    EXPECT_NE(cfg.error().message.find(std::string(c.key) + ": "), std::string::npos) << cfg.error().message;
    EXPECT_NE(cfg.error().message.find(c.expected), std::string::npos) << cfg.error().message;
  }
}

}  // namespace config_limits_test
}  // namespace mayfly
