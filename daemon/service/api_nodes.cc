// POST /v1/admin/nodes/unban: lifts a node's anomaly quarantine.
#include "anomaly_watch.h"
#include "api_json.h"
#include "api_routes.h"
#include "mayfly/identity.h"

namespace mayfly {

void HandleNodeUnban(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"node"});
  if (!body) return call->Refuse(body.error());
  auto node = body->String("node");
  if (!node) return call->Refuse(node.error());
  if (auto r = ValidateNodeName(*node); !r) return call->Refuse(r.error());
  // The store says what the quarantine was for; this cache may lag another
  // instance's, so the event names the kind only when it is known here.
  const std::string kind = rt.revocations().QuarantineOf(*node).value_or("");
  const AuditEvent event{.time = NowSeconds(rt), .type = "node_unban", .actor = call->actor, .subject = *node,
                         .result = "ok", .detail = AuditDetail({{"anomaly", kind}})};
  if (auto r = rt.store().LiftQuarantine(*node, event); !r) {
    if (r.error().code != ErrorCode::kNotFound) return call->Refuse(r.error(), *node);
    // A node banned by revocation is not quarantined: say how that one is lifted.
    const bool banned = rt.revocations().IsBanned(*node);
    return call->Refuse(Error{ErrorCode::kNotFound,
                              "node " + *node + " is not quarantined" +
                                  (banned ? "; it is banned by revocation and must be re-enrolled with a new join "
                                            "token"
                                          : "")},
                        *node);
  }
  rt.revocations().LiftQuarantine(*node);
  AuditLog::LogLine(event);
  call->ReplyJson(200, boost::json::object{{"node", *node}, {"unbanned", true}, {"anomaly", kind}});
}

}  // namespace mayfly
