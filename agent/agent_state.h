// The agent's files in state_dir: node key and cert, trusted roots, CRL copy,
// ETags, hashes of used join tokens, and the status report.
#pragma once

#include <string>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"

namespace mayfly::agent {

struct StatePaths {
  explicit StatePaths(const std::string& dir)
      : dir(dir),
        node_key(dir + "/node.key"),
        node_key_next(dir + "/node.key.next"),
        node_cert(dir + "/node.pem"),
        trust(dir + "/bundle.pem"),
        crl(dir + "/crl.pem"),
        etags(dir + "/etags.json"),
        used_tokens(dir + "/used-tokens"),
        status(dir + "/status.json") {}
  std::string dir;
  std::string node_key;
  // A renewed node key waits here until its certificate is in place, so a
  // crash between the two writes never leaves node.pem and node.key apart.
  std::string node_key_next;
  std::string node_cert;    // leaf + chain
  std::string trust;        // the roots every connection is verified against
  std::string crl;          // the last verified CRL PEM (for revocation checks)
  std::string etags;        // {"crl": "...", "bundle": "..."}
  std::string used_tokens;  // one SHA-256 hex per line
  std::string status;
};

struct ETags {
  std::string crl;
  std::string bundle;
};

// Missing or unreadable: empty tags (the next fetch is unconditional).
ETags LoadETags(const StatePaths& paths);
[[nodiscard]] Result<void> SaveETags(const StatePaths& paths, const ETags& tags);

// SHA-256 (hex) of a join token: the only form of a token the agent keeps.
std::string TokenHash(const std::string& token);
bool TokenWasUsed(const StatePaths& paths, const std::string& token);
[[nodiscard]] Result<void> RecordUsedToken(const StatePaths& paths, const std::string& token);

// One row of `mayfly-agent status`: a certificate the agent keeps.
struct CertStatus {
  std::string name;        // "node" or the workload's cert path
  std::string spiffe_id;
  std::string serial;      // "" when there is no certificate yet
  std::string not_after;   // RFC 3339
  std::string next_renewal;
  std::string last_error;  // "" after a success
};

// One CA server of `mayfly-agent status`, as the latest pass left it.
struct ServerStatus {
  std::string url;
  bool in_backoff = false;  // its latest call failed: skipped until retry_at
  int failures = 0;         // consecutive failed calls
  std::string retry_at;     // RFC 3339; "" when up
  std::string last_error;   // "" when up
};

struct StatusReport {
  std::string updated_at;
  std::vector<CertStatus> certs;
  std::string crl_error;   // last CRL/bundle refresh error
  std::vector<ServerStatus> servers;  // in the configured order
};

// The report as one JSON object: status.json, and `mayfly-agent status --json`.
std::string StatusJson(const StatusReport& report);
[[nodiscard]] Result<void> SaveStatus(const StatePaths& paths, const StatusReport& report);
[[nodiscard]] Result<StatusReport> LoadStatus(const StatePaths& paths);

}  // namespace mayfly::agent
