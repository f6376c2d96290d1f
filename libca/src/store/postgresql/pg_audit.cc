// The audit log in PostgreSQL: one chain whoever appends, read back for listing and verification
// (the chain's rules are audit_chain.h's).
#include <algorithm>
#include <limits>
#include <string>

#include "mayfly/audit_chain.h"
#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

constexpr std::string_view kAuditEventColumns = "id, time, type, actor, subject, result, detail, prev_hash, hash";
// Rows per INSERT when a batch appends many events (9 parameters each, far
// below the protocol's 65535).
constexpr size_t kAuditRowsPerInsert = 1000;

AuditEvent ReadAuditEvent(const PgResult& res, int row) {
  return AuditEvent{.id = res.Int(row, 0),
                    .time = res.Int(row, 1),
                    .type = res.Text(row, 2),
                    .actor = res.Text(row, 3),
                    .subject = res.Text(row, 4),
                    .result = res.Text(row, 5),
                    .detail = res.Text(row, 6),
                    .prev_hash = res.Text(row, 7),
                    .hash = res.Text(row, 8)};
}

Result<void> InsertAuditChunk(PgConnection& conn, std::span<const AuditEvent> events) {
  std::string sql = "INSERT INTO audit_events (" + std::string(kAuditEventColumns) + ") VALUES ";
  PgParams params;
  for (const AuditEvent& e : events) {
    if (params.size() > 0) sql += ", ";
    sql += "(";
    for (int i = 1; i <= 9; ++i) sql += "$" + std::to_string(params.size() + i) + (i < 9 ? ", " : ")");
    params.AddAll(e.id, e.time, e.type, e.actor, e.subject, e.result, e.detail, e.prev_hash, e.hash);
  }
  auto r = conn.Exec(sql, params, "recording audit event " + events.front().type);
  if (!r) return std::unexpected(r.error());
  return Ok();
}

}  // namespace

Result<void> AppendAuditRows(PgConnection& conn, std::span<AuditEvent> events) {
  if (events.empty()) return Ok();
  // FOR UPDATE: a second appender, here or in another instance, waits at
  // this row until this transaction ends, then reads the head it left.
  auto head = conn.Query("SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE",
                         "locking the audit chain's head");
  if (!head) return std::unexpected(head.error());
  if (head->Rows() != 1) return MakeError(ErrorCode::kStore, "the audit chain's head row is missing");
  int64_t last_id = head->Int(0, 0);
  std::string last_hash = head->Text(0, 1);
  for (AuditEvent& event : events) {
    event.id = ++last_id;
    event.prev_hash = last_hash;
    auto hash = AuditEventHash(event);
    if (!hash) return std::unexpected(hash.error());
    event.hash = std::move(*hash);
    last_hash = event.hash;
  }
  for (size_t at = 0; at < events.size(); at += kAuditRowsPerInsert) {
    const size_t n = std::min(kAuditRowsPerInsert, events.size() - at);
    if (auto r = InsertAuditChunk(conn, events.subspan(at, n)); !r) return r;
  }
  return conn.Run("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1", "advancing the audit chain",
                  last_id, last_hash);
}

}  // namespace pg

Result<AuditEvent> PostgresStore::AppendAudit(AuditEvent event) {
  return impl_->Write([&](PgConnection& conn) -> Result<AuditEvent> {
    AuditEvent chained = event;
    if (auto r = pg::AppendAuditRows(conn, std::span(&chained, 1)); !r) return std::unexpected(r.error());
    return chained;
  });
}

Result<std::vector<AuditEvent>> PostgresStore::ListAudit(int64_t since, int limit, std::optional<int64_t> before_id,
                                                         const std::string& type) {
  const int64_t before = before_id.value_or(std::numeric_limits<int64_t>::max());
  const int64_t page = std::clamp(limit, 1, kMaxStorePage);
  static const std::string kSql = "SELECT " + std::string(pg::kAuditEventColumns) +
                                  " FROM audit_events WHERE time >= $1 AND id < $2 AND ($4 = '' OR type = $4) "
                                  "ORDER BY id DESC LIMIT $3";
  return impl_->Read([&](PgConnection& conn) -> Result<std::vector<AuditEvent>> {
    auto res = conn.Query(kSql, "listing audit events", since, before, page, type);
    if (!res) return std::unexpected(res.error());
    std::vector<AuditEvent> events;
    for (int i = 0; i < res->Rows(); ++i) events.push_back(pg::ReadAuditEvent(*res, i));
    return events;
  });
}

Result<AuditChainCheck> PostgresStore::VerifyAuditChain() {
  // Read in pages by id, all in one snapshot so the rows and the head agree.
  static const std::string kSql = "SELECT " + std::string(pg::kAuditEventColumns) +
                                  " FROM audit_events WHERE id > $1 ORDER BY id LIMIT 5000";
  return impl_->Read(
      [&](PgConnection& conn) -> Result<AuditChainCheck> {
        AuditChainVerifier verifier;
        int64_t after = std::numeric_limits<int64_t>::min();
        while (true) {
          auto res = conn.Query(kSql, "reading the audit log", after);
          if (!res) return std::unexpected(res.error());
          if (res->Rows() == 0) break;
          for (int i = 0; i < res->Rows(); ++i) {
            const AuditEvent event = pg::ReadAuditEvent(*res, i);
            after = event.id;
            auto good = verifier.Add(event);
            if (!good) return std::unexpected(good.error());
            if (!*good) return verifier.Finish(0);
          }
        }
        auto head = conn.Query("SELECT last_id FROM audit_head WHERE id = 1", "reading the audit chain's head");
        if (!head) return std::unexpected(head.error());
        return verifier.Finish(head->Rows() == 1 ? head->Int(0, 0) : 0);
      },
      /*snapshot=*/true);
}

}  // namespace mayfly
