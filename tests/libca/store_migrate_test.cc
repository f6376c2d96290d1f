// Copying a filled SQLite store into PostgreSQL (store_copy.h, the SQLite
// export and the PostgreSQL import): every row arrives unchanged, the CA keys
// move into the records, the chain verifies with the same head, new ids
// follow the copied ones; a non-empty target, a database in use and a broken
// chain are refused with nothing written.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "mayfly/file_util.h"
#include "mayfly/postgres_store.h"
#include "mayfly/sqlite_store.h"
#include "mayfly/store_copy.h"
#include "mayfly/x509_util.h"
#include "support/fresh_pg_schema.h"
#include "support/store_fixture.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace store_migrate_test {

constexpr int64_t kNow = 1'800'000'000;
constexpr int kCerts = 23;  // several pages of kPage
constexpr int kPage = 5;

std::string Hex64(int n) {
  std::string s = std::to_string(n);
  return std::string(64 - s.size(), 'a') + s;
}

class StoreMigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = testing::FreshPgSchemaOrSkip();
    if (!pg_) return;
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store) << store.error().ToString();
    source_ = std::move(*store);
  }

  // A store with some of everything: CA records with key files, certificates
  // (some revoked), enrolled, banned and never-enrolled nodes, used, unused
  // and invalidated tokens, api and config entries (one removed), audit
  // events, CRL numbers, settings.
  void Fill() {
    auto pki = testing::TestPki::Make();
    testing::WriteTextFile(dir_.File("root.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nroot bytes\n");
    testing::WriteTextFile(dir_.File("intermediate.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nint bytes\n");
    std::vector<CaCertRecord> cas = {
        {.role = CaRole::kRoot, .state = CaState::kActive, .key_id = "r1", .issuer_key_id = "r1", .serial = "11",
         .der = CertToDer(pki->root.get()).value(), .key_file = "root.key", .not_after = kNow + 9000,
         .created_at = kNow - 100, .changed_at = kNow - 100, .crl_pem = "-----BEGIN X509 CRL-----\n"},
        {.role = CaRole::kIntermediate, .state = CaState::kActive, .key_id = "i1", .issuer_key_id = "r1",
         .serial = "12", .der = CertToDer(pki->intermediate.get()).value(), .key_file = "intermediate.key",
         .not_after = kNow + 5000, .created_at = kNow - 100, .changed_at = kNow - 50},
        {.role = CaRole::kCross, .state = CaState::kPrepared, .key_id = "r1", .issuer_key_id = "r0", .serial = "13",
         .der = "cross der", .not_after = kNow + 4000, .created_at = kNow - 90, .changed_at = kNow - 90}};
    ASSERT_TRUE(source_->SaveCaCerts(cas, {.time = kNow - 100, .type = "init", .actor = "cli", .result = "ok",
                                           .detail = "{}"}));
    root_fingerprint_ = CertFingerprint(pki->root.get()).value();

    for (int i = 1; i <= kCerts; ++i) {
      CertRecord cert{.serial = "c" + std::to_string(i), .spiffe_id = "spiffe://example.org/w" + std::to_string(i % 4),
                      .node = i % 2 ? "node-a" : "", .kind = i % 3 ? CertKind::kWorkload : CertKind::kAdmin,
                      .issuer = "i1", .not_before = kNow - 10, .not_after = kNow + i, .issued_at = kNow - 10 + i,
                      .der = std::string("\x30\x82\x00") + char(i) + std::string(1, '\0') + "der"};
      ASSERT_TRUE(source_->RecordIssuance(
          std::span(&cert, 1), std::vector<AuditEvent>{{.time = kNow + i, .type = "issue", .actor = "node-a",
                                                        .subject = cert.serial, .result = "ok", .detail = "{}"}}));
    }
    ASSERT_TRUE(source_->Revoke({.serial = "c3"}, RevocationReason::kKeyCompromise, kNow + 1, testing::kRevokeEvent));
    ASSERT_TRUE(source_->Revoke({.serial = "c7"}, RevocationReason::kSuperseded, kNow + 2, testing::kRevokeEvent));

    for (const auto& [hash, node] : std::vector<std::pair<int, std::string>>{
             {1, "node-a"}, {2, "node-b"}, {3, "node-c"}, {4, "node-a"}}) {
      ASSERT_TRUE(source_->CreateToken({.hash = Hex64(hash), .node = node, .created_at = kNow, .expires_at = kNow + 600},
                                       testing::TestEvent("token")));
    }
    ASSERT_TRUE(source_->ConsumeTokenAndEnroll(
        Hex64(1), kNow + 5,
        {.serial = "n1", .spiffe_id = "spiffe://example.org/mayfly/node/node-a", .kind = CertKind::kNode,
         .not_after = kNow + 600, .der = "node der"},
        AuditEvent{.time = kNow + 5, .type = "enroll", .actor = "1.2.3.4", .subject = "node-a", .result = "ok",
                   .detail = "{}"}));
    // node-b banned before it enrolled: its token is invalidated.
    ASSERT_TRUE(
        source_->Revoke({.node = "node-b"}, RevocationReason::kCessationOfOperation, kNow + 6, testing::kRevokeEvent));

    ASSERT_TRUE(source_->AddEntry({.spiffe_id = "spiffe://example.org/api", .node = "node-a",
                                   .dns = {"api.internal", "x.internal"}, .ips = {"10.0.0.1"}, .max_ttl = 600},
                                  testing::kEntryEvent));
    auto gone = source_->AddEntry({.spiffe_id = "spiffe://example.org/gone", .node = "node-*"}, testing::kEntryEvent);
    ASSERT_TRUE(gone);
    ASSERT_TRUE(source_->RemoveEntry(*gone, testing::TestEvent("entry_remove")));
    std::vector<EntryRecord> config = {
        {.spiffe_id = "spiffe://example.org/web", .node = "node-*", .dns = {"web.internal"}, .max_ttl = 300},
        {.spiffe_id = "spiffe://example.org/db", .node = "db-?", .ips = {"10.0.0.2", "::1"}}};
    ASSERT_TRUE(source_->ReplaceConfigEntries(config));
    // The newest entry removed: only SQLite's sequence remembers its id.
    auto last = source_->AddEntry({.spiffe_id = "spiffe://example.org/last", .node = "n"}, testing::kEntryEvent);
    ASSERT_TRUE(last);
    ASSERT_TRUE(source_->RemoveEntry(*last, testing::TestEvent("entry_remove")));
    last_entry_id_ = *last;

    for (int i = 0; i < 3; ++i) ASSERT_TRUE(source_->NextCrlNumber());
    ASSERT_TRUE(source_->SetMeta("trust_domain", "example.org"));
    ASSERT_TRUE(source_->PutAdmin({.name = "alice", .role = AdminRole::kOperator, .created_at = kNow + 8}, {}, {}));
    ASSERT_TRUE(source_->PutAdmin({.name = "bob", .role = AdminRole::kViewer, .created_at = kNow + 9}, {}, {}));
    ASSERT_TRUE(source_->RevokeAdmin("bob", "spiffe://example.org/admin/bob", kNow + 10, testing::kRevokeEvent));
    ASSERT_TRUE(source_->SetMeta("root_fingerprint", root_fingerprint_));
    ASSERT_TRUE(source_->AppendAudit({.time = kNow + 50, .type = "revoke", .actor = "admin-socket",
                                      .subject = "c3", .result = "ok", .detail = "{\"reason\":\"x\"}"}));
  }

  // Runs the copy as `store migrate` does; the source store must be closed.
  Result<StoreCopyReport> Migrate() {
    auto from = OpenSqliteExport(path_);
    if (!from) return std::unexpected(from.error());
    auto to = BeginPostgresImport(pg_->url(), pg_->password_file());
    if (!to) return std::unexpected(to.error());
    auto report = CopyStore(**from, dir_.path(), **to, kPage);
    if (!report) return report;
    to->reset();
    auto copy = OpenPostgresExport(pg_->url(), pg_->password_file());
    if (!copy) return std::unexpected(copy.error());
    auto store = PostgresStore::Open(pg_->url(), pg_->password_file());
    if (!store) return std::unexpected(store.error());
    if (auto r = VerifyCopy(**from, dir_.path(), **copy, **store, kPage); !r) return std::unexpected(r.error());
    return report;
  }

  std::unique_ptr<Store> OpenTarget() {
    auto store = PostgresStore::Open(pg_->url(), pg_->password_file());
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("ca.db");
  std::unique_ptr<testing::PgTestSchema> pg_;
  std::unique_ptr<Store> source_;  // declared after pg_: closed first
  std::string root_fingerprint_;
  int64_t last_entry_id_ = 0;
};

TEST_F(StoreMigrateTest, CopiesEveryRecordUnchanged) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  // What the source holds, read through the Store interface before the copy.
  std::map<std::string, CertRecord> certs;
  for (int i = 1; i <= kCerts; ++i) {
    auto c = source_->GetCertificate("c" + std::to_string(i));
    ASSERT_TRUE(c && *c);
    certs["c" + std::to_string(i)] = **c;
  }
  const auto cas = source_->ListCaCerts().value();
  const auto entries = source_->ListEntries().value();
  const auto admins = source_->ListAdmins().value();
  const auto audit = source_->ListAudit(0, 1000, std::nullopt).value();
  const auto chain = source_->VerifyAuditChain().value();
  ASSERT_FALSE(chain.first_bad_id);
  source_.reset();

  auto report = Migrate();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->counts.certificates, kCerts + 1);
  EXPECT_EQ(report->counts.ca_certs, 3);
  EXPECT_EQ(report->counts.admins, static_cast<int64_t>(admins.size()));
  EXPECT_EQ(report->counts.audit_events, static_cast<int64_t>(audit.size()));
  EXPECT_EQ(report->counters.crl_number, 3);
  EXPECT_EQ(report->root_fingerprint, root_fingerprint_);

  auto target = OpenTarget();
  ASSERT_TRUE(target);
  for (const auto& [serial, want] : certs) {
    auto got = target->GetCertificate(serial);
    ASSERT_TRUE(got && *got) << serial;
    const CertRecord& c = **got;
    EXPECT_EQ(c.der, want.der) << serial;
    EXPECT_EQ(c.spiffe_id, want.spiffe_id);
    EXPECT_EQ(c.node, want.node);
    EXPECT_EQ(c.kind, want.kind);
    EXPECT_EQ(c.issuer, want.issuer);
    EXPECT_EQ(c.not_before, want.not_before);
    EXPECT_EQ(c.not_after, want.not_after);
    EXPECT_EQ(c.issued_at, want.issued_at);
    EXPECT_EQ(c.revoked_at, want.revoked_at) << serial;
    EXPECT_EQ(c.reason, want.reason) << serial;
  }
  EXPECT_EQ(certs["c3"].reason, RevocationReason::kKeyCompromise);
  EXPECT_EQ(target->ListRevokedUnexpired("", kNow).value().size(), 2u);

  // CA records: unchanged, with each key file's bytes as key_pem.
  auto target_cas = target->ListCaCerts().value();
  ASSERT_EQ(target_cas.size(), cas.size());
  for (size_t i = 0; i < cas.size(); ++i) {
    CaCertRecord want = cas[i];
    if (!want.key_file.empty()) want.key_pem = ReadFile(dir_.File(want.key_file)).value();
    EXPECT_EQ(target_cas[i], want) << want.serial;
  }
  EXPECT_EQ(target_cas[0].key_pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nroot bytes\n");
  EXPECT_EQ(target_cas[2].key_pem, "");  // the cross certificate has no key of its own

  // Nodes and tokens: enrolled, banned, and token states as they were.
  EXPECT_GT(target->GetNode("node-a").value()->enrolled_at, 0);
  EXPECT_TRUE(target->GetNode("node-b").value()->banned);
  EXPECT_EQ(target->GetNode("node-b").value()->banned_at, kNow + 6);
  EXPECT_EQ(testing::BannedNodeNames(*target), std::vector<std::string>{"node-b"});
  CertRecord node_cert{.serial = "n2", .spiffe_id = "spiffe://example.org/mayfly/node/node-c", .kind = CertKind::kNode, .not_after = kNow + 600, .der = "d"};
  auto used = target->ConsumeTokenAndEnroll(Hex64(1), kNow + 7, node_cert);
  ASSERT_FALSE(used);
  EXPECT_NE(used.error().message.find("already been used"), std::string::npos) << used.error().message;
  auto invalidated = target->ConsumeTokenAndEnroll(Hex64(2), kNow + 7, node_cert);
  ASSERT_FALSE(invalidated);
  EXPECT_NE(invalidated.error().message.find("invalidated"), std::string::npos) << invalidated.error().message;
  auto unused = target->ConsumeTokenAndEnroll(Hex64(3), kNow + 7, node_cert);
  ASSERT_TRUE(unused) << unused.error().ToString();
  EXPECT_EQ(*unused, "node-c");

  // Entries, ids included.
  auto target_entries = target->ListEntries().value();
  ASSERT_EQ(target_entries.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(target_entries[i].id, entries[i].id);
    EXPECT_EQ(target_entries[i].spiffe_id, entries[i].spiffe_id);
    EXPECT_EQ(target_entries[i].dns, entries[i].dns);
    EXPECT_EQ(target_entries[i].ips, entries[i].ips);
    EXPECT_EQ(target_entries[i].max_ttl, entries[i].max_ttl);
    EXPECT_EQ(target_entries[i].source, entries[i].source);
  }
  // Admin roles, revoked names included: a revoked admin stays revoked.
  auto target_admins = target->ListAdmins().value();
  ASSERT_EQ(target_admins.size(), admins.size());
  for (size_t i = 0; i < admins.size(); ++i) {
    EXPECT_EQ(target_admins[i].name, admins[i].name);
    EXPECT_EQ(target_admins[i].role, admins[i].role);
    EXPECT_EQ(target_admins[i].created_at, admins[i].created_at);
    EXPECT_EQ(target_admins[i].revoked_at, admins[i].revoked_at);
  }
  ASSERT_GE(admins.size(), 2u);

  // The chain: same events, verifies, same head; the next event links to it.
  auto target_audit = target->ListAudit(0, 1000, std::nullopt).value();
  ASSERT_EQ(target_audit.size(), audit.size());
  for (size_t i = 0; i < audit.size(); ++i) {
    EXPECT_EQ(target_audit[i].id, audit[i].id);
    EXPECT_EQ(target_audit[i].time, audit[i].time);
    EXPECT_EQ(target_audit[i].prev_hash, audit[i].prev_hash);
    EXPECT_EQ(target_audit[i].hash, audit[i].hash);
  }
  auto check = target->VerifyAuditChain().value();
  EXPECT_FALSE(check.first_bad_id);
  EXPECT_EQ(check.events, chain.events);
  auto next = target->AppendAudit({.time = kNow + 60, .type = "token", .actor = "a", .subject = "s", .result = "ok",
                                   .detail = "{}"});
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->id, audit.front().id + 1);
  EXPECT_EQ(next->prev_hash, audit.front().hash);
  EXPECT_FALSE(target->VerifyAuditChain().value().first_bad_id);

  // Counters: a new entry gets an id above every id ever used, the CRL number
  // goes on, and new certificates get new row ids.
  auto added = target->AddEntry({.spiffe_id = "spiffe://example.org/new", .node = "x"}, testing::kEntryEvent);
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_GT(*added, last_entry_id_);
  auto crl = target->NextCrlNumber();
  ASSERT_TRUE(crl) << crl.error().ToString();
  EXPECT_EQ(*crl, 4);
  CertRecord fresh{.serial = "fresh", .spiffe_id = "spiffe://example.org/fresh", .kind = CertKind::kWorkload, .not_after = kNow + 10, .der = "x"};
  ASSERT_TRUE(target->InsertCertificates(std::span(&fresh, 1)));
  auto listed = target->ListCertificates({.now = kNow, .limit = 1});
  ASSERT_TRUE(listed) << listed.error().ToString();
  auto& newest = *listed;
  ASSERT_EQ(newest.certs.size(), 1u);
  EXPECT_EQ(newest.certs[0].serial, "fresh");
  EXPECT_EQ(target->GetMeta("root_fingerprint").value(), root_fingerprint_);
}

