// What anomaly detection keeps in the store, on both backends: quarantines
// (set once, lifted with their audit event, seen by another store on the
// same database), the identities nodes held, known source addresses, and
// audit events listed by type.
#include "mayfly/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <tuple>

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

class StoreAnomalyTest : public testing::StoreFixture {
 protected:
  using Held = std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>;
  Held IdentitiesHeld(int64_t since) {
    Held held;
    const std::vector<NodeIdentityStats> listed = store_->ListNodeIdentities(since).value();
    for (const NodeIdentityStats& h : listed) {
      held.emplace_back(h.node, h.spiffe_id, h.first_issued_at, h.recent);
    }
    std::sort(held.begin(), held.end());
    return held;
  }
  // How the database would run ListNodeIdentities' query (PostgreSQL: with
  // sequential scans discouraged, as they would be at a million rows).
  std::string IdentitiesPlan() {
    if (pg_) {
      return pg_->QueryValue(
                    "SET enable_seqscan = off; EXPLAIN (FORMAT JSON) SELECT node, spiffe_id, min(issued_at), "
                    "count(*) FILTER (WHERE issued_at >= 500) FROM certificates "
                    "WHERE kind = 'workload' AND node <> '' GROUP BY node, spiffe_id")
          .value_or("error");
    }
    sqlite3* db = nullptr;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_prepare_v2(db,
                                 "EXPLAIN QUERY PLAN SELECT node, spiffe_id, min(issued_at), sum(issued_at >= 500) "
                                 "FROM certificates WHERE kind = 'workload' AND node <> '' GROUP BY node, spiffe_id",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return plan;
  }
  // Takes the database back to before the index's migration; reopening
  // migrates it again, as it would an existing database.
  void UndoIdentityIndexMigration() {
    store_.reset();
    if (pg_) {
      auto r = pg_->Exec("DROP INDEX certs_node_identities; DELETE FROM schema_version WHERE version = 8");
      ASSERT_TRUE(r) << r.error().ToString();
    } else {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
      char* err = nullptr;
      EXPECT_EQ(sqlite3_exec(db, "DROP INDEX certs_node_identities; PRAGMA user_version = 9", nullptr, nullptr, &err),
                SQLITE_OK)
          << (err ? err : "");
      sqlite3_free(err);
      sqlite3_close(db);
    }
    Reopen();
  }
};

TEST_P(StoreAnomalyTest, QuarantineIsSetOnceLiftedWithItsEventAndSharedByTheDatabase) {
  const int64_t before = store_->ChangeGeneration().value();
  EXPECT_TRUE(store_->QuarantineNode("web-1", "refusal_burst", testing::TestEvent("anomaly")).value());
  EXPECT_FALSE(store_->QuarantineNode("web-1", "issuance_surge", testing::TestEvent("anomaly")).value());  // the first kind stays
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

// At a million rows the daemon's start must not read every certificate:
// the grouping reads a partial index in its order, on existing databases too.
TEST_P(StoreAnomalyTest, IdentitiesAreReadFromTheirIndexAlsoAfterAMigration) {
  CertRecord node_cert = Cert("05", "spiffe://example.org/mayfly/node/web-1", "web-1", 60);
  node_cert.kind = CertKind::kNode;  // not a workload's: not counted
  ASSERT_TRUE(store_->InsertCertificates(std::vector{
      Cert("01", "spiffe://example.org/web", "web-1", 100), Cert("02", "spiffe://example.org/web", "web-1", 900),
      Cert("03", "spiffe://example.org/api", "web-1", 950), Cert("04", "spiffe://example.org/web", "", 50),
      node_cert}));
  const Held expected{{"web-1", "spiffe://example.org/api", 950, 1}, {"web-1", "spiffe://example.org/web", 100, 1}};
  EXPECT_EQ(IdentitiesHeld(500), expected);
  std::string plan = IdentitiesPlan();
  EXPECT_NE(plan.find("certs_node_identities"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // SQLite: no sort either

  ASSERT_NO_FATAL_FAILURE(UndoIdentityIndexMigration());
  EXPECT_EQ(IdentitiesHeld(500), expected);
  plan = IdentitiesPlan();
  EXPECT_NE(plan.find("certs_node_identities"), std::string::npos) << plan;
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
