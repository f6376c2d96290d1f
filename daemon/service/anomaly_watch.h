// Where the API's handlers meet the anomaly detector: they report what
// happened, and what the detector finds is raised here (audit event
// "anomaly", mayfly_anomalies_total, its warning log line and, with
// [anomaly] action = "quarantine", the node's quarantine).
#pragma once

#include <string>

#include "api_call.h"

namespace mayfly {

// A certificate or JWT about to be issued to the calling node for
// `identity` ("" for its own renewal). True when the call may go on; false
// when an anomaly quarantined the node, after refusing the call.
[[nodiscard]] bool WatchIssue(const CallPtr& call, const std::string& identity);
// The calling node's request for `identity` was refused by authorization.
void WatchRefusal(const CallPtr& call, const std::string& identity);
// An enrollment from the call's client address failed on its join token.
void WatchEnrollFailure(const CallPtr& call);
// `node` enrolled: its learning period starts.
void WatchEnrolled(CaRuntime& rt, const std::string& node);

// The refusal of a quarantined node's call (403 node_banned), naming the
// anomaly and how to lift it.
Error QuarantineError(const std::string& node, const std::string& kind);

}  // namespace mayfly
