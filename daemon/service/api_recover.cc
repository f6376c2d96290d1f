// Node recovery: a node whose certificate expired while it was away gets a
// new one for a new key, proving with its old key (against a one-time
// challenge) that it is the node the CA enrolled; no join token.
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "anomaly_watch.h"
#include "api_issue_steps.h"
#include "api_json.h"
#include "api_routes.h"
#include "mayfly/identity.h"
#include "mayfly/ocsp.h"
#include "mayfly/public_key.h"
#include "mayfly/signature.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Long enough for an agent to sign and send; short, so a challenge read
// off the wire is worthless soon.
constexpr int64_t kChallengeSeconds = 60;

std::string NewTokenHint(const std::string& node) {
  return "issue a new join token (mayfly-ca token create --node " + node + ")";
}

Error Refused(const std::string& why, const std::string& node) {
  return Error{ErrorCode::kRecoveryRefused, why + "; " + NewTokenHint(node.empty() ? "NAME" : node)};
}

Result<void> CheckRecoveryOn(const CaRuntime& rt) {
  if (rt.config()->issuance.node_recovery_window == Duration::zero()) {
    return std::unexpected(Refused("node recovery is off on this CA ([issuance] node_recovery_window = \"0s\")", ""));
  }
  return Ok();
}

// The node whose expired certificate `cert` is, from the CA's own records:
// it must be exactly a node certificate the CA issued, unrevoked, of a node
// not banned, expired no longer than the window ago. Whether it is still
// the node's latest is decided when the new certificate is recorded.
Result<std::string> RecoverableNode(CaRuntime& rt, const X509* cert) {
  const std::string serial = CertSerialHex(cert);
  auto recorded = rt.store().GetCertificate(serial);
  if (!recorded) return std::unexpected(recorded.error());
  auto presented = CertToDer(cert);
  if (!presented) return std::unexpected(presented.error());
  if (!*recorded || (*recorded)->der != *presented || (*recorded)->kind != CertKind::kNode) {
    return std::unexpected(Refused("certificate " + serial + " is not a node certificate this CA issued", ""));
  }
  const CertRecord& record = **recorded;
  // A ban revokes the node's certificates too; it is reported first, as the
  // router does, because it is the reason.
  auto node = rt.store().GetNode(record.node);
  if (!node) return std::unexpected(node.error());
  if (!*node || (*node)->banned) {
    return std::unexpected(
        Refused("node " + record.node + (*node ? " is banned" : " is not enrolled"), record.node));
  }
  if (record.revoked_at) return std::unexpected(Refused("node certificate " + serial + " is revoked", record.node));
  // Only `mayfly-ca node unban` lifts a quarantine; recovering does not.
  if (!(*node)->quarantine.empty()) return std::unexpected(QuarantineError(record.node, (*node)->quarantine));
  const int64_t now = NowSeconds(rt);
  const Duration window = rt.config()->issuance.node_recovery_window;
  // Expired from notAfter's own second on, as the agent counts it (it
  // compares at sub-second precision and so never asks sooner).
  if (now < record.not_after) {
    return MakeError(ErrorCode::kInvalidArgument, "node certificate " + serial + " is still valid until " +
                                                      FormatRfc3339(FromUnixSeconds(record.not_after)) +
                                                      "; renew with it (POST /v1/renew)");
  }
  if (now - record.not_after > std::chrono::duration_cast<std::chrono::seconds>(window).count()) {
    return std::unexpected(Refused("node certificate " + serial + " expired at " +
                                       FormatRfc3339(FromUnixSeconds(record.not_after)) + ", more than " +
                                       FormatDuration(window) + " ([issuance] node_recovery_window) ago",
                                   record.node));
  }
  return record.node;
}

}  // namespace

void HandleRecoverChallenge(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (auto r = CheckRecoveryOn(rt); !r) return call->Refuse(r.error());
  if (!Admit(call, rt.enroll_limiter(), call->request.peer.ip, IssueRoute::kRecover)) return;
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof(secret)) != 1) {
    return call->Refuse(Error{ErrorCode::kCrypto, "no randomness for a recovery challenge"});
  }
  const std::string challenge = HexEncode(std::string_view(reinterpret_cast<char*>(secret), sizeof(secret)));
  const int64_t now = NowSeconds(rt);
  const int64_t expires_at = now + kChallengeSeconds;
  // Kept in the store, not in this process: the answer may go to another
  // instance, and the challenge must be spent once across all of them.
  if (auto r = rt.store().CreateRecoveryChallenge(HashToken(challenge), expires_at, now); !r) {
    return call->Refuse(r.error());
  }
  call->ReplyJson(200, boost::json::object{{"challenge", challenge},
                                           {"expires_at", FormatRfc3339(FromUnixSeconds(expires_at))}});
}

