// RAII over libpq: connections, results, parameters, and libpq's errors as Errors.
#include "pg_util.h"

#include <poll.h>

#include <charconv>
#include <string>

namespace mayfly {
namespace {

// How long connecting may take before the database counts as unreachable
// (a URL's own connect_timeout wins).
constexpr const char* kConnectTimeoutSeconds = "5";

std::string TrimNewline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool IsConnectionSqlState(std::string_view state) {
  // Class 08: connection exceptions; 57P01..57P03: the server is shutting
  // down or starting up.
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

}  // namespace

PgParams& PgParams::Push(std::optional<std::string> value, int format) {
  values_.push_back(value ? std::make_unique<std::string>(std::move(*value)) : nullptr);
  pointers_.push_back(values_.back() ? values_.back()->c_str() : nullptr);
  lengths_.push_back(values_.back() ? static_cast<int>(values_.back()->size()) : 0);
  formats_.push_back(format);
  return *this;
}

PgParams& PgParams::Add(int64_t value) { return Push(std::to_string(value), 0); }
PgParams& PgParams::Add(std::string_view text) { return Push(std::string(text), 0); }
PgParams& PgParams::Add(const std::optional<int64_t>& value) {
  return value ? Add(*value) : Push(std::nullopt, 0);
}
PgParams& PgParams::Add(bool value) { return Push(value ? "t" : "f", 0); }
PgParams& PgParams::AddBytes(std::string_view bytes) { return Push(std::string(bytes), 1); }

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  const char* text = PQgetvalue(res_.get(), row, col);
  const char* end = text + PQgetlength(res_.get(), row, col);
  int64_t value = 0;
  std::from_chars(text, end, value);
  return value;
}

std::optional<int64_t> PgResult::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

bool PgResult::Bool(int row, int col) const { return PQgetvalue(res_.get(), row, col)[0] == 't'; }

std::string PgResult::Bytes(int row, int col) const {
  size_t size = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(res_.get(), row, col)), &size);
  if (raw == nullptr) return {};
  std::string bytes(reinterpret_cast<const char*>(raw), size);
  PQfreemem(raw);
  return bytes;
}

ExecStatusType PgResult::Status() const {
  // A null result (libpq could not send the statement) reads as a failure.
  return res_ ? PQresultStatus(res_.get()) : PGRES_FATAL_ERROR;
}

std::string PgResult::SqlState() const {
  const char* state = res_ ? PQresultErrorField(res_.get(), PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

std::string PgResult::ErrorMessage() const { return res_ ? PQresultErrorMessage(res_.get()) : ""; }

std::string PgMessage(const PGconn* conn) { return TrimNewline(PQerrorMessage(conn)); }

bool IsRetryableSqlState(std::string_view sql_state) {
  return sql_state == "40001" || sql_state == "40P01";
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& url, const std::string& password) {
  // Keywords after dbname override what its URL expands to, those before
  // are defaults it may override: the password is only ever ours.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", "password", nullptr};
  const char* values[] = {kConnectTimeoutSeconds, "mayfly-ca", url.c_str(), password.c_str(), nullptr};
  std::unique_ptr<PgConnection> conn(new PgConnection(PQconnectdbParams(keywords, values, /*expand_dbname=*/1)));
  if (conn->conn_ == nullptr) return MakeError(ErrorCode::kUnavailable, "connecting to PostgreSQL: out of memory");
  if (PQstatus(conn->conn_.get()) != CONNECTION_OK) {
    return MakeError(ErrorCode::kUnavailable, "connecting to PostgreSQL: " + PgMessage(conn->conn_.get()));
  }
  // The server's notices ("relation already exists, skipping") would go to
  // stderr; nothing in them needs telling.
  PQsetNoticeProcessor(conn->conn_.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

PgConnection::~PgConnection() = default;

Result<PgResult> PgConnection::Exec(std::string_view sql, const PgParams& params, std::string_view what) {
  sql_state_.clear();
  const std::string text(sql);
  PgResult result(PQexecParams(conn_.get(), text.c_str(), params.size(), nullptr, params.values(),
                               params.lengths(), params.formats(), /*resultFormat=*/0));
  return Check(std::move(result), what);
}

Result<void> PgConnection::ExecScript(const std::string& sql, std::string_view what) {
  sql_state_.clear();
  auto r = Check(PgResult(PQexec(conn_.get(), sql.c_str())), what);
  if (!r) return std::unexpected(r.error());
  return Ok();
}

Result<PgResult> PgConnection::Check(PgResult result, std::string_view what) {
  const ExecStatusType status = result.Status();
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  sql_state_ = result.SqlState();
  std::string message(what);
  message += ": ";
  const std::string server = TrimNewline(result.ErrorMessage());
  message += server.empty() ? PgMessage(conn_.get()) : server;
  ErrorCode code = ErrorCode::kStore;
  if (sql_state_ == "23505") {
    code = ErrorCode::kConflict;
  } else if (Broken() || IsConnectionSqlState(sql_state_)) {
    code = ErrorCode::kUnavailable;
  }
  return MakeError(code, std::move(message));
}

}  // namespace mayfly

namespace mayfly {

Result<bool> PgConnection::WaitForNotification(std::chrono::milliseconds timeout) {
  auto drain = [this]() -> Result<bool> {
    if (PQconsumeInput(conn_.get()) == 0 || Broken()) {
      return MakeError(ErrorCode::kUnavailable, "waiting for notifications: " + PgMessage(conn_.get()));
    }
    bool any = false;
    while (PGnotify* note = PQnotifies(conn_.get())) {
      PQfreemem(note);
      any = true;
    }
    return any;
  };
  auto ready = drain();
  if (!ready || *ready) return ready;
  pollfd fd{.fd = PQsocket(conn_.get()), .events = POLLIN, .revents = 0};
  if (fd.fd < 0) return MakeError(ErrorCode::kUnavailable, "waiting for notifications: the connection is closed");
  if (::poll(&fd, 1, static_cast<int>(timeout.count())) <= 0) return false;
  return drain();
}

}  // namespace mayfly
