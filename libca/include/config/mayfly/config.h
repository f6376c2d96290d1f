// ca.toml as typed structs, loaded and checked in one step (agent.toml is
// the agent's: agent_config.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/duration.h"
#include "mayfly/error.h"

namespace mayfly {

// A registration entry as written in ca.toml's [[entry]] tables. The loader
// checks only its shape (the SPIFFE ID starts with "spiffe://", IPs are
// addresses, the TTL lies within [issuance]); the daemon validates the SPIFFE
// ID and names fully before it uses the entry.
struct EntryConfig {
  std::string spiffe_id;             // required: "spiffe://<trust domain>/<path>"
  std::string node;                  // required: a node name or a glob ("web-*")
  std::vector<std::string> dns;      // DNS SANs the entry allows; default: none
  std::vector<std::string> ips;      // IP SANs the entry allows; default: none
  std::optional<Duration> ttl;       // max TTL; default (nullopt): [issuance] max_ttl
  std::vector<std::string> selectors;  // workload selectors, all must match; default: none

  bool operator==(const EntryConfig&) const = default;
};

struct CaConfig {
  std::string path;                  // the file this was loaded from (not a key)
  // Required: the SPIFFE trust domain, e.g. "example.org" ([a-z0-9.-_]).
  std::string trust_domain;
  // Where the keys, certificates and database live. Relative paths are kept
  // as written; the daemon resolves them against its working directory.
  std::string state_dir = "/var/lib/mayfly-ca";
  std::string listen = "0.0.0.0:8443";          // "host:port" of the HTTPS API
  // Names (DNS or IP) on the daemon's own TLS certificate; at least one.
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
  std::string metrics_listen = "127.0.0.1:9443";  // "host:port", /healthz and /metrics
  std::string admin_socket = "/run/mayfly-ca/admin.sock";  // unix socket for the CLI

  struct Ca {
    std::string key_type = "ecdsa-p256";   // of the root and intermediate keys
    // File holding the passphrase that encrypts the CA keys at rest, kept as
    // written (a relative path is relative to the working directory, like
    // every path). Default (empty): $CREDENTIALS_DIRECTORY/ca-passphrase when
    // set, else <state_dir>/passphrase.
    std::string key_passphrase_file;
    Duration root_ttl = std::chrono::hours(24 * 3650);         // 3650d
    Duration intermediate_ttl = std::chrono::hours(24 * 365);  // 365d, <= root_ttl
    // Automatic intermediate rotation: when the active intermediate has less
    // than this left, a new one is prepared; it is activated once half of
    // that time has passed, and the old one retired when its leaves have
    // expired. < intermediate_ttl; default (unset): a third of
    // intermediate_ttl.
    Duration rotate_before = std::chrono::hours(24 * 365 / 3);
    bool auto_rotate = true;  // false: rotation by `mayfly-ca ca` commands only
    // Name-constrain the intermediate to the trust domain's URIs and the
    // permitted DNS/IP ranges. Some verifiers refuse any chain with URI
    // constraints (python-cryptography, older rustls-webpki): set false for them.
    bool name_constraints = true;
    // DNS subtrees (e.g. ".internal") and IP ranges (CIDRs) the intermediate
    // may issue for. Once one of a kind is listed, every SAN of that kind must
    // fall under one, the daemon's server_names included. Default: none (that
    // kind of name is not constrained).
    std::vector<std::string> permitted_dns;
    std::vector<std::string> permitted_ips;

    bool operator==(const Ca&) const = default;
  } ca;

  // Lifetimes; the loader insists on min_ttl <= default_ttl <= max_ttl, and on
  // max_ttl and node_ttl <= [ca] intermediate_ttl.
  struct Issuance {
    Duration default_ttl = std::chrono::hours(1);  // workload certs when none is asked
    Duration max_ttl = std::chrono::hours(24);     // longest workload cert
    Duration min_ttl = std::chrono::minutes(1);    // shortest TTL a caller may ask
    Duration node_ttl = std::chrono::hours(24);    // node (agent) certs
    Duration backdate = std::chrono::minutes(1);   // notBefore = now - backdate (clock skew)
    // Longest join token `token create --ttl` may ask for (longer: refused,
    // naming this cap). A token asked without a TTL lives 1h, or this when
    // shorter.
    Duration max_token_ttl = std::chrono::hours(24);
    // How long after its node certificate expired a node may still recover
    // (POST /v1/node/recover: a new certificate for a new key, proven with
    // the old key, no join token). Zero ("0s"): recovery is off.
    Duration node_recovery_window = std::chrono::hours(24 * 30);

    bool operator==(const Issuance&) const = default;
  } issuance;

  struct Crl {
    Duration interval = std::chrono::minutes(10);  // regenerate this often; < next_update
    Duration next_update = std::chrono::hours(1);  // nextUpdate = thisUpdate + next_update
    std::string url;                 // CRL distribution point (http:// or https://); default: none

