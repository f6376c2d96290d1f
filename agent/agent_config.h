// agent.toml as typed structs, loaded and checked in one step.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mayfly/duration.h"
#include "mayfly/error.h"

namespace mayfly {

// One [[workload]] table of agent.toml: a certificate the agent keeps fresh.
struct WorkloadConfig {
  std::string spiffe_id;             // required: "spiffe://<trust domain>/<path>"
  std::vector<std::string> dns;      // DNS SANs to request; default: none
  std::vector<std::string> ips;      // IP SANs to request; default: none
  Duration ttl = std::chrono::hours(1);  // requested lifetime (the CA may clamp it)
  std::string cert;                  // required: leaf + chain PEM path
  std::string key;                   // required: private key PEM path
  std::string key_type = "ecdsa-p256";
  std::string owner;                 // "user" or "user:group"; empty: unchanged
  int mode = 0600;                   // of cert and key; "0640" or 0o640 in TOML
  std::string on_renew;              // shell command run after a renewal; default: none
  // Signal sent to the pid in pid_file after a renewal, normalised to its
  // short name: one of HUP, INT, TERM, USR1, USR2, QUIT ("SIGHUP" and "hup"
  // are accepted too). Default: none.
  std::string signal;
  int signal_number = 0;             // derived from `signal` (SIGHUP, ...); 0: none. Not a key.
  std::string pid_file;              // required when signal is set

  bool operator==(const WorkloadConfig&) const = default;
};

struct AgentConfig {
  std::string path;                  // the file this was loaded from (not a key)
  // Required: the CA's "https://host:port" URLs, from `server = "..."` (one)
  // or `servers = [...]` (several instances of one CA, each a distinct URL):
  // exactly one of the two keys. Every call goes to the first server not in
  // back-off and fails over to the next on a transport failure (docs/agent.md).
  std::vector<std::string> servers;
  // How the agent trusts the CA on first contact: exactly one of
  // ca_fingerprint and ca_bundle is required.
  // SHA-256 of the root certificate's DER, normalised to "sha256:<64 lowercase
  // hex>" (upper case and colons between bytes are accepted in the file).
  std::string ca_fingerprint;
  std::string ca_bundle;             // root PEM file
  std::string join_token_file;       // one-time token for the first enrollment; default: none
  std::string state_dir = "/var/lib/mayfly-agent";  // node key and cert
  std::string crl_path;              // where the CRL PEM is written; default: not written
  std::string bundle_path;           // where the trust bundle is written; default: not written
  std::string crl_on_change;         // command run when crl_path changes; needs crl_path
  std::string bundle_on_change;      // command run when bundle_path changes; needs bundle_path
  Duration refresh = std::chrono::minutes(1);  // how often the CRL and bundle are fetched
  double renew_at = 0.5;             // renew at this fraction of the lifetime, in (0, 1)
  std::string key_type = "ecdsa-p256";  // of the node key
  // Where the SPIFFE Workload API (gRPC) is served, as a unix socket path
  // of at most 107 bytes (sun_path). Default: "" (not served).
  std::string workload_api_socket;
  std::vector<WorkloadConfig> workloads;  // the [[workload]] tables, in file order

  bool operator==(const AgentConfig&) const = default;
};

// Loads and validates agent.toml, with errors worded as LoadCaConfig's
// (config.h): kConfig naming the file, the key ("workload[0].cert"), the line
// when toml++ knows it, and what was expected; only the first problem. Never
// throws.
[[nodiscard]] Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace mayfly
