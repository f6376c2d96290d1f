// The PostgreSQL store as active-active daemons use it: two stores (two
// processes' worth of pools) on one database racing for tokens, the audit
// chain, CRL numbers and bans; connections lost and regained; bad settings.
#include "mayfly/postgres_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <set>
#include <thread>
#include <vector>

#include "mayfly/file_util.h"
#include "postgresql/pg_store_internal.h"
#include "support/store_fixture.h"

namespace mayfly {
namespace postgres_store_test {

constexpr int64_t kNow = 5000;

class PostgresStoreTest : public testing::StoreTestBase {
 protected:
  void SetUp() override { OpenFresh("postgresql"); }

  // Runs fn(store, thread index) on `threads` threads, alternating between
  // store_ and `other`, all released at once.
  template <typename Fn>
  void OnBoth(Store& other, int threads, Fn fn) {
    std::barrier start(threads);
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&, i] {
        Store& store = i % 2 == 0 ? *store_ : other;
        start.arrive_and_wait();
        fn(store, i);
      });
    }
    for (auto& worker : workers) worker.join();
  }

  static CertRecord Cert(const std::string& serial, const std::string& node = "") {
    return {.serial = serial, .spiffe_id = "spiffe://example.org/web", .node = node, .not_after = kNow + 3600,
            .der = std::string(200, '\x30')};
  }
  static AuditEvent Event(const std::string& subject) {
    return {.time = kNow, .type = "issue", .actor = "test", .subject = subject, .result = "ok", .detail = "{}"};
  }
};

TEST_F(PostgresStoreTest, ATokenConsumedFromTwoInstancesAtOnceEnrollsOnce) {
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  for (int round = 0; round < 5; ++round) {
    const std::string hash = "race-" + std::to_string(round);
    ASSERT_TRUE(store_->CreateToken({.hash = hash, .node = "web-" + std::to_string(round), .created_at = kNow,
                                     .expires_at = kNow + 60}, testing::TestEvent("token")));
    std::atomic<int> winners{0}, refused{0};
    OnBoth(*other, 8, [&](Store& store, int i) {
      CertRecord cert = Cert("r" + std::to_string(round) + "t" + std::to_string(i));
      cert.kind = CertKind::kNode;
      auto r = store.ConsumeTokenAndEnroll(hash, kNow, cert, Event(cert.serial));
      if (r) {
        ++winners;
      } else if (r.error().code == ErrorCode::kInvalidToken) {
        ++refused;
      } else {
        ADD_FAILURE() << r.error().ToString();
      }
    });
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(refused.load(), 7);
    EXPECT_EQ(store_->ListCertificates({.node = "web-" + std::to_string(round)}).value().certs.size(), 1u);
  }
  auto check = other->VerifyAuditChain();
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_EQ(check->first_bad_id, std::nullopt);
  EXPECT_EQ(check->events, 10) << "each round's token and its one enrollment";
}

TEST_F(PostgresStoreTest, AppendsFromTwoInstancesFormOneIntactChain) {
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  constexpr int kThreads = 6, kPerThread = 40;
  OnBoth(*other, kThreads, [&](Store& store, int i) {
    for (int n = 0; n < kPerThread; ++n) {
      const std::string serial = "a" + std::to_string(i) + "n" + std::to_string(n);
      if (n % 2 == 0) {
        auto r = store.AppendAudit(Event(serial));
        EXPECT_TRUE(r) << r.error().ToString();
      } else {
        const CertRecord cert = Cert(serial);
        const AuditEvent events[] = {Event(serial), Event(serial + "-second")};
        auto r = store.RecordIssuance(std::span(&cert, 1), events);
        EXPECT_TRUE(r) << r.error().ToString();
      }
    }
  });
  constexpr int kEvents = kThreads * (kPerThread / 2) * 3;
  for (Store* store : {store_.get(), other.get()}) {
    auto check = store->VerifyAuditChain();
    ASSERT_TRUE(check) << check.error().ToString();
    EXPECT_EQ(check->first_bad_id, std::nullopt);
    EXPECT_EQ(check->events, kEvents);
  }
  EXPECT_EQ(store_->ListAudit(0, 1, std::nullopt).value().at(0).id, kEvents);
}

