// One pass of the agent: node, CRL and bundle, workloads; then the schedule.
#include "agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "agent_crl_sync.h"
#include "agent_publish.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace {

constexpr auto kMaxBackoff = std::chrono::minutes(5);

}  // namespace

Agent::Agent(AgentConfig config, Mode mode, const Clock& clock)
    : config_(std::move(config)),
      mode_(mode),
      clock_(clock),
      paths_(config_.state_dir),
      servers_(std::make_unique<ServerPool>(config_.servers, clock_)) {}

void Agent::Reload(AgentConfig config) {
  const bool same_ca = config.servers == config_.servers && config.state_dir == config_.state_dir;
  if (config.servers != config_.servers) {
    client_.reset();  // it points into the pool replaced here
    auto servers = std::make_unique<ServerPool>(config.servers, clock_);
    servers->Restore(servers_->states());
    servers_ = std::move(servers);
  }
  config_ = std::move(config);
  paths_ = StatePaths(config_.state_dir);
  next_refresh_ = {};
  if (!same_ca) {
    trust_pem_.clear();
    node_.reset();
    node_key_.reset();
  }
  client_.reset();
}

TimePoint Agent::DueTime(const HeldCert& cert) {
  const TimePoint renew = RenewalTime(cert, config_.renew_at);
  if (mode_ == Mode::kOnce) return renew;
  auto it = due_.find(cert.serial);
  if (it != due_.end()) return it->second;
  const TimePoint due = JitteredDue(cert, renew, clock_.Now(), rng_);
  due_.emplace(cert.serial, due);
  return due;
}

bool Agent::IsDue(const HeldCert& cert) { return clock_.Now() >= DueTime(cert); }

Result<void> Agent::RefreshCrlAndBundle() {
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  std::vector<OsslPtr<X509>> chains;
  auto collect = [&chains](const std::string& pem) {
    for (auto& c : ChainOf(pem)) chains.push_back(std::move(c));
  };
  if (node_) collect(node_->chain_pem);
  for (const auto& w : config_.workloads) collect(ReadFile(w.cert).value_or(""));
  std::vector<X509*> intermediates;
  for (auto& c : chains) intermediates.push_back(c.get());
  auto outcome = SyncCrlAndBundle(**client, config_, paths_, trust_pem_, intermediates);
  if (!outcome) {
    retry_after_ = std::max(retry_after_, (*client)->retry_after());
    return std::unexpected(outcome.error());
  }
  if (outcome->trust_changed) {
    spdlog::info("trusted roots updated from {}", (*client)->answered_by());
    client_.reset();
  }
  crl_hook_pending_ |= outcome->crl_written && !config_.crl_on_change.empty();
  bundle_hook_pending_ |= outcome->bundle_written && !config_.bundle_on_change.empty();
  if (outcome->crl_written) spdlog::info("CRL written to {}", config_.crl_path);
  if (outcome->bundle_written) spdlog::info("trust bundle written to {}", config_.bundle_path);
  Result<void> result = Ok();
  if (crl_hook_pending_) {
    if (auto r = RunHook(config_.crl_on_change, {{"MAYFLY_CRL", config_.crl_path}}); !r) result = r;
    else crl_hook_pending_ = false;
  }
  if (bundle_hook_pending_) {
    if (auto r = RunHook(config_.bundle_on_change, {{"MAYFLY_BUNDLE", config_.bundle_path}}); !r) result = r;
    else bundle_hook_pending_ = false;
  }
  return result;
}

void Agent::RunWorkloadHooks(const WorkloadConfig& workload, const std::string& serial) {
  bool ok = true;
  if (!workload.on_renew.empty()) {
    auto r = RunHook(workload.on_renew, {{"MAYFLY_SPIFFE_ID", workload.spiffe_id},
                                         {"MAYFLY_CERT", workload.cert},
                                         {"MAYFLY_KEY", workload.key},
                                         {"MAYFLY_SERIAL", serial}});
    if (!r) spdlog::warn("{}: on_renew failed (retried next pass): {}", workload.spiffe_id, r.error().message);
    ok = ok && r.has_value();
  }
  if (workload.signal_number != 0) {
    auto r = SignalPidFile(workload.pid_file, workload.signal_number, workload.owner);
    if (!r) spdlog::error("{}: signal not sent (retried next pass): {}", workload.spiffe_id, r.error().message);
    ok = ok && r.has_value();
  }
  if (ok) hooks_pending_.erase(workload.cert);
  else hooks_pending_.insert(workload.cert);
}

Result<void> Agent::IssueWorkload(const WorkloadConfig& workload, CertStatus& status) {
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  auto fresh = NewKeyAndCsr(workload.key_type, {workload.spiffe_id}, workload.dns, workload.ips);
  if (!fresh) return std::unexpected(fresh.error());
  auto issued = (*client)->Sign(fresh->csr, workload.ttl);
  if (!issued) {
    retry_after_ = std::max(retry_after_, (*client)->retry_after());
    banned_ = banned_ || (*client)->banned();
    return std::unexpected(issued.error());
  }
  const std::string chain = issued->certificate + issued->chain;
  if (auto r = CheckAnswer(chain, fresh->key.get(), NamesOf(workload), trust_pem_, clock_.Now()); !r) return r;
  auto key_pem = PrivateKeyToPem(fresh->key.get());
  if (!key_pem) return std::unexpected(key_pem.error());
  if (auto r = WriteWorkloadFiles(workload, *key_pem, chain); !r) return r;
  spdlog::info("renewed {} serial={} not_after={}", workload.spiffe_id, issued->serial, issued->not_after);
  status.serial = issued->serial;
  status.not_after = issued->not_after;
  RunWorkloadHooks(workload, issued->serial);
  return Ok();
}

