// The issuing routes: enroll (join token), renew (node), sign (workload
// certificate) and jwt (JWT-SVID).
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

#include "anomaly_watch.h"
#include "api_json.h"
#include "api_issue_steps.h"
#include "api_routes.h"
#include "mayfly/authorization.h"
#include "mayfly/csr.h"
#include "mayfly/identity.h"
#include "mayfly/jwt_svid.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Join tokens read "<node>.<64 hex>" (see HandleCreateToken). The node part
// only tells enroll which identity to sign before the token is consumed; the
// store binds it, because the hash covers the whole token.
Result<std::string> NodeFromToken(std::string_view token) {
  const auto dot = token.rfind('.');
  const std::string_view secret = dot == std::string_view::npos ? token : token.substr(dot + 1);
  if (dot == std::string_view::npos || secret.size() != 64 ||
      !std::all_of(secret.begin(), secret.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }) ||
      !ValidateNodeName(token.substr(0, dot))) {
    return MakeError(ErrorCode::kInvalidToken, "join token is malformed");
  }
  return std::string(token.substr(0, dot));
}

// A node refused an identity by its entries: probing for identities it
// does not have is what the refusal_burst anomaly watches.
void RefuseAuthorization(const CallPtr& call, const Error& error, const std::string& identity) {
  if (error.code == ErrorCode::kForbidden) WatchRefusal(call, identity);
  call->Refuse(error, identity);
}

}  // namespace

// Enroll and renew CSRs may name the node itself or nothing: a node
// certificate is its SPIFFE ID alone, so it can never pass for a workload.
Result<void> CheckNodeCsr(const Csr& csr, const std::string& node_id) {
  if (!csr.dns_names().empty() || !csr.ip_names().empty()) {
    return MakeError(ErrorCode::kForbidden, "a node certificate carries no DNS or IP names");
  }
  if (csr.uri_names().size() > 1 || (csr.uri_names().size() == 1 && csr.uri_names()[0] != node_id)) {
    return MakeError(ErrorCode::kForbidden, "the CSR may name only " + node_id + " (or nothing)");
  }
  return Ok();
}

// The per-node bucket for sign and renew, the per-IP one for enroll and recovery.
bool Admit(const CallPtr& call, RateLimiter& limiter, const std::string& key, IssueRoute route) {
  const int wait = limiter.Acquire(key);
  if (wait == 0) return true;
  call->rt.metrics().rate_limited[static_cast<size_t>(route)].fetch_add(1, std::memory_order_relaxed);
  call->Refuse(Error{ErrorCode::kRateLimited, "rate limit exceeded for " + QuoteForMessage(key, 64) +
                                                  "; retry in " + std::to_string(wait) + "s"},
               key, wait);
  return false;
}

CertRecord RecordOf(const CaRuntime& rt, const Issuer& issuer, const IssuedCert& cert, std::string spiffe_id,
                    std::string node, CertKind kind) {
  return CertRecord{.serial = cert.serial, .spiffe_id = std::move(spiffe_id), .node = std::move(node),
                    .kind = kind, .issuer = issuer.id(), .not_before = ToUnixSeconds(cert.not_before),
                    .not_after = ToUnixSeconds(cert.not_after), .issued_at = NowSeconds(rt), .der = cert.der};
}

AuditEvent IssueEvent(const CallPtr& call, IssueRoute route, const CertRecord& record, const IssuedCert& cert) {
  return AuditEvent{
      .time = record.issued_at, .type = std::string(route == IssueRoute::kSign ? "issue" : IssueRouteName(route)),
      .actor = call->actor, .subject = record.spiffe_id, .result = "ok",
      .detail = AuditDetail({{"serial", record.serial}, {"node", record.node},
                             {"kind", CertKindName(record.kind)}, {"not_after", FormatRfc3339(cert.not_after)}})};
}

void IssueFailed(const CallPtr& call, IssueRoute route, const Error& error) {
  call->rt.metrics().CountIssue(route, false);
  call->Refuse(error);
}

