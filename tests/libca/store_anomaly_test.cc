// What anomaly detection keeps in the store, on both backends: quarantines
// (set once, lifted with their audit event, seen by another store on the
// same database), the identities nodes held, known source addresses, and
// audit events listed by type.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include "support/store_fixture.h"

namespace mayfly {
namespace store_anomaly_test {

CertRecord Cert(std::string serial, std::string spiffe_id, std::string node, int64_t issued_at) {
  return {.serial = std::move(serial), .spiffe_id = std::move(spiffe_id), .node = std::move(node),
          .kind = CertKind::kWorkload, .not_before = issued_at, .not_after = issued_at + 3600,
          .issued_at = issued_at, .der = std::string(600, '\x30')};
}

AuditEvent Event(std::string type, std::string subject) {
  return {.time = 100, .type = std::move(type), .actor = "test", .subject = std::move(subject), .result = "ok"};
}

class StoreAnomalyTest : public testing::StoreFixture {};

TEST_P(StoreAnomalyTest, QuarantineIsSetOnceLiftedWithItsEventAndSharedByTheDatabase) {
  const int64_t before = store_->ChangeGeneration().value();
  EXPECT_TRUE(store_->QuarantineNode("web-1", "refusal_burst").value());
  EXPECT_FALSE(store_->QuarantineNode("web-1", "issuance_surge").value());  // the first kind stays
  EXPECT_GT(store_->ChangeGeneration().value(), before);
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  auto nodes = other->ListNodes().value();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "web-1");
  EXPECT_EQ(nodes[0].quarantine, "refusal_burst");
  EXPECT_FALSE(nodes[0].banned);  // a quarantine is not a ban

  ASSERT_TRUE(other->LiftQuarantine("web-1", Event("node_unban", "web-1")));
  EXPECT_EQ(store_->GetNode("web-1").value()->quarantine, "");
  auto again = store_->LiftQuarantine("web-1", Event("node_unban", "web-1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  // One event: the refused lift appended nothing.
  EXPECT_EQ(store_->ListAudit(0, 10, std::nullopt, "node_unban").value().size(), 1u);
  EXPECT_FALSE(store_->VerifyAuditChain().value().first_bad_id);
}

TEST_P(StoreAnomalyTest, IdentitiesHeldAndRecentCounts) {
  ASSERT_TRUE(store_->InsertCertificates(std::vector{
      Cert("01", "spiffe://example.org/web", "web-1", 100), Cert("02", "spiffe://example.org/web", "web-1", 900),
      Cert("03", "spiffe://example.org/api", "web-1", 950), Cert("04", "spiffe://example.org/web", "web-2", 50)}));
  auto held = store_->ListNodeIdentities(500).value();
  std::map<std::string, std::pair<int64_t, int64_t>> by_key;
  for (const NodeIdentityStats& h : held) by_key[h.node + " " + h.spiffe_id] = {h.first_issued_at, h.recent};
  EXPECT_EQ(by_key.size(), 3u);
  EXPECT_EQ(by_key["web-1 spiffe://example.org/web"], std::make_pair(int64_t{100}, int64_t{1}));
  EXPECT_EQ(by_key["web-1 spiffe://example.org/api"], std::make_pair(int64_t{950}, int64_t{1}));
  EXPECT_EQ(by_key["web-2 spiffe://example.org/web"], std::make_pair(int64_t{50}, int64_t{0}));
}

TEST_P(StoreAnomalyTest, SourceAddressesKeepTheirFirstSighting) {
  ASSERT_TRUE(store_->AddNodeAddresses(std::vector<NodeAddress>{{"web-1", "10.0.0.1", 5}, {"web-1", "10.0.0.2", 6}}));
  ASSERT_TRUE(store_->AddNodeAddresses(std::vector<NodeAddress>{{"web-1", "10.0.0.1", 9}}));
  auto known = store_->ListNodeAddresses().value();
  ASSERT_EQ(known.size(), 2u);
  for (const NodeAddress& a : known) EXPECT_EQ(a.first_seen, a.address == "10.0.0.1" ? 5 : 6);
}

TEST_P(StoreAnomalyTest, AuditListedByType) {
  ASSERT_TRUE(store_->AppendAudit(Event("anomaly", "web-1")));
  ASSERT_TRUE(store_->AppendAudit(Event("issue", "web-1")));
  ASSERT_TRUE(store_->AppendAudit(Event("anomaly", "web-2")));
  auto anomalies = store_->ListAudit(0, 10, std::nullopt, "anomaly").value();
  ASSERT_EQ(anomalies.size(), 2u);
  EXPECT_EQ(anomalies[0].subject, "web-2");
  EXPECT_EQ(store_->ListAudit(0, 10, std::nullopt).value().size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreAnomalyTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_anomaly_test
}  // namespace mayfly