void HandleRecover(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (auto r = CheckRecoveryOn(rt); !r) return call->Refuse(r.error());
  if (!Admit(call, rt.enroll_limiter(), call->request.peer.ip, IssueRoute::kRecover)) return;
  auto body = JsonBody::Parse(call->request.body, {"cert", "challenge", "signature", "csr"});
  if (!body) return call->Refuse(body.error());
  auto cert_text = body->String("cert");
  auto challenge = body->String("challenge");
  auto signature_text = body->String("signature");
  auto csr_text = body->String("csr");
  for (const auto* field : {&cert_text, &challenge, &signature_text, &csr_text}) {
    if (!*field) return call->Refuse(field->error());
  }
  auto cert = CertFromPem(*cert_text);
  if (!cert) return call->Refuse(WithContext(cert.error(), "field \"cert\"").error());
  auto node = RecoverableNode(rt, cert->get());
  if (!node) return call->Refuse(node.error());
  auto node_id = NodeSpiffeId(rt.trust_domain(), *node);
  if (!node_id) return call->Refuse(node_id.error(), *node);
  const std::string id = node_id->ToString();
  auto csr = Csr::Parse(*csr_text);
  if (!csr) return call->Refuse(csr.error(), id);
  if (auto r = CheckNodeCsr(*csr, id); !r) return call->Refuse(r.error(), id);
  const EVP_PKEY* old_key = X509_get0_pubkey(cert->get());
  auto same = SamePublicKey(csr->public_key().spki_der, old_key);
  if (!same) return call->Refuse(WithContext(same.error(), "checking that recovery uses a new key").error(), id);
  if (*same) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "recovery needs a new key; the CSR reuses the old one"},
                        id);
  }
  auto signature = DecodeBase64(*signature_text);
  if (!signature) return call->Refuse(Error{ErrorCode::kInvalidArgument, "field \"signature\" is not base64"}, id);
  auto verified = VerifyMessage(old_key, net::RecoveryMessage(*challenge, *csr_text), *signature);
  if (!verified) return call->Refuse(verified.error(), id);
  if (!*verified) {
    return call->Refuse(Error{ErrorCode::kUnauthenticated,
                              "the recovery signature does not verify with the node certificate's key"},
                        id);
  }

  LeafSpec spec{.public_key = &csr->public_key(), .key_type = csr->key_type(), .spiffe_id = id,
                .ttl = rt.node_ttl()};
  auto ca = rt.ca();
  auto issued = ca->active->Issue(spec);
  if (!issued) return IssueFailed(call, IssueRoute::kRecover, issued.error());
  CertRecord record = RecordOf(rt, *ca->active, *issued, id, *node, CertKind::kNode);
  // No caller_serial: the old certificate has expired, and an expired
  // certificate is never revoked; a ban in flight still refuses the insert.
  const std::string old_serial = CertSerialHex(cert->get());
  AuditEvent event = IssueEvent(call, IssueRoute::kRecover, record, *issued);
  event.detail = AuditDetail({{"serial", record.serial}, {"node", record.node}, {"kind", "node"},
                              {"not_after", FormatRfc3339(issued->not_after)}, {"recovered_from", old_serial}});
  auto recovered = rt.store().ConsumeChallengeAndRecover(HashToken(*challenge), record.issued_at, old_serial,
                                                         record, event);
  if (!recovered) {
    const ErrorCode code = recovered.error().code;
    if (code == ErrorCode::kNodeBanned) return call->Refuse(Refused(recovered.error().message, *node), id);
    if (code == ErrorCode::kUnauthenticated || code == ErrorCode::kRecoveryRefused) {
      return call->Refuse(recovered.error(), id);
    }
    return IssueFailed(call, IssueRoute::kRecover, recovered.error());
  }
  rt.metrics().CountIssue(IssueRoute::kRecover, true);
  AuditLog::LogLine(event);
  call->ReplyJson(200, CertificateJson(*issued, record.spiffe_id, ca->chain_pem, ca->bundle_pem));
}

}  // namespace mayfly
