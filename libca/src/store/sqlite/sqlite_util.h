// RAII over SQLite: connections with cached prepared statements, and transactions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// The Error for a failed SQLite call: kConflict for a UNIQUE or PRIMARY KEY
// violation (callers report duplicates from it), kStore otherwise. The message
// is `what` followed by sqlite3_errmsg.
[[nodiscard]] std::unexpected<Error> SqliteError(sqlite3* db, int rc, std::string_view what);

class Statement;

// One SQLite connection and its prepared statements. Not thread-safe: the store
// hands each connection to one thread at a time (the writer mutex, the reader
// pool), which is why it is opened with SQLITE_OPEN_NOMUTEX.
class Connection {
 public:
  // Opens the existing database `path` with extended result codes, a busy
  // timeout and the per-connection pragmas (synchronous=FULL,
  // foreign_keys=ON; query_only for readers).
  [[nodiscard]] static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                                bool read_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_.get(); }

  // The statement for `sql`, prepared on first use and cached for the life
  // of the connection. Only one Statement per SQL text may be live at once.
  [[nodiscard]] Result<Statement> Prepare(std::string_view sql);

  // Runs the cached statement `sql` with `args` bound to ?1, ?2, ... in
  // order, stepping it to the end; an error names `what`.
  template <typename... Args>
  [[nodiscard]] Result<void> Run(std::string_view sql, std::string_view what, const Args&... args);

  // Runs SQL that returns no rows, several statements allowed; not cached
  // (schema changes, pragmas).
  [[nodiscard]] Result<void> Exec(const std::string& sql, std::string_view what);

  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const { return sqlite3_changes64(db()); }

  // The rowid of the last row this connection inserted. Cheaper than
  // RETURNING, which SQLite buffers through a temporary table.
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db()); }

  // The change generations the open write transaction advanced to
  // (NoteChange); the store records them as its own once it commits.
  std::vector<int64_t> noted_generations;

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  // Lets the cache be searched with a string_view, without building a string.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  explicit Connection(sqlite3* db) : db_(db) {}

  // Declared first so it is destroyed last, after every cached statement.
  std::unique_ptr<sqlite3, DbCloser> db_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtFinalizer>, SqlHash,
                     std::equal_to<>>
      cache_;
};

// A borrowed cached statement. Binds, steps and reads columns; on destruction
// it is reset and its bindings cleared, ready for the next use. Columns are
// numbered from 0, parameters from 1, as in SQLite.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // The index of a named parameter (":now"), 0 when the SQL has none; binding
  // index 0 fails, so a misspelt name is reported by Step.
  int Param(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

  // A failed bind is remembered and reported by the next Step or Run.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const std::optional<int64_t>& value);  // NULL when empty
  Statement& BindBlob(int index, std::string_view bytes);
  // Binds `args` to ?1, ?2, ... in order.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 0;
    (Bind(++index, args), ...);
    return *this;
  }

  // True when a row is ready, false when the statement is done.
  [[nodiscard]] Result<bool> Step();
  // Steps to the end, for statements whose rows are not wanted.
  [[nodiscard]] Result<void> Run();

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<int64_t> OptInt(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;

 private:
  friend class Connection;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement& Check(int index, int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;  // owned by the connection's cache; null once moved from
  int bind_rc_ = SQLITE_OK;
  int bind_index_ = 0;
};

template <typename... Args>
Result<void> Connection::Run(std::string_view sql, std::string_view what, const Args&... args) {
  auto stmt = Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  if (auto r = stmt->BindAll(args...).Run(); !r) return WithContext(r.error(), what);
  return Ok();
}

// A transaction that rolls back on destruction unless committed.
class Transaction {
 public:
  // A write transaction. BEGIN IMMEDIATE takes the database's write lock at
  // the start, so a competing writer waits (busy_timeout) there instead of
  // failing at COMMIT.
  [[nodiscard]] static Result<Transaction> Begin(Connection& conn);
  // A read transaction: every statement in it sees one snapshot. Nothing to
  // commit; it ends with the object.
  [[nodiscard]] static Result<Transaction> BeginRead(Connection& conn);
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  [[nodiscard]] Result<void> Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;  // null once committed or moved from
};

}  // namespace mayfly
