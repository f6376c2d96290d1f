// Selector matching against a caller's facts, the systemd unit read from
// /proc/<pid>/cgroup, the answer of /v1/node/entries, and this test's own
// process observed as a caller.
#include "workload_caller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "workload_identities.h"

namespace mayfly::agent {
namespace {

CallerFacts Web() {
  return {.pid = 1,
          .uid = 33,
          .gid = 33,
          .user = "www-data",
          .group = "www-data",
          .exe = "/usr/sbin/nginx",
          .sha256 = std::string(64, 'a'),
          .unit = "nginx.service"};
}

struct MatchCase {
  std::vector<std::string> selectors;
  bool matches;
};

TEST(WorkloadCallerTest, EverySelectorMustHold) {
  const MatchCase cases[] = {
      {{"unix:uid:33"}, true},
      {{"unix:uid:33", "unix:gid:33", "unix:user:www-data", "unix:group:www-data"}, true},
      {{"unix:path:/usr/sbin/nginx", "systemd:unit:nginx.service"}, true},
      {{"unix:sha256:" + std::string(64, 'a')}, true},
      {{"unix:uid:33", "unix:gid:0"}, false},
      {{"unix:uid:330"}, false},
      {{"unix:user:root"}, false},
      {{"systemd:unit:web.service"}, false},
      {{"unix:path:/usr/sbin"}, false},
      {{"k8s:ns:default"}, false},
      {{}, false},  // an entry without selectors is not for the Workload API
  };
  for (const MatchCase& c : cases) {
    std::string name;
    for (const auto& s : c.selectors) name += s + " ";
    EXPECT_EQ(SelectorsMatch(c.selectors, Web()), c.matches) << name;
  }
}

TEST(WorkloadCallerTest, AFactNotReadMatchesNothing) {
  CallerFacts caller = Web();
  caller.exe.reset();
  caller.unit.reset();
  EXPECT_FALSE(SelectorsMatch(std::vector<std::string>{"unix:path:/usr/sbin/nginx"}, caller));
  EXPECT_FALSE(SelectorsMatch(std::vector<std::string>{"systemd:unit:nginx.service"}, caller));
  EXPECT_TRUE(SelectorsMatch(std::vector<std::string>{"unix:uid:33"}, caller));
}

TEST(WorkloadCallerTest, SystemdUnitIsTheDeepestServiceOrScope) {
  const struct {
    const char* cgroup;
    std::optional<std::string> unit;
  } cases[] = {
      {"0::/system.slice/nginx.service\n", "nginx.service"},
      {"0::/system.slice/app.service/worker\n", "app.service"},
      {"0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-u7.scope\n", "run-u7.scope"},
      {"0::/\n", std::nullopt},
      {"12:pids:/x\n1:name=systemd:/system.slice/cron.service\n", "cron.service"},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(SystemdUnitOf(c.cgroup), c.unit) << c.cgroup;
}

TEST(WorkloadCallerTest, ObservesThisProcess) {
  auto facts = ObserveCaller(getpid(), getuid(), getgid(), TicksSinceBoot(), true);
  ASSERT_TRUE(facts) << facts.error().message;
  ASSERT_TRUE(facts->exe.has_value());
  EXPECT_TRUE(facts->exe->ends_with("agent_tests")) << *facts->exe;
  ASSERT_TRUE(facts->sha256.has_value());
  EXPECT_EQ(facts->sha256->size(), 64u);
  EXPECT_TRUE(facts->user.has_value());
}

TEST(WorkloadCallerTest, APidStartedAfterTheConnectionIsRefused) {
  // The connection "was accepted" before this process started.
  auto facts = ObserveCaller(getpid(), getuid(), getgid(), 0, false);
  ASSERT_FALSE(facts);
  EXPECT_EQ(facts.error().code, ErrorCode::kForbidden);
}

TEST(NodeEntriesTest, ParsesTheAnswer) {
  auto entries = ParseNodeEntries(
      R"({"entries":[{"id":7,"spiffe_id":"spiffe://example.org/web","selectors":["unix:uid:33"],)"
      R"("dns":["web.internal"],"ips":[],"ttl":"1h"}]})");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].id, "7");
  EXPECT_EQ((*entries)[0].spiffe_id, "spiffe://example.org/web");
  EXPECT_EQ((*entries)[0].selectors, std::vector<std::string>{"unix:uid:33"});
  EXPECT_EQ((*entries)[0].dns, std::vector<std::string>{"web.internal"});
  EXPECT_EQ((*entries)[0].ttl, std::chrono::hours(1));
}

TEST(NodeEntriesTest, RefusesMalformedAnswers) {
  for (const char* body : {"", "[]", R"({"entries":{}})", R"({"entries":[{"id":1,"ttl":"1h"}]})",
                           R"({"entries":[{"id":1,"spiffe_id":"spiffe://e/a","ttl":"soon"}]})",
                           R"({"entries":[{"id":1,"spiffe_id":"spiffe://e/a","ttl":"1h","dns":"x"}]})"}) {
    EXPECT_FALSE(ParseNodeEntries(body)) << body;
  }
}

}  // namespace
}  // namespace mayfly::agent
