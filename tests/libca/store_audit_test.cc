// The audit log in the store: the hash chain, tamper detection, and listing.
#include "mayfly/store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace store_audit_test {

using testing::TempDir;

AuditEvent Event(int64_t time, std::string type, std::string subject = "spiffe://example.org/web") {
  return {.time = time, .type = std::move(type), .actor = "admin-socket", .subject = std::move(subject),
          .result = "ok", .detail = R"({"n":1})"};
}

// The documented hash, computed independently of the store.
std::string ExpectedHash(const AuditEvent& e) {
  std::string encoded;
  for (const std::string& field : {e.prev_hash, std::to_string(e.time), e.type, e.actor, e.subject,
                                   e.result, e.detail}) {
    for (int shift = 56; shift >= 0; shift -= 8) encoded.push_back(static_cast<char>(field.size() >> shift));
    encoded += field;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(encoded.data(), encoded.size(), digest, &size, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

class StoreAuditTest : public testing::StoreFixture {
 protected:
  void AppendFive() {
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(store_->AppendAudit(Event(100 + i, "issue")));
  }
  // Edits the database behind the store's back, with SQL for its backend.
  void Tamper(const std::string& sqlite_sql, const std::string& pg_sql) {
    if (pg_) {
      auto r = pg_->Exec(pg_sql);
      ASSERT_TRUE(r) << r.error().ToString();
      return;
    }
    const std::string& sql = sqlite_sql;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  std::optional<int64_t> FirstBad() {
    auto r = store_->VerifyAuditChain();
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->first_bad_id : -1;
  }

};

TEST_P(StoreAuditTest, EventsChainAndVerify) {
  EXPECT_EQ(FirstBad(), std::nullopt);
  std::string prev;
  for (int i = 1; i <= 3; ++i) {
    auto event = store_->AppendAudit(Event(100 + i, "token", "node-" + std::to_string(i)));
    ASSERT_TRUE(event) << event.error().ToString();
    EXPECT_EQ(event->id, i);
    EXPECT_EQ(event->prev_hash, prev);
    EXPECT_EQ(event->hash, ExpectedHash(*event));
    prev = event->hash;
  }
  EXPECT_EQ(FirstBad(), std::nullopt);
  auto check = store_->VerifyAuditChain();
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_EQ(check->events, 3);
}

TEST_P(StoreAuditTest, TamperingIsFoundAtTheFirstBadEvent) {
  struct Case {
    const char* what;
    const char* sql;     // the same for both backends unless pg_sql is set
    int64_t first_bad;
    const char* pg_sql = nullptr;
  };
  const Case cases[] = {
      {"edited detail", "UPDATE audit_events SET detail = '{}' WHERE id = 3", 3},
      {"edited time", "UPDATE audit_events SET time = time + 1 WHERE id = 2", 2},
      {"replaced hash", "UPDATE audit_events SET hash = prev_hash WHERE id = 4", 4},
      {"deleted middle", "DELETE FROM audit_events WHERE id = 3", 4},
      {"deleted first", "DELETE FROM audit_events WHERE id = 1", 2},
      {"deleted last", "DELETE FROM audit_events WHERE id = 5", 5},
      // PostgreSQL assigns ids from the chain's head row, so the forger
      // names one (and leaves the head alone, or rewrites it: either way
      // the hash gives it away).
      {"inserted at the end",
       "INSERT INTO audit_events (time, type, actor, subject, result, detail, prev_hash, hash) "
       "SELECT 200, 'issue', 'x', 'y', 'ok', '{}', hash, 'ab' FROM audit_events WHERE id = 5",
       6,
       "INSERT INTO audit_events (id, time, type, actor, subject, result, detail, prev_hash, hash) "
       "SELECT 6, 200, 'issue', 'x', 'y', 'ok', '{}', hash, 'ab' FROM audit_events WHERE id = 5; "
       "UPDATE audit_head SET last_id = 6, last_hash = 'ab'"},
      {"inserted in a gap",
       "DELETE FROM audit_events WHERE id = 2; INSERT INTO audit_events (id, time, type, actor, "
       "subject, result, detail, prev_hash, hash) SELECT 2, 1, 'issue', 'x', 'y', 'ok', '{}', "
       "hash, 'cd' FROM audit_events WHERE id = 1",
       2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Tamper("DELETE FROM audit_events; DELETE FROM sqlite_sequence",
           "DELETE FROM audit_events; UPDATE audit_head SET last_id = 0, last_hash = ''");
    AppendFive();
    ASSERT_EQ(FirstBad(), std::nullopt);
    Tamper(c.sql, c.pg_sql != nullptr ? c.pg_sql : c.sql);
    EXPECT_EQ(FirstBad(), c.first_bad);
  }
}

TEST_P(StoreAuditTest, ListsNewestFirstWithSinceAndBefore) {
  AppendFive();
  const auto ids = [this](int64_t since, int limit, std::optional<int64_t> before) {
    std::vector<int64_t> out;
    const std::vector<AuditEvent> events = store_->ListAudit(since, limit, before).value();
    for (const AuditEvent& e : events) out.push_back(e.id);
    return out;
  };
  EXPECT_EQ(ids(0, 100, std::nullopt), (std::vector<int64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(ids(0, 2, std::nullopt), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(ids(0, 2, 4), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(ids(103, 100, std::nullopt), (std::vector<int64_t>{5, 4, 3}));
  EXPECT_EQ(ids(103, 100, 4), (std::vector<int64_t>{3}));
  EXPECT_EQ(ids(0, 0, std::nullopt).size(), 1u) << "limit clamps to 1";
  auto event = store_->ListAudit(0, 1, std::nullopt).value().at(0);
  EXPECT_EQ(event.type, "issue");
  EXPECT_EQ(event.actor, "admin-socket");
  EXPECT_EQ(event.detail, R"({"n":1})");
  EXPECT_EQ(event.hash, ExpectedHash(event));
}

TEST_P(StoreAuditTest, PagingALongLogSeesEveryEventOnce) {
  // Enough events that listing starts by walking ids and ends reading the
  // time index; both must agree.
  std::vector<AuditEvent> events;
  for (int i = 0; i < 30000; ++i) events.push_back(Event(1000 + i, "issue"));
  ASSERT_TRUE(store_->RecordIssuance({}, events));
  for (int64_t since : {int64_t{0}, int64_t{1000 + 5000}}) {
    std::optional<int64_t> before;
    int64_t expected = 30000;
    while (true) {
      auto page = store_->ListAudit(since, 1000, before).value();
      if (page.empty()) break;
      for (const AuditEvent& e : page) ASSERT_EQ(e.id, expected--);
      before = page.back().id;
    }
    EXPECT_EQ(expected, since == 0 ? 0 : 5000);
  }
  EXPECT_EQ(FirstBad(), std::nullopt);
}

TEST_P(StoreAuditTest, IssuanceAndItsEventCommitTogether) {
  const CertRecord cert{.serial = "0a", .spiffe_id = "spiffe://example.org/web", .not_after = 500};
  const AuditEvent issued = Event(100, "issue");
  ASSERT_TRUE(store_->RecordIssuance(std::span(&cert, 1), std::span(&issued, 1)));
  auto clash = store_->RecordIssuance(std::span(&cert, 1), std::span(&issued, 1));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->ListAudit(0, 10, std::nullopt).value().size(), 1u);
  EXPECT_EQ(FirstBad(), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreAuditTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_audit_test
}  // namespace mayfly
