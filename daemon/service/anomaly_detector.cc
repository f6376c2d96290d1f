// The detector's per-node windows, baselines and learned sets.
#include "anomaly_detector.h"

#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

namespace mayfly {
namespace {

// Weight of the window just ended in a node's moving baseline: about the
// last four windows count.
constexpr double kBaselineWeight = 0.25;
// How many past windows the baseline is rebuilt from at start.
constexpr int64_t kBaselineWindows = 6;
// Enrollment failure counters kept per shard before stale ones are dropped:
// a scan from many addresses must not grow memory without bound.
constexpr size_t kMaxAddressesPerShard = 4096;

std::string Num(int64_t v) { return std::to_string(v); }

static_assert(kAnomalyKindCount == kAnomalyKinds.size(), "one stable name per anomaly kind");

}  // namespace

std::string_view AnomalyKindName(AnomalyKind kind) { return kAnomalyKinds.at(static_cast<size_t>(kind)); }

AnomalyDetector::AnomalyDetector(const CaConfig::Anomaly& config)
    : window_(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(config.window).count())),
      learning_(std::chrono::duration_cast<std::chrono::seconds>(config.learning_period).count()),
      surge_factor_(config.surge_factor),
      surge_floor_(config.surge_floor),
      watch_addresses_(config.new_source_address),
      refusal_burst_(config.refusal_burst),
      enroll_failure_burst_(config.enroll_failure_burst) {}

AnomalyDetector::Shard& AnomalyDetector::ShardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

AnomalyDetector::NodeState& AnomalyDetector::StateOf(Shard& shard, const std::string& node, int64_t now) {
  auto it = shard.nodes.find(node);
  if (it != shard.nodes.end()) return it->second;
  // A node this daemon has not seen (enrolled through another instance
  // since the start): its learning period counts from now, which errs
  // towards silence.
  NodeState& state = shard.nodes[node];
  state.enrolled_at = now;
  return state;
}

Result<void> AnomalyDetector::Load(Store& store, int64_t now) {
  auto nodes = store.ListNodes();
  if (!nodes) return WithContext(nodes.error(), "loading nodes for anomaly detection");
  for (const NodeRecord& n : *nodes) {
    Shard& shard = ShardOf(n.name);
    std::lock_guard lock(shard.mu);
    shard.nodes[n.name].enrolled_at = n.enrolled_at;
  }
  auto held = store.ListNodeIdentities(now - kBaselineWindows * window_);
  if (!held) return WithContext(held.error(), "loading the identities nodes have held");
  for (NodeIdentityStats& h : *held) {
    Shard& shard = ShardOf(h.node);
    std::lock_guard lock(shard.mu);
    NodeState& state = StateOf(shard, h.node, h.first_issued_at);
    state.baseline += static_cast<double>(h.recent) / kBaselineWindows;
    state.identities.insert(std::move(h.spiffe_id));
  }
  if (!watch_addresses_) return Ok();
  auto addresses = store.ListNodeAddresses();
  if (!addresses) return WithContext(addresses.error(), "loading node source addresses");
  for (NodeAddress& a : *addresses) {
    Shard& shard = ShardOf(a.node);
    std::lock_guard lock(shard.mu);
    StateOf(shard, a.node, a.first_seen).addresses.insert(std::move(a.address));
  }
  return Ok();
}

std::pair<int64_t, int64_t> AnomalyDetector::Advance(Window& w, int64_t index) {
  if (w.index == index) return {0, 0};
  const std::pair<int64_t, int64_t> left{w.index < 0 ? 0 : w.count, w.index < 0 ? 0 : index - w.index};
  w = Window{.index = index, .count = 0};
  return left;
}

bool AnomalyDetector::FireOnce(NodeState& state, AnomalyKind kind, int64_t index) {
  int64_t& fired = state.fired[static_cast<size_t>(kind)];
  if (fired == index) return false;
  fired = index;
  return true;
}

