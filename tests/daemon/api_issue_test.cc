// Enroll, renew and sign through ApiService: the happy paths and every refusal.
#include <gtest/gtest.h>

#include <barrier>
#include <thread>

#include "api_fixture.h"

namespace mayfly::testing {
namespace api_issue_test {

class ApiIssueTest : public ApiTest {};

TEST_F(ApiIssueTest, EnrollIssuesANodeCertificateDurably) {
  const std::string token = CreateToken("web-1");
  EXPECT_TRUE(token.starts_with("web-1.")) << token;
  auto key = NewKey();
  auto r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(key.get())}}, Anonymous());
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(Str(body, "spiffe_id"), "spiffe://example.org/mayfly/node/web-1");
  EXPECT_EQ(Str(body, "chain"), rt_->ca()->chain_pem);
  EXPECT_EQ(Str(body, "bundle"), rt_->ca()->bundle_pem);
  auto cert = CertFromPem(Str(body, "certificate")).value();
  EXPECT_EQ(CertSpiffeId(cert.get()), "spiffe://example.org/mayfly/node/web-1");
  EXPECT_EQ(CertSerialHex(cert.get()), Str(body, "serial"));
  EXPECT_EQ(Str(body, "not_after"), FormatRfc3339(CertNotAfter(cert.get())));
  EXPECT_TRUE(KeysMatch(X509_get0_pubkey(cert.get()), key.get()));
  auto record = rt_->store().GetCertificate(Str(body, "serial")).value();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->kind, CertKind::kNode);
  EXPECT_EQ(record->node, "web-1");
}

TEST_F(ApiIssueTest, EnrollAcceptsTheNodesOwnIdInTheCsr) {
  const std::string token = CreateToken("web-2");
  auto key = NewKey();
  auto r = Post("/v1/enroll",
                {{"token", token}, {"csr", Csr(key.get(), {"spiffe://example.org/mayfly/node/web-2"})}},
                Anonymous());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiIssueTest, EnrollRefusalsChangeNothing) {
  const std::string token = CreateToken("web-1");
  auto key = NewKey();
  const auto before = Snapshot();
  struct Case {
    std::string name;
    boost::json::object body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"other identity", {{"token", token}, {"csr", Csr(key.get(), {"spiffe://example.org/mayfly/node/web-9"})}},
       403, "forbidden"},
      {"dns name", {{"token", token}, {"csr", Csr(key.get(), {}, {"web.internal"})}}, 403, "forbidden"},
      {"workload id", {{"token", token}, {"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"})}}, 403,
       "forbidden"},
      {"malformed csr", {{"token", token}, {"csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"}}, 400,
       "invalid_csr"},
      {"unknown token", {{"token", "web-1." + std::string(64, 'a')}, {"csr", Csr(key.get())}}, 401,
       "invalid_token"},
      {"malformed token", {{"token", "hello"}, {"csr", Csr(key.get())}}, 401, "invalid_token"},
      {"token for another node", {{"token", "web-2" + token.substr(5)}, {"csr", Csr(key.get())}}, 401,
       "invalid_token"},
      {"missing csr", {{"token", token}}, 400, "invalid_argument"},
      {"unknown field", {{"token", token}, {"csr", Csr(key.get())}, {"node", "web-1"}}, 400, "invalid_argument"},
      {"wrong type", {{"token", 5}, {"csr", Csr(key.get())}}, 400, "invalid_argument"},
  };
  for (const Case& c : cases) {
    auto r = Post("/v1/enroll", c.body, Anonymous());
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), c.code) << c.name;
    EXPECT_EQ(r.body.find(token.substr(6)), std::string::npos) << c.name << ": the token leaked";
  }
  auto r = Send("POST", "/v1/enroll", "{\"token\": ", Anonymous());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "invalid_argument");
  EXPECT_EQ(Snapshot(), before);
  // The token survived every refusal.
  r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(key.get())}}, Anonymous());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiIssueTest, TokenIsSingleUse) {
  const std::string token = CreateToken("web-1");
  auto r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(NewKey().get())}}, Anonymous());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto before = Snapshot();
  r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(NewKey().get())}}, Anonymous());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCodeOf(r), "invalid_token");
  EXPECT_NE(r.body.find("already been used"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiIssueTest, ExpiredTokenIsRefused) {
  const std::string token = CreateToken("web-1", "10m");
  clock_.Advance(std::chrono::minutes(11));
  const auto before = Snapshot();
  auto r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(NewKey().get())}}, Anonymous());
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiIssueTest, TwoThreadsEnrollingWithOneTokenOneWins) {
  const std::string token = CreateToken("web-1");
  constexpr int kThreads = 4;
  std::barrier sync(kThreads);
  std::vector<int> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto key = NewKey();
      const std::string csr = Csr(key.get());
      sync.arrive_and_wait();
      statuses[i] = Post("/v1/enroll", {{"token", token}, {"csr", csr}}, Anonymous()).status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 401), kThreads - 1);
  EXPECT_EQ(CountRows("certificates WHERE kind = 'node'"), 1);
}

