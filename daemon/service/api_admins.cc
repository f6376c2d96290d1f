// The admin credential routes: list, create (from the operator's CSR, so
// the key never leaves their side) and revoke admin names and their roles.
#include <spdlog/spdlog.h>

#include "api_json.h"
#include "api_routes.h"
#include "mayfly/ca_init.h"
#include "mayfly/csr.h"
#include "mayfly/identity.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

boost::json::object AdminJson(const AdminRecord& a) {
  boost::json::value revoked = nullptr;
  if (a.revoked_at) revoked = FormatRfc3339(FromUnixSeconds(*a.revoked_at));
  return boost::json::object{{"name", a.name},
                             {"role", AdminRoleName(a.role)},
                             {"created_at", FormatRfc3339(FromUnixSeconds(a.created_at))},
                             {"revoked_at", std::move(revoked)}};
}

}  // namespace

void HandleListAdmins(const CallPtr& call) {
  auto admins = call->rt.store().ListAdmins();
  if (!admins) return call->Refuse(admins.error());
  boost::json::array out;
  for (const AdminRecord& a : *admins) out.push_back(AdminJson(a));
  call->ReplyJson(200, boost::json::object{{"admins", std::move(out)}});
}

void HandleCreateAdmin(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"name", "role", "csr", "ttl"});
  if (!body) return call->Refuse(body.error());
  auto name = body->String("name");
  auto role_text = body->String("role");
  auto csr_text = body->String("csr");
  if (!name || !role_text || !csr_text) {
    return call->Refuse(!name ? name.error() : !role_text ? role_text.error() : csr_text.error());
  }
  auto id = AdminSpiffeId(rt.trust_domain(), *name);
  if (!id) return call->Refuse(WithContext(id.error(), "field \"name\"").error());
  auto role = ParseAdminRole(*role_text);
  if (!role) return call->Refuse(WithContext(role.error(), "field \"role\"").error(), id->ToString());
  Duration ttl = kInitialAdminTtl;
  auto ttl_text = body->OptionalString("ttl");
  if (!ttl_text) return call->Refuse(ttl_text.error());
  if (*ttl_text) {
    auto d = ParseDuration(**ttl_text);
    if (!d) return call->Refuse(WithContext(d.error(), "field \"ttl\"").error());
    ttl = *d;
  }
  auto csr = Csr::Parse(*csr_text);
  if (!csr) return call->Refuse(csr.error(), id->ToString());
  if (!csr->dns_names().empty() || !csr->ip_names().empty() ||
      (!csr->uri_names().empty() && csr->uri_names() != std::vector<std::string>{id->ToString()})) {
    return call->Refuse(Error{ErrorCode::kInvalidCsr, "the CSR may name only " + id->ToString() + " (or nothing)"},
                        id->ToString());
  }
  auto ca = rt.ca();
  LeafSpec spec{.public_key = &csr->public_key(), .key_type = csr->key_type(), .spiffe_id = id->ToString(),
                .ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl)};
  auto issued = ca->active->Issue(spec);
  if (!issued) return call->Refuse(issued.error(), id->ToString());
  const CertRecord record{.serial = issued->serial, .spiffe_id = id->ToString(), .kind = CertKind::kAdmin,
                          .issuer = ca->active->id(), .not_before = ToUnixSeconds(issued->not_before),
                          .not_after = ToUnixSeconds(issued->not_after), .issued_at = NowSeconds(rt),
                          .der = issued->der};
  const AuditEvent event{.time = record.issued_at, .type = "admin_create", .actor = call->actor,
                         .subject = record.spiffe_id, .result = "ok",
                         .detail = AuditDetail({{"serial", record.serial}, {"role", AdminRoleName(*role)},
                                                {"not_after", FormatRfc3339(issued->not_after)}})};
  // The role, the certificate and the event commit together: a certificate
  // never exists for a name without its role, and one signed for a name
  // that exists already (kConflict) is neither recorded nor handed out.
  if (auto r = rt.store().PutAdmin({.name = *name, .role = *role, .created_at = record.issued_at},
                                   std::span(&record, 1), std::span(&event, 1));
      !r) {
    return call->Refuse(r.error(), id->ToString());
  }
  AuditLog::LogLine(event);
  auto answer = CertificateJson(*issued, record.spiffe_id, ca->chain_pem, ca->bundle_pem);
  answer["role"] = AdminRoleName(*role);
  call->ReplyJson(200, answer);
}

// Takes effect on the next request of that name: its role row is revoked
// (every instance reads it per call) and its certificates are revoked too.
// Revoking the last admin-role name is allowed: the admin socket keeps full
// rights and can create a new one.
void HandleRevokeAdmin(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"name"});
  if (!body) return call->Refuse(body.error());
  auto name = body->String("name");
  if (!name) return call->Refuse(name.error());
  auto id = AdminSpiffeId(rt.trust_domain(), *name);
  if (!id) return call->Refuse(WithContext(id.error(), "field \"name\"").error());
  const int64_t now = NowSeconds(rt);
  AuditEvent event;
  auto serials = rt.store().RevokeAdmin(*name, id->ToString(), now, [&](const std::vector<std::string>& revoked) {
    event = AuditEvent{.time = now, .type = "admin_revoke", .actor = call->actor, .subject = id->ToString(),
                       .result = "ok", .detail = AuditDetail({{"count", std::to_string(revoked.size())}})};
    return event;
  });
  if (!serials) return call->Refuse(serials.error(), id->ToString());
  AuditLog::LogLine(event);
  rt.revocations().AddRevoked(*serials);
  rt.AppliedOwnChange(rt.crl().Regenerate(), "signing the CRL after a revocation");
  call->ReplyJson(200, boost::json::object{{"name", *name},
                                           {"revoked", serials->size()},
                                           {"serials", boost::json::array(serials->begin(), serials->end())}});
}

}  // namespace mayfly
