// The PostgreSQL store's schema as an ordered list of migrations, and the code applying them.
#include <span>
#include <string>

#include "pg_store_internal.h"

namespace mayfly::pg {
namespace {

struct PgMigration {
  int version;              // schema_version once applied
  const char* description;  // for error messages
  const char* sql;
};

// Append new steps at the end; never edit a step that has shipped.
constexpr PgMigration kPgMigrations[] = {
    {1, "initial schema", R"sql(
CREATE TABLE certificates (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the paging cursor, newest first
  serial text NOT NULL UNIQUE,
  spiffe_id text NOT NULL,
  node text NOT NULL DEFAULT '',
  kind text NOT NULL,
  issuer text NOT NULL DEFAULT '',
  not_before bigint NOT NULL,
  not_after bigint NOT NULL,
  issued_at bigint NOT NULL,
  der bytea NOT NULL,
  revoked_at bigint,
  reason integer NOT NULL DEFAULT 0
);
CREATE INDEX certs_spiffe_id ON certificates (spiffe_id, id);
CREATE INDEX certs_node ON certificates (node, id);
CREATE INDEX certs_unrevoked ON certificates (not_after, id) WHERE revoked_at IS NULL;
CREATE INDEX certs_revoked ON certificates (id) WHERE revoked_at IS NOT NULL;
CREATE INDEX certs_issuer ON certificates (issuer, not_after) WHERE revoked_at IS NULL;

CREATE TABLE nodes (
  name text PRIMARY KEY,
  enrolled_at bigint NOT NULL DEFAULT 0,  -- 0: never enrolled
  banned boolean NOT NULL DEFAULT false,
  banned_at bigint
);

CREATE TABLE join_tokens (
  hash text PRIMARY KEY,  -- hex SHA-256 of the token; the token is never stored
  node text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  used_at bigint,
  revoked_at bigint  -- set when its node was banned before it was used
);
CREATE INDEX join_tokens_unused ON join_tokens (node) WHERE used_at IS NULL;

-- An identity's sequence never hands an id out twice, so "entry rm 7" can
-- never hit a different entry than the one listed as 7.
CREATE TABLE entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  spiffe_id text NOT NULL,
  node text NOT NULL,
  dns text[] NOT NULL DEFAULT '{}',
  ips text[] NOT NULL DEFAULT '{}',
  max_ttl bigint NOT NULL DEFAULT 0,
  source text NOT NULL CHECK (source IN ('config', 'api'))
);

-- Ids come from audit_head, not a sequence: a sequence leaves gaps when a
-- transaction rolls back, and a gap is what tampering looks like.
CREATE TABLE audit_events (
  id bigint PRIMARY KEY,
  time bigint NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  subject text NOT NULL,
  result text NOT NULL,
  detail text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_time ON audit_events (time, id);

-- The chain's head: the last id handed out (which outlives a deleted last
-- event) and its hash. Every append locks this row until it commits.
CREATE TABLE audit_head (
  id integer PRIMARY KEY CHECK (id = 1),
  last_id bigint NOT NULL,
  last_hash text NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '');

CREATE TABLE crl_state (
  id integer PRIMARY KEY CHECK (id = 1),
  number bigint NOT NULL
);
INSERT INTO crl_state (id, number) VALUES (1, 0);

CREATE TABLE meta (
  key text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE ca_certs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('root', 'intermediate', 'cross')),
  state text NOT NULL CHECK (state IN ('prepared', 'active', 'retiring', 'retired', 'revoked')),
  key_id text NOT NULL,
  issuer_key_id text NOT NULL,
  serial text NOT NULL UNIQUE,
  der bytea NOT NULL,
  key_file text NOT NULL DEFAULT '',
  not_after bigint NOT NULL,
  created_at bigint NOT NULL,
  changed_at bigint NOT NULL,
  crl_pem text NOT NULL DEFAULT ''
);
)sql"},
    {2, "CA keys in the database, the change generation", R"sql(
-- Encrypted PKCS#8 PEM: every instance loads the CA keys from here.
ALTER TABLE ca_certs ADD COLUMN key_pem text NOT NULL DEFAULT '';
-- Grows with every change the instances must apply to their caches; each
-- bump also notifies channel mayfly_changes (Store::ChangeGeneration).
CREATE TABLE store_changes (
  id integer PRIMARY KEY CHECK (id = 1),
  generation bigint NOT NULL
);
INSERT INTO store_changes (id, generation) VALUES (1, 0);
)sql"},
    {3, "workload selectors on entries", R"sql(
ALTER TABLE entries ADD COLUMN selectors text[] NOT NULL DEFAULT '{}';
)sql"},
    {4, "admin roles", R"sql(
CREATE TABLE admins (
  name text PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at bigint NOT NULL,
  revoked_at bigint
);
-- Every admin credential issued before roles existed keeps full rights.
INSERT INTO admins (name, role, created_at)
  SELECT substring(spiffe_id from '/admin/([^/]+)$'), 'admin', min(issued_at)
  FROM certificates WHERE kind = 'admin' AND spiffe_id ~ '/admin/[^/]+$'
  GROUP BY 1
ON CONFLICT (name) DO NOTHING;
)sql"},
    {5, "JWT signing keys among the CA records", R"sql(
ALTER TABLE ca_certs DROP CONSTRAINT ca_certs_role_check;
ALTER TABLE ca_certs ADD CONSTRAINT ca_certs_role_check
  CHECK (role IN ('root', 'intermediate', 'cross', 'jwt'));
)sql"},
    {6, "node recovery challenges", R"sql(
-- Single-use, short-lived; a challenge is kept only as its SHA-256.
CREATE TABLE recovery_challenges (
  hash text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX recovery_challenges_expiry ON recovery_challenges (expires_at);
)sql"},
    {7, "anomaly detection: quarantined nodes, known source addresses", R"sql(
-- The anomaly kind that quarantined the node; '' = not quarantined.
ALTER TABLE nodes ADD COLUMN quarantine text NOT NULL DEFAULT '';
CREATE TABLE node_addresses (
  node text NOT NULL,
  address text NOT NULL,
  first_seen bigint NOT NULL,
  PRIMARY KEY (node, address)
);
)sql"},
    {8, "the identities nodes have held, from an index", R"sql(
-- ListNodeIdentities (the anomaly detector's start) groups by node and
-- identity: in this order it reads these entries (an index-only scan once
-- the table is vacuumed), not every row with its DER. Partial: only what
-- that query counts.
CREATE INDEX certs_node_identities ON certificates (node, spiffe_id, issued_at)
  WHERE kind = 'workload' AND node <> '';
)sql"},
};

// The version the database is at; 0 for an empty one.
Result<int> ReadSchemaVersion(PgConnection& conn) {
  auto res = conn.Query("SELECT max(version) FROM schema_version", "reading the schema version");
  if (!res) return std::unexpected(res.error());
  return static_cast<int>(res->Int(0, 0));
}

Result<int> ApplyStep(PgConnection& conn, const PgMigration* step) {
  if (auto r = conn.Run("BEGIN", "starting a migration"); !r) return std::unexpected(r.error());
  auto run = [&]() -> Result<int> {
    if (auto r = conn.Run("SELECT pg_advisory_xact_lock($1)", "waiting for the migration lock", kMigrationLock); !r) {
      return std::unexpected(r.error());
    }
    if (auto r = conn.Run("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
                          "creating the schema_version table");
        !r) {
      return std::unexpected(r.error());
    }
    // Read under the lock: another instance may have migrated meanwhile.
    auto version = ReadSchemaVersion(conn);
    if (!version) return version;
    if (*version > LatestSchemaVersion()) {
      return MakeError(ErrorCode::kStore, "the PostgreSQL database has schema version " + std::to_string(*version) +
                                              ", newer than the " + std::to_string(LatestSchemaVersion()) +
                                              " this build of mayfly knows; run a newer mayfly");
    }
    if (step == nullptr || *version >= step->version) return version;
    const std::string what =
        "applying schema migration " + std::to_string(step->version) + " (" + step->description + ")";
    if (auto r = conn.ExecScript(step->sql, what); !r) return std::unexpected(r.error());
    if (auto r = conn.Run("INSERT INTO schema_version (version) VALUES ($1)", what, int64_t{step->version}); !r) {
      return std::unexpected(r.error());
    }
    return step->version;
  };
  auto version = run();
  if (!version) {
    if (!conn.Broken()) (void)conn.Run("ROLLBACK", "rolling back");
    return version;
  }
  if (auto r = conn.Run("COMMIT", "committing a migration"); !r) return std::unexpected(r.error());
  return version;
}

}  // namespace

int LatestSchemaVersion() { return std::span(kPgMigrations).back().version; }

Result<int> MigrateSchema(PgConnection& conn) {
  // A step of nullptr only checks (and creates schema_version).
  auto version = ApplyStep(conn, nullptr);
  if (!version) return version;
  for (const PgMigration& step : kPgMigrations) {
    if (step.version <= *version) continue;
    version = ApplyStep(conn, &step);
    if (!version) return version;
  }
  return version;
}

}  // namespace mayfly::pg
