// The agent's work: one pass brings the node certificate, every workload
// certificate, the CRL and the bundle up to date and says when to come back.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent_ca_client.h"
#include "agent_cert_check.h"
#include "agent_config.h"
#include "agent_servers.h"
#include "agent_state.h"
#include "mayfly/clock.h"
#include "mayfly/error.h"

namespace mayfly::agent {

enum class Mode {
  kOnce,  // renew what is due at renew_at exactly; fetch the CRL every time
  kRun,   // jitter renewal times, refresh the CRL every `refresh`, back off on failure
};

struct PassResult {
  std::vector<std::string> errors;  // empty when everything is up to date
  TimePoint next_wake;              // when the next pass is due (run mode)
};

class Agent {
 public:
  Agent(AgentConfig config, Mode mode, const Clock& clock);

  // One pass. Never deletes or replaces a working certificate because the CA
  // failed; errors are logged, collected and leave the files as they were.
  PassResult RunPass();
  // A new configuration (SIGHUP); takes effect at the next pass.
  void Reload(AgentConfig config);

  // `run` makes each pass in a child process (agent_pass_child.h), so the
  // long-lived agent never holds keys, TLS state or OpenSSL's memory between
  // passes. The child sends CarryOver() back; the agent takes it in.
  std::string CarryOver(const PassResult& result) const;
  [[nodiscard]] Result<PassResult> TakeCarryOver(std::string_view text);
  // A child that died without sending its state: when to try again.
  TimePoint PassDied();
  // A forked child must not repeat its parent's (and its siblings') jitter.
  void ReseedJitter();

 private:
  // agent_node.cc
  Result<void> EnsureNode(const std::set<std::string>& revoked);
  Result<void> LoadNode();
  Result<void> EnrollWithToken(const std::string& why);
  Result<void> RenewNode();
  // A new node certificate for a new key without a join token, proven with
  // the held (expired) node key; kRecoveryRefused when only a new join
  // token can bring the node back.
  Result<void> RecoverNode();
  // After the node certificate expired: recovery, else the join token.
  Result<void> RecoverOrEnroll();
  // Checks the answer (CheckAnswer, for `key` and exactly `spiffe_id`), then
  // writes the new key and certificate; a refused answer writes nothing.
  Result<void> KeepNode(const IssuedPem& issued, const EVP_PKEY* key, const std::string& spiffe_id);
  Result<CaClient*> Client();

  // agent.cc
  Result<void> RefreshCrlAndBundle();
  Result<void> EnsureWorkload(const WorkloadConfig& workload, const std::set<std::string>& revoked,
                              CertStatus& status);
  Result<void> IssueWorkload(const WorkloadConfig& workload, CertStatus& status);
  void RunWorkloadHooks(const WorkloadConfig& workload, const std::string& serial);
  bool IsDue(const HeldCert& cert);
  TimePoint DueTime(const HeldCert& cert);
  TimePoint NextWake(bool failed, TimePoint earliest_due);

  AgentConfig config_;
  Mode mode_;
  const Clock& clock_;
  StatePaths paths_;
  // The CA's servers and their back-off; carried from pass to pass. Rebuilt
  // (keeping the state of the servers still listed) when `servers` changes.
  std::unique_ptr<ServerPool> servers_;
  std::string trust_pem_;
  std::optional<CaClient> client_;  // rebuilt when the roots, the node cert or the servers change
  std::optional<HeldCert> node_;
  OsslPtr<EVP_PKEY> node_key_;
  std::map<std::string, TimePoint> due_;       // serial -> jittered renewal time (run mode)
  std::set<std::string> hooks_pending_;        // cert paths whose hook failed: retried next pass
  bool crl_hook_pending_ = false;
  bool bundle_hook_pending_ = false;
  TimePoint next_refresh_{};
  int failures_ = 0;       // consecutive failed passes, for the backoff
  int retry_after_ = 0;    // largest Retry-After of this pass, seconds
  // The CA said, this pass, that only a new join token brings this node
  // back (it is banned, or its recovery was refused) and none worked.
  bool banned_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace mayfly::agent