TEST_F(StoreMigrateTest, RefusesATargetThatIsNotEmptyAndWritesNothing) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  source_.reset();
  {
    auto target = OpenTarget();
    ASSERT_TRUE(target);
    ASSERT_TRUE(target->AppendAudit({.time = 1, .type = "init", .actor = "a", .subject = "s", .result = "ok",
                                     .detail = "{}"}));
  }
  auto report = Migrate();
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kConflict);
  EXPECT_NE(report.error().message.find("not empty: it holds 1 audit events"), std::string::npos)
      << report.error().message;
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM certificates").value(), "0");
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM audit_events").value(), "1");
}

TEST_F(StoreMigrateTest, RefusesWhileAnotherProcessHasTheDatabaseOpen) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  // source_ stays open, as a running daemon's store would.
  auto from = OpenSqliteExport(path_);
  ASSERT_FALSE(from);
  EXPECT_EQ(from.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(from.error().message.find("mayfly-ca serve"), std::string::npos) << from.error().message;
  // And while the export holds it, no store can open it.
  source_.reset();
  auto held = OpenSqliteExport(path_);
  ASSERT_TRUE(held) << held.error().ToString();
  EXPECT_FALSE(SqliteStore::Open(path_));
}

TEST_F(StoreMigrateTest, AFailedCopyLeavesTheTargetEmptyAndCanBeRunAgain) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  source_.reset();
  // A missing key file fails the copy after nothing was committed.
  ASSERT_EQ(::rename(dir_.File("intermediate.key").c_str(), dir_.File("moved").c_str()), 0);
  auto failed = Migrate();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("intermediate.key"), std::string::npos) << failed.error().message;
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM ca_certs").value(), "0");

  ASSERT_EQ(::rename(dir_.File("moved").c_str(), dir_.File("intermediate.key").c_str()), 0);
  auto report = Migrate();
  ASSERT_TRUE(report) << report.error().ToString();
}

TEST_F(StoreMigrateTest, RefusesASourceWithoutCaRecords) {
  ASSERT_TRUE(source_->AppendAudit({.time = 1, .type = "init", .actor = "a", .subject = "s", .result = "ok",
                                    .detail = "{}"}));
  source_.reset();
  auto report = Migrate();
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("no CA certificate records"), std::string::npos) << report.error().message;
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM audit_events").value(), "0");
}

TEST_F(StoreMigrateTest, RefusesASourceWhoseAuditChainIsBroken) {
  Fill();
  ASSERT_FALSE(HasFatalFailure());
  source_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto report = Migrate();
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("first bad event: 3"), std::string::npos) << report.error().message;
  // The CA records and certificates written before the audit pages rolled back with them.
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM audit_events").value(), "0");
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM certificates").value(), "0");
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM ca_certs").value(), "0");
  EXPECT_EQ(pg_->QueryValue("SELECT last_id FROM audit_head").value(), "0");
}

}  // namespace store_migrate_test
}  // namespace mayfly
