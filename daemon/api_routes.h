// The API's route handlers, called by the router once the caller is checked.
#pragma once

#include "api_call.h"

namespace mayfly {

// Public: anyone (no credential).
void HandleEnroll(const CallPtr& call);
void HandleBundle(const CallPtr& call);
void HandleCrl(const CallPtr& call);
void HandleIntermediates(const CallPtr& call);
void HandleHealthz(const CallPtr& call);
// Node certificate: call->caller_name is the node.
void HandleRenew(const CallPtr& call);
void HandleSign(const CallPtr& call);
// Admin certificate or admin socket.
void HandleCreateToken(const CallPtr& call);
void HandleListEntries(const CallPtr& call);
void HandleAddEntry(const CallPtr& call);
void HandleRemoveEntry(const CallPtr& call);
void HandleRevoke(const CallPtr& call);
void HandleListCerts(const CallPtr& call);
void HandleListAudit(const CallPtr& call);
void HandleVerifyAudit(const CallPtr& call);
// CA rotation (api_ca.cc).
void HandleCaStatus(const CallPtr& call);
void HandleCaPrepare(const CallPtr& call);
void HandleCaActivate(const CallPtr& call);
void HandleCaRetire(const CallPtr& call);
void HandleCaRotate(const CallPtr& call);

}  // namespace mayfly
