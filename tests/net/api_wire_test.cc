// The API's wire shapes, both ends: what the daemon writes reads back as the
// same code, status and certificate on the client side.
#include "mayfly/net/api_wire.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace mayfly::net::testing {
namespace api_wire_test {

HttpResponse Answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(ApiWireTest, EveryErrorCodeRoundTripsAsACode) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const HttpResponse r = Answer(HttpStatusFor(code), ErrorBody(code, "what went wrong \"quoted\""));
    const ApiError read = ReadApiError(r, "POST /v1/sign");
    EXPECT_EQ(read.error.code, code) << ErrorCodeName(code);
    EXPECT_NE(read.error.message.find("what went wrong \"quoted\""), std::string::npos) << read.error.message;
    EXPECT_EQ(read.error.message.rfind("POST /v1/sign: HTTP ", 0), 0u) << read.error.message;
  }
}

TEST(ApiWireTest, ErrorBodiesAreEscapedJson) {
  const auto v = boost::json::parse(ErrorBody(ErrorCode::kTooLarge, "a \"quoted\"\nline")).as_object();
  EXPECT_EQ(v.at("error").as_object().at("code"), "too_large");
  EXPECT_EQ(v.at("error").as_object().at("message"), "a \"quoted\"\nline");
}

TEST(ApiWireTest, StatusesFollowTheCodes) {
  const struct {
    ErrorCode code;
    int status;
  } cases[] = {
      {ErrorCode::kInvalidCsr, 400},      {ErrorCode::kInvalidToken, 401}, {ErrorCode::kForbidden, 403},
      {ErrorCode::kNodeBanned, 403},      {ErrorCode::kNotFound, 404},     {ErrorCode::kConflict, 409},
      {ErrorCode::kTooLarge, 413},        {ErrorCode::kRateLimited, 429},  {ErrorCode::kUnavailable, 503},
      {ErrorCode::kStore, 500},           {ErrorCode::kInternal, 500},
  };
  for (const auto& c : cases) EXPECT_EQ(HttpStatusFor(c.code), c.status) << ErrorCodeName(c.code);
}

TEST(ApiWireTest, AnswersWithoutAKnownCodeAreReadByStatus) {
  const struct {
    int status;
    const char* body;
    ErrorCode want;
  } cases[] = {
      {401, "<html>proxy login</html>", ErrorCode::kUnauthenticated},
      {403, "", ErrorCode::kForbidden},
      {429, "slow down", ErrorCode::kRateLimited},
      {404, "{\"error\":{\"code\":\"a_code_from_the_future\",\"message\":\"m\"}}", ErrorCode::kInvalidArgument},
      {502, "<html>bad gateway</html>", ErrorCode::kUnavailable},
      {500, "{\"error\":\"not an object\"}", ErrorCode::kUnavailable},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ReadApiError(Answer(c.status, c.body), "GET /v1/crl").error.code, c.want) << c.status << " " << c.body;
  }
}

TEST(ApiWireTest, RetryAfterIsReadOnlyAsWholePositiveSeconds) {
  const struct {
    const char* value;
    int want;
  } cases[] = {{"7", 7}, {"0", 0}, {"-3", 0}, {"5s", 0}, {"", 0}, {"Wed, 21 Oct 2015 07:28:00 GMT", 0}};
  for (const auto& c : cases) {
    const HttpResponse r = Answer(429, ErrorBody(ErrorCode::kRateLimited, "slow"), {{"retry-after", c.value}});
    EXPECT_EQ(ReadApiError(r, "x").retry_after, c.want) << c.value;
  }
}

TEST(ApiWireTest, CertificateAnswersRoundTrip) {
  const CertificateAnswer sent{.certificate = "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
                               .chain = "chain",
                               .bundle = "bundle",
                               .spiffe_id = "spiffe://example.org/web",
                               .serial = "1f",
                               .not_before = "2026-12-05T08:00:00Z",
                               .not_after = "2026-12-05T09:00:00Z"};
  auto got = ParseCertificateAnswer(boost::json::serialize(ToJson(sent)), "POST /v1/sign");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->certificate, sent.certificate);
  EXPECT_EQ(got->chain, sent.chain);
  EXPECT_EQ(got->bundle, sent.bundle);
  EXPECT_EQ(got->spiffe_id, sent.spiffe_id);
  EXPECT_EQ(got->serial, sent.serial);
  EXPECT_EQ(got->not_before, sent.not_before);
  EXPECT_EQ(got->not_after, sent.not_after);
}

TEST(ApiWireTest, AnswersThatAreNoCertificateAreRefused) {
  for (const char* body : {"", "not json", "[]", "{}", "{\"certificate\":\"\"}", "{\"certificate\":42}"}) {
    auto got = ParseCertificateAnswer(body, "POST /v1/renew");
    ASSERT_FALSE(got) << body;
    EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(got.error().message.rfind("POST /v1/renew: ", 0), 0u) << got.error().message;
  }
}

TEST(ApiWireTest, JwtAnswerGivesTokenAndExpiry) {
  auto got = ParseJwtAnswer(R"({"token":"a.b.c","kid":"k1","expires_at":"2030-01-02T03:04:05Z"})", "POST /v1/jwt");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->token, "a.b.c");
  EXPECT_EQ(got->expires_at, FromUnixSeconds(1893553445));
}

TEST(ApiWireTest, AnswersThatAreNoJwtAreRefused) {
  for (const char* body : {"", "not json", "[]", "{}", R"({"token":"a.b.c"})", R"({"expires_at":"2030-01-02T03:04:05Z"})",
                           R"({"token":"","expires_at":"2030-01-02T03:04:05Z"})",
                           R"({"token":42,"expires_at":"2030-01-02T03:04:05Z"})",
                           R"({"token":"a.b.c","expires_at":"tomorrow"})"}) {
    auto got = ParseJwtAnswer(body, "POST /v1/jwt");
    ASSERT_FALSE(got) << body;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(got.error().message, "POST /v1/jwt: the answer has no token and expires_at");
  }
}

}  // namespace api_wire_test
}  // namespace mayfly::net::testing
