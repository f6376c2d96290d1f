// revoke --node through the API: join tokens made before the ban no longer
// enroll the node; a token made after it does.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace ban_tokens_test {

class BanTokensTest : public ApiTest {};

TEST_F(BanTokensTest, ATokenMadeBeforeTheBanDoesNotLiftIt) {
  const std::string t1 = CreateToken("web-1");  // outstanding when the ban comes
  TestNode node = Enroll("web-1");               // with a token T0 of its own
  auto revoked = Post("/v1/admin/revoke", {{"node", "web-1"}, {"reason", "keyCompromise"}}, AdminSocket());
  ASSERT_EQ(revoked.status, 200) << revoked.body;

  auto key = NewKey();
  const auto before = Snapshot();
  auto r = Post("/v1/enroll", {{"token", t1}, {"csr", Csr(key.get())}}, Anonymous());
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "invalid_token") << r.body;
  EXPECT_NE(r.body.find("invalidated when its node was banned"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(), before);
  // Still banned: its old certificate signs nothing.
  EXPECT_EQ(Sign(node, Csr(key.get(), {"spiffe://example.org/ns/prod/web"})).status, 403);

  const std::string t2 = CreateToken("web-1");
  auto again = Post("/v1/enroll", {{"token", t2}, {"csr", Csr(key.get())}}, Anonymous());
  ASSERT_EQ(again.status, 200) << again.body;
  TestNode reenrolled{.name = "web-1", .key = std::move(key), .cert_pem = Str(Json(again), "certificate")};
  auto workload = NewKey();
  EXPECT_EQ(Sign(reenrolled, Csr(workload.get(), {"spiffe://example.org/ns/prod/web"})).status, 200);
}

}  // namespace ban_tokens_test
}  // namespace mayfly::testing
