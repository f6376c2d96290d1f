// Registration entries: from ca.toml ("config") and from the admin API ("api").
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

// SANs are kept as a JSON array of strings, built and read by SQLite's own
// JSON functions so quoting is never done by hand.
Result<std::string> EncodeList(Connection& conn, const std::vector<std::string>& values) {
  std::string json = "[]";
  for (const std::string& value : values) {
    auto stmt = conn.Prepare("SELECT json_insert(?1, '$[#]', ?2)");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->BindAll(json, value).Step();
    if (!row) return WithContext(row.error(), "encoding an entry's names");
    json = stmt->Text(0);
  }
  return json;
}

Result<std::vector<std::string>> DecodeList(Connection& conn, const std::string& json) {
  auto stmt = conn.Prepare("SELECT type, value FROM json_each(?1) ORDER BY key");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, json);
  std::vector<std::string> values;
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "reading an entry's names");
    if (!*row) return values;
    if (stmt->Text(0) != "text") {
      return MakeError(ErrorCode::kStore, "an entry's names hold a non-string: " + json);
    }
    values.push_back(stmt->Text(1));
  }
}

Result<int64_t> InsertEntry(Connection& conn, const EntryRecord& entry, std::string_view source) {
  auto dns = EncodeList(conn, entry.dns);
  if (!dns) return std::unexpected(dns.error());
  auto ips = EncodeList(conn, entry.ips);
  if (!ips) return std::unexpected(ips.error());
  auto selectors = EncodeList(conn, entry.selectors);
  if (!selectors) return std::unexpected(selectors.error());
  auto stmt = conn.Prepare(
      "INSERT INTO entries (spiffe_id, node, dns, ips, max_ttl, source, selectors) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindAll(entry.spiffe_id, entry.node, *dns, *ips, entry.max_ttl, source, *selectors);
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "adding entry " + entry.spiffe_id);
  const int64_t id = stmt->Int(0);
  if (auto r = stmt->Run(); !r) return std::unexpected(r.error());
  return id;
}

}  // namespace

Result<std::vector<EntryRecord>> ReadEntries(Connection& conn) {
  auto stmt = conn.Prepare(
      "SELECT id, spiffe_id, node, dns, ips, max_ttl, source, selectors FROM entries ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<EntryRecord> entries;
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "listing entries");
    if (!*row) return entries;
    auto dns = DecodeList(conn, stmt->Text(3));
    if (!dns) return std::unexpected(dns.error());
    auto ips = DecodeList(conn, stmt->Text(4));
    if (!ips) return std::unexpected(ips.error());
    auto selectors = DecodeList(conn, stmt->Text(7));
    if (!selectors) return std::unexpected(selectors.error());
    entries.push_back(EntryRecord{.id = stmt->Int(0),
                                  .spiffe_id = stmt->Text(1),
                                  .node = stmt->Text(2),
                                  .dns = std::move(*dns),
                                  .ips = std::move(*ips),
                                  .max_ttl = stmt->Int(5),
                                  .source = stmt->Text(6),
                                  .selectors = std::move(*selectors)});
  }
}

Result<int64_t> SqliteStore::AddEntry(const EntryRecord& entry, const EntryAuditEvent& event) {
  const std::string_view source = entry.source.empty() ? kEntryFromApi : entry.source;
  if (auto r = CheckEntryRecord(entry, source); !r) return std::unexpected(r.error());
  return impl_->Write([&](Connection& conn) -> Result<int64_t> {
    auto id = InsertEntry(conn, entry, source);
    if (!id) return id;
    if (auto r = NoteChange(conn); !r) return std::unexpected(r.error());
    if (auto r = AppendAuditRow(conn, event(*id)); !r) return std::unexpected(r.error());
    return id;
  });
}

Result<void> SqliteStore::RemoveEntry(int64_t id, const AuditEvent& event) {
  return impl_->Write([&](Connection& conn) -> Result<void> {
    if (auto r = conn.Run("DELETE FROM entries WHERE id = ?1 AND source = 'api'", "removing an entry", id);
        !r) {
      return r;
    }
    if (conn.Changes() > 0) {
      if (auto r = NoteChange(conn); !r) return r;
      if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
      return Ok();
    }
    auto lookup = conn.Prepare("SELECT 1 FROM entries WHERE id = ?1");
    if (!lookup) return std::unexpected(lookup.error());
    auto row = lookup->Bind(1, id).Step();
    if (!row) return WithContext(row.error(), "looking up an entry");
    const std::string name = "entry " + std::to_string(id);
    if (*row) {
      return MakeError(ErrorCode::kNotFound,
                       name + " comes from ca.toml; config entries are edited in ca.toml");
    }
    return MakeError(ErrorCode::kNotFound, "no " + name);
  });
}

Result<std::vector<EntryRecord>> SqliteStore::ListEntries() {
  return impl_->Read([](Connection& conn) { return ReadEntries(conn); });
}

Result<void> SqliteStore::ReplaceConfigEntries(std::span<const EntryRecord> entries) {
  for (const EntryRecord& entry : entries) {
    if (auto r = CheckEntryRecord(entry, kEntryFromConfig); !r) return r;
  }
  return impl_->Write([&](Connection& conn) -> Result<void> {
    if (auto r = conn.Run("DELETE FROM entries WHERE source = 'config'", "clearing config entries"); !r) {
      return r;
    }
    for (const EntryRecord& entry : entries) {
      if (auto id = InsertEntry(conn, entry, kEntryFromConfig); !id) return std::unexpected(id.error());
    }
    return NoteChange(conn);
  });
}

}  // namespace mayfly