namespace {

// Signs, then commits the certificate and its audit event through the
// group-commit queue and answers only once both are durable.
void IssueAndCommit(const CallPtr& call, CommitQueue::Announcement announced, IssueRoute route, const LeafSpec& spec,
                    std::string node, CertKind kind) {
  // One view for the whole request: the answer's chain is the signer's.
  auto ca = call->rt.ca();
  auto issued = ca->active->Issue(spec);
  if (!issued) return IssueFailed(call, route, issued.error());
  CertRecord record = RecordOf(call->rt, *ca->active, *issued, spec.spiffe_id, std::move(node), kind);
  record.caller_serial = call->caller_serial;
  AuditEvent event = IssueEvent(call, route, record, *issued);
  // The answer is built here, while the commit is pending, not in the
  // callback: callbacks run on the committing thread, one after another,
  // before it starts the next batch. It is sent only once the certificate
  // and its event are durable.
  AuditEvent logged = event;
  net::HttpResponse answer =
      JsonResponse(200, CertificateJson(*issued, logged.subject, ca->chain_pem, ca->bundle_pem));
  call->rt.commit_queue().Submit(
      std::move(announced), std::move(record), std::move(event),
      [call, route, answer = std::move(answer), logged = std::move(logged)](Result<void> r) mutable {
        if (!r) return IssueFailed(call, route, r.error());
        call->rt.metrics().CountIssue(route, true);
        AuditLog::LogLine(logged);
        call->Reply(std::move(answer));
      });
}

}  // namespace

void HandleEnroll(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (!Admit(call, rt.enroll_limiter(), call->request.peer.ip, IssueRoute::kEnroll)) return;
  auto body = JsonBody::Parse(call->request.body, {"token", "csr"});
  if (!body) return call->Refuse(body.error());
  auto token = body->String("token");
  auto csr_text = body->String("csr");
  if (!token || !csr_text) return call->Refuse(!token ? token.error() : csr_text.error());
  auto node = NodeFromToken(*token);
  if (!node) {
    WatchEnrollFailure(call);
    return call->Refuse(node.error());
  }
  auto node_id = NodeSpiffeId(rt.trust_domain(), *node);
  if (!node_id) return call->Refuse(node_id.error(), *node);
  const std::string id = node_id->ToString();
  // Only `mayfly-ca node unban` lifts a quarantine; a join token does not.
  if (auto kind = rt.revocations().QuarantineOf(*node)) return call->Refuse(QuarantineError(*node, *kind), id);
  auto csr = Csr::Parse(*csr_text);
  if (!csr) return call->Refuse(csr.error(), id);
  if (auto r = CheckNodeCsr(*csr, id); !r) return call->Refuse(r.error(), id);

  // Sign first: the store inserts the certificate in the same transaction
  // that consumes the token. A refused token discards the signed leaf.
  LeafSpec spec{.public_key = &csr->public_key(), .key_type = csr->key_type(), .spiffe_id = id,
                .ttl = rt.node_ttl()};
  auto ca = rt.ca();
  auto issued = ca->active->Issue(spec);
  if (!issued) return IssueFailed(call, IssueRoute::kEnroll, issued.error());
  CertRecord record = RecordOf(rt, *ca->active, *issued, id, *node, CertKind::kNode);
  const AuditEvent event = IssueEvent(call, IssueRoute::kEnroll, record, *issued);
  auto enrolled = rt.store().ConsumeTokenAndEnroll(HashToken(*token), record.issued_at, record, event);
  if (!enrolled) {
    if (enrolled.error().code == ErrorCode::kInvalidToken) {
      WatchEnrollFailure(call);
      return call->Refuse(enrolled.error(), id);
    }
    return IssueFailed(call, IssueRoute::kEnroll, enrolled.error());
  }
  if (*enrolled != *node) {
    // Unreachable while the hash covers the node part of the token.
    return IssueFailed(call, IssueRoute::kEnroll,
                       Error{ErrorCode::kInternal, "join token was for node " + *enrolled + ", not " + *node});
  }
  rt.revocations().Unban(*node);
  WatchEnrolled(rt, *node);
  rt.metrics().CountIssue(IssueRoute::kEnroll, true);
  AuditLog::LogLine(event);
  call->ReplyJson(200, CertificateJson(*issued, record.spiffe_id, ca->chain_pem, ca->bundle_pem));
}

