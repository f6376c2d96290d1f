// The CA rotation routes: status, prepare, activate, retire, rotate --now.
#include <openssl/x509.h>

#include "api_json.h"
#include "api_routes.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// A JWT signing key has no certificate: its subject says what it is, its
// fingerprint is of its SubjectPublicKeyInfo, and it lives as long as the
// intermediate it was made with.
boost::json::object JwtKeyJson(const CaCertRecord& r) {
  return boost::json::object{{"role", CaRoleName(r.role)},
                             {"state", CaStateName(r.state)},
                             {"serial", r.serial},
                             {"subject", "JWT-SVID signing key (ES256)"},
                             {"key_id", r.key_id},
                             {"issuer_key_id", r.issuer_key_id},
                             {"fingerprint", "sha256:" + Sha256Hex(r.der)},
                             {"not_before", FormatRfc3339(FromUnixSeconds(r.created_at))},
                             {"not_after", FormatRfc3339(FromUnixSeconds(r.not_after))},
                             {"changed_at", FormatRfc3339(FromUnixSeconds(r.changed_at))}};
}

// {"cas": [...]} newest first, each with how many live leaves it signed.
Result<boost::json::object> StatusJson(CaRuntime& rt) {
  auto live = rt.LiveLeaves();
  if (!live) return std::unexpected(live.error());
  const auto view = rt.ca();
  boost::json::array cas;
  for (auto it = view->records.rbegin(); it != view->records.rend(); ++it) {
    const CaCertRecord& r = *it;
    if (r.role == CaRole::kJwt) {
      cas.push_back(JwtKeyJson(r));
      continue;
    }
    auto cert = CertFromDer(r.der);
    if (!cert) return std::unexpected(cert.error());
    auto fingerprint = CertFingerprint(cert->get());
    boost::json::object o{{"role", CaRoleName(r.role)},
                          {"state", CaStateName(r.state)},
                          {"serial", r.serial},
                          {"subject", NameText(X509_get_subject_name(cert->get()))},
                          {"key_id", r.key_id},
                          {"issuer_key_id", r.issuer_key_id},
                          {"fingerprint", fingerprint ? *fingerprint : std::string()},
                          {"not_before", FormatRfc3339(CertNotBefore(cert->get()))},
                          {"not_after", FormatRfc3339(CertNotAfter(cert->get()))},
                          {"changed_at", FormatRfc3339(FromUnixSeconds(r.changed_at))}};
    if (r.role == CaRole::kIntermediate) o["leaves"] = live->contains(r.key_id) ? live->at(r.key_id) : 0;
    cas.push_back(std::move(o));
  }
  return boost::json::object{{"root_fingerprint", view->root_fingerprint}, {"cas", std::move(cas)}};
}

// Answers a rotation step with what it did and the new status.
void ReplyStep(const CallPtr& call, const Result<std::string>& step) {
  if (!step) return call->Refuse(step.error(), "ca");
  auto status = StatusJson(call->rt);
  if (!status) return call->Refuse(status.error(), "ca");
  (*status)["result"] = *step;
  call->ReplyJson(200, *status);
}

// A step's body: a JSON object with only `allowed` members, or nothing.
Result<JsonBody> StepBody(const CallPtr& call, std::initializer_list<std::string_view> allowed) {
  return JsonBody::Parse(call->request.body.empty() ? "{}" : call->request.body, allowed);
}

}  // namespace

void HandleCaStatus(const CallPtr& call) {
  if (auto r = CheckQueryParams(call->request.query, {}); !r) return call->Refuse(r.error());
  auto status = StatusJson(call->rt);
  if (!status) return call->Refuse(status.error());
  call->ReplyJson(200, *status);
}

void HandleCaPrepare(const CallPtr& call) {
  auto body = StepBody(call, {"root"});
  if (!body) return call->Refuse(body.error());
  auto root = body->Bool("root", false);
  if (!root) return call->Refuse(root.error());
  ReplyStep(call, call->rt.PrepareCa(*root, call->actor));
}

void HandleCaActivate(const CallPtr& call) {
  auto body = StepBody(call, {});
  if (!body) return call->Refuse(body.error());
  ReplyStep(call, call->rt.ActivateCa(call->actor));
}

void HandleCaRetire(const CallPtr& call) {
  auto body = StepBody(call, {});
  if (!body) return call->Refuse(body.error());
  ReplyStep(call, call->rt.RetireCa(call->actor));
}

void HandleCaRotate(const CallPtr& call) {
  auto body = StepBody(call, {"now", "revoke_old"});
  if (!body) return call->Refuse(body.error());
  auto now = body->Bool("now", false);
  auto revoke_old = body->Bool("revoke_old", false);
  if (!now || !revoke_old) return call->Refuse(!now ? now.error() : revoke_old.error());
  if (!*now) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument,
                              "rotate needs \"now\": true (a scheduled rotation is prepare, then activate)"});
  }
  ReplyStep(call, call->rt.RotateCaNow(*revoke_old, call->actor));
}

}  // namespace mayfly