void AnomalyDetector::CheckSurge(const std::string& node, NodeState& state, int64_t index,
                                 const std::string& address, std::vector<Anomaly>& found) {
  const auto [left, passed] = Advance(state.issued, index);
  if (passed > 0) {
    state.baseline = state.baseline * (1 - kBaselineWeight) + static_cast<double>(left) * kBaselineWeight;
    if (passed > 1) state.baseline *= std::pow(1 - kBaselineWeight, static_cast<double>(passed - 1));
  }
  const int64_t count = ++state.issued.count;
  const double threshold = std::max(static_cast<double>(surge_floor_), surge_factor_ * state.baseline);
  if (static_cast<double>(count) <= threshold || !FireOnce(state, AnomalyKind::kIssuanceSurge, index)) return;
  char baseline[32];
  std::snprintf(baseline, sizeof baseline, "%.1f", state.baseline);
  found.push_back({AnomalyKind::kIssuanceSurge, node, address,
                   {{"count", Num(count)}, {"baseline", baseline},
                    {"threshold", Num(static_cast<int64_t>(std::ceil(threshold)))},
                    {"window_seconds", Num(window_)}}});
}

void AnomalyDetector::OnIssue(const std::string& node, const std::string& identity, const std::string& address,
                              int64_t now, std::vector<Anomaly>& found) {
  const int64_t index = now / window_;
  Shard& shard = ShardOf(node);
  std::lock_guard lock(shard.mu);
  NodeState& state = StateOf(shard, node, now);
  CheckSurge(node, state, index, address, found);
  if (!identity.empty() && !state.identities.contains(identity)) {
    state.identities.insert(identity);
    if (!Learning(state, now) && FireOnce(state, AnomalyKind::kNewIdentity, index)) {
      found.push_back({AnomalyKind::kNewIdentity, node, address,
                       {{"spiffe_id", identity}, {"identities_held", Num(static_cast<int64_t>(state.identities.size() - 1))}}});
    }
  }
  if (watch_addresses_ && !address.empty() && !state.addresses.contains(address)) {
    state.addresses.insert(address);
    {
      std::lock_guard pending(pending_mu_);
      pending_addresses_.push_back({node, address, now});
    }
    if (!Learning(state, now) && FireOnce(state, AnomalyKind::kNewSourceAddress, index)) {
      found.push_back({AnomalyKind::kNewSourceAddress, node, address,
                       {{"addresses_known", Num(static_cast<int64_t>(state.addresses.size() - 1))}}});
    }
  }
}

void AnomalyDetector::OnRefusal(const std::string& node, const std::string& identity, const std::string& address,
                                int64_t now, std::vector<Anomaly>& found) {
  const int64_t index = now / window_;
  Shard& shard = ShardOf(node);
  std::lock_guard lock(shard.mu);
  NodeState& state = StateOf(shard, node, now);
  Advance(state.refused, index);
  const int64_t count = ++state.refused.count;
  if (count < refusal_burst_ || !FireOnce(state, AnomalyKind::kRefusalBurst, index)) return;
  found.push_back({AnomalyKind::kRefusalBurst, node, address,
                   {{"refusals", Num(count)}, {"last_spiffe_id", identity}, {"window_seconds", Num(window_)}}});
}

void AnomalyDetector::OnEnrollFailure(const std::string& address, int64_t now, std::vector<Anomaly>& found) {
  const int64_t index = now / window_;
  Shard& shard = ShardOf(address);
  std::lock_guard lock(shard.mu);
  if (shard.addresses.size() >= kMaxAddressesPerShard && !shard.addresses.contains(address)) {
    std::erase_if(shard.addresses, [&](const auto& entry) { return entry.second.failures.index != index; });
  }
  Burst& burst = shard.addresses[address];
  Advance(burst.failures, index);
  const int64_t count = ++burst.failures.count;
  if (count < enroll_failure_burst_ || burst.fired == index) return;
  burst.fired = index;
  found.push_back({AnomalyKind::kEnrollFailureBurst, "", address,
                   {{"failures", Num(count)}, {"window_seconds", Num(window_)}}});
}

void AnomalyDetector::OnEnrolled(const std::string& node, int64_t now) {
  Shard& shard = ShardOf(node);
  std::lock_guard lock(shard.mu);
  StateOf(shard, node, now).enrolled_at = now;
}

std::vector<NodeAddress> AnomalyDetector::TakeNewAddresses() {
  std::lock_guard lock(pending_mu_);
  return std::exchange(pending_addresses_, {});
}

}  // namespace mayfly
