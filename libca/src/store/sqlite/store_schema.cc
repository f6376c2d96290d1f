// The store's schema as an ordered list of migrations, and the code applying them.
#include <span>
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

struct Migration {
  int version;              // PRAGMA user_version once applied
  const char* description;  // for error messages
  const char* sql;
};

// Append new steps at the end; never edit a step that has shipped.
constexpr Migration kMigrations[] = {
    {1, "initial schema", R"sql(
CREATE TABLE certificates (
  id INTEGER PRIMARY KEY,  -- insertion order: the paging cursor, newest first
  serial TEXT NOT NULL UNIQUE,
  spiffe_id TEXT NOT NULL,
  node TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL,
  issuer TEXT NOT NULL DEFAULT '',
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  der BLOB NOT NULL,
  revoked_at INTEGER,
  reason INTEGER NOT NULL DEFAULT 0
);
-- The status columns ride along in the listing indexes so a status filter is
-- decided from the index alone; the row (with its DER) is read only for the
-- certificates returned.
CREATE INDEX certs_spiffe_id ON certificates (spiffe_id, id, revoked_at, not_after);
CREATE INDEX certs_node ON certificates (node, id, revoked_at, not_after);
CREATE INDEX certs_status ON certificates (revoked_at, not_after);
-- Issued order, narrow: a status scan newest-first reads this, not the rows.
CREATE INDEX certs_issued ON certificates (id, revoked_at, not_after);
CREATE INDEX certs_revoked ON certificates (id) WHERE revoked_at IS NOT NULL;

CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  enrolled_at INTEGER NOT NULL DEFAULT 0,  -- 0: never enrolled
  banned INTEGER NOT NULL DEFAULT 0,
  banned_at INTEGER
) WITHOUT ROWID;

CREATE TABLE join_tokens (
  hash TEXT PRIMARY KEY,  -- hex SHA-256 of the token; the token is never stored
  node TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
) WITHOUT ROWID;

-- AUTOINCREMENT: an id is never reused, so "entry rm 7" can never hit a
-- different entry than the one listed as 7, even after config reloads.
CREATE TABLE entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  spiffe_id TEXT NOT NULL,
  node TEXT NOT NULL,
  dns TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
  ips TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
  max_ttl INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL CHECK (source IN ('config', 'api'))
);

-- AUTOINCREMENT: ids never repeat, so a deleted last event leaves a gap that
-- VerifyAuditChain sees.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  subject TEXT NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_time ON audit_events (time);

CREATE TABLE crl_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  number INTEGER NOT NULL
);
INSERT INTO crl_state (id, number) VALUES (1, 0);

CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
    {2, "CA certificates for rotation", R"sql(
CREATE TABLE ca_certs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  role TEXT NOT NULL CHECK (role IN ('root', 'intermediate', 'cross')),
  state TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'retiring', 'retired', 'revoked')),
  key_id TEXT NOT NULL,
  issuer_key_id TEXT NOT NULL,
  serial TEXT NOT NULL UNIQUE,
  der BLOB NOT NULL,
  key_file TEXT NOT NULL DEFAULT '',
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL,
  crl_pem TEXT NOT NULL DEFAULT ''
);
-- Counting each issuer's live leaves (rotation status, retire checks).
CREATE INDEX certs_issuer ON certificates (issuer, not_after, revoked_at);
)sql"},
    {3, "join tokens invalidated by a ban", R"sql(
-- Set when the token's node is banned while the token is unused: a token
-- made before a ban must not lift it.
ALTER TABLE join_tokens ADD COLUMN revoked_at INTEGER;
CREATE INDEX join_tokens_node ON join_tokens (node) WHERE used_at IS NULL;
)sql"},
    {4, "CA keys in the database, the change generation", R"sql(
ALTER TABLE ca_certs ADD COLUMN key_pem TEXT NOT NULL DEFAULT '';
-- Grows with every change a daemon must apply to its caches (Store::ChangeGeneration).
CREATE TABLE store_changes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
);
INSERT INTO store_changes (id, generation) VALUES (1, 0);
)sql"},
    {5, "workload selectors on entries", R"sql(
-- A JSON array of selector strings, like dns and ips.
ALTER TABLE entries ADD COLUMN selectors TEXT NOT NULL DEFAULT '[]';
)sql"},
    {6, "admin roles", R"sql(
CREATE TABLE admins (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) WITHOUT ROWID;
-- Every admin credential issued before roles existed keeps full rights.
INSERT OR IGNORE INTO admins (name, role, created_at)
  SELECT substr(spiffe_id, instr(spiffe_id, '/admin/') + 7), 'admin', min(issued_at)
  FROM certificates WHERE kind = 'admin' AND instr(spiffe_id, '/admin/') > 0
  GROUP BY 1;
)sql"},
    {7, "JWT signing keys among the CA records", R"sql(
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- with the same rows and ids (the sequence follows the renamed table).
CREATE TABLE ca_certs_jwt (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  role TEXT NOT NULL CHECK (role IN ('root', 'intermediate', 'cross', 'jwt')),
  state TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'retiring', 'retired', 'revoked')),
  key_id TEXT NOT NULL,
  issuer_key_id TEXT NOT NULL,
  serial TEXT NOT NULL UNIQUE,
  der BLOB NOT NULL,
  key_file TEXT NOT NULL DEFAULT '',
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL,
  crl_pem TEXT NOT NULL DEFAULT '',
  key_pem TEXT NOT NULL DEFAULT ''
);
INSERT INTO ca_certs_jwt (id, role, state, key_id, issuer_key_id, serial, der, key_file, not_after, created_at,
                          changed_at, crl_pem, key_pem)
  SELECT id, role, state, key_id, issuer_key_id, serial, der, key_file, not_after, created_at, changed_at, crl_pem,
         key_pem FROM ca_certs;
