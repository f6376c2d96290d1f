// The steps the issuing routes (api_issue.cc, api_recover.cc) share.
#pragma once

#include <string>

#include "api_call.h"
#include "mayfly/csr.h"
#include "mayfly/issuer.h"
#include "mayfly/store_records.h"
#include "metrics.h"
#include "rate_limiter.h"

namespace mayfly {

// kForbidden unless the node CSR names `node_id` or nothing (and no DNS or
// IP names): the CA takes the node's name from its own records.
[[nodiscard]] Result<void> CheckNodeCsr(const Csr& csr, const std::string& node_id);

// Takes a token from `limiter`'s bucket for `key`; when it is empty, counts
// the refusal for `route`, answers 429 with Retry-After and returns false.
bool Admit(const CallPtr& call, RateLimiter& limiter, const std::string& key, IssueRoute route);

// The store record of a certificate just issued by `issuer`.
CertRecord RecordOf(const CaRuntime& rt, const Issuer& issuer, const IssuedCert& cert, std::string spiffe_id,
                    std::string node, CertKind kind);

// The audit event of an issuance; it commits with the certificate.
AuditEvent IssueEvent(const CallPtr& call, IssueRoute route, const CertRecord& record, const IssuedCert& cert);

// Counts a failed issuance for `route` and refuses the call with `error`.
void IssueFailed(const CallPtr& call, IssueRoute route, const Error& error);

}  // namespace mayfly
