// JWT-SVIDs: signed as compact ES256 JWS and checked as a relying party
// must (key by kid, signature, expiry, audience, subject).
#include "mayfly/jwt_svid.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mayfly/jwk.h"

namespace mayfly {
namespace jwt_svid_test {

constexpr int64_t kNow = 1'800'000'000;

class JwtSvidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = GenerateJwtKey().value();
    kid_ = JwtKeyId(key_.get()).value();
    keys_ = {{kid_, key_.get()}};
  }
  std::string Sign(JwtSvidClaims claims) { return SignJwtSvid(key_.get(), kid_, claims).value(); }
  static JwtSvidClaims Claims() {
    return {.subject = "spiffe://example.org/web", .audience = {"billing", "audit"}, .issued_at = kNow,
            .expires_at = kNow + 300};
  }
  // The token's part `i` (0 header, 1 payload) as JSON.
  static boost::json::object Part(const std::string& token, int i) {
    size_t start = 0;
    for (int n = 0; n < i; ++n) start = token.find('.', start) + 1;
    const size_t end = token.find('.', start);
    return boost::json::parse(DecodeBase64Url(token.substr(start, end - start)).value()).as_object();
  }

  OsslPtr<EVP_PKEY> key_;
  std::string kid_;
  std::map<std::string, const EVP_PKEY*, std::less<>> keys_;
};

TEST_F(JwtSvidTest, ATokenCarriesTheClaimsAndVerifies) {
  const std::string token = Sign(Claims());
  const auto header = Part(token, 0);
  EXPECT_EQ(header.at("alg"), "ES256");
  EXPECT_EQ(header.at("typ"), "JWT");
  EXPECT_EQ(header.at("kid").as_string(), kid_);
  const auto payload = Part(token, 1);
  EXPECT_EQ(payload.at("sub"), "spiffe://example.org/web");
  EXPECT_EQ(payload.at("exp").as_int64(), kNow + 300);
  EXPECT_EQ(payload.at("iat").as_int64(), kNow);
  EXPECT_EQ(payload.at("aud").as_array().size(), 2u);
  // JWS ECDSA: r || s, 32 bytes each, not DER.
  EXPECT_EQ(DecodeBase64Url(token.substr(token.rfind('.') + 1)).value().size(), 64u);

  auto verified = VerifyJwtSvid(token, "audit", keys_, kNow);
  ASSERT_TRUE(verified) << verified.error().ToString();
  EXPECT_EQ(verified->subject, "spiffe://example.org/web");
  EXPECT_EQ(verified->expires_at, kNow + 300);
}

TEST_F(JwtSvidTest, TheKidIsStableAndDiffersBetweenKeys) {
  EXPECT_EQ(kid_.size(), 32u);
  EXPECT_EQ(JwtKeyId(key_.get()).value(), kid_);
  auto other = GenerateJwtKey().value();
  EXPECT_NE(JwtKeyId(other.get()).value(), kid_);
}

TEST_F(JwtSvidTest, RefusedForAnotherAudienceAfterExpiryOrByAnUnknownKey) {
  const std::string token = Sign(Claims());
  auto wrong_audience = VerifyJwtSvid(token, "payments", keys_, kNow);
  ASSERT_FALSE(wrong_audience);
  EXPECT_EQ(wrong_audience.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(wrong_audience.error().message.find("audience"), std::string::npos);
  EXPECT_FALSE(VerifyJwtSvid(token, "audit", keys_, kNow + 300)) << "exp is exclusive";
  EXPECT_TRUE(VerifyJwtSvid(token, "audit", keys_, kNow + 299));

  // The same kid bound to another key: the signature does not verify.
  auto other = GenerateJwtKey().value();
  std::map<std::string, const EVP_PKEY*, std::less<>> impostor = {{kid_, other.get()}};
  auto forged = VerifyJwtSvid(token, "audit", impostor, kNow);
  ASSERT_FALSE(forged);
  EXPECT_NE(forged.error().message.find("signature"), std::string::npos);
  EXPECT_FALSE(VerifyJwtSvid(token, "audit", {}, kNow));
}

TEST_F(JwtSvidTest, TamperedOrUnsignedTokensAreRefused) {
  const std::string token = Sign(Claims());
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  // Another subject under the original signature.
  JwtSvidClaims other = Claims();
  other.subject = "spiffe://example.org/admin";
  const std::string other_token = Sign(other);
  const std::string swapped = token.substr(0, first + 1) +
                              other_token.substr(other_token.find('.') + 1,
                                                 other_token.find('.', other_token.find('.') + 1) -
                                                     other_token.find('.') - 1) +
                              token.substr(second);
  EXPECT_FALSE(VerifyJwtSvid(swapped, "audit", keys_, kNow));
  // alg "none" with no signature.
  const std::string none = Base64Url(R"({"alg":"none","kid":")" + kid_ + R"("})") + "." +
                           token.substr(first + 1, second - first - 1) + ".";
  EXPECT_FALSE(VerifyJwtSvid(none, "audit", keys_, kNow));
  for (const std::string bad : {"", "a.b", "a.b.c.d", "!!.!!.!!"}) {
    EXPECT_FALSE(VerifyJwtSvid(bad, "audit", keys_, kNow)) << bad;
  }
  // A subject that is not a SPIFFE ID, even when signed.
  JwtSvidClaims not_spiffe = Claims();
  not_spiffe.subject = "web";
  EXPECT_FALSE(VerifyJwtSvid(Sign(not_spiffe), "audit", keys_, kNow));
}

TEST_F(JwtSvidTest, ATokenNeedsASubjectAndAnAudience) {
  JwtSvidClaims claims = Claims();
  claims.audience.clear();
  EXPECT_EQ(SignJwtSvid(key_.get(), kid_, claims).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace jwt_svid_test
}  // namespace mayfly
