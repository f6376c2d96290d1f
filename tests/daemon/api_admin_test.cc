// The admin routes through ApiService: tokens, entries, revoke, certs, audit.
#include <gtest/gtest.h>

#include <openssl/x509.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace api_admin_test {

class ApiAdminTest : public ApiTest {};

TEST_F(ApiAdminTest, TokenResponseHasExpiryAndFingerprint) {
  auto r = Post("/v1/admin/tokens", {{"node", "web-1"}, {"ttl", "30m"}}, Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(Str(body, "ca_fingerprint"), fingerprint_);
  EXPECT_EQ(Str(body, "expires_at"), FormatRfc3339(std::chrono::floor<Seconds>(clock_.Now()) + std::chrono::minutes(30)));
  const std::string token = Str(body, "token");
  EXPECT_EQ(token.size(), std::string("web-1.").size() + 64);
  // Only the hash is stored, and the token is in no audit event.
  rt_->audit().Flush();
  auto audit = Send("GET", "/v1/admin/audit", "", AdminSocket());
  EXPECT_EQ(audit.body.find(token.substr(6)), std::string::npos);
  EXPECT_NE(audit.body.find("\"token\""), std::string::npos);
}

TEST_F(ApiAdminTest, TokenRefusals) {
  const auto before = Snapshot();
  EXPECT_EQ(Post("/v1/admin/tokens", {{"node", "Bad Name"}}, AdminSocket()).status, 400);
  EXPECT_EQ(Post("/v1/admin/tokens", {{"node", "web-1"}, {"ttl", "0s"}}, AdminSocket()).status, 400);
  EXPECT_EQ(Post("/v1/admin/tokens", {{"ttl", "1h"}}, AdminSocket()).status, 400);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiAdminTest, EntriesListAddRemove) {
  auto r = Send("GET", "/v1/admin/entries", "", Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = Json(r).at("entries").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(Str(list[0], "source"), "config");
  EXPECT_EQ(Str(list[0], "ttl"), "2h");
  EXPECT_TRUE(list[1].at("ttl").is_null());

  TestNode node = Enroll("api-1");
  const std::string csr = Csr(NewKey().get(), {"spiffe://example.org/ns/prod/api"}, {"api.internal"});
  EXPECT_EQ(Sign(node, csr).status, 403);

  r = Post("/v1/admin/entries",
           {{"spiffe_id", "spiffe://example.org/ns/prod/api"}, {"node", "api-*"}, {"dns", {"API.internal"}},
            {"ttl", "30m"}},
           Admin());
  ASSERT_EQ(r.status, 201) << r.body;
  auto entry = Json(r);
  const int64_t id = entry.at("id").as_int64();
  EXPECT_EQ(Str(entry, "source"), "api");
  EXPECT_EQ(entry.at("dns").as_array()[0].as_string(), "api.internal");
  // The entry cache is refreshed at once.
  EXPECT_EQ(Sign(node, csr).status, 200);

  r = Send("DELETE", "/v1/admin/entries", "", AdminSocket(), {{"id", std::to_string(id)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("removed").as_int64(), id);
  EXPECT_EQ(Sign(node, csr).status, 403);
  r = Send("DELETE", "/v1/admin/entries/" + std::to_string(id), "", AdminSocket());
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(ApiAdminTest, EntryPathFormAndRefusals) {
  auto r = Post("/v1/admin/entries", {{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}}, AdminSocket());
  ASSERT_EQ(r.status, 201);
  const int64_t id = Json(r).at("id").as_int64();
  const auto before = Snapshot();
  struct Case {
    boost::json::object body;
    std::string code;
  };
  const std::vector<Case> cases = {
      {{{"spiffe_id", "spiffe://example.org/mayfly/node/x"}, {"node", "n"}}, "invalid_spiffe_id"},
      {{{"spiffe_id", "spiffe://other.org/x"}, {"node", "n"}}, "invalid_spiffe_id"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "N N"}}, "invalid_name"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}, {"dns", {"bad_name!"}}}, "invalid_name"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}, {"ips", {"300.1.1.1"}}}, "invalid_name"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}, {"dns", "one"}}, "invalid_argument"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}, {"ttl", "100d"}}, "invalid_argument"},
      {{{"spiffe_id", "spiffe://example.org/x"}}, "invalid_argument"},
      {{{"spiffe_id", "spiffe://example.org/x"}, {"node", "n"}, {"source", "config"}}, "invalid_argument"},
  };
  for (const Case& c : cases) {
    r = Post("/v1/admin/entries", c.body, AdminSocket());
    EXPECT_EQ(r.status, 400) << boost::json::serialize(c.body) << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), c.code) << boost::json::serialize(c.body);
  }
  EXPECT_EQ(Send("DELETE", "/v1/admin/entries", "", AdminSocket()).status, 400);
  EXPECT_EQ(Send("DELETE", "/v1/admin/entries/abc", "", AdminSocket()).status, 400);
  EXPECT_EQ(Send("DELETE", "/v1/admin/entries/1", "", AdminSocket()).status, 404) << "a config entry";
  EXPECT_EQ(Snapshot(), before);
  r = Send("DELETE", "/v1/admin/entries/" + std::to_string(id), "", AdminSocket());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiAdminTest, RevokeListsTheSerialOnTheNextCrl) {
  TestNode node = Enroll("web-1");
  auto crl = CurrentCrl();
  ASSERT_TRUE(crl);
  const int64_t number = CrlNumber(crl.get());
  EXPECT_FALSE(CrlLists(crl.get(), node.serial));

  auto r = Post("/v1/admin/revoke", {{"serial", node.serial}, {"reason", "keyCompromise"}}, Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(body.at("revoked").as_int64(), 1);
  EXPECT_EQ(body.at("serials").as_array()[0].as_string(), node.serial);

  crl = CurrentCrl();
  ASSERT_TRUE(crl);
  EXPECT_GT(CrlNumber(crl.get()), number);
  EXPECT_TRUE(CrlLists(crl.get(), node.serial));
  // Signed by the intermediate.
  auto inter = CertFromPem(rt_->ca()->chain_pem).value();
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(inter.get())), 1);

  // Revoking it again revokes nothing more.
  r = Post("/v1/admin/revoke", {{"serial", node.serial}}, Admin());
  EXPECT_EQ(Json(r).at("revoked").as_int64(), 0);
}

