// The admin changes' audit events, through ApiService: each is in the chain
// when the call is answered (no flush of the audit queue), with the detail
// docs/api.md describes, and a refused change leaves none.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "mayfly/identity.h"

namespace mayfly::testing {
namespace api_change_audit_test {

class ApiChangeAuditTest : public ApiTest {
 protected:
  // The newest event of `type`, read from the store straight after the call.
  AuditEvent Newest(const std::string& type) {
    auto events = rt_->store().ListAudit(0, 1, std::nullopt, type);
    EXPECT_TRUE(events) << events.error().ToString();
    if (!events || events->empty()) {
      ADD_FAILURE() << "no " << type << " event";
      return {};
    }
    return events->front();
  }
  size_t Count(const std::string& type) { return rt_->store().ListAudit(0, 1000, std::nullopt, type).value().size(); }
  void ExpectChainIntact() {
    auto check = rt_->store().VerifyAuditChain();
    ASSERT_TRUE(check) << check.error().ToString();
    EXPECT_FALSE(check->first_bad_id) << *check->first_bad_id;
  }
};

TEST_F(ApiChangeAuditTest, TokenEntryAndRevocationEventsAreChainedBeforeTheAnswer) {
  auto r = Post("/v1/admin/tokens", {{"node", "web-1"}, {"ttl", "30m"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  AuditEvent e = Newest("token");
  EXPECT_EQ(e.subject, "web-1");
  EXPECT_EQ(e.detail, AuditDetail({{"expires_at", Str(Json(r), "expires_at")}}));

  r = Post("/v1/admin/entries", {{"spiffe_id", "spiffe://example.org/ns/prod/api"}, {"node", "api-*"}}, AdminSocket());
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t id = Json(r).at("id").as_int64();
  e = Newest("entry_add");
  EXPECT_EQ(e.subject, "spiffe://example.org/ns/prod/api");
  EXPECT_EQ(boost::json::parse(e.detail), Json(r)) << "the detail is the entry as answered, its id included";

  r = Send("DELETE", "/v1/admin/entries/" + std::to_string(id), "", AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  e = Newest("entry_remove");
  EXPECT_EQ(e.subject, "entry " + std::to_string(id));
  EXPECT_EQ(e.detail, AuditDetail({{"id", std::to_string(id)}}));

  TestNode node = Enroll("web-1");
  ASSERT_EQ(Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"})).status, 200);
  r = Post("/v1/admin/revoke", {{"node", "web-1"}, {"reason", "keyCompromise"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Json(r).at("revoked").as_int64(), 2);
  e = Newest("revoke");
  EXPECT_EQ(e.subject, "web-1");
  EXPECT_EQ(e.detail, AuditDetail({{"by", "node"}, {"reason", "keyCompromise"}, {"count", "2"}}));
  ExpectChainIntact();
}

TEST_F(ApiChangeAuditTest, AdminRevocationRevokesRoleAndCertificatesWithOneEvent) {
  auto key = NewKey();
  auto r = Post("/v1/admin/admins", {{"name", "olga"}, {"role", "operator"}, {"csr", Csr(key.get())}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string olga = AdminSpiffeId(rt_->trust_domain(), "olga").value().ToString();

  const int64_t revoked = rt_->store().CountCertificates(CertStatus::kRevoked, 0).value();
  r = Post("/v1/admin/admins/revoke", {{"name", "olga"}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  const AuditEvent e = Newest("admin_revoke");
  EXPECT_EQ(e.subject, olga);
  EXPECT_EQ(e.detail, AuditDetail({{"count", "1"}}));
  EXPECT_TRUE(rt_->store().GetAdmin("olga").value()->revoked_at);
  EXPECT_EQ(rt_->store().CountCertificates(CertStatus::kRevoked, 0).value(), revoked + 1);
  ExpectChainIntact();
}

TEST_F(ApiChangeAuditTest, RefusedChangesAppendNoChangeEvent) {
  ASSERT_EQ(Post("/v1/admin/revoke", {{"serial", "abcdef"}}, AdminSocket()).status, 404);
  ASSERT_EQ(Send("DELETE", "/v1/admin/entries/999", "", AdminSocket()).status, 404);
  ASSERT_EQ(Post("/v1/admin/admins/revoke", {{"name", "nobody"}}, AdminSocket()).status, 404);
  rt_->audit().Flush();  // the refusals' own events, queued
  EXPECT_EQ(Count("revoke"), 0u);
  EXPECT_EQ(Count("entry_remove"), 0u);
  EXPECT_EQ(Count("admin_revoke"), 0u);
  ExpectChainIntact();
}

}  // namespace api_change_audit_test
}  // namespace mayfly::testing
