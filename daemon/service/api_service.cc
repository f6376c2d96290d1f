// The router: one route table, the caller check in one place (default
// deny), and the public routes (bundle, CRL, health).
#include "api_service.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>

#include "anomaly_watch.h"
#include "api_json.h"
#include "api_routes.h"
#include "mayfly/identity.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

constexpr AdminRole kViewer = AdminRole::kViewer;
constexpr AdminRole kOperator = AdminRole::kOperator;
constexpr AdminRole kAdminRole = AdminRole::kAdmin;
// Enrollment and recovery wait on the store (admin routes do by their class).
constexpr RunsOn kStore = RunsOn::kStoreWorker;

constexpr Route kRoutes[] = {
    {.method = "POST", .path = "/v1/enroll", .caller = CallerClass::kAnyone, .handle = HandleEnroll, .runs_on = kStore},
    {.method = "POST", .path = net::kRecoverChallengePath, .caller = CallerClass::kAnyone,
     .handle = HandleRecoverChallenge, .runs_on = kStore},
    {.method = "POST", .path = net::kRecoverPath, .caller = CallerClass::kAnyone, .handle = HandleRecover,
     .runs_on = kStore},
    {"GET", "/v1/bundle", CallerClass::kAnyone, HandleBundle},
    {"GET", "/v1/crl", CallerClass::kAnyone, HandleCrl},
    {"GET", "/v1/intermediates", CallerClass::kAnyone, HandleIntermediates},
    {"POST", "/v1/renew", CallerClass::kNode, HandleRenew},
    {"POST", "/v1/sign", CallerClass::kNode, HandleSign},
    {"GET", "/v1/node/entries", CallerClass::kNode, HandleNodeEntries},
    {"POST", "/v1/jwt", CallerClass::kNode, HandleJwt},
    {"POST", "/v1/admin/tokens", CallerClass::kAdmin, HandleCreateToken, kOperator},
    {"GET", "/v1/admin/entries", CallerClass::kAdmin, HandleListEntries, kViewer},
    {"POST", "/v1/admin/entries", CallerClass::kAdmin, HandleAddEntry, kAdminRole},
    {"DELETE", "/v1/admin/entries", CallerClass::kAdmin, HandleRemoveEntry, kAdminRole},
    {"DELETE", "/v1/admin/entries/", CallerClass::kAdmin, HandleRemoveEntry, kAdminRole},
    {"POST", "/v1/admin/revoke", CallerClass::kAdmin, HandleRevoke, kOperator},
    {"GET", "/v1/admin/certs", CallerClass::kAdmin, HandleListCerts, kViewer},
    {"GET", "/v1/admin/audit", CallerClass::kAdmin, HandleListAudit, kViewer},
    {"GET", "/v1/admin/audit/verify", CallerClass::kAdmin, HandleVerifyAudit, kViewer},
    {"GET", "/v1/admin/anomalies", CallerClass::kAdmin, HandleListAnomalies, kViewer},
    {"POST", "/v1/admin/nodes/unban", CallerClass::kAdmin, HandleNodeUnban, kOperator},
    {"GET", "/v1/admin/ca", CallerClass::kAdmin, HandleCaStatus, kViewer},
    {"POST", "/v1/admin/ca/prepare", CallerClass::kAdmin, HandleCaPrepare, kAdminRole},
    {"POST", "/v1/admin/ca/activate", CallerClass::kAdmin, HandleCaActivate, kAdminRole},
    {"POST", "/v1/admin/ca/retire", CallerClass::kAdmin, HandleCaRetire, kAdminRole},
    {"POST", "/v1/admin/ca/rotate", CallerClass::kAdmin, HandleCaRotate, kAdminRole},
    {"GET", "/v1/admin/admins", CallerClass::kAdmin, HandleListAdmins, kAdminRole},
    {"POST", "/v1/admin/admins", CallerClass::kAdmin, HandleCreateAdmin, kAdminRole},
    {"POST", "/v1/admin/admins/revoke", CallerClass::kAdmin, HandleRevokeAdmin, kAdminRole},
    {"POST", "/ocsp", CallerClass::kAnyone, HandleOcspPost},
    {"GET", "/ocsp/", CallerClass::kAnyone, HandleOcspGet},
    {"GET", "/healthz", CallerClass::kLocal, HandleHealthz},
};

}  // namespace

std::span<const Route> ApiRoutes() { return kRoutes; }

