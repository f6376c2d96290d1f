// What anomaly detection keeps in PostgreSQL: quarantined nodes, the
// identities nodes have held (read from the certificates) and their source
// addresses.
#include <string>

#include "pg_store_internal.h"

namespace mayfly {

namespace {

// The nodes rows matching `where` (an SQL condition), by name; COLLATE "C":
// sorted by bytes, as SQLite sorts, whatever the database's locale.
Result<std::vector<NodeRecord>> SelectNodes(PgConnection& conn, const std::string& where) {
  auto res = conn.Query("SELECT name, enrolled_at, banned, banned_at, quarantine FROM nodes WHERE " + where +
                            " ORDER BY name COLLATE \"C\"",
                        "listing nodes");
  if (!res) return std::unexpected(res.error());
  std::vector<NodeRecord> nodes;
  for (int i = 0; i < res->Rows(); ++i) {
    nodes.push_back({.name = res->Text(i, 0), .enrolled_at = res->Int(i, 1), .banned = res->Bool(i, 2),
                     .banned_at = res->OptInt(i, 3), .quarantine = res->Text(i, 4)});
  }
  return nodes;
}

}  // namespace

Result<std::vector<NodeRecord>> PostgresStore::ListNodes() {
  return impl_->Read([&](PgConnection& conn) { return SelectNodes(conn, "TRUE"); });
}

Result<std::vector<NodeRecord>> PostgresStore::ListRestrictedNodes() {
  return impl_->Read([&](PgConnection& conn) { return SelectNodes(conn, "banned OR quarantine <> ''"); });
}

Result<bool> PostgresStore::QuarantineNode(const std::string& node, const std::string& kind,
                                           const AuditEvent& event) {
  if (node.empty() || kind.empty()) return MakeError(ErrorCode::kInvalidArgument, "a quarantine needs a node and a kind");
  return impl_->Write([&](PgConnection& conn) -> Result<bool> {
    auto res = conn.Query(
        "INSERT INTO nodes (name, quarantine) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET quarantine = excluded.quarantine WHERE nodes.quarantine = '' "
        "RETURNING name",
        "quarantining node " + node, node, kind);
    if (!res) return std::unexpected(res.error());
    const bool quarantined = res->Rows() > 0;
    if (quarantined) {
      if (auto r = pg::NoteChange(conn); !r) return std::unexpected(r.error());
    }
    if (auto r = pg::AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    return quarantined;
  });
}

Result<void> PostgresStore::LiftQuarantine(const std::string& node, const AuditEvent& event) {
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    auto res = conn.Query("UPDATE nodes SET quarantine = '' WHERE name = $1 AND quarantine <> '' RETURNING name",
                          "lifting the quarantine of node " + node, node);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return MakeError(ErrorCode::kNotFound, "node " + node + " is not quarantined");
    if (auto r = pg::NoteChange(conn); !r) return r;
    return pg::AppendAuditRow(conn, event);
  });
}

Result<std::vector<NodeIdentityStats>> PostgresStore::ListNodeIdentities(int64_t since) {
  return impl_->Read([&](PgConnection& conn) -> Result<std::vector<NodeIdentityStats>> {
    auto res = conn.Query(
        "SELECT node, spiffe_id, min(issued_at), count(*) FILTER (WHERE issued_at >= $1) FROM certificates "
        "WHERE kind = 'workload' AND node <> '' GROUP BY node, spiffe_id",
        "listing the identities nodes have held", since);
    if (!res) return std::unexpected(res.error());
    std::vector<NodeIdentityStats> out;
    for (int i = 0; i < res->Rows(); ++i) {
      out.push_back({.node = res->Text(i, 0), .spiffe_id = res->Text(i, 1), .first_issued_at = res->Int(i, 2),
                     .recent = res->Int(i, 3)});
    }
    return out;
  });
}

Result<std::vector<NodeAddress>> PostgresStore::ListNodeAddresses() {
  return impl_->Read([&](PgConnection& conn) -> Result<std::vector<NodeAddress>> {
    auto res = conn.Query("SELECT node, address, first_seen FROM node_addresses", "listing node source addresses");
    if (!res) return std::unexpected(res.error());
    std::vector<NodeAddress> out;
    for (int i = 0; i < res->Rows(); ++i) {
      out.push_back({.node = res->Text(i, 0), .address = res->Text(i, 1), .first_seen = res->Int(i, 2)});
    }
    return out;
  });
}

Result<void> PostgresStore::AddNodeAddresses(std::span<const NodeAddress> addresses) {
  if (addresses.empty()) return Ok();
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    for (const NodeAddress& a : addresses) {
      if (auto r = conn.Run("INSERT INTO node_addresses (node, address, first_seen) VALUES ($1, $2, $3) "
                            "ON CONFLICT DO NOTHING",
                            "recording a source address of node " + a.node, a.node, a.address, a.first_seen);
          !r) {
        return r;
      }
    }
    return Ok();
  });
}

}  // namespace mayfly
