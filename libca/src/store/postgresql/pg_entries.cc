// Registration entries in PostgreSQL: from ca.toml ("config") and from the admin API ("api").
#include <string>

#include "pg_store_internal.h"

namespace mayfly {
namespace pg {

std::string TextArray(PgParams& params, const std::vector<std::string>& values) {
  std::string sql = "ARRAY[";
  for (size_t i = 0; i < values.size(); ++i) {
    params.Add(values[i]);
    sql += (i > 0 ? ", $" : "$") + std::to_string(params.size());
  }
  return sql + "]::text[]";
}

Result<std::vector<EntryRecord>> ReadEntries(PgConnection& conn) {
  // One row per name (one for an entry with none), dns names first, in order.
  auto res = conn.Query(
      "SELECT e.id, e.spiffe_id, e.node, e.max_ttl, e.source, cardinality(e.dns), n.name "
      "FROM entries e LEFT JOIN LATERAL unnest(e.dns || e.ips) WITH ORDINALITY AS n(name, ord) ON true "
      "ORDER BY e.id, n.ord",
      "listing entries");
  if (!res) return std::unexpected(res.error());
  std::vector<EntryRecord> entries;
  int64_t names_seen = 0;
  for (int i = 0; i < res->Rows(); ++i) {
    if (entries.empty() || entries.back().id != res->Int(i, 0)) {
      entries.push_back(EntryRecord{.id = res->Int(i, 0),
                                    .spiffe_id = res->Text(i, 1),
                                    .node = res->Text(i, 2),
                                    .max_ttl = res->Int(i, 3),
                                    .source = res->Text(i, 4)});
      names_seen = 0;
    }
    if (res->IsNull(i, 6)) continue;
    EntryRecord& entry = entries.back();
    (names_seen++ < res->Int(i, 5) ? entry.dns : entry.ips).push_back(res->Text(i, 6));
  }
  // Selectors in a second query rather than a wider join; an entry added or
  // removed in between is skipped.
  auto sel = conn.Query(
      "SELECT e.id, s.selector FROM entries e, unnest(e.selectors) WITH ORDINALITY AS s(selector, ord) "
      "ORDER BY e.id, s.ord",
      "listing entry selectors");
  if (!sel) return std::unexpected(sel.error());
  auto entry = entries.begin();
  for (int i = 0; i < sel->Rows(); ++i) {
    while (entry != entries.end() && entry->id < sel->Int(i, 0)) ++entry;
    if (entry == entries.end() || entry->id != sel->Int(i, 0)) continue;  // added between the queries
    entry->selectors.push_back(sel->Text(i, 1));
  }
  return entries;
}

namespace {

Result<int64_t> InsertEntryRow(PgConnection& conn, const EntryRecord& entry, std::string_view source) {
  PgParams params;
  params.AddAll(entry.spiffe_id, entry.node, entry.max_ttl, source);
  const std::string dns = TextArray(params, entry.dns);
  const std::string ips = TextArray(params, entry.ips);
  const std::string selectors = TextArray(params, entry.selectors);
  auto res = conn.Exec("INSERT INTO entries (spiffe_id, node, max_ttl, source, dns, ips, selectors) VALUES ($1, $2, "
                           "$3, $4, " + dns + ", " + ips + ", " + selectors + ") RETURNING id",
                       params, "adding entry " + entry.spiffe_id);
  if (!res) return std::unexpected(res.error());
  return res->Int(0, 0);
}

}  // namespace
}  // namespace pg

Result<int64_t> PostgresStore::AddEntry(const EntryRecord& entry, const EntryAuditEvent& event) {
  const std::string_view source = entry.source.empty() ? kEntryFromApi : entry.source;
  if (auto r = CheckEntryRecord(entry, source); !r) return std::unexpected(r.error());
  return impl_->Write([&](PgConnection& conn) -> Result<int64_t> {
    auto id = pg::InsertEntryRow(conn, entry, source);
    if (!id) return id;
    if (auto r = pg::NoteChange(conn); !r) return std::unexpected(r.error());
    if (auto r = pg::AppendAuditRow(conn, event(*id)); !r) return std::unexpected(r.error());
    return id;
  });
}

Result<void> PostgresStore::RemoveEntry(int64_t id, const AuditEvent& event) {
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    auto res = conn.Query("SELECT source FROM entries WHERE id = $1 FOR UPDATE", "looking up an entry", id);
    if (!res) return std::unexpected(res.error());
    const std::string name = "entry " + std::to_string(id);
    if (res->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no " + name);
    if (res->Text(0, 0) != kEntryFromApi) {
      return MakeError(ErrorCode::kNotFound, name + " comes from ca.toml; config entries are edited in ca.toml");
    }
    if (auto r = conn.Run("DELETE FROM entries WHERE id = $1", "removing an entry", id); !r) return r;
    if (auto r = pg::NoteChange(conn); !r) return r;
    return pg::AppendAuditRow(conn, event);
  });
}

Result<std::vector<EntryRecord>> PostgresStore::ListEntries() {
  return impl_->Read([](PgConnection& conn) { return pg::ReadEntries(conn); });
}

Result<void> PostgresStore::ReplaceConfigEntries(std::span<const EntryRecord> entries) {
  for (const EntryRecord& entry : entries) {
    if (auto r = CheckEntryRecord(entry, kEntryFromConfig); !r) return r;
  }
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    if (auto r = conn.Run("DELETE FROM entries WHERE source = 'config'", "clearing config entries"); !r) return r;
    for (const EntryRecord& entry : entries) {
      if (auto id = pg::InsertEntryRow(conn, entry, kEntryFromConfig); !id) return std::unexpected(id.error());
    }
    return pg::NoteChange(conn);
  });
}

}  // namespace mayfly
