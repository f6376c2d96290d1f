// RAII over SQLite: connections with cached prepared statements, and transactions.
#include "sqlite_util.h"

#include <string>

namespace mayfly {
namespace {

// How long a connection waits for another process's lock before SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 5000;

// SQLite counts every allocation under one process-wide mutex unless told
// not to; nothing here reads those counters, and the committing thread paid
// a lock and an unlock per allocation for them. Only possible before SQLite
// initialises: if something else in the process initialised it first, the
// call fails and the counters simply stay on.
void TurnOffSqliteMemoryStatistics() {
  [[maybe_unused]] static const int once = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

}  // namespace

std::unexpected<Error> SqliteError(sqlite3* db, int rc, std::string_view what) {
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const bool duplicate =
      extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY;
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return MakeError(duplicate ? ErrorCode::kConflict : ErrorCode::kStore, std::move(message));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only) {
  TurnOffSqliteMemoryStatistics();
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands back a handle even on failure; own it at once.
  std::unique_ptr<Connection> conn(new Connection(raw));
  if (rc != SQLITE_OK) return SqliteError(raw, rc, "opening database " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // synchronous=FULL: with WAL, NORMAL could lose the last commits on power
  // loss, and a certificate must be durable before it is handed out.
  // temp_store=MEMORY: a statement journal (an INSERT into a table with
  // UNIQUE indexes keeps one, to undo half a statement) otherwise spills to a
  // temporary file, and those writes stalled the committing thread for
  // milliseconds while a checkpoint flushed the database file.
  std::string pragmas =
      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF; PRAGMA temp_store=MEMORY;";
  if (read_only) pragmas += " PRAGMA query_only=ON;";
  if (auto r = conn->Exec(pragmas, "configuring database " + path); !r) {
    return std::unexpected(r.error());
  }
  return conn;
}

Connection::~Connection() = default;

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db(), rc, "preparing \"" + std::string(sql.substr(0, 60)) + "…\"");
    }
    it = cache_.emplace(std::string(sql), raw).first;
  }
  return Statement(db(), it->second.get());
}

Result<void> Connection::Exec(const std::string& sql, std::string_view what) {
  const int rc = sqlite3_exec(db(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db(), rc, what);
  return Ok();
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::Check(int index, int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  return Check(index, sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::Bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT copies, so a temporary string passed here stays safe.
  return Check(index, sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                                          SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : Check(index, sqlite3_bind_null(stmt_, index));
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  return Check(index, sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(),
                                          SQLITE_TRANSIENT));
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteError(db_, bind_rc_, "binding parameter " + std::to_string(bind_index_));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, "running \"" + std::string(sqlite3_sql(stmt_)).substr(0, 60) + "…\"");
}

Result<void> Statement::Run() {
  while (true) {
    auto row = Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return Ok();
  }
}

std::optional<int64_t> Statement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

std::string Statement::Text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Statement::Blob(int col) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  if (data == nullptr) return {};
  return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Result<Transaction> Transaction::Begin(Connection& conn) {
  if (auto r = conn.Run("BEGIN IMMEDIATE", "starting a write transaction"); !r) {
    return std::unexpected(r.error());
  }
  return Transaction(&conn);
}

Result<Transaction> Transaction::BeginRead(Connection& conn) {
  if (auto r = conn.Run("BEGIN", "starting a read transaction"); !r) {
    return std::unexpected(r.error());
  }
  return Transaction(&conn);
}

Transaction::~Transaction() {
  // An I/O or full-disk error may already have rolled the transaction back.
  if (conn_ == nullptr || sqlite3_get_autocommit(conn_->db())) return;
  (void)conn_->Run("ROLLBACK", "rolling back");
}

Result<void> Transaction::Commit() {
  if (auto r = conn_->Run("COMMIT", "committing"); !r) return r;
  conn_ = nullptr;
  return Ok();
}

}  // namespace mayfly
