// ca.toml and agent.toml as typed structs, loaded and checked in one step.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

using Duration = std::chrono::seconds;

// Parses "90s", "10m", "1h", "30d" (one integer and one unit of s, m, h, d).
// kInvalidArgument with what was expected otherwise.
[[nodiscard]] Result<Duration> ParseDuration(std::string_view text);
// The shortest exact form: 3600s -> "1h", 90s -> "90s".
std::string FormatDuration(Duration d);

// A registration entry as written in ca.toml's [[entry]] tables.
struct EntryConfig {
  std::string spiffe_id;             // required
  std::string node;                  // required: a node name or a glob ("web-*")
  std::vector<std::string> dns;      // DNS SANs the entry allows
  std::vector<std::string> ips;      // IP SANs the entry allows
  std::optional<Duration> ttl;       // max TTL; default: [issuance] max_ttl
};

struct CaConfig {
  std::string path;                  // the file this was loaded from
  std::string trust_domain;          // required, e.g. "example.org"
  std::string state_dir = "/var/lib/mayfly-ca";
  std::string listen = "0.0.0.0:8443";
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
  std::string metrics_listen = "127.0.0.1:9443";
  std::string admin_socket = "/run/mayfly-ca/admin.sock";

  struct Ca {
    std::string key_type = "ecdsa-p256";
    // File holding the passphrase that encrypts the CA keys at rest. Relative
    // paths are relative to the config file's directory. Default:
    // $CREDENTIALS_DIRECTORY/ca-passphrase when set, else <state_dir>/passphrase.
    std::string key_passphrase_file;
    Duration root_ttl = std::chrono::hours(24 * 3650);
    Duration intermediate_ttl = std::chrono::hours(24 * 365);
    bool name_constraints = true;
    std::vector<std::string> permitted_dns;   // extra DNS subtrees (e.g. ".internal")
    std::vector<std::string> permitted_ips;   // extra IP ranges as CIDRs
  } ca;

  struct Issuance {
    Duration default_ttl = std::chrono::hours(1);
    Duration max_ttl = std::chrono::hours(24);
    Duration min_ttl = std::chrono::minutes(1);
    Duration node_ttl = std::chrono::hours(24);
    Duration backdate = std::chrono::minutes(1);
  } issuance;

  struct Crl {
    Duration interval = std::chrono::minutes(10);
    Duration next_update = std::chrono::hours(1);
    std::string url;                 // CRL distribution point; empty: none
  } crl;

  struct Limits {
    int sign_per_node_per_minute = 600;
    int enroll_per_ip_per_minute = 60;
    size_t max_body = 64 * 1024;
    int max_connections = 4096;
    std::vector<std::string> allow_cidrs;  // empty: everyone
    Duration header_timeout = std::chrono::seconds(10);
    Duration body_timeout = std::chrono::seconds(10);
    Duration idle_timeout = std::chrono::seconds(60);
  } limits;

  struct Tls {
    std::string min_version = "1.3";  // "1.2" or "1.3"
  } tls;

  std::vector<EntryConfig> entries;
};

struct WorkloadConfig {
  std::string spiffe_id;             // required
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  Duration ttl = std::chrono::hours(1);
  std::string cert;                  // required: leaf + chain PEM path
  std::string key;                   // required: private key PEM path
  std::string key_type = "ecdsa-p256";
  std::string owner;                 // "user" or "user:group"; empty: unchanged
  int mode = 0600;                   // written as a string "0640" in TOML
  std::string on_renew;              // shell command run after a renewal
  std::string signal;                // e.g. "HUP", sent to the pid in pid_file
  std::string pid_file;
};

struct AgentConfig {
  std::string path;                  // the file this was loaded from
  std::string server;                // required: "https://host:port"
  std::string ca_fingerprint;        // "sha256:<64 hex>"; this or ca_bundle
  std::string ca_bundle;             // root PEM file
  std::string join_token_file;
  std::string state_dir = "/var/lib/mayfly-agent";
  std::string crl_path;
  std::string bundle_path;
  std::string crl_on_change;
  std::string bundle_on_change;
  Duration refresh = std::chrono::minutes(1);
  double renew_at = 0.5;             // fraction of the lifetime, in (0, 1)
  std::string key_type = "ecdsa-p256";  // of the node key
  std::vector<WorkloadConfig> workloads;
};

// Loads and validates a config file. Errors (kConfig) name the file, the key
// (with its line when toml++ knows it) and what was expected: a missing file,
// a TOML syntax error, an unknown key, a wrong type, a bad value or a missing
// required key. Relative paths in the file are kept as written.
[[nodiscard]] Result<CaConfig> LoadCaConfig(const std::string& path);
[[nodiscard]] Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace mayfly
