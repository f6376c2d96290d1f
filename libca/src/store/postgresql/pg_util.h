// RAII over libpq: connections, results, parameters, and libpq's errors as Errors.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// Parameters for one statement ($1, $2, ... in the order added), sent as
// text except bytes, sent binary so no escaping is ever done by hand.
class PgParams {
 public:
  PgParams& Add(int64_t value);
  PgParams& Add(std::string_view text);
  PgParams& Add(const std::optional<int64_t>& value);  // NULL when empty
  PgParams& Add(bool value);
  PgParams& AddBytes(std::string_view bytes);
  template <typename... Args>
  PgParams& AddAll(const Args&... args) {
    (Add(args), ...);
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  PgParams& Push(std::optional<std::string> value, int format);

  std::vector<std::unique_ptr<std::string>> values_;  // stable addresses for pointers_
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A statement's result, rows in text format. Columns and rows count from 0.
class PgResult {
 public:
  explicit PgResult(PGresult* res) : res_(res) {}

  int Rows() const { return PQntuples(res_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // 0 for NULL
  std::optional<int64_t> OptInt(int row, int col) const;
  bool Bool(int row, int col) const;  // "t"
  // A bytea column (text format, hex), decoded.
  std::string Bytes(int row, int col) const;

  ExecStatusType Status() const;
  std::string SqlState() const;      // "" when none
  std::string ErrorMessage() const;  // the server's message, "" when none

 private:
  struct Clear {
    void operator()(PGresult* res) const { PQclear(res); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

// One server connection. Not thread-safe: the pool hands it to one thread at
// a time.
class PgConnection {
 public:
  // Connects with `url` (a libpq URI or conninfo string, multi-host allowed)
  // and `password`. kUnavailable with libpq's message when the server cannot
  // be reached or refuses the login.
  [[nodiscard]] static Result<std::unique_ptr<PgConnection>> Open(const std::string& url,
                                                                  const std::string& password);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with `params`. On failure: kConflict for a unique
  // violation, kUnavailable when the connection is gone, kStore otherwise,
  // the message being `what` and the server's. SqlState() tells the rest.
  [[nodiscard]] Result<PgResult> Exec(std::string_view sql, const PgParams& params, std::string_view what);
  // As Exec, with `args` bound to $1, $2, ... in order.
  template <typename... Args>
  [[nodiscard]] Result<PgResult> Query(std::string_view sql, std::string_view what, const Args&... args) {
    PgParams params;
    params.AddAll(args...);
    return Exec(sql, params, what);
  }
  template <typename... Args>
  [[nodiscard]] Result<void> Run(std::string_view sql, std::string_view what, const Args&... args) {
    auto r = Query(sql, what, args...);
    if (!r) return std::unexpected(r.error());
    return Ok();
  }

  // The change generations the open write transaction advanced to
  // (pg::NoteChange); the store records them as its own once it commits.
  std::vector<int64_t> noted_generations;

  // Runs SQL without parameters, several statements allowed (schema changes).
  [[nodiscard]] Result<void> ExecScript(const std::string& sql, std::string_view what);

  // The SQLSTATE of the last failed statement ("" when it did not reach the
  // server or succeeded).
  const std::string& SqlState() const { return sql_state_; }
  // True once the server is gone; such a connection is dropped, never reused.
  bool Broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }
  // True while a transaction is open (or failed and not yet rolled back).
  bool InTransaction() const { return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE; }
  // Waits up to `timeout` for notifications on the channels this connection
  // LISTENs to and consumes them; true when at least one arrived.
  // kUnavailable when the connection is gone.
  [[nodiscard]] Result<bool> WaitForNotification(std::chrono::milliseconds timeout);
  // The server's process id, for tests that end the session from outside.
  int BackendPid() const { return PQbackendPID(conn_.get()); }

 private:
  struct Finish {
    void operator()(PGconn* conn) const { PQfinish(conn); }
  };
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  // `result` as a Result: itself when it succeeded, else the Error for it.
  Result<PgResult> Check(PgResult result, std::string_view what);

  std::unique_ptr<PGconn, Finish> conn_;
  std::string sql_state_;
};

// libpq's message for `conn`, without its trailing newline.
std::string PgMessage(const PGconn* conn);

// A serialization failure or deadlock: the transaction may simply be run again.
bool IsRetryableSqlState(std::string_view sql_state);

}  // namespace mayfly