Result<void> Agent::EnsureWorkload(const WorkloadConfig& workload, const std::set<std::string>& revoked,
                                   CertStatus& status) {
  std::string why;
  auto held = LoadHeldPair(workload.cert, workload.key);
  if (!held) {
    why = held.error().message;
  } else {
    status.serial = held->serial;
    status.not_after = FormatRfc3339(held->not_after);
    if (std::string m = NameMismatch(held->leaf.get(), NamesOf(workload)); !m.empty()) why = m;
    else if (revoked.contains(held->serial)) why = "serial " + held->serial + " is on the CA's CRL";
    else if (std::string p = ChainProblem(*held, trust_pem_, revoked); !p.empty()) why = p;
    else if (clock_.Now() >= held->not_after) why = "it expired";
    else if (IsDue(*held)) why = "it is due for renewal";
  }
  if (why.empty()) {
    if (hooks_pending_.contains(workload.cert)) RunWorkloadHooks(workload, held->serial);
    return Ok();
  }
  spdlog::info("{}: issuing a new certificate: {}", workload.spiffe_id, why);
  return IssueWorkload(workload, status);
}

TimePoint Agent::NextWake(bool failed, TimePoint earliest_due) {
  const TimePoint now = clock_.Now();
  if (!failed) {
    failures_ = 0;
    return std::max(std::min(earliest_due, next_refresh_), now + std::chrono::seconds(1));
  }
  // Exponential backoff with jitter: 1s doubling, capped at 5 minutes or a
  // tenth of the time the soonest-expiring certificate has left.
  ++failures_;
  auto cap = std::chrono::duration_cast<std::chrono::seconds>(kMaxBackoff);
  if (node_ && !banned_) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(node_->not_after - now) / 10;
    cap = std::clamp(left, std::chrono::seconds(1), cap);
  }
  std::chrono::seconds delay(1LL << std::min(failures_ - 1, 20));
  delay = std::min(delay, cap);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  auto jittered = std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(delay) * jitter(rng_));
  if (banned_) jittered = kMaxBackoff;
  jittered = std::max<TimePoint::duration>(jittered, std::chrono::seconds(retry_after_));
  // Whatever else is due is retried then too.
  return now + jittered;
}

PassResult Agent::RunPass() {
  PassResult result;
  retry_after_ = 0;
  banned_ = false;
  StatusReport report{.updated_at = FormatRfc3339(clock_.Now())};
  auto fail = [&result](const std::string& what, const Error& e) {
    spdlog::error("{}: {}", what, e.message);
    result.errors.push_back(what + ": " + e.message);
  };

  if (auto r = Client(); !r) fail("trusting the CA", r.error());
  std::set<std::string> revoked = RevokedSerials(ReadFile(paths_.crl).value_or(""));
  CertStatus node_status{.name = "node"};
  if (result.errors.empty()) {
    if (auto r = EnsureNode(revoked); !r) {
      fail("node", r.error());
      node_status.last_error = r.error().message;
    }
  }
  if (result.errors.empty() && (mode_ == Mode::kOnce || clock_.Now() >= next_refresh_)) {
    if (auto r = RefreshCrlAndBundle(); !r) {
      fail("CRL and bundle", r.error());
      report.crl_error = r.error().message;
    } else {
      next_refresh_ = clock_.Now() + config_.refresh;
      revoked = RevokedSerials(ReadFile(paths_.crl).value_or(""));
      // A node revoked (or whose CA was) since the pass began: its renewal
      // and signing would be refused.
      if (node_ && (revoked.contains(node_->serial) || !ChainProblem(*node_, trust_pem_, revoked).empty())) {
        if (auto n = EnsureNode(revoked); !n) {
          fail("node", n.error());
          node_status.last_error = n.error().message;
        }
      }
    }
  }
  TimePoint earliest = clock_.Now() + std::chrono::hours(24);
  if (node_) {
    node_status.spiffe_id = node_->spiffe_id;
    node_status.serial = node_->serial;
    node_status.not_after = FormatRfc3339(node_->not_after);
    node_status.next_renewal = FormatRfc3339(DueTime(*node_));
    earliest = std::min(earliest, DueTime(*node_));
  }
  report.certs.push_back(node_status);
  for (const WorkloadConfig& workload : config_.workloads) {
    CertStatus status{.name = workload.cert, .spiffe_id = workload.spiffe_id};
    if (!node_) {
      status.last_error = "the node is not enrolled";
    } else if (auto r = EnsureWorkload(workload, revoked, status); !r) {
      fail(workload.spiffe_id, r.error());
      status.last_error = r.error().message;
    }
    if (auto held = LoadHeldPair(workload.cert, workload.key); held) {
      status.next_renewal = FormatRfc3339(DueTime(*held));
      earliest = std::min(earliest, DueTime(*held));
    }
    report.certs.push_back(std::move(status));
  }
  // Forget the due times of certificates no longer held.
  std::erase_if(due_, [&report](const auto& entry) {
    return std::none_of(report.certs.begin(), report.certs.end(),
                        [&entry](const CertStatus& c) { return c.serial == entry.first; });
  });
  for (const ServerState& s : servers_->states()) {
    report.servers.push_back({.url = s.url,
                              .in_backoff = s.failures > 0,
                              .failures = s.failures,
                              .retry_at = s.failures > 0 ? FormatRfc3339(s.retry_at) : "",
                              .last_error = s.last_error});
  }
  if (std::filesystem::exists(paths_.dir)) {
    if (auto r = SaveStatus(paths_, report); !r) spdlog::warn("writing {}: {}", paths_.status, r.error().message);
  }
  result.next_wake = NextWake(!result.errors.empty(), earliest);
  return result;
}

}  // namespace mayfly::agent