DROP TABLE ca_certs;
ALTER TABLE ca_certs_jwt RENAME TO ca_certs;
)sql"},
    {8, "node recovery challenges", R"sql(
-- Single-use, short-lived; a challenge is kept only as its SHA-256.
CREATE TABLE recovery_challenges (
  hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX recovery_challenges_expiry ON recovery_challenges (expires_at);
)sql"},
    {9, "anomaly detection: quarantined nodes, known source addresses", R"sql(
-- The anomaly kind that quarantined the node; '' = not quarantined.
ALTER TABLE nodes ADD COLUMN quarantine TEXT NOT NULL DEFAULT '';
CREATE TABLE node_addresses (
  node TEXT NOT NULL,
  address TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (node, address)
) WITHOUT ROWID;
)sql"},
    {10, "the identities nodes have held, from an index", R"sql(
-- ListNodeIdentities (the anomaly detector's start) groups by node and
-- identity: in this order it reads these entries alone, not a million rows
-- with their DER and a sort. Partial: only what that query counts.
CREATE INDEX certs_node_identities ON certificates (node, spiffe_id, issued_at)
  WHERE kind = 'workload' AND node <> '';
)sql"},
};

Result<int> ReadUserVersion(Connection& conn) {
  auto stmt = conn.Prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "reading the schema version");
  return *row ? static_cast<int>(stmt->Int(0)) : 0;
}

Result<void> ApplyMigration(Connection& conn, const Migration& step) {
  auto tx = Transaction::Begin(conn);
  if (!tx) return std::unexpected(tx.error());
  // Read again under the write lock: another process may have migrated since.
  auto version = ReadUserVersion(conn);
  if (!version) return std::unexpected(version.error());
  if (*version >= step.version) return Ok();
  const std::string what =
      "applying schema migration " + std::to_string(step.version) + " (" + step.description + ")";
  if (auto r = conn.Exec(step.sql, what); !r) return r;
  // user_version lives in the database header and commits with the step.
  if (auto r = conn.Exec("PRAGMA user_version = " + std::to_string(step.version), what); !r) {
    return r;
  }
  return tx->Commit();
}

}  // namespace

int LatestSchemaVersion() { return std::span(kMigrations).back().version; }

Result<int> MigrateSchema(Connection& conn, const std::string& path) {
  auto version = ReadUserVersion(conn);
  if (!version) return std::unexpected(version.error());
  if (*version > LatestSchemaVersion()) {
    return MakeError(ErrorCode::kStore,
                     "database " + path + " has schema version " + std::to_string(*version) +
                         ", newer than the " + std::to_string(LatestSchemaVersion()) +
                         " this build of mayfly knows; run a newer mayfly");
  }
  for (const Migration& step : kMigrations) {
    if (step.version <= *version) continue;
    if (auto r = ApplyMigration(conn, step); !r) return std::unexpected(r.error());
  }
  return ReadUserVersion(conn);
}

}  // namespace mayfly
