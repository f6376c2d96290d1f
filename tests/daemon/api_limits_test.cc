// Per-IP and per-node rate limits through ApiService, and the metrics text.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace api_limits_test {

class ApiLimitsTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override {
    config.limits.enroll_per_ip_per_minute = 2;
    config.limits.sign_per_node_per_minute = 2;
  }
};

TEST_F(ApiLimitsTest, EnrollIsLimitedPerIp) {
  const std::string csr = Csr(NewKey().get());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Post("/v1/enroll", {{"token", CreateToken("n" + std::to_string(i))}, {"csr", csr}},
                   Anonymous("192.0.2.1"))
                  .status,
              200);
  }
  const std::string token = CreateToken("n9");
  const auto before = Snapshot();
  auto r = Post("/v1/enroll", {{"token", token}, {"csr", csr}}, Anonymous("192.0.2.1"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(ErrorCodeOf(r), "rate_limited");
  EXPECT_EQ(Header(r, "Retry-After"), "30");
  EXPECT_EQ(Snapshot(), before) << "the token is not consumed";
  EXPECT_EQ(Post("/v1/enroll", {{"token", token}, {"csr", csr}}, Anonymous("192.0.2.2")).status, 200);
}

TEST_F(ApiLimitsTest, SignAndRenewShareThePerNodeBucket) {
  TestNode node = Enroll("web-1");
  TestNode other = Enroll("web-2");
  const std::string csr = Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"});
  EXPECT_EQ(Sign(node, csr).status, 200);
  EXPECT_EQ(Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, AsNode(node)).status, 200);
  const auto before = Snapshot();
  auto r = Sign(node, csr);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Header(r, "Retry-After"), "30");
  r = Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, AsNode(node));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(Sign(other, csr).status, 200);
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Sign(node, csr).status, 200);

  const std::string text = rt_->MetricsText();
  EXPECT_NE(text.find("mayfly_rate_limited_total{route=\"sign\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mayfly_rate_limited_total{route=\"renew\"} 1"), std::string::npos);
  EXPECT_NE(text.find("mayfly_issuances_total{route=\"sign\",result=\"ok\"} 3"), std::string::npos);
  EXPECT_NE(text.find("mayfly_issuances_total{route=\"enroll\",result=\"ok\"} 2"), std::string::npos);
  EXPECT_NE(text.find("mayfly_refused_total{code=\"rate_limited\"} 2"), std::string::npos);
  EXPECT_NE(text.find("mayfly_request_duration_seconds_count"), std::string::npos);
  EXPECT_NE(text.find("# TYPE mayfly_store_wal_checkpoints_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("mayfly_store_wal_checkpoint_failures_total 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mayfly_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
}

TEST_F(ApiLimitsTest, ReloadChangesTheRate) {
  TestNode node = Enroll("web-1");
  CaConfig next = config_;
  next.limits.sign_per_node_per_minute = 1000;
  ASSERT_TRUE(rt_->Reload(next));
  EXPECT_EQ(rt_->sign_limiter().rate(), 1000);
  const std::string csr = Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Sign(node, csr).status, 200) << i;
  EXPECT_EQ(rt_->config()->limits.sign_per_node_per_minute, 1000);
}

}  // namespace api_limits_test
}  // namespace mayfly::testing
