// The API's route handlers, called by the router once the caller is checked.
#pragma once

#include <span>
#include <string_view>

#include "api_call.h"
#include "mayfly/store_records.h"

namespace mayfly {

// Who a route admits. Anything not listed in the table is refused.
enum class CallerClass {
  kAnyone,  // no credential needed
  kNode,    // a node certificate of our trust domain, not revoked, node not banned
  kAdmin,   // an admin certificate, not revoked, or the admin socket
  kLocal,   // the metrics listener only
};

// Where a route's handler runs. Routes that wait on the store (a synchronous
// write or a long read) or sign a CRL leave the I/O threads (store_worker.h);
// kAdmin routes always do (their caller's role is read from the store), so
// only the others say it.
enum class RunsOn {
  kIoThread,
  kStoreWorker,
};

struct Route {
  std::string_view method;
  std::string_view path;     // exact, or a prefix when it ends in '/'
  CallerClass caller;
  void (*handle)(const CallPtr&);
  // kAdmin routes: the least role an admin certificate needs (the admin
  // socket has every role). This table is the one place that says it.
  AdminRole role = AdminRole::kAdmin;
  RunsOn runs_on = RunsOn::kIoThread;
};

// The router's table (api_service.cc), in match order: what it serves is
// exactly this, so tests walk it rather than a copy of it.
std::span<const Route> ApiRoutes();

// Answers `body` with its ETag, or 304 when If-None-Match already names it.
void ReplyConditional(const CallPtr& call, const std::string& body, const std::string& etag,
                      std::string_view content_type);

// Public: anyone (no credential).
void HandleEnroll(const CallPtr& call);
// Node recovery (api_recover.cc): an expired node certificate, proven with
// its key against a one-time challenge, for a new one. No client
// certificate: the listener refuses an expired one at the handshake.
void HandleRecoverChallenge(const CallPtr& call);
void HandleRecover(const CallPtr& call);
void HandleBundle(const CallPtr& call);
void HandleCrl(const CallPtr& call);
void HandleIntermediates(const CallPtr& call);
void HandleHealthz(const CallPtr& call);
// OCSP (api_ocsp.cc): POST /ocsp and GET /ocsp/{base64 request}, also on the
// [ocsp] listen plain-HTTP listener.
void HandleOcspPost(const CallPtr& call);
void HandleOcspGet(const CallPtr& call);
// Node certificate: call->caller_name is the node.
void HandleRenew(const CallPtr& call);
void HandleSign(const CallPtr& call);
void HandleNodeEntries(const CallPtr& call);
// POST /v1/jwt: a JWT-SVID for an identity the node's entries allow.
void HandleJwt(const CallPtr& call);
// Its lifetime when the request names none (or [jwt] max_ttl, if shorter).
inline constexpr Duration kDefaultJwtTtl = std::chrono::minutes(5);
// Admin certificate or admin socket.
void HandleCreateToken(const CallPtr& call);
void HandleListEntries(const CallPtr& call);
void HandleAddEntry(const CallPtr& call);
void HandleRemoveEntry(const CallPtr& call);
void HandleRevoke(const CallPtr& call);
void HandleListCerts(const CallPtr& call);
void HandleListAudit(const CallPtr& call);
void HandleVerifyAudit(const CallPtr& call);
// Anomaly detection: GET /v1/admin/anomalies (the "anomaly" audit events)
// and POST /v1/admin/nodes/unban (api_nodes.cc).
void HandleListAnomalies(const CallPtr& call);
void HandleNodeUnban(const CallPtr& call);
// CA rotation (api_ca.cc).
void HandleCaStatus(const CallPtr& call);
void HandleCaPrepare(const CallPtr& call);
void HandleCaActivate(const CallPtr& call);
void HandleCaRetire(const CallPtr& call);
void HandleCaRotate(const CallPtr& call);
// Admin credentials (api_admins.cc).
void HandleListAdmins(const CallPtr& call);
void HandleCreateAdmin(const CallPtr& call);
void HandleRevokeAdmin(const CallPtr& call);

}  // namespace mayfly