TEST_F(ApiIssueTest, SignIssuesAWorkloadCertificateWithinTheEntry) {
  TestNode node = Enroll("web-1");
  auto key = NewKey();
  auto r = Sign(node, Csr(key.get(), {"spiffe://example.org/ns/prod/web"}, {"WEB.internal"}, {"10.0.0.1"}), "10m");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(Str(body, "spiffe_id"), "spiffe://example.org/ns/prod/web");
  auto cert = CertFromPem(Str(body, "certificate")).value();
  EXPECT_EQ(CertNotAfter(cert.get()) - CertNotBefore(cert.get()),
            std::chrono::minutes(10) + config_.issuance.backdate);
  auto record = rt_->store().GetCertificate(Str(body, "serial")).value();
  ASSERT_TRUE(record) << "the certificate must be durable before the answer";
  EXPECT_EQ(record->kind, CertKind::kWorkload);
  EXPECT_EQ(record->node, "web-1");
}

TEST_F(ApiIssueTest, SignClampsTheTtlToTheEntry) {
  TestNode node = Enroll("web-1");
  auto r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}), "20h");
  ASSERT_EQ(r.status, 200) << r.body;
  auto cert = CertFromPem(Str(Json(r), "certificate")).value();
  EXPECT_EQ(CertNotAfter(cert.get()) - CertNotBefore(cert.get()), std::chrono::hours(2) + config_.issuance.backdate);
}

TEST_F(ApiIssueTest, SignRefusalsChangeNothing) {
  TestNode web = Enroll("web-1");
  TestNode db = Enroll("db-1");
  auto key = NewKey();
  const auto before = Snapshot();
  struct Case {
    std::string name;
    const TestNode* node;
    boost::json::object body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"entry names another node", &db, {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"})}}, 403,
       "forbidden"},
      {"dns outside the entry", &web,
       {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"}, {"evil.internal"})}}, 403, "forbidden"},
      {"ip outside the entry", &web,
       {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"}, {}, {"10.9.9.9"})}}, 403, "forbidden"},
      {"no entry at all", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/other"})}}, 403,
       "forbidden"},
      {"another node's identity", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/mayfly/node/db-1"})}}, 403,
       "forbidden"},
      {"other trust domain", &web, {{"csr", Csr(key.get(), {"spiffe://evil.org/ns/prod/web"})}}, 403,
       "forbidden"},
      {"no uri", &web, {{"csr", Csr(key.get())}}, 400, "invalid_csr"},
      {"malformed spiffe id", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/a//b"})}}, 400,
       "invalid_spiffe_id"},
      {"malformed csr", &web, {{"csr", "garbage"}}, 400, "invalid_csr"},
      {"bad ttl", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"})}, {"ttl", "1x"}}, 400,
       "invalid_argument"},
      {"ttl of wrong type", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"})}, {"ttl", 60}}, 400,
       "invalid_argument"},
      {"unknown field", &web, {{"csr", Csr(key.get(), {"spiffe://example.org/ns/prod/web"})}, {"dns", "x"}}, 400,
       "invalid_argument"},
  };
  for (const Case& c : cases) {
    auto r = Post("/v1/sign", c.body, AsNode(*c.node));
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), c.code) << c.name << ": " << r.body;
  }
  auto r = Send("POST", "/v1/sign", "[1,2]", AsNode(web));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiIssueTest, RenewIssuesAFreshNodeCertificateForANewKey) {
  TestNode node = Enroll("web-1");
  auto key = NewKey();
  auto r = Post("/v1/renew", {{"csr", Csr(key.get())}}, AsNode(node));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(Str(body, "spiffe_id"), "spiffe://example.org/mayfly/node/web-1");
  EXPECT_NE(Str(body, "serial"), node.serial);
  EXPECT_TRUE(rt_->store().GetCertificate(Str(body, "serial")).value());
}

TEST_F(ApiIssueTest, RenewRefusesTheSameKeyAndOtherNames) {
  TestNode node = Enroll("web-1");
  const auto before = Snapshot();
  auto r = Post("/v1/renew", {{"csr", Csr(node.key.get())}}, AsNode(node));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("new key"), std::string::npos);
  r = Post("/v1/renew", {{"csr", Csr(NewKey().get(), {"spiffe://example.org/mayfly/node/web-2"})}}, AsNode(node));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiIssueTest, RevokedNodeCannotRenew) {
  TestNode node = Enroll("web-1");
  auto r = Post("/v1/admin/revoke", {{"serial", node.serial}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto before = Snapshot();
  r = Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, AsNode(node));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "unauthenticated");
  EXPECT_NE(r.body.find("certificate revoked"), std::string::npos);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiIssueTest, BannedNodeCannotSignUntilReEnrolled) {
  TestNode node = Enroll("web-1");
  auto r = Post("/v1/admin/revoke", {{"node", "web-1"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto before = Snapshot();
  r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "node_banned");
  EXPECT_NE(r.body.find("banned"), std::string::npos);
  EXPECT_NE(r.body.find("join token"), std::string::npos);
  EXPECT_EQ(Snapshot(), before);

  TestNode again = Enroll("web-1");
  r = Sign(again, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(r.status, 200) << r.body;
  // The old certificate stays revoked.
  r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(r.status, 401) << r.body;
}

}  // namespace api_issue_test
}  // namespace mayfly::testing
