// POST /v1/jwt: JWT-SVIDs for the identities a node's entries allow,
// validated by PyJWT (an independent relying party) against the SPIFFE
// bundle, and JWT keys that rotate with the CA.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api_fixture.h"
#include "mayfly/jwk.h"
#include "support/test_pki.h"

namespace mayfly::testing {
namespace api_jwt_test {

constexpr const char* kWeb = "spiffe://example.org/ns/prod/web";

class ApiJwtTest : public ApiTest {
 protected:
  net::HttpResponse Jwt(const TestNode& node, boost::json::object body) {
    return Post("/v1/jwt", body, AsNode(node));
  }
  std::string TokenFor(const TestNode& node, const std::string& audience) {
    auto r = Jwt(node, {{"spiffe_id", kWeb}, {"audience", boost::json::array{audience.c_str()}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Str(Json(r), "token") : "";
  }
  std::string SpiffeBundle() {
    auto r = Send("GET", "/v1/bundle", "", Anonymous(), {{"format", "spiffe"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  // The kids of the bundle's JWT authorities.
  std::set<std::string> JwtKids() {
    std::set<std::string> kids;
    const boost::json::value bundle = boost::json::parse(SpiffeBundle());
    for (const auto& key : bundle.at("keys").as_array()) {
      if (key.at("use") == "jwt-svid") kids.insert(std::string(key.at("kid").as_string()));
    }
    return kids;
  }
  static std::string KidOf(const std::string& token) {
    auto header = DecodeBase64Url(token.substr(0, token.find('.')));
    EXPECT_TRUE(header);
    return std::string(boost::json::parse(header.value_or("{}")).as_object().at("kid").as_string());
  }
  // PyJWT's verdict on `token` for `audience` against the bundle served now.
  CommandResult Validate(const std::string& token, const std::string& audience) {
    WriteTextFile(dir_.File("bundle.json"), SpiffeBundle());
    WriteTextFile(dir_.File("token"), token);
    return RunCommand("/usr/bin/python3 " + std::string(MAYFLY_SOURCE_DIR) + "/tests/support/jwt_validate.py " +
                      dir_.File("bundle.json") + " " + dir_.File("token") + " " + audience);
  }
};

TEST_F(ApiJwtTest, ANodeGetsATokenThatPyJwtValidatesAgainstTheSpiffeBundle) {
  const TestNode node = Enroll("web-1");
  const int64_t now = ToUnixSeconds(clock_.Now());
  auto r = Jwt(node, {{"spiffe_id", kWeb}, {"audience", {"billing", "audit"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto answer = Json(r);
  EXPECT_EQ(Str(answer, "spiffe_id"), kWeb);
  // Five minutes when the request names no TTL.
  EXPECT_EQ(Str(answer, "expires_at"), FormatRfc3339(FromUnixSeconds(now + 300)));
  const std::string token = Str(answer, "token");

  auto valid = Validate(token, "billing");
  EXPECT_EQ(valid.status, 0) << valid.output;
  EXPECT_EQ(valid.output, "valid " + std::string(kWeb) + " " + KidOf(token) + "\n");
  auto other = Validate(token, "payments");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find("InvalidAudience"), std::string::npos) << other.output;

  // Audited, without the token: it is a bearer credential.
  rt_->audit().Flush();
  auto events = rt_->store().ListAudit(0, 10, std::nullopt).value();
  auto issued = std::find_if(events.begin(), events.end(), [](const AuditEvent& e) { return e.type == "jwt_issue"; });
  ASSERT_NE(issued, events.end());
  EXPECT_EQ(issued->subject, kWeb);
  EXPECT_NE(issued->detail.find("billing audit"), std::string::npos) << issued->detail;
  for (const AuditEvent& e : events) EXPECT_EQ(e.detail.find(token.substr(token.rfind('.'))), std::string::npos);
}

TEST_F(ApiJwtTest, ATokenExpiresForRelyingParties) {
  // The shortest a token can be is [issuance] min_ttl (a minute); PyJWT
  // reads the real clock, so the CA's clock goes back instead.
  clock_.Advance(-std::chrono::minutes(2));
  const TestNode node = Enroll("web-1");
  auto r = Jwt(node, {{"spiffe_id", kWeb}, {"audience", {"billing"}}, {"ttl", "1m"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto expired = Validate(Str(Json(r), "token"), "billing");
  EXPECT_NE(expired.status, 0);
  EXPECT_NE(expired.output.find("ExpiredSignature"), std::string::npos) << expired.output;
}

TEST_F(ApiJwtTest, OnlyIdentitiesTheNodesEntriesAllowAndWellFormedRequests) {
  const TestNode web = Enroll("web-1");
  auto forbidden = Jwt(web, {{"spiffe_id", "spiffe://example.org/ns/prod/db"}, {"audience", {"billing"}}});
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(ErrorCodeOf(forbidden), "forbidden");
  auto reserved = Jwt(web, {{"spiffe_id", "spiffe://example.org/mayfly/ca"}, {"audience", {"billing"}}});
  EXPECT_EQ(reserved.status, 403) << reserved.body;
  auto anonymous = Post("/v1/jwt", {{"spiffe_id", kWeb}, {"audience", {"billing"}}}, Anonymous());
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;

  const std::pair<boost::json::object, std::string> bad[] = {
      {{{"spiffe_id", kWeb}}, "audience"},
      {{{"spiffe_id", kWeb}, {"audience", boost::json::array{}}}, "audience"},
      {{{"spiffe_id", kWeb}, {"audience", "billing"}}, "audience"},
      {{{"spiffe_id", kWeb}, {"audience", {""}}}, "audience"},
      {{{"audience", {"billing"}}}, "spiffe_id"},
      {{{"spiffe_id", kWeb}, {"audience", {"billing"}}, {"ttl", "soon"}}, "ttl"},
      {{{"spiffe_id", kWeb}, {"audience", {"billing"}}, {"csr", "x"}}, "csr"},
  };
  for (const auto& [body, field] : bad) {
    auto r = Jwt(web, body);
    EXPECT_EQ(r.status, 400) << boost::json::serialize(body) << ": " << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << r.body;
  }
}

class ApiJwtShortMaxTest : public ApiJwtTest {
  void Customize(CaConfig& config) override { config.jwt.max_ttl = std::chrono::minutes(3); }
};

TEST_F(ApiJwtShortMaxTest, NoTokenOutlivesJwtMaxTtl) {
  const TestNode node = Enroll("web-1");
  const int64_t now = ToUnixSeconds(clock_.Now());
  for (const char* ttl : {"", "2h"}) {
    boost::json::object body{{"spiffe_id", kWeb}, {"audience", {"billing"}}};
    if (*ttl != '\0') body["ttl"] = ttl;
    auto r = Jwt(node, body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Str(Json(r), "expires_at"), FormatRfc3339(FromUnixSeconds(now + 180))) << ttl;
  }
}

// prepare publishes the next JWT key before it signs; activate switches
// signing to it; the old key leaves the bundle once the longest token it
// could have signed ([jwt] max_ttl, 1h here) has expired.
TEST_F(ApiJwtTest, JwtKeysRotateWithTheCa) {
  const TestNode node = Enroll("web-1");
  const std::set<std::string> first = JwtKids();
  ASSERT_EQ(first.size(), 1u);
  const std::string old_kid = *first.begin();
  EXPECT_EQ(KidOf(TokenFor(node, "billing")), old_kid);

  ASSERT_TRUE(rt_->PrepareCa(false, "test"));
  const std::set<std::string> both = JwtKids();
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(KidOf(TokenFor(node, "billing")), old_kid) << "a prepared key does not sign";

  ASSERT_TRUE(rt_->ActivateCa("test"));
  const std::string token = TokenFor(node, "billing");
  const std::string new_kid = KidOf(token);
  EXPECT_NE(new_kid, old_kid);
  EXPECT_TRUE(both.contains(new_kid));
  EXPECT_EQ(JwtKids(), both) << "the old key validates the tokens it signed until they expire";
  // Nothing can retire yet: the old intermediate's leaves are live, and so
  // may be the tokens the old JWT key signed.
  auto early = rt_->RetireCa("test");
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message.find("tokens valid until"), std::string::npos) << early.error().message;
  EXPECT_TRUE(JwtKids().contains(old_kid));

  clock_.Advance(std::chrono::hours(1) + std::chrono::seconds(1));
  auto retired = rt_->RetireCa("test");
  ASSERT_TRUE(retired) << retired.error().ToString();
  EXPECT_EQ(JwtKids(), std::set<std::string>{new_kid}) << *retired;

  // The key is the store's: a restart signs with the same one.
  Stop();
  Start();
  EXPECT_EQ(KidOf(TokenFor(node, "billing")), new_kid);
}

TEST_F(ApiJwtTest, RotatingAfterACompromiseDropsTheOldJwtKeyAtOnce) {
  const TestNode node = Enroll("web-1");
  const std::string old_token = TokenFor(node, "billing");
  ASSERT_EQ(Validate(old_token, "billing").status, 0);
  ASSERT_TRUE(rt_->RotateCaNow(/*revoke_old=*/true, "test"));
  const std::set<std::string> kids = JwtKids();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_FALSE(kids.contains(KidOf(old_token)));
  auto refused = Validate(old_token, "billing");
  EXPECT_NE(refused.status, 0) << refused.output;
}

}  // namespace api_jwt_test
}  // namespace mayfly::testing