    bool operator==(const Crl&) const = default;
  } crl;

  // The OCSP responder (POST /ocsp, GET /ocsp/{request}), always on `listen`.
  struct Ocsp {
    std::string listen;              // "host:port" of a plain-HTTP OCSP listener; default: none
    std::string url;                 // AIA OCSP URL put in issued leaves (http:// or https://); default: none
    // thisUpdate..nextUpdate of each response; a response is re-signed when
    // older than half of it. 1m..7d.
    Duration validity = std::chrono::hours(1);

    bool operator==(const Ocsp&) const = default;
  } ocsp;

  // JWT-SVIDs (POST /v1/jwt).
  struct Jwt {
    // No token outlives this; a request without "ttl" gets 5 minutes (or
    // this, when shorter). 10s..24h. A replaced JWT key stays in the SPIFFE
    // bundle this long after it last signed.
    Duration max_ttl = std::chrono::hours(1);

    bool operator==(const Jwt&) const = default;
  } jwt;

  // Every number is positive.
  struct Limits {
    int sign_per_node_per_minute = 600;   // /v1/sign and /v1/renew per node
    int enroll_per_ip_per_minute = 60;    // /v1/enroll per client IP
    size_t max_body = 64 * 1024;          // request body bytes
    int max_connections = 4096;           // open connections at once
    int max_connections_per_ip = 256;     // of them from one IPv4 address or IPv6 /64
    std::vector<std::string> allow_cidrs; // client IP allow-list as CIDRs; empty: everyone
    Duration handshake_timeout = std::chrono::seconds(5);  // to complete the TLS handshake
    Duration header_timeout = std::chrono::seconds(10);  // to read the request headers
    Duration body_timeout = std::chrono::seconds(10);    // to read the request body
    Duration idle_timeout = std::chrono::seconds(60);    // keep-alive between requests

    bool operator==(const Limits&) const = default;
  } limits;

  struct Tls {
    std::string min_version = "1.3";  // "1.2" or "1.3"

    bool operator==(const Tls&) const = default;
  } tls;

  // Where the CA's durable state lives (docs/ha.md). StoreOptionsFor
  // (ca_layout.h) turns this into what OpenStore takes.
  struct Store {
    // "sqlite": ca.db in state_dir, for one daemon (the default);
    // "postgresql": one database shared by several daemons.
    std::string backend = "sqlite";
    // postgresql, required: a libpq connection URI, several hosts allowed
    // ("postgresql://mayfly@db1,db2/mayfly?target_session_attrs=read-write");
    // never a password. Not allowed with sqlite.
    std::string url;
    // postgresql, required: the file whose first line is the database
    // password, readable by its owner only. Not allowed with sqlite.
    std::string password_file;

    bool operator==(const Store&) const = default;
  } store;

  // Anomaly detection on issuance (docs/anomalies.md). The defaults raise
  // nothing for a fleet that enrolls, renews and signs at a normal cadence.
  struct Anomaly {
    bool enabled = true;              // false: no detection at all (no cost on the request path)
    // "alert" (audit event, metric, log line) or "quarantine" (the same, and
    // the node is refused new certificates and JWTs until `node unban`).
    std::string action = "alert";
    // The counting period of surges and bursts. 1m..1d.
    Duration window = std::chrono::minutes(10);
    // issuance_surge: a node's issuances in one window exceed both
    // surge_factor x its moving baseline and surge_floor. Factor >= 1.5.
    double surge_factor = 10.0;
    int surge_floor = 1000;
    // new_identity: a node asks for an identity it never held once this
    // long has passed since it enrolled. "0s": from the start.
    Duration learning_period = std::chrono::hours(24);
    // new_source_address (opt-in): a node calls from an address it never
    // used, after its learning period.
    bool new_source_address = false;
    // refusal_burst: authorization refusals (403) of one node in one window.
    int refusal_burst = 20;
    // enroll_failure_burst: refused enrollments (bad join tokens) from one
    // client address in one window.
    int enroll_failure_burst = 10;

    bool operator==(const Anomaly&) const = default;
  } anomaly;

  std::vector<EntryConfig> entries;   // the [[entry]] tables, in file order; default: none

  // Field by field, `path` included: lets a reload (SIGHUP) tell whether
  // anything changed.
  bool operator==(const CaConfig&) const = default;
};

// Loads and validates ca.toml. Errors (kConfig) name the file, the key
// (a dotted path like "issuance.max_ttl" or "entry[2].spiffe_id", counting
// array elements from 0), the line when toml++ knows it, and what was
// expected: a missing file, a TOML syntax error, an unknown key, a wrong type,
// a bad value or a missing required key. Only the first problem is reported,
// an unknown key before a missing one (a misspelt key is both). Relative paths
// in the file are kept as written. Never throws.
[[nodiscard]] Result<CaConfig> LoadCaConfig(const std::string& path);

}  // namespace mayfly