void HandleRenew(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (!Admit(call, rt.sign_limiter(), call->caller_name, IssueRoute::kRenew)) return;
  // From here a certificate is likely: the batch being committed may wait for it.
  auto announced = rt.commit_queue().Announce();
  auto body = JsonBody::Parse(call->request.body, {"csr"});
  if (!body) return call->Refuse(body.error());
  auto csr_text = body->String("csr");
  if (!csr_text) return call->Refuse(csr_text.error());
  auto csr = Csr::Parse(*csr_text);
  if (!csr) return call->Refuse(csr.error());
  auto node_id = NodeSpiffeId(rt.trust_domain(), call->caller_name);
  if (!node_id) return call->Refuse(node_id.error());
  const std::string id = node_id->ToString();
  if (auto r = CheckNodeCsr(*csr, id); !r) return call->Refuse(r.error(), id);
  // Compared as keys, and fail closed: a key that cannot be compared is
  // never taken for a new one.
  auto same = SamePublicKey(csr->public_key().spki_der, X509_get0_pubkey(call->caller_cert));
  if (!same) return call->Refuse(WithContext(same.error(), "checking that renewal uses a new key").error(), id);
  if (*same) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "renewal needs a new key; the CSR reuses the current one"},
                        id);
  }
  if (!WatchIssue(call, "")) return;
  LeafSpec spec{.public_key = &csr->public_key(), .key_type = csr->key_type(), .spiffe_id = id,
                .ttl = rt.node_ttl()};
  IssueAndCommit(call, std::move(announced), IssueRoute::kRenew, spec, call->caller_name, CertKind::kNode);
}

void HandleSign(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (!Admit(call, rt.sign_limiter(), call->caller_name, IssueRoute::kSign)) return;
  // From here a certificate is likely: the batch being committed may wait for it.
  auto announced = rt.commit_queue().Announce();
  auto body = JsonBody::Parse(call->request.body, {"csr", "ttl"});
  if (!body) return call->Refuse(body.error());
  auto csr_text = body->String("csr");
  if (!csr_text) return call->Refuse(csr_text.error());
  auto ttl_text = body->OptionalString("ttl");
  if (!ttl_text) return call->Refuse(ttl_text.error());
  std::optional<Duration> ttl;
  if (*ttl_text) {
    auto parsed = ParseDuration(**ttl_text);
    if (!parsed) return call->Refuse(WithContext(parsed.error(), "field \"ttl\"").error());
    ttl = *parsed;
  }
  auto csr = Csr::Parse(*csr_text);
  if (!csr) return call->Refuse(csr.error());
  if (csr->uri_names().size() != 1) {
    return call->Refuse(
        Error{ErrorCode::kInvalidCsr, "the CSR must carry exactly one URI SAN, the SPIFFE ID requested"});
  }
  auto id = SpiffeId::Parse(csr->uri_names()[0]);
  if (!id) return call->Refuse(id.error());
  SignRequest request{.spiffe_id = *id, .ips = csr->ip_names(), .ttl = ttl};
  for (const std::string& dns : csr->dns_names()) {
    auto name = NormalizeDnsName(dns, /*allow_wildcard=*/true);
    if (!name) return call->Refuse(name.error(), id->ToString());
    request.dns.push_back(std::move(*name));
  }
  const auto entries = rt.entries().Get();
  std::string identity = id->ToString();
  auto decision = AuthorizeSign(Caller{Caller::Kind::kNode, call->caller_name}, request, *entries, rt.policy());
  if (!decision) return RefuseAuthorization(call, decision.error(), identity);
  if (!WatchIssue(call, identity)) return;
  LeafSpec spec{.public_key = &csr->public_key(), .key_type = csr->key_type(), .spiffe_id = std::move(identity),
                .dns = std::move(request.dns), .ips = std::move(request.ips), .ttl = decision->ttl};
  IssueAndCommit(call, std::move(announced), IssueRoute::kSign, spec, call->caller_name, CertKind::kWorkload);
}

