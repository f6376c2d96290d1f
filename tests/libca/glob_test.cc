// Node globs: '*' and '?' only, and never exponential.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "mayfly/identity.h"

namespace mayfly {
namespace glob_test {

struct GlobCase {
  std::string pattern;
  std::string text;
  bool match;
};

const GlobCase kCases[] = {
    {"", "", true},
    {"", "a", false},
    {"a", "", false},
    {"*", "", true},
    {"*", "anything-at-all", true},
    {"**", "x", true},
    {"?", "", false},
    {"?", "a", true},
    {"?", "ab", false},
    {"*?", "", false},
    {"*?", "a", true},
    {"web-1", "web-1", true},
    {"web-1", "web-10", false},
    {"web-1", "Web-1", false},  // case-sensitive: node names are lowercase
    {"web-*", "web-1", true},
    {"web-*", "web-", true},
    {"web-*", "db-1", false},
    {"web-?", "web-1", true},
    {"web-?", "web-12", false},
    {"*-prod", "web-prod", true},
    {"*-prod", "web-prod2", false},
    {"*-prod*", "web-prod2", true},
    {"a*b*c", "axxbyyc", true},
    {"a*b*c", "axxbyy", false},
    {"a*b*c", "abcbc", true},
    {"a*a*a", "aaa", true},
    {"a*a*a", "aa", false},
    {"*a", "bba", true},
    {"*a*", "bbb", false},
    {"web-*.dc?", "web-12.dc1", true},
    {"web-*.dc?", "web-12.dc", false},
    {"w*b", "w*b", true},   // '*' in text is just a character
    {"w?b", "w?b", true},
    {"w.b", "wxb", false},  // '.' is literal, not a regex
};

TEST(GlobTest, MatchesTable) {
  for (const GlobCase& c : kCases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match)
        << "pattern \"" << c.pattern << "\" text \"" << c.text << "\"";
  }
}

// A recursive matcher takes exponential time here; this one is quadratic at
// worst, so even the large case finishes in well under a second.
TEST(GlobTest, PathologicalPatternFinishesFast) {
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "a*";
  pattern += "b";
  const std::string text(20000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(GlobMatch(pattern, text));
  EXPECT_TRUE(GlobMatch(pattern, text + "b"));
  EXPECT_FALSE(GlobMatch(std::string(500, '*') + "?b", text));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

}  // namespace glob_test
}  // namespace mayfly
