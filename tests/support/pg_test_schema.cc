// A fresh, empty PostgreSQL schema in the test cluster (scripts/pg-test-cluster.sh), one per test, dropped after it.
#include "support/pg_test_schema.h"

#include <libpq-fe.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>

#include "mayfly/file_util.h"

namespace mayfly::testing {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* res) const { PQclear(res); }
};

Result<std::unique_ptr<PGconn, ConnCloser>> Connect(const std::string& url, const std::string& password_file) {
  auto text = ReadFile(password_file);
  if (!text) return std::unexpected(text.error());
  const std::string password = text->substr(0, text->find_first_of("\r\n"));
  const char* keywords[] = {"dbname", "password", nullptr};
  const char* values[] = {url.c_str(), password.c_str(), nullptr};
  std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdbParams(keywords, values, 1));
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return MakeError(ErrorCode::kUnavailable, "connecting to the test cluster: " + std::string(PQerrorMessage(conn.get())));
  }
  return conn;
}

// Runs `sql` on a new connection to `url`; the first value of the result.
Result<std::string> Run(const std::string& url, const std::string& password_file, const std::string& sql) {
  auto conn = Connect(url, password_file);
  if (!conn) return std::unexpected(conn.error());
  std::unique_ptr<PGresult, ResultClearer> res(PQexec(conn->get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return MakeError(ErrorCode::kStore, sql + ": " + PQresultErrorMessage(res.get()));
  }
  if (status != PGRES_TUPLES_OK || PQntuples(res.get()) == 0) return std::string();
  return std::string(PQgetvalue(res.get(), 0, 0));
}

}  // namespace

std::string PgTestSchema::NotConfigured() {
  if (!Env("MAYFLY_TEST_PG_URL").empty() && !Env("MAYFLY_TEST_PG_PASSWORD_FILE").empty()) return "";
  return "MAYFLY_TEST_PG_URL and MAYFLY_TEST_PG_PASSWORD_FILE are unset; start the test cluster with "
         "`eval \"$(scripts/pg-test-cluster.sh start)\"` (scripts/test.sh does) to run the PostgreSQL cases";
}

bool PgTestSchema::Required() { return Env("MAYFLY_TEST_PG_REQUIRED") == "1"; }

Result<std::unique_ptr<PgTestSchema>> PgTestSchema::Create() {
  if (std::string why = NotConfigured(); !why.empty()) return MakeError(ErrorCode::kUnavailable, why);
  const std::string base = Env("MAYFLY_TEST_PG_URL");
  const std::string password_file = Env("MAYFLY_TEST_PG_PASSWORD_FILE");
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) return MakeError(ErrorCode::kCrypto, "RAND_bytes");
  std::string name = "t_";
  for (unsigned char byte : random) {
    static constexpr char kHex[] = "0123456789abcdef";
    name += kHex[byte >> 4];
    name += kHex[byte & 15];
  }
  if (auto r = Run(base, password_file, "CREATE SCHEMA " + name); !r) return std::unexpected(r.error());
  const std::string url = base + (base.find('?') == std::string::npos ? "?" : "&") +
                          "options=-csearch_path%3D" + name;
  return std::unique_ptr<PgTestSchema>(new PgTestSchema(name, url, password_file));
}

PgTestSchema::~PgTestSchema() {
  (void)Run(Env("MAYFLY_TEST_PG_URL"), password_file_, "DROP SCHEMA " + name_ + " CASCADE");
}

Result<void> PgTestSchema::Exec(const std::string& sql) const {
  auto r = Run(url_, password_file_, sql);
  if (!r) return std::unexpected(r.error());
  return Ok();
}

Result<std::string> PgTestSchema::QueryValue(const std::string& sql) const { return Run(url_, password_file_, sql); }

}  // namespace mayfly::testing
