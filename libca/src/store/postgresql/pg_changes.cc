// The change generation and its notifications: how one instance learns of
// another's revocations, bans, entries and CA records.
#include <algorithm>

#include "pg_store_internal.h"

namespace mayfly {
namespace pg {

Result<void> NoteChange(PgConnection& conn) {
  // NOTIFY is sent when the transaction commits, never for one rolled back.
  static const std::string kSql =
      "WITH bumped AS (UPDATE store_changes SET generation = generation + 1 WHERE id = 1 RETURNING generation) "
      "SELECT generation, pg_notify('" + std::string(kChangeChannel) + "', generation::text) FROM bumped";
  auto res = conn.Query(kSql, "recording a change for the other instances");
  if (!res) return std::unexpected(res.error());
  if (res->Rows() != 1) return MakeError(ErrorCode::kStore, "the change generation row is missing");
  conn.noted_generations.push_back(res->Int(0, 0));
  return Ok();
}

}  // namespace pg

Result<int64_t> PostgresStore::ChangeGeneration() {
  return impl_->Read([&](PgConnection& conn) -> Result<int64_t> {
    auto res = conn.Query("SELECT generation FROM store_changes WHERE id = 1", "reading the change generation");
    if (!res) return std::unexpected(res.error());
    if (res->Rows() != 1) return MakeError(ErrorCode::kStore, "the change generation row is missing");
    return res->Int(0, 0);
  });
}

std::vector<int64_t> PostgresStore::TakeOwnChanges() { return impl_->own_changes.Take(); }

Result<bool> PostgresStore::WaitForChange(std::chrono::milliseconds timeout, std::stop_token stop) {
  std::lock_guard lock(impl_->listen_mu);
  auto& listener = impl_->listener;
  if (listener == nullptr || listener->Broken()) {
    listener.reset();
    auto opened = impl_->pool.OpenDedicated();
    if (!opened) return std::unexpected(opened.error());
    if (auto r = (*opened)->Run("LISTEN " + std::string(pg::kChangeChannel), "listening for changes"); !r) {
      return std::unexpected(r.error());
    }
    listener = std::move(*opened);
    // Changes made before LISTEN took effect raise no notification: say
    // "maybe" so the caller reads the generation now.
    return true;
  }
  // Short slices, so a stop request is seen soon.
  constexpr std::chrono::milliseconds kSlice{100};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stop.stop_requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds::zero()) return false;
    auto notified = listener->WaitForNotification(std::min(left, kSlice));
    if (!notified) {
      listener.reset();
      return std::unexpected(notified.error());
    }
    if (*notified) return true;
  }
  return false;
}

}  // namespace mayfly
