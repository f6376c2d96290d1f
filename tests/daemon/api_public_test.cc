// The public routes: the trust bundle and the CRL with conditional GET.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "mayfly/crl.h"

namespace mayfly::testing {
namespace api_public_test {

class ApiPublicTest : public ApiTest {};

TEST_F(ApiPublicTest, BundleIsTheRootPem) {
  auto r = Send("GET", "/v1/bundle", "", Anonymous());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-pem-file");
  EXPECT_EQ(r.body, ReadFile(CaPaths::For(config_.state_dir).root_cert).value());
  EXPECT_EQ(r.body, rt_->BundlePem());
  EXPECT_EQ(rt_->ClientTrustPem(), rt_->BundlePem() + rt_->ChainPem());
}

TEST_F(ApiPublicTest, CrlDerAndPemWithEtags) {
  auto der = Send("GET", "/v1/crl", "", Anonymous());
  ASSERT_EQ(der.status, 200);
  EXPECT_EQ(der.content_type, "application/pkix-crl");
  const std::string etag = Header(der, "ETag");
  EXPECT_EQ(etag.size(), 66u);
  EXPECT_EQ(etag.front(), '"');

  auto pem = Send("GET", "/v1/crl", "", Anonymous(), {{"format", "pem"}});
  ASSERT_EQ(pem.status, 200);
  EXPECT_EQ(pem.content_type, "application/x-pem-file");
  const std::string root_crl = ReadFile(CaPaths::For(config_.state_dir).root_crl).value();
  EXPECT_TRUE(pem.body.ends_with(root_crl));
  auto first = CrlFromPem(pem.body).value();
  EXPECT_EQ(CrlToDer(first.get()).value(), der.body) << "the intermediate's CRL comes first";
  EXPECT_NE(Header(pem, "ETag"), etag);

  auto again = Send("GET", "/v1/crl", "", Anonymous(), {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Header(again, "ETag"), etag);
  again = Send("GET", "/v1/crl", "", Anonymous(), {{"format", "pem"}}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 200) << "a DER tag does not match the PEM body";

  ASSERT_TRUE(rt_->crl().Regenerate());
  again = Send("GET", "/v1/crl", "", Anonymous(), {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 200) << "a new CRL has a new tag";
  EXPECT_NE(Header(again, "ETag"), etag);

  EXPECT_EQ(Send("GET", "/v1/crl", "", Anonymous(), {{"format", "txt"}}).status, 400);
}

TEST_F(ApiPublicTest, CrlTimesFollowTheConfig) {
  auto snapshot = rt_->crl().Current();
  EXPECT_EQ(snapshot->next_update - snapshot->this_update, config_.crl.next_update);
  const int64_t number = snapshot->number;
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_EQ(rt_->crl().Current()->number, number + 1);
  EXPECT_EQ(rt_->crl().Current()->this_update, std::chrono::floor<Seconds>(clock_.Now()));
}

TEST_F(ApiPublicTest, CrlNumberNeverGoesBackAcrossRestarts) {
  const int64_t number = rt_->crl().Current()->number;
  Stop();
  Start();
  EXPECT_GT(rt_->crl().Current()->number, number);
}

}  // namespace api_public_test
}  // namespace mayfly::testing