TEST_F(ApiAdminTest, RevokeByNodeRevokesItsWorkloadsToo) {
  TestNode node = Enroll("web-1");
  auto r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  ASSERT_EQ(r.status, 200);
  const std::string workload = Str(Json(r), "serial");
  r = Post("/v1/admin/revoke", {{"node", "web-1"}, {"reason", "key_compromise"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("revoked").as_int64(), 2);
  auto crl = CurrentCrl();
  EXPECT_TRUE(CrlLists(crl.get(), workload));
  EXPECT_TRUE(CrlLists(crl.get(), node.serial));
  EXPECT_TRUE(rt_->store().GetNode("web-1").value()->banned);
}

TEST_F(ApiAdminTest, RevokeBySpiffeId) {
  TestNode node = Enroll("web-1");
  ASSERT_EQ(Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"})).status, 200);
  ASSERT_EQ(Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"})).status, 200);
  auto r = Post("/v1/admin/revoke", {{"spiffe_id", "spiffe://example.org/ns/prod/web"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("revoked").as_int64(), 2);
}

TEST_F(ApiAdminTest, RevokeRefusals) {
  TestNode node = Enroll("web-1");
  const auto before = Snapshot();
  const std::vector<std::pair<boost::json::object, int>> cases = {
      {{}, 400},
      {{{"serial", node.serial}, {"node", "web-1"}}, 400},
      {{{"serial", "xyz"}}, 400},
      {{{"serial", "abcdef"}}, 404},
      {{{"node", "Web 1"}}, 400},
      {{{"spiffe_id", "http://x"}}, 400},
      {{{"serial", node.serial}, {"reason", "because"}}, 400},
      {{{"serial", node.serial}, {"extra", 1}}, 400},
  };
  for (const auto& [body, status] : cases) {
    auto r = Post("/v1/admin/revoke", body, AdminSocket());
    EXPECT_EQ(r.status, status) << boost::json::serialize(body) << ": " << r.body;
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ApiAdminTest, CertsFilterAndPage) {
  TestNode web = Enroll("web-1");
  TestNode db = Enroll("db-1");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Sign(web, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"})).status, 200);
  }
  ASSERT_EQ(Post("/v1/admin/revoke", {{"serial", db.serial}}, AdminSocket()).status, 200);

  auto r = Send("GET", "/v1/admin/certs", "", Admin(), {{"node", "web-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("certificates").as_array().size(), 4u);

  r = Send("GET", "/v1/admin/certs", "", AdminSocket(), {{"status", "revoked"}});
  auto certs = Json(r).at("certificates").as_array();
  ASSERT_EQ(certs.size(), 1u);
  EXPECT_EQ(Str(certs[0], "serial"), db.serial);
  EXPECT_EQ(Str(certs[0], "status"), "revoked");
  EXPECT_EQ(Str(certs[0], "kind"), "node");
  EXPECT_EQ(Str(certs[0], "reason"), "unspecified");
  EXPECT_TRUE(certs[0].as_object().contains("revoked_at"));

  // Pages of 2 walk everything exactly once.
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::map<std::string, std::string> q{{"limit", "2"}, {"spiffe_id", "spiffe://example.org/ns/prod/web"}};
    if (!cursor.empty()) q["cursor"] = cursor;
    r = Send("GET", "/v1/admin/certs", "", AdminSocket(), q);
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = Json(r);
    for (const auto& c : body.at("certificates").as_array()) seen.insert(Str(c, "serial"));
    cursor = body.as_object().contains("next_cursor") ? Str(body, "next_cursor") : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(pages, 2);

  clock_.Advance(std::chrono::hours(3));
  r = Send("GET", "/v1/admin/certs", "", AdminSocket(), {{"status", "expired"}});
  EXPECT_EQ(Json(r).at("certificates").as_array().size(), 3u);

  for (auto q : std::vector<std::map<std::string, std::string>>{
           {{"status", "bogus"}}, {{"limit", "0"}}, {{"limit", "x"}}, {{"cursor", "nope"}}, {{"color", "red"}}}) {
    EXPECT_EQ(Send("GET", "/v1/admin/certs", "", AdminSocket(), q).status, 400) << q.begin()->first;
  }
}

TEST_F(ApiAdminTest, AuditRecordsChangesAndRefusalsNewestFirst) {
  TestNode node = Enroll("web-1");
  ASSERT_EQ(Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/other"})).status, 403);
  // A refusal's row is queued; the revocation's commits with it, at once.
  rt_->audit().Flush();
  ASSERT_EQ(Post("/v1/admin/revoke", {{"node", "web-1"}}, AdminSocket()).status, 200);
  auto r = Send("GET", "/v1/admin/audit", "", Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = Json(r).at("events").as_array();
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(Str(e, "type"));
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types[0], "revoke");
  EXPECT_EQ(types[1], "refused");
  EXPECT_EQ(Str(events[1], "result"), "forbidden");
  EXPECT_EQ(Str(events[1], "actor"), "spiffe://example.org/mayfly/node/web-1");
  EXPECT_EQ(Str(events[1], "subject"), "spiffe://example.org/ns/prod/other");
  EXPECT_TRUE(events[1].at("detail").is_object());
  EXPECT_EQ(types[2], "enroll");
  EXPECT_EQ(types[3], "token");
  EXPECT_GT(events[0].at("id").as_int64(), events[1].at("id").as_int64());

  r = Send("GET", "/v1/admin/audit", "", AdminSocket(), {{"limit", "2"}});
  auto body = Json(r);
  EXPECT_EQ(body.at("events").as_array().size(), 2u);
  const int64_t before = body.at("next_before").as_int64();
  r = Send("GET", "/v1/admin/audit", "", AdminSocket(), {{"limit", "2"}, {"before", std::to_string(before)}});
  EXPECT_EQ(Str(Json(r).at("events").as_array()[0], "type"), "enroll");

  auto future = FormatRfc3339(clock_.Now() + std::chrono::hours(1));
  r = Send("GET", "/v1/admin/audit", "", AdminSocket(), {{"since", future}});
  EXPECT_TRUE(Json(r).at("events").as_array().empty());
  EXPECT_EQ(Send("GET", "/v1/admin/audit", "", AdminSocket(), {{"since", "yesterday"}}).status, 400);
  EXPECT_EQ(Send("GET", "/v1/admin/audit", "", AdminSocket(), {{"before", "-1"}}).status, 400);
}

}  // namespace api_admin_test
}  // namespace mayfly::testing
