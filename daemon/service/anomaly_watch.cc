// Raising anomalies: one audit event (its log line is the warning), one
// count, and the quarantine when configured.
#include "anomaly_watch.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "anomaly_detector.h"

namespace mayfly {
namespace {

// Raises each anomaly; true when one of them quarantined `node` (or it
// already was).
bool Raise(CaRuntime& rt, std::vector<Anomaly>& found) {
  const bool quarantine = rt.config()->anomaly.action == "quarantine";
  bool quarantined = false;
  const int64_t now = NowSeconds(rt);
  for (Anomaly& a : found) {
    const std::string_view kind = AnomalyKindName(a.kind);
    rt.metrics().CountAnomaly(static_cast<size_t>(a.kind));
    // A failed-enrollment burst has no node to quarantine: its address is
    // not a credential the CA could refuse.
    const bool quarantines = quarantine && !a.node.empty();
    boost::json::object detail{{"kind", kind}, {"node", a.node}, {"address", a.address},
                               {"action", quarantines ? "quarantine" : "alert"}};
    for (auto& [key, value] : a.evidence) detail[key] = std::move(value);
    // Its log line (warn: the result is not "ok") is the anomaly's one warning.
    AuditEvent event{.time = now, .type = "anomaly", .actor = "mayfly-ca",
                     .subject = a.node.empty() ? a.address : a.node, .result = quarantines ? "quarantine" : "alert",
                     .detail = boost::json::serialize(detail)};
    if (!quarantines) {
      rt.audit().Record(std::move(event));
      continue;
    }
    quarantined = true;
    // The cache first, so this instance refuses at once; the store makes it
    // last and reach the other instances, with its audit event.
    rt.revocations().Quarantine(a.node, std::string(kind));
    auto recorded = rt.store().QuarantineNode(a.node, std::string(kind), event);
    if (!recorded) {
      spdlog::error("anomaly: could not record the quarantine of node {}: {}", a.node, recorded.error().ToString());
      rt.audit().Record(std::move(event));  // the anomaly is still audited if the store takes it later
      continue;
    }
    AuditLog::LogLine(event);
    // Again once it is recorded: a cache rebuild that read the store before
    // the write may have replaced the first, and StoreFollower does not
    // rebuild for this instance's own change.
    if (*recorded) rt.revocations().Quarantine(a.node, std::string(kind));
  }
  // The address an anomaly was raised for must not raise it again after a restart.
  rt.SaveLearnedAddresses();
  return quarantined;
}

}  // namespace

Error QuarantineError(const std::string& node, const std::string& kind) {
  return Error{ErrorCode::kNodeBanned, "node " + node + " is quarantined after anomaly " + kind +
                                           "; an operator lifts it with `mayfly-ca node unban " + node + "`"};
}

bool WatchIssue(const CallPtr& call, const std::string& identity) {
  AnomalyDetector* detector = call->rt.anomaly_detector();
  if (detector == nullptr) return true;
  std::vector<Anomaly> found;
  detector->OnIssue(call->caller_name, identity, call->request.peer.ip, NowSeconds(call->rt), found);
  if (found.empty() || !Raise(call->rt, found)) return true;
  auto kind = call->rt.revocations().QuarantineOf(call->caller_name);
  call->Refuse(QuarantineError(call->caller_name, kind.value_or("unknown")), identity);
  return false;
}

void WatchRefusal(const CallPtr& call, const std::string& identity) {
  AnomalyDetector* detector = call->rt.anomaly_detector();
  if (detector == nullptr) return;
  std::vector<Anomaly> found;
  detector->OnRefusal(call->caller_name, identity, call->request.peer.ip, NowSeconds(call->rt), found);
  if (!found.empty()) Raise(call->rt, found);
}

void WatchEnrollFailure(const CallPtr& call) {
  AnomalyDetector* detector = call->rt.anomaly_detector();
  if (detector == nullptr) return;
  std::vector<Anomaly> found;
  detector->OnEnrollFailure(call->request.peer.ip, NowSeconds(call->rt), found);
  if (!found.empty()) Raise(call->rt, found);
}

void WatchEnrolled(CaRuntime& rt, const std::string& node) {
  if (AnomalyDetector* detector = rt.anomaly_detector()) detector->OnEnrolled(node, NowSeconds(rt));
}

}  // namespace mayfly