namespace {

bool PathMatches(const Route& route, std::string_view path) {
  if (route.path.ends_with('/')) return path.size() > route.path.size() && path.starts_with(route.path);
  return path == route.path;
}

// The metrics listener serves only local routes; the others serve none. The
// OCSP listener serves only OCSP.
bool ListenerServes(const Route& route, net::Listener listener) {
  if (listener == net::Listener::kOcsp) return route.path.starts_with("/ocsp");
  return (route.caller == CallerClass::kLocal) == (listener == net::Listener::kMetrics);
}

std::string_view CallerNoun(CallerClass caller) {
  return caller == CallerClass::kNode ? "a node client certificate"
                                      : "an admin client certificate or the admin socket";
}

constexpr std::string_view kRenewRoute = "POST /v1/renew";

// A certificate from a revoked intermediate (whose key may be in an
// attacker's hands) is accepted only to renew a node certificate, and only
// when it is exactly one the CA recorded issuing under an intermediate now
// revoked: that is how agents move to the new intermediate after `ca rotate
// --now --revoke-old`. Such a certificate arrives as a recovery certificate
// (that intermediate is no longer trusted at the handshake), or as the
// verified certificate of a connection opened before the rotation.
Result<void> CheckUnderRevokedIntermediate(const ApiCall& call, const CaView& view, const X509* cert) {
  const Error refused{ErrorCode::kUnauthenticated, "the client certificate's intermediate is revoked"};
  if (call.route != kRenewRoute) return std::unexpected(refused);
  auto recorded = call.rt.store().GetCertificate(CertSerialHex(cert));
  if (!recorded) return std::unexpected(recorded.error());
  auto presented = CertToDer(cert);
  if (!*recorded || !presented || (*recorded)->der != *presented ||
      !view.revoked_intermediates.contains((*recorded)->issuer)) {
    return std::unexpected(refused);
  }
  return Ok();
}

// The certificate the caller authenticates with. Its issuer is the CA
// certificate the TLS layer verified its chain through, never what the
// certificate says of itself: a client certificate must name that CA's key
// in its AKI (every certificate Mayfly issues does), so a certificate is
// read as coming from the CA that really signed it. A recovery certificate
// counts only for the recovery above.
Result<const X509*> PresentedCert(const ApiCall& call, const CaView& view, CallerClass need) {
  const net::PeerInfo& peer = call.request.peer;
  if (const X509* cert = peer.client_cert.get()) {
    const std::string aki = AuthorityKeyIdHex(cert);
    if (aki.empty()) {
      return MakeError(ErrorCode::kUnauthenticated, "the client certificate has no authority key identifier");
    }
    if (aki != peer.client_issuer_key_id) {
      return MakeError(ErrorCode::kUnauthenticated,
                       "the client certificate's authority key identifier does not name the CA it was verified "
                       "against");
    }
    if (view.revoked_intermediates.contains(peer.client_issuer_key_id)) {
      if (auto r = CheckUnderRevokedIntermediate(call, view, cert); !r) return std::unexpected(r.error());
    }
    return cert;
  }
  if (const X509* cert = peer.recovery_cert.get()) {
    if (auto r = CheckUnderRevokedIntermediate(call, view, cert); !r) return std::unexpected(r.error());
    return cert;
  }
  return MakeError(ErrorCode::kUnauthenticated, "this route needs " + std::string(CallerNoun(need)));
}

// A connection keeps its certificate for as long as it stays open, so every
// request checks that the certificate is valid now, by the CA's clock.
Result<void> CheckValidNow(const CaRuntime& rt, const X509* cert) {
  const TimePoint now = rt.clock().Now();
  if (const TimePoint not_after = CertNotAfter(cert); now > not_after) {
    return MakeError(ErrorCode::kUnauthenticated, "the client certificate expired at " + FormatRfc3339(not_after));
  }
  if (const TimePoint not_before = CertNotBefore(cert); now < not_before) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "the client certificate is not valid before " + FormatRfc3339(not_before));
  }
  return Ok();
}