TEST_F(PostgresStoreTest, CrlNumbersFromTwoInstancesStrictlyIncreaseAndNeverRepeat) {
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  constexpr int kThreads = 6, kPerThread = 50;
  std::vector<std::vector<int64_t>> seen(kThreads);
  OnBoth(*other, kThreads, [&](Store& store, int i) {
    for (int n = 0; n < kPerThread; ++n) {
      auto number = store.NextCrlNumber();
      ASSERT_TRUE(number) << number.error().ToString();
      seen[i].push_back(*number);
    }
  });
  std::set<int64_t> all;
  for (const auto& numbers : seen) {
    EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end(), std::less_equal<>()) &&
                std::adjacent_find(numbers.begin(), numbers.end()) == numbers.end())
        << "each caller sees its numbers strictly increase";
    all.insert(numbers.begin(), numbers.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  EXPECT_EQ(other->NextCrlNumber().value(), kThreads * kPerThread + 1);
}

TEST_F(PostgresStoreTest, ABanOnOneInstanceLeavesNoValidCertificateIssuedOnTheOther) {
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  // Issuance for node web-1 on one instance while the other bans it: every
  // certificate either committed before the ban (and the ban revoked it) or
  // was refused; none may stay valid.
  std::atomic<int> recorded{0}, refused{0}, attempts{0};
  OnBoth(*other, 4, [&](Store& store, int i) {
    if (i == 1) {
      // Ban while issuance is under way (the inserters do 600 in all).
      while (recorded.load() < 30 && attempts.load() < 300) std::this_thread::yield();
      auto r = store.Revoke({.node = "web-1"}, RevocationReason::kKeyCompromise, kNow, testing::kRevokeEvent);
      EXPECT_TRUE(r) << r.error().ToString();
      return;
    }
    for (int n = 0; n < 200; ++n) {
      const CertRecord cert = Cert("b" + std::to_string(i) + "n" + std::to_string(n), "web-1");
      auto r = store.InsertCertificates(std::span(&cert, 1));
      ++attempts;
      if (r) {
        ++recorded;
      } else if (r.error().code == ErrorCode::kNodeBanned) {
        ++refused;
      } else {
        ADD_FAILURE() << r.error().ToString();
      }
    }
  });
  EXPECT_GT(recorded.load() + refused.load(), 0);
  EXPECT_EQ(store_->CountCertificates(CertStatus::kValid, kNow).value(), 0)
      << recorded.load() << " recorded, " << refused.load() << " refused";
  EXPECT_EQ(store_->CountCertificates(CertStatus::kRevoked, kNow).value(), recorded.load());
}