void HandleJwt(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  // One bucket per node for certificates and tokens alike.
  if (!Admit(call, rt.sign_limiter(), call->caller_name, IssueRoute::kSign)) return;
  auto body = JsonBody::Parse(call->request.body, {"spiffe_id", "audience", "ttl"});
  if (!body) return call->Refuse(body.error());
  auto id_text = body->String("spiffe_id");
  if (!id_text) return call->Refuse(id_text.error());
  auto audience = body->StringArray("audience");
  if (!audience) return call->Refuse(audience.error());
  if (audience->empty() || std::any_of(audience->begin(), audience->end(), [](const auto& a) { return a.empty(); })) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument,
                              "field \"audience\": expected an array of one or more non-empty strings"});
  }
  auto ttl_text = body->OptionalString("ttl");
  if (!ttl_text) return call->Refuse(ttl_text.error());
  const auto config = rt.config();
  Duration ttl = std::min<Duration>(kDefaultJwtTtl, config->jwt.max_ttl);
  if (*ttl_text) {
    auto parsed = ParseDuration(**ttl_text);
    if (!parsed) return call->Refuse(WithContext(parsed.error(), "field \"ttl\"").error());
    ttl = *parsed;
  }
  auto id = SpiffeId::Parse(*id_text);
  if (!id) return call->Refuse(id.error());
  // The same entries that allow the node a certificate for the identity
  // allow it a token; their TTL limits apply, then [jwt] max_ttl.
  const auto entries = rt.entries().Get();
  auto decision = AuthorizeSign(Caller{Caller::Kind::kNode, call->caller_name},
                                SignRequest{.spiffe_id = *id, .ttl = ttl}, *entries, rt.policy());
  const std::string identity = id->ToString();
  if (!decision) return RefuseAuthorization(call, decision.error(), identity);
  if (!WatchIssue(call, identity)) return;
  const auto signer = rt.ca()->jwt_signer;
  if (!signer) return call->Refuse(Error{ErrorCode::kUnavailable, "the CA has no JWT signing key yet"});
  const int64_t now = NowSeconds(rt);
  const JwtSvidClaims claims{.subject = id->ToString(), .audience = *audience, .issued_at = now,
                             .expires_at = now + std::min<Duration>(decision->ttl, config->jwt.max_ttl).count()};
  auto token = SignJwtSvid(signer->key.get(), signer->kid, claims);
  if (!token) return call->Refuse(token.error(), claims.subject);
  std::string audiences;
  for (const std::string& a : claims.audience) audiences += (audiences.empty() ? "" : " ") + a;
  const std::string expires_at = FormatRfc3339(FromUnixSeconds(claims.expires_at));
  // The token itself is never kept: it is a bearer credential.
  AuditEvent event{.time = now, .type = "jwt_issue", .actor = call->actor, .subject = claims.subject,
                   .result = "ok",
                   .detail = AuditDetail({{"node", call->caller_name}, {"audience", audiences},
                                          {"kid", signer->kid}, {"expires_at", expires_at}})};
  rt.audit().Record(std::move(event));
  rt.metrics().jwt_svids.fetch_add(1, std::memory_order_relaxed);
  call->ReplyJson(200, boost::json::object{{"token", std::move(*token)}, {"spiffe_id", claims.subject},
                                           {"expires_at", expires_at}});
}

}  // namespace mayfly
