// The audit log in SQLite: events appended in write transactions, read back for listing and verification
// (the chain's rules are audit_chain.h's).
#include <algorithm>
#include <limits>
#include <string>

#include "mayfly/audit_chain.h"
#include "store_internal.h"

namespace mayfly {
namespace {

constexpr std::string_view kAuditColumns =
    "id, time, type, actor, subject, result, detail, prev_hash, hash";

AuditEvent ReadAuditRow(const Statement& row) {
  return AuditEvent{.id = row.Int(0),
                    .time = row.Int(1),
                    .type = row.Text(2),
                    .actor = row.Text(3),
                    .subject = row.Text(4),
                    .result = row.Text(5),
                    .detail = row.Text(6),
                    .prev_hash = row.Text(7),
                    .hash = row.Text(8)};
}

// The highest id AUTOINCREMENT has handed out, which outlives deleted rows.
Result<int64_t> LastAssignedAuditId(Connection& conn) {
  auto stmt = conn.Prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "reading the audit sequence");
  return *row ? stmt->Int(0) : 0;
}

}  // namespace

Result<AuditEvent> AppendAuditRow(Connection& conn, AuditEvent event) {
  auto last = conn.Prepare("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1");
  if (!last) return std::unexpected(last.error());
  auto row = last->Step();
  if (!row) return WithContext(row.error(), "reading the last audit event");
  event.prev_hash = *row ? last->Text(0) : "";
  auto hash = AuditEventHash(event);
  if (!hash) return std::unexpected(hash.error());
  event.hash = std::move(*hash);
  auto insert = conn.Prepare(
      "INSERT INTO audit_events (time, type, actor, subject, result, detail, prev_hash, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert) return std::unexpected(insert.error());
  insert->BindAll(event.time, event.type, event.actor, event.subject, event.result, event.detail,
                  event.prev_hash, event.hash);
  if (auto r = insert->Run(); !r) return WithContext(r.error(), "recording audit event " + event.type);
  event.id = conn.LastInsertRowid();
  return event;
}

Result<AuditEvent> SqliteStore::AppendAudit(AuditEvent event) {
  return impl_->Write([&](Connection& conn) { return AppendAuditRow(conn, std::move(event)); });
}

Result<std::vector<AuditEvent>> SqliteStore::ListAudit(int64_t since, int limit,
                                                 std::optional<int64_t> before_id, const std::string& type) {
  const int64_t before = before_id.value_or(std::numeric_limits<int64_t>::max());
  const int64_t page = std::clamp(limit, 1, kMaxStorePage);
  return impl_->Read([&](Connection& conn) -> Result<std::vector<AuditEvent>> {
    // Few events since `since`: read them by time and sort; many: walk ids down.
    auto count = CountUpTo(conn, "SELECT 1 FROM audit_events INDEXED BY audit_time WHERE time >= :since",
                           kSortThreshold,
                           [&](Statement& stmt) { stmt.Bind(stmt.Param(":since"), since); });
    if (!count) return WithContext(count.error(), "planning the audit listing");
    const std::string sql = "SELECT " + std::string(kAuditColumns) + " FROM audit_events " +
                            (*count < kSortThreshold ? "INDEXED BY audit_time" : "NOT INDEXED") +
                            " WHERE time >= :since AND id < :before AND (:type = '' OR type = :type) ORDER BY id DESC LIMIT :limit";
    auto stmt = conn.Prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->Bind(stmt->Param(":since"), since)
        .Bind(stmt->Param(":before"), before)
        .Bind(stmt->Param(":limit"), page)
        .Bind(stmt->Param(":type"), type);
    std::vector<AuditEvent> events;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "listing audit events");
      if (!*row) return events;
      events.push_back(ReadAuditRow(*stmt));
    }
  });
}

Result<AuditChainCheck> SqliteStore::VerifyAuditChain() {
  return impl_->Read([&](Connection& conn) -> Result<AuditChainCheck> {
    // One snapshot, so the rows and the sequence agree.
    auto snapshot = Transaction::BeginRead(conn);
    if (!snapshot) return std::unexpected(snapshot.error());
    static const std::string kSql =
        "SELECT " + std::string(kAuditColumns) + " FROM audit_events ORDER BY id";
    auto stmt = conn.Prepare(kSql);
    if (!stmt) return std::unexpected(stmt.error());
    AuditChainVerifier verifier;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading the audit log");
      if (!*row) break;
      auto good = verifier.Add(ReadAuditRow(*stmt));
      if (!good) return std::unexpected(good.error());
      if (!*good) return verifier.Finish(0);
    }
    auto last = LastAssignedAuditId(conn);
    if (!last) return std::unexpected(last.error());
    return verifier.Finish(*last);
  });
}

}  // namespace mayfly