TEST_F(PostgresStoreTest, InstancesStartingTogetherMigrateOnce) {
  // A second, empty schema, opened by four instances at once.
  auto schema = testing::PgTestSchema::Create();
  ASSERT_TRUE(schema) << schema.error().ToString();
  std::barrier start(4);
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto store = PostgresStore::Open((*schema)->url(), (*schema)->password_file());
      ASSERT_TRUE(store) << store.error().ToString();
      EXPECT_EQ((*store)->SchemaVersion(), pg::LatestSchemaVersion());
      ++opened;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 4);
  // One row per step: each step ran once.
  EXPECT_EQ((*schema)->QueryValue("SELECT count(*) FROM schema_version").value(),
            std::to_string(pg::LatestSchemaVersion()));
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerVersion) {
  store_.reset();
  ASSERT_TRUE(pg_->Exec("INSERT INTO schema_version (version) VALUES (99)"));
  auto store = PostgresStore::Open(pg_->url(), pg_->password_file());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kStore);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerDroppedItsConnections) {
  // application_name in the URL tells this store's sessions apart from
  // those of tests running beside it.
  store_.reset();
  const std::string url = pg_->url() + "&application_name=" + pg_->name();
  auto opened = PostgresStore::Open(url, pg_->password_file());
  ASSERT_TRUE(opened) << opened.error().ToString();
  std::unique_ptr<PostgresStore> store = std::move(*opened);
  ASSERT_TRUE(store->SetMeta("k", "v1"));
  const auto stat = [&](std::string_view name) {
    for (const StoreStat& s : store->Stats()) {
      if (s.name == name) return s.value;
    }
    ADD_FAILURE() << "no stat " << name;
    return uint64_t{0};
  };
  const uint64_t opened_before = stat("mayfly_store_pg_connections_opened_total");
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(pg_->QueryValue("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = '" + pg_->name() + "'")
                  .value(),
              "1");
    // A read, then a write, each on a connection the server closed.
    EXPECT_EQ(store->GetMeta("k").value(), round == 0 ? "v1" : "v2");
    auto written = store->SetMeta("k", "v2");
    EXPECT_TRUE(written) << written.error().ToString();
  }
  EXPECT_GE(stat("mayfly_store_pg_connections_dropped_total"), 2u);
  EXPECT_GE(stat("mayfly_store_pg_connections_opened_total"), opened_before + 2);
}

TEST_F(PostgresStoreTest, AnUnreachableDatabaseIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto store = PostgresStore::Open("postgresql://mayfly@127.0.0.1:1/mayfly", pg_->password_file());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message.find("127.0.0.1"), std::string::npos) << store.error().message;
}

TEST_F(PostgresStoreTest, AMultiHostUrlFallsThroughToTheServerThatAnswers) {
  const std::string url = pg_->url();
  const size_t at = url.find("@127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << url;
  std::string multi = url;
  multi.insert(at + 1, "127.0.0.1:1,");
  multi += "&target_session_attrs=read-write";
  auto store = PostgresStore::Open(multi, pg_->password_file());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE((*store)->SetMeta("k", "v"));
}

TEST_F(PostgresStoreTest, ThePasswordComesOnlyFromAPrivateFile) {
  struct Case {
    const char* what;
    std::string url;
    std::string file_text;  // "" for no file
    mode_t mode;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {"password in the url", "postgresql://mayfly:hunter2@127.0.0.1:1/mayfly", "pw\n", 0600, ErrorCode::kConfig,
       "password_file"},
      {"password in a conninfo url", "host=127.0.0.1 port=1 password=hunter2", "pw\n", 0600, ErrorCode::kConfig,
       "password_file"},
      {"empty password file", "postgresql://mayfly@127.0.0.1:1/mayfly", "\n", 0600, ErrorCode::kConfig, "empty"},
      {"missing password file", "postgresql://mayfly@127.0.0.1:1/mayfly", "", 0600, ErrorCode::kNotFound,
       "password file"},
      {"password file others can read", "postgresql://mayfly@127.0.0.1:1/mayfly", "pw\n", 0644, ErrorCode::kConfig,
       "chmod"},
      {"no url", "", "pw\n", 0600, ErrorCode::kConfig, "url"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string file = dir_.File("pw" + std::to_string(n++));
    if (!c.file_text.empty()) {
      ASSERT_TRUE(WriteFileAtomic(file, c.file_text, c.mode));
      ASSERT_EQ(chmod(file.c_str(), c.mode), 0);
    }
    auto store = PostgresStore::Open(c.url, file);
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find(c.message), std::string::npos) << store.error().ToString();
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos) << store.error().ToString();
    EXPECT_EQ(store.error().code, c.code) << store.error().ToString();
  }
}

}  // namespace postgres_store_test
}  // namespace mayfly