// Checks the caller against the route's class; fills in caller_name,
// caller_serial and caller_cert.
Result<void> CheckCaller(ApiCall& call, CallerClass need) {
  if (need == CallerClass::kAnyone || need == CallerClass::kLocal) return Ok();
  const net::PeerInfo& peer = call.request.peer;
  if (need == CallerClass::kAdmin && peer.listener == net::Listener::kAdminSocket) {
    call.caller_name = "admin-socket";
    return Ok();
  }
  const auto view = call.rt.ca();
  auto cert = PresentedCert(call, *view, need);
  if (!cert) return std::unexpected(cert.error());
  if (auto r = CheckValidNow(call.rt, *cert); !r) return r;
  auto id = SpiffeId::Parse(peer.client_cert ? peer.client_spiffe_id : CertSpiffeId(*cert));
  if (!id || id->trust_domain() != call.rt.trust_domain()) {
    return MakeError(ErrorCode::kUnauthenticated, "the client certificate has no SPIFFE ID of this trust domain");
  }
  const ClassifiedId who = ClassifyId(*id);
  const bool fits = (need == CallerClass::kNode && who.kind == IdentityKind::kNode) ||
                    (need == CallerClass::kAdmin && who.kind == IdentityKind::kAdmin);
  if (!fits) {
    return MakeError(ErrorCode::kForbidden,
                     id->ToString() + " may not call " + call.route + ": it needs " + std::string(CallerNoun(need)));
  }
  // A ban explains a revoked node certificate better than "revoked", so it
  // is reported first: the agent stops and says it must re-enroll.
  if (who.kind == IdentityKind::kNode && call.rt.revocations().IsBanned(who.name)) {
    return MakeError(ErrorCode::kNodeBanned, "node " + who.name +
                                                " is banned; it must be re-enrolled with a new join token");
  }
  if (who.kind == IdentityKind::kNode) {
    if (auto kind = call.rt.revocations().QuarantineOf(who.name)) return std::unexpected(QuarantineError(who.name, *kind));
  }
  const std::string serial = CertSerialHex(*cert);
  if (call.rt.revocations().IsRevoked(serial)) {
    return MakeError(ErrorCode::kUnauthenticated, "certificate revoked");
  }
  call.caller_name = who.name;
  call.caller_serial = serial;
  call.caller_cert = *cert;
  return Ok();
}

// An admin certificate acts with its name's role in the store, read on
// every call so a change by any instance applies to the next request. A
// name without a role row, or whose row is revoked, has no rights.
Result<void> CheckAdminRole(const ApiCall& call, AdminRole need) {
  if (call.request.peer.listener == net::Listener::kAdminSocket) return Ok();
  auto admin = call.rt.store().GetAdmin(call.caller_name);
  if (!admin) return std::unexpected(admin.error());
  if (!*admin || (*admin)->revoked_at) {
    return MakeError(ErrorCode::kForbidden, "admin " + call.caller_name + " has no role (" +
                                                (*admin ? "revoked" : "none recorded") + "); " + call.route +
                                                " needs role " + std::string(AdminRoleName(need)));
  }
  if ((*admin)->role < need) {
    return MakeError(ErrorCode::kForbidden, call.route + " needs role " + std::string(AdminRoleName(need)) +
                                                "; admin " + call.caller_name + " has role " +
                                                std::string(AdminRoleName((*admin)->role)));
  }
  return Ok();
}

std::string ActorOf(const net::HttpRequest& request) {
  if (request.peer.listener == net::Listener::kAdminSocket) return "admin-socket";
  if (request.peer.client_cert) {
    const std::string& id = request.peer.client_spiffe_id;
    return id.empty() ? "serial:" + CertSerialHex(request.peer.client_cert.get()) : id;
  }
  return request.peer.ip;
}

// Every admin route waits on the store: its caller's role is read from it.
bool OnStoreWorker(const Route& route) {
  return route.caller == CallerClass::kAdmin || route.runs_on == RunsOn::kStoreWorker;
}

// The caller's checks and the handler, on whichever thread the route runs.
void Serve(const CallPtr& call, const Route& route) {
  if (auto r = CheckCaller(*call, route.caller); !r) return call->Refuse(r.error());
  if (route.caller == CallerClass::kAdmin) {
    if (auto r = CheckAdminRole(*call, route.role); !r) return call->Refuse(r.error());
  }
  const size_t max_body = call->rt.config()->limits.max_body;
  if (call->request.body.size() > max_body) {
    return call->Refuse(
        Error{ErrorCode::kTooLarge, "request body exceeds " + std::to_string(max_body) + " bytes"});
  }
  route.handle(call);
}

// The edge of the daemon: nothing may escape into the server's threads.
template <typename Work>
void Guarded(const CallPtr& call, Work&& work) {
  try {
    work();
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unexpected exception: {}", call->request.method, call->request.path, e.what());
    call->Reply(ErrorResponse(Error{ErrorCode::kInternal, e.what()}));
  }
}

