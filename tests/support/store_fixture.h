// The store's conformance suite: each test runs on every backend, SQLite in a
// temporary directory and PostgreSQL in a fresh schema of the test cluster
// (skipped, saying how to start the cluster, when it is not configured;
// failed instead when MAYFLY_TEST_PG_REQUIRED=1).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "mayfly/store.h"
#include "support/pg_test_schema.h"
#include "support/temp_dir.h"

namespace mayfly::testing {

class StoreTestBase : public ::testing::Test {
 protected:
  // Opens store_ of `backend` ("sqlite" or "postgresql") over a new, empty database.
  void OpenFresh(const std::string& backend) {
    if (backend == "postgresql") {
      if (std::string why = PgTestSchema::NotConfigured(); !why.empty()) {
        if (PgTestSchema::Required()) FAIL() << why;
        GTEST_SKIP() << why;
      }
      auto schema = PgTestSchema::Create();
      ASSERT_TRUE(schema) << schema.error().ToString();
      pg_ = std::move(*schema);
      options_ = {.backend = StoreBackend::kPostgresql, .url = pg_->url(), .password_file = pg_->password_file()};
    } else {
      options_ = {.backend = StoreBackend::kSqlite, .sqlite_path = path_};
    }
    Reopen();
  }
  // Closes the store (when open) and opens the same database again.
  void Reopen() {
    store_.reset();
    auto store = OpenStore(options_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  // A second store on the same database, as another process would open it.
  std::unique_ptr<Store> OpenAnother() {
    auto store = OpenStore(options_);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("ca.db");
  std::unique_ptr<PgTestSchema> pg_;  // postgresql only
  StoreOptions options_;
  std::unique_ptr<Store> store_;  // declared last: closed before the schema is dropped
};

// A conformance test: TEST_P on a fixture deriving from this, instantiated
// with INSTANTIATE_TEST_SUITE_P(Backends, Fixture, StoreBackends(), BackendName).
class StoreFixture : public StoreTestBase, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override { OpenFresh(GetParam()); }
};

// The names of the banned nodes, from the store's restricted nodes.
inline std::vector<std::string> BannedNodeNames(Store& store) {
  std::vector<std::string> names;
  const std::vector<NodeRecord> restricted = store.ListRestrictedNodes().value();
  for (const NodeRecord& n : restricted) {
    if (n.banned) names.push_back(n.name);
  }
  return names;
}

// An audit event for a test's store write, whose content does not matter.
inline AuditEvent TestEvent(std::string type = "test") {
  return AuditEvent{.time = 1, .type = std::move(type), .actor = "test", .subject = "test", .result = "ok",
                    .detail = "{}"};
}
// Builders of such events, ignoring what the write did.
inline const RevocationAuditEvent kRevokeEvent = [](const std::vector<std::string>&) { return TestEvent("revoke"); };
inline const EntryAuditEvent kEntryEvent = [](int64_t) { return TestEvent("entry_add"); };

inline auto StoreBackends() { return ::testing::Values(std::string("sqlite"), std::string("postgresql")); }
inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace mayfly::testing
