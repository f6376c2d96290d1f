// Opening the PostgreSQL store (password, connection, migrations), its figures, and meta settings.
#include <openssl/crypto.h>

#include <string>

#include "mayfly/file_util.h"
#include "pg_store_internal.h"

namespace mayfly {
namespace pg {

// The first line of the password file, which only its owner may read.
Result<std::string> ReadPasswordFile(const std::string& path) {
  if (path.empty()) return MakeError(ErrorCode::kConfig, "the PostgreSQL store needs a password_file");
  if (auto r = CheckPrivate(path, "database password file"); !r) return std::unexpected(r.error());
  auto text = ReadFile(path);
  if (!text) return WithContext(text.error(), "reading the database password file");
  std::string password = text->substr(0, text->find_first_of("\r\n"));
  OPENSSL_cleanse(text->data(), text->size());
  if (password.empty()) return MakeError(ErrorCode::kConfig, "database password file " + path + " is empty");
  return password;
}

}  // namespace pg

Result<void> PostgresStore::CheckUrl(const std::string& url) {
  if (url.empty()) return MakeError(ErrorCode::kConfig, "the PostgreSQL store needs a url");
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
  if (options == nullptr) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    // libpq's message quotes no part of the URL's password.
    return MakeError(ErrorCode::kConfig, "the PostgreSQL url is not a valid connection string: " + why);
  }
  bool has_password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') has_password = true;
  }
  PQconninfoFree(options);
  if (has_password) {
    return MakeError(ErrorCode::kConfig,
                     "the PostgreSQL url holds a password; put it in password_file and remove it from the url");
  }
  return Ok();
}

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           const std::string& password_file) {
  if (auto r = CheckUrl(url); !r) return std::unexpected(r.error());
  auto password = pg::ReadPasswordFile(password_file);
  if (!password) return std::unexpected(password.error());
  auto impl = std::make_unique<Impl>(url, std::move(*password));
  OPENSSL_cleanse(password->data(), password->size());
  auto acquired = impl->pool.Acquire();
  if (!acquired) return std::unexpected(acquired.error());
  auto version = pg::MigrateSchema(*acquired->conn);
  if (!version) return std::unexpected(version.error());
  impl->schema_version = *version;
  acquired->conn.reset();  // back to the pool, for the first call
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(impl)));
}

int PostgresStore::SchemaVersion() const { return impl_->schema_version; }

std::vector<StoreStat> PostgresStore::Stats() const {
  const PgPool& pool = impl_->pool;
  return {
      {"mayfly_store_pg_connections_opened_total", "counter",
       "PostgreSQL connections opened (a reconnect after the server went away is one more).", pool.opened()},
      {"mayfly_store_pg_connect_failures_total", "counter",
       "Attempts to connect to PostgreSQL that failed (calls answered unavailable).", pool.connect_failures()},
      {"mayfly_store_pg_connections_dropped_total", "counter",
       "PostgreSQL connections found broken (the server went away) and closed.", pool.dropped()},
      {"mayfly_store_pg_transaction_retries_total", "counter",
       "Transactions run again after a deadlock or serialization failure.",
       impl_->retries.load(std::memory_order_relaxed)},
      {"mayfly_store_pg_idle_connections", "gauge", "PostgreSQL connections idle in the pool.", pool.idle()},
  };
}

Result<std::optional<std::string>> PostgresStore::GetMeta(const std::string& key) {
  return impl_->Read([&](PgConnection& conn) -> Result<std::optional<std::string>> {
    auto res = conn.Query("SELECT value FROM meta WHERE key = $1", "reading setting " + key, key);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return std::nullopt;
    return res->Text(0, 0);
  });
}

Result<void> PostgresStore::SetMeta(const std::string& key, const std::string& value) {
  return impl_->Write([&](PgConnection& conn) {
    return conn.Run(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        "writing setting " + key, key, value);
  });
}

}  // namespace mayfly