void Dispatch(const CallPtr& call, StoreWorker& store_worker) {
  const net::HttpRequest& request = call->request;
  const Route* match = nullptr;
  std::string allow;  // methods the path does have, for a 405
  for (const Route& route : kRoutes) {
    if (!ListenerServes(route, request.peer.listener) || !PathMatches(route, request.path)) continue;
    if (route.method == request.method) {
      match = &route;
      break;
    }
    allow += (allow.empty() ? "" : ", ") + std::string(route.method);
  }
  if (match == nullptr) {
    // Unknown paths and methods are answered but not audited: scanners would
    // flood the audit log, and no caller was even checked.
    if (allow.empty()) return call->Reply(ErrorResponse(Error{ErrorCode::kNotFound, "no such route"}));
    net::HttpResponse response = ErrorResponse(Error{
        ErrorCode::kInvalidArgument, "method " + QuoteForMessage(request.method, 16) + " is not allowed here"});
    response.status = 405;
    response.headers.emplace_back("Allow", allow);
    return call->Reply(std::move(response));
  }
  call->route = std::string(match->method) + " " + std::string(match->path);
  call->actor = ActorOf(request);
  if (!OnStoreWorker(*match)) return Serve(call, *match);
  const Route& route = *match;  // kRoutes is static: the reference outlives the call
  if (!store_worker.Post([call, &route] { Guarded(call, [&] { Serve(call, route); }); })) {
    call->Refuse(Error{ErrorCode::kUnavailable, "the CA has too many store operations waiting; retry shortly"}, "",
                 kStoreRetryAfterSeconds);
  }
}

}  // namespace

void ApiService::Handle(net::HttpRequest request, net::Respond respond) {
  auto call = std::make_shared<ApiCall>(runtime_, std::move(request), std::move(respond));
  Guarded(call, [&] { Dispatch(call, store_worker_); });
}

void HandleHealthz(const CallPtr& call) {
  if (!call->rt.store_available()) {
    net::HttpResponse response{.status = 503, .content_type = "text/plain", .body = "store unavailable\n"};
    response.headers.emplace_back("Retry-After", std::to_string(kStoreRetryAfterSeconds));
    return call->Reply(std::move(response));
  }
  call->Reply(net::HttpResponse{.status = 200, .content_type = "text/plain", .body = "ok\n"});
}

// Answers `body` with its ETag, or 304 when the caller already has it.
void ReplyConditional(const CallPtr& call, const std::string& body, const std::string& etag,
                      std::string_view content_type) {
  net::HttpResponse response;
  response.headers.emplace_back("ETag", etag);
  response.headers.emplace_back("Cache-Control", "no-cache");
  auto inm = call->request.headers.find("if-none-match");
  if (inm != call->request.headers.end() &&
      (inm->second == "*" || inm->second.find(etag) != std::string::npos)) {
    response.status = 304;
    response.content_type.clear();
    return call->Reply(std::move(response));
  }
  response.content_type = std::string(content_type);
  response.body = body;
  call->Reply(std::move(response));
}

void HandleBundle(const CallPtr& call) {
  const auto view = call->rt.ca();
  auto format = call->request.query.find("format");
  if (format == call->request.query.end() || format->second == "pem") {
    return ReplyConditional(call, view->bundle_pem, view->bundle_etag, "application/x-pem-file");
  }
  if (format->second != "spiffe") {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "format must be \"pem\" or \"spiffe\""});
  }
  ReplyConditional(call, view->spiffe_bundle_json, view->spiffe_bundle_etag, "application/json");
}

void HandleIntermediates(const CallPtr& call) {
  const auto view = call->rt.ca();
  ReplyConditional(call, view->intermediates_pem, view->intermediates_etag, "application/x-pem-file");
}

void HandleCrl(const CallPtr& call) {
  const auto& query = call->request.query;
  auto format = query.find("format");
  const bool pem = format != query.end() && format->second == "pem";
  if (format != query.end() && !pem && format->second != "der") {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "format must be \"der\" or \"pem\""});
  }
  auto crl = call->rt.crl().Current();
  ReplyConditional(call, pem ? crl->pem : crl->der, pem ? crl->pem_etag : crl->der_etag,
                   pem ? "application/x-pem-file" : "application/pkix-crl");
}

}  // namespace mayfly
