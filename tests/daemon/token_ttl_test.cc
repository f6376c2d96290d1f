// [issuance] max_token_ttl: join tokens asking to live longer are refused,
// naming the cap; the default lifetime never exceeds it.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace token_ttl_test {

class TokenTtlTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override { config.issuance.max_token_ttl = std::chrono::minutes(30); }

  net::HttpResponse Create(const std::string& ttl) {
    boost::json::object body{{"node", "web-1"}};
    if (!ttl.empty()) body["ttl"] = ttl;
    return Post("/v1/admin/tokens", body, AdminSocket());
  }
  // Seconds from now to the token's expires_at.
  int64_t Lifetime(const net::HttpResponse& r) {
    auto at = ParseRfc3339(Str(Json(r), "expires_at"));
    EXPECT_TRUE(at);
    return at ? ToUnixSeconds(*at) - ToUnixSeconds(clock_.Now()) : -1;
  }
};

TEST_F(TokenTtlTest, ATtlAboveTheCapIsRefusedNamingIt) {
  const auto before = Snapshot();
  for (const char* ttl : {"31m", "1h", "30d"}) {
    SCOPED_TRACE(ttl);
    auto r = Create(ttl);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << r.body;
    EXPECT_NE(r.body.find("at most 30m ([issuance] max_token_ttl)"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Snapshot(), before) << "a token was stored";
}

TEST_F(TokenTtlTest, TheCapItselfAndTheDefaultStayWithinIt) {
  auto at_cap = Create("30m");
  ASSERT_EQ(at_cap.status, 200) << at_cap.body;
  EXPECT_EQ(Lifetime(at_cap), 30 * 60);
  auto shorter = Create("5m");
  ASSERT_EQ(shorter.status, 200) << shorter.body;
  EXPECT_EQ(Lifetime(shorter), 5 * 60);
  // No TTL: 1h, cut to the cap.
  auto defaulted = Create("");
  ASSERT_EQ(defaulted.status, 200) << defaulted.body;
  EXPECT_EQ(Lifetime(defaulted), 30 * 60);
}

}  // namespace token_ttl_test
}  // namespace mayfly::testing
