// `mayfly-ca store migrate` with the real binaries: a CA used on SQLite
// (tokens, an enrollment, revocations, an entry), the daemon stopped, the
// store copied into PostgreSQL, and the daemon started again on the copy,
// whose audit chain verifies and whose records are all there.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/fresh_pg_schema.h"
#include "support/test_pki.h"

namespace mayfly {
namespace store_migrate_cli_test {

namespace json = boost::json;

class StoreMigrateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = testing::FreshPgSchemaOrSkip();
    if (!pg_) return;
  }
  void TearDown() override { ca_.Stop(); }

  std::string Path(const std::string& name) const { return ca_.Path(name); }

  // Enrolls `node` with a fresh token over the API (curl), as an agent would.
  void Enroll(const std::string& node) {
    auto token = ca_.Cli("--json token create --node " + node);
    ASSERT_EQ(token.status, 0) << token.output;
    const std::string t(json::parse(token.output).as_object().at("token").as_string());
    const std::string csr = testing::OpensslCsr(Path(node + ".key"), Path(node + ".csr"));
    testing::WriteTextFile(Path(node + ".req"), json::serialize(json::object{{"token", t}, {"csr", csr}}));
    auto r = testing::RunCommand("curl -s -o " + Path(node + ".json") + " -w '%{http_code}' --cacert " +
                                 Path("ca/root.pem") + " -X POST --data @" + Path(node + ".req") + " " + ca_.api() +
                                 "/v1/enroll");
    ASSERT_EQ(r.output, "200") << ReadFile(Path(node + ".json")).value_or("");
  }

  std::string Migrate() {
    return "store migrate --to '" + pg_->url() + "' --password-file " + pg_->password_file();
  }

  int64_t AuditEvents() {
    auto r = ca_.Cli("--json audit verify");
    EXPECT_EQ(r.status, 0) << r.output;
    auto v = json::parse(r.output).as_object();
    EXPECT_TRUE(v.at("intact").as_bool());
    return v.at("events").to_number<int64_t>();
  }

  testing::CaFixture ca_;
  std::unique_ptr<testing::PgTestSchema> pg_;
};

TEST_F(StoreMigrateCliTest, ADaemonMovedToPostgresqlServesTheSameChainAndRecords) {
  ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n");
  ASSERT_FALSE(HasFatalFailure());
  ca_.Start();
  ASSERT_FALSE(HasFatalFailure());
  Enroll("node-1");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(ca_.Cli("token create --node node-2").status, 0);
  auto revoke = ca_.Cli("revoke --node node-1 --reason keyCompromise");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  ASSERT_EQ(ca_.Cli("entry add --spiffe-id spiffe://example.org/api --node node-2 --dns api.internal").status, 0);
  const int64_t events = AuditEvents();
  auto revoked = ca_.Cli("--json certs --status revoked");
  ASSERT_EQ(revoked.status, 0) << revoked.output;

  // Refused while the daemon has the database open.
  auto busy = ca_.Cli(Migrate());
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.output.find("is `mayfly-ca serve` running?"), std::string::npos) << busy.output;
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + pg_->name() +
                            "' AND table_name = 'ca_certs'")
                .value(),
            "0");

  ca_.Stop();
  auto migrated = ca_.Cli(Migrate());
  ASSERT_EQ(migrated.status, 0) << migrated.output;
  EXPECT_NE(migrated.output.find("audit events      " + std::to_string(events)), std::string::npos)
      << migrated.output;
  EXPECT_NE(migrated.output.find("Root fingerprint: sha256:"), std::string::npos) << migrated.output;
  const size_t store_at = migrated.output.find("[store]\n");
  ASSERT_NE(store_at, std::string::npos) << migrated.output;
  EXPECT_NE(migrated.output.find("backend = \"postgresql\""), std::string::npos);
  // The CA keys (root, intermediate, JWT key) are in the database now, as
  // the encrypted files hold them.
  EXPECT_EQ(pg_->QueryValue("SELECT count(*) FROM ca_certs WHERE key_pem LIKE "
                            "'-----BEGIN ENCRYPTED PRIVATE KEY-----%'")
                .value(),
            "3");
  EXPECT_EQ(pg_->QueryValue("SELECT key_pem FROM ca_certs WHERE role = 'root'").value(),
            ReadFile(Path("ca/root.key")).value());

  // A second run finds the target full and says so.
  auto again = ca_.Cli(Migrate());
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("not empty"), std::string::npos) << again.output;

  // ca.toml switched to the printed [store]: the daemon serves the copy.
  testing::WriteTextFile(Path("ca.toml"), ReadFile(Path("ca.toml")).value() + migrated.output.substr(store_at));
  auto postgres_already = ca_.Cli(Migrate());
  EXPECT_EQ(postgres_already.status, 1);
  EXPECT_NE(postgres_already.output.find("\"postgresql\" already"), std::string::npos) << postgres_already.output;

  ca_.Start();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(AuditEvents(), events);  // the daemon's start may add events of its own
  auto certs = ca_.Cli("--json certs --status revoked");
  ASSERT_EQ(certs.status, 0) << certs.output;
  EXPECT_EQ(json::parse(certs.output), json::parse(revoked.output));
  auto entries = ca_.Cli("entry list");
  ASSERT_EQ(entries.status, 0) << entries.output;
  EXPECT_NE(entries.output.find("spiffe://example.org/api"), std::string::npos) << entries.output;
  // node-1's ban came along: a new token lifts it, and enrolling writes to PostgreSQL.
  Enroll("node-1");
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GT(AuditEvents(), events);
}

// Bad input is refused before anything is read or written, saying what is wrong.
TEST_F(StoreMigrateCliTest, RefusesAPasswordInTheUrlAndAMissingStore) {
  testing::WriteTextFile(Path("ca.toml"), "trust_domain = \"example.org\"\nstate_dir = \"" + Path("ca") + "\"\n");
  auto with_password = ca_.Cli("store migrate --to postgresql://mayfly:hunter2@127.0.0.1/mayfly --password-file " +
                               pg_->password_file());
  EXPECT_EQ(with_password.status, 1);
  EXPECT_NE(with_password.output.find("--to: the PostgreSQL url holds a password"), std::string::npos)
      << with_password.output;
  EXPECT_EQ(with_password.output.find("hunter2"), std::string::npos) << with_password.output;
  auto no_store = ca_.Cli(Migrate());
  EXPECT_EQ(no_store.status, 1);
  EXPECT_NE(no_store.output.find("no SQLite store at " + Path("ca") + "/ca.db"), std::string::npos)
      << no_store.output;
}

}  // namespace store_migrate_cli_test
}  // namespace mayfly
