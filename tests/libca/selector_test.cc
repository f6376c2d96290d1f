// Workload selectors: every accepted form, every rejected one with a message
// naming the selector and what was expected, and [[entry]] selectors in ca.toml.
#include "mayfly/selector.h"

#include <gtest/gtest.h>

#include <fstream>

#include "mayfly/authorization.h"
#include "mayfly/config.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace selector_test {

TEST(SelectorTest, AcceptsEveryForm) {
  for (const char* good : {"unix:uid:0", "unix:uid:1000", "unix:uid:4294967295", "unix:gid:33", "unix:user:www-data",
                           "unix:user:svc_1", "unix:group:adm", "unix:path:/usr/bin/web",
                           "unix:path:/opt/app-1.2/bin/server",
                           "unix:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                           "systemd:unit:web.service", "systemd:unit:getty@tty1.service"}) {
    EXPECT_EQ(SelectorProblem(good), "") << good;
  }
}

TEST(SelectorTest, RefusesEachBadFormNamingIt) {
  struct Case {
    const char* selector;
    const char* expected;
  };
  const Case cases[] = {
      {"", "expected one of unix:uid:N"},
      {"uid:1000", "expected one of unix:uid:N"},
      {"unix:pid:1", "expected one of unix:uid:N"},
      {"k8s:ns:default", "expected one of"},
      {"unix:uid:", "expected a decimal uid"},
      {"unix:uid:-1", "expected a decimal uid"},
      {"unix:uid:abc", "expected a decimal uid"},
      {"unix:uid:007", "expected a decimal uid"},
      {"unix:uid:4294967296", "expected a decimal uid"},
      {"unix:gid:1.5", "expected a decimal gid"},
      {"unix:user:", "expected a user name"},
      {"unix:user:-x", "expected a user name"},
      {"unix:user:a b", "expected a user name"},
      {"unix:group:a:b", "expected a group name"},
      {"unix:path:usr/bin/web", "expected an absolute path"},
      {"unix:path:/usr/bin/", "expected an absolute path"},
      {"unix:path:/usr/../bin/web", "expected an absolute path"},
      {"unix:path:/usr//bin", "expected an absolute path"},
      {"unix:sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "64 lowercase hex"},
      {"unix:sha256:abc", "64 lowercase hex"},
      {"systemd:unit:web", "a systemd unit name"},
      {"systemd:unit:web service.service", "a systemd unit name"},
  };
  for (const Case& c : cases) {
    const std::string problem = SelectorProblem(c.selector);
    EXPECT_NE(problem.find("selector \"" + std::string(c.selector) + "\""), std::string::npos) << problem;
    EXPECT_NE(problem.find(c.expected), std::string::npos) << c.selector << ": " << problem;
  }
}

TEST(SelectorTest, ValidateSelectorsRefusesTheFirstBadOrARepeat) {
  const std::vector<std::string> good = {"unix:uid:1000", "systemd:unit:web.service"};
  EXPECT_TRUE(ValidateSelectors(good));
  const std::vector<std::string> bad = {"unix:uid:1000", "unix:uid:x"};
  auto r = ValidateSelectors(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("unix:uid:x"), std::string::npos);
  const std::vector<std::string> twice = {"unix:uid:1000", "unix:uid:1000"};
  r = ValidateSelectors(twice);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("given twice"), std::string::npos);
}

TEST(SelectorTest, ValidateEntryChecksSelectors) {
  AuthzPolicy policy{.trust_domain = "example.org"};
  policy.max_ttl = std::chrono::hours(24);
  EntryRecord entry{.spiffe_id = "spiffe://example.org/web", .node = "web-*", .selectors = {"unix:uid:1000"}};
  auto ok = ValidateEntry(entry, policy);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->selectors, entry.selectors);
  entry.selectors = {"unix:path:relative"};
  auto bad = ValidateEntry(entry, policy);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("registration entry for spiffe://example.org/web"), std::string::npos);
  EXPECT_NE(bad.error().message.find("unix:path:relative"), std::string::npos);
}

std::string WriteToml(const testing::TempDir& dir, const std::string& selectors) {
  const std::string path = dir.File("ca.toml");
  std::ofstream(path) << "trust_domain = \"example.org\"\n[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\n"
                         "node = \"web-*\"\nselectors = " << selectors << "\n";
  return path;
}

TEST(SelectorTest, ConfigEntryReadsSelectors) {
  testing::TempDir dir;
  auto cfg = LoadCaConfig(WriteToml(dir, R"(["unix:uid:1000", "systemd:unit:web.service"])"));
  ASSERT_TRUE(cfg) << cfg.error().ToString();
  ASSERT_EQ(cfg->entries.size(), 1u);
  EXPECT_EQ(cfg->entries[0].selectors, (std::vector<std::string>{"unix:uid:1000", "systemd:unit:web.service"}));
}

TEST(SelectorTest, ConfigEntryRefusesABadSelectorAtItsLine) {
  testing::TempDir dir;
  const std::string path = WriteToml(dir, R"(["unix:uid:1000", "unix:uid:me"])");
  auto cfg = LoadCaConfig(path);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, ErrorCode::kConfig);
  EXPECT_NE(cfg.error().message.find(path + ":5:"), std::string::npos) << cfg.error().message;
  EXPECT_NE(cfg.error().message.find("entry[0].selectors[1]"), std::string::npos) << cfg.error().message;
  EXPECT_NE(cfg.error().message.find("expected a selector: unix:uid:N"), std::string::npos) << cfg.error().message;
  EXPECT_NE(cfg.error().message.find("unix:uid:me"), std::string::npos) << cfg.error().message;

  cfg = LoadCaConfig(WriteToml(dir, R"("unix:uid:1000")"));
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("selectors"), std::string::npos) << cfg.error().message;
}

}  // namespace selector_test
}  // namespace mayfly
