// What anomaly detection keeps in SQLite: quarantined nodes, the identities
// nodes have held (read from the certificates) and their source addresses.
#include <string>

#include "store_internal.h"

namespace mayfly {

namespace {

// The nodes rows matching `where` (an SQL condition), by name.
Result<std::vector<NodeRecord>> SelectNodes(Connection& conn, const std::string& where) {
  auto stmt = conn.Prepare("SELECT name, enrolled_at, banned, banned_at, quarantine FROM nodes WHERE " + where +
                           " ORDER BY name");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<NodeRecord> nodes;
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "listing nodes");
    if (!*row) return nodes;
    nodes.push_back({.name = stmt->Text(0), .enrolled_at = stmt->Int(1), .banned = stmt->Int(2) != 0,
                     .banned_at = stmt->OptInt(3), .quarantine = stmt->Text(4)});
  }
}

}  // namespace

Result<std::vector<NodeRecord>> SqliteStore::ListNodes() {
  return impl_->Read([&](Connection& conn) { return SelectNodes(conn, "1"); });
}

Result<std::vector<NodeRecord>> SqliteStore::ListRestrictedNodes() {
  return impl_->Read([&](Connection& conn) { return SelectNodes(conn, "banned OR quarantine <> ''"); });
}

Result<bool> SqliteStore::QuarantineNode(const std::string& node, const std::string& kind,
                                         const AuditEvent& event) {
  if (node.empty() || kind.empty()) return MakeError(ErrorCode::kInvalidArgument, "a quarantine needs a node and a kind");
  return impl_->Write([&](Connection& conn) -> Result<bool> {
    if (auto r = conn.Run("INSERT INTO nodes (name, quarantine) VALUES (?1, ?2) "
                          "ON CONFLICT (name) DO UPDATE SET quarantine = excluded.quarantine WHERE quarantine = ''",
                          "quarantining node " + node, node, kind);
        !r) {
      return std::unexpected(r.error());
    }
    const bool quarantined = conn.Changes() > 0;
    if (quarantined) {
      if (auto r = NoteChange(conn); !r) return std::unexpected(r.error());
    }
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    return quarantined;
  });
}

Result<void> SqliteStore::LiftQuarantine(const std::string& node, const AuditEvent& event) {
  return impl_->Write([&](Connection& conn) -> Result<void> {
    if (auto r = conn.Run("UPDATE nodes SET quarantine = '' WHERE name = ?1 AND quarantine <> ''",
                          "lifting the quarantine of node " + node, node);
        !r) {
      return r;
    }
    if (conn.Changes() == 0) return MakeError(ErrorCode::kNotFound, "node " + node + " is not quarantined");
    if (auto r = NoteChange(conn); !r) return r;
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    return Ok();
  });
}

Result<std::vector<NodeIdentityStats>> SqliteStore::ListNodeIdentities(int64_t since) {
  return impl_->Read([&](Connection& conn) -> Result<std::vector<NodeIdentityStats>> {
    auto stmt = conn.Prepare(
        "SELECT node, spiffe_id, min(issued_at), sum(issued_at >= ?1) FROM certificates "
        "WHERE kind = 'workload' AND node <> '' GROUP BY node, spiffe_id");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindAll(since);
    std::vector<NodeIdentityStats> out;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "listing the identities nodes have held");
      if (!*row) return out;
      out.push_back({.node = stmt->Text(0), .spiffe_id = stmt->Text(1), .first_issued_at = stmt->Int(2),
                     .recent = stmt->Int(3)});
    }
  });
}

Result<std::vector<NodeAddress>> SqliteStore::ListNodeAddresses() {
  return impl_->Read([&](Connection& conn) -> Result<std::vector<NodeAddress>> {
    auto stmt = conn.Prepare("SELECT node, address, first_seen FROM node_addresses");
    if (!stmt) return std::unexpected(stmt.error());
    std::vector<NodeAddress> out;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "listing node source addresses");
      if (!*row) return out;
      out.push_back({.node = stmt->Text(0), .address = stmt->Text(1), .first_seen = stmt->Int(2)});
    }
  });
}

Result<void> SqliteStore::AddNodeAddresses(std::span<const NodeAddress> addresses) {
  if (addresses.empty()) return Ok();
  return impl_->Write([&](Connection& conn) -> Result<void> {
    for (const NodeAddress& a : addresses) {
      if (auto r = conn.Run("INSERT OR IGNORE INTO node_addresses (node, address, first_seen) VALUES (?1, ?2, ?3)",
                            "recording a source address of node " + a.node, a.node, a.address, a.first_seen);
          !r) {
        return r;
      }
    }
    return Ok();
  });
}

}  // namespace mayfly
