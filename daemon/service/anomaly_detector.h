// Watches issuance as it happens and says when something looks wrong: a
// node's issuance surging far above its own baseline, a node asking for an
// identity it never held, a new source address, bursts of refusals or of
// failed enrollments. In memory, sharded by node; rebuilt from the store at
// start. Raising what it finds (audit, metric, log, quarantine) is the
// caller's (anomaly_watch.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mayfly/config.h"
#include "mayfly/error.h"
#include "mayfly/store.h"

namespace mayfly {

// The anomaly kinds; their stable names are kAnomalyKinds (metrics.h), the
// `kind` of audit events and of mayfly_anomalies_total (docs/anomalies.md).
enum class AnomalyKind { kIssuanceSurge, kNewIdentity, kNewSourceAddress, kRefusalBurst, kEnrollFailureBurst };
inline constexpr size_t kAnomalyKindCount = 5;  // == kAnomalyKinds.size()
std::string_view AnomalyKindName(AnomalyKind kind);

// One anomaly found: what, about which node (none for enroll_failure_burst)
// and from which client address, with the evidence as key/value text.
struct Anomaly {
  AnomalyKind kind;
  std::string node;
  std::string address;
  std::vector<std::pair<std::string, std::string>> evidence;
};

// Thread-safe. Each call is O(1) and takes one shard's mutex; it allocates
// only when it learns something (a node, an identity, an address) or finds
// an anomaly. Each kind fires at most once per window for one node (or
// address), so a burst yields one anomaly, not one per request.
class AnomalyDetector {
 public:
  explicit AnomalyDetector(const CaConfig::Anomaly& config);

  // Learns back from the store what a restart would forget: each node's
  // enrollment time, the identities it has held, its recent issuance rate
  // (the baseline) and, when watched, its source addresses. `now` in Unix
  // seconds, as every time below.
  [[nodiscard]] Result<void> Load(Store& store, int64_t now);

  // A certificate or JWT about to be issued to `node`: `identity` is the
  // workload SPIFFE ID ("" for the node's own renewal), `address` the
  // client's. Appends what it finds to `found`.
  void OnIssue(const std::string& node, const std::string& identity, const std::string& address, int64_t now,
               std::vector<Anomaly>& found);
  // An authorization refusal (403) of a node's request for `identity`.
  void OnRefusal(const std::string& node, const std::string& identity, const std::string& address, int64_t now,
                 std::vector<Anomaly>& found);
  // A refused enrollment (a bad join token) from `address`.
  void OnEnrollFailure(const std::string& address, int64_t now, std::vector<Anomaly>& found);
  // A node (re-)enrolled: its learning period starts again.
  void OnEnrolled(const std::string& node, int64_t now);

  // Source addresses learned since the last call, for the store.
  std::vector<NodeAddress> TakeNewAddresses();

 private:
  struct Window {
    int64_t index = -1;  // which window (now / window length) the count is for
    int64_t count = 0;
  };
  struct NodeState {
    int64_t enrolled_at = 0;
    Window issued;
    double baseline = 0;  // issuances per window, moving average of past windows
    Window refused;
    std::array<int64_t, kAnomalyKindCount> fired{-1, -1, -1, -1, -1};  // window index of the last firing
    std::unordered_set<std::string> identities;
    std::unordered_set<std::string> addresses;
  };
  struct Burst {
    Window failures;
    int64_t fired = -1;
  };
  static constexpr size_t kShards = 64;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, NodeState> nodes;
    std::unordered_map<std::string, Burst> addresses;  // enrollment failures per client address
  };

  Shard& ShardOf(std::string_view key);
  // The node's state, created (learning from now) on first sight.
  NodeState& StateOf(Shard& shard, const std::string& node, int64_t now);
  // Moves `w` to window `index`, returning the count of the window it left
  // and how many windows passed.
  static std::pair<int64_t, int64_t> Advance(Window& w, int64_t index);
  bool FireOnce(NodeState& state, AnomalyKind kind, int64_t index);
  void CheckSurge(const std::string& node, NodeState& state, int64_t index, const std::string& address,
                  std::vector<Anomaly>& found);
  bool Learning(const NodeState& state, int64_t now) const { return now < state.enrolled_at + learning_; }

  const int64_t window_;
  const int64_t learning_;
  const double surge_factor_;
  const int64_t surge_floor_;
  const bool watch_addresses_;
  const int64_t refusal_burst_;
  const int64_t enroll_failure_burst_;
  std::array<Shard, kShards> shards_;
  std::mutex pending_mu_;
  std::vector<NodeAddress> pending_addresses_;
};

}  // namespace mayfly
