// The change generation. One daemon owns a SQLite store, so nothing else
// writes it and there is nothing to be notified of; the generation still
// moves, so the daemon's refresh works as it does on PostgreSQL.
#include "mayfly/clock.h"
#include "store_internal.h"

namespace mayfly {

Result<void> NoteChange(Connection& conn) {
  // SQLite applies the whole UPDATE on the first step, RETURNING or not.
  auto stmt = conn.Prepare("UPDATE store_changes SET generation = generation + 1 WHERE id = 1 RETURNING generation");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "recording a change for the caches");
  if (!*row) return MakeError(ErrorCode::kStore, "the change generation row is missing");
  conn.noted_generations.push_back(stmt->Int(0));
  return Ok();
}

Result<int64_t> SqliteStore::ChangeGeneration() {
  return impl_->Read([&](Connection& conn) -> Result<int64_t> {
    auto stmt = conn.Prepare("SELECT generation FROM store_changes WHERE id = 1");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "reading the change generation");
    if (!*row) return MakeError(ErrorCode::kStore, "the change generation row is missing");
    return stmt->Int(0);
  });
}

std::vector<int64_t> SqliteStore::TakeOwnChanges() { return impl_->own_changes.Take(); }

Result<bool> SqliteStore::WaitForChange(std::chrono::milliseconds timeout, std::stop_token stop) {
  SleepUnlessStopped(timeout, stop);
  return false;
}

}  // namespace mayfly
