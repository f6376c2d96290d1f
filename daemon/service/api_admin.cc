// The admin routes that change state: join tokens, registration entries,
// revocation.
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "api_json.h"
#include "api_routes.h"
#include "mayfly/authorization.h"
#include "mayfly/identity.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

constexpr Duration kDefaultTokenTtl = std::chrono::hours(1);
constexpr size_t kTokenSecretBytes = 32;

Result<std::optional<Duration>> OptionalDuration(const JsonBody& body, std::string_view name) {
  auto text = body.OptionalString(name);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::nullopt;
  auto d = ParseDuration(**text);
  if (!d) return WithContext(d.error(), "field \"" + std::string(name) + "\"");
  return std::optional<Duration>(*d);
}

boost::json::object EntryJson(const EntryRecord& e) {
  boost::json::array dns(e.dns.begin(), e.dns.end());
  boost::json::array ips(e.ips.begin(), e.ips.end());
  boost::json::array selectors(e.selectors.begin(), e.selectors.end());
  boost::json::value ttl = nullptr;  // null: the [issuance] max_ttl applies
  if (e.max_ttl > 0) ttl = FormatDuration(Duration(e.max_ttl));
  return boost::json::object{{"id", e.id},          {"spiffe_id", e.spiffe_id}, {"node", e.node},
                             {"dns", std::move(dns)}, {"ips", std::move(ips)}, {"ttl", std::move(ttl)},
                             {"source", e.source}, {"selectors", std::move(selectors)}};
}

// Lowercase hex without leading zeros, as the store keeps serials; colons
// (as `openssl x509 -serial` prints them in some forms) are dropped.
Result<std::string> NormalizeSerial(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)) || out.size() >= 64) {
      return MakeError(ErrorCode::kInvalidArgument, "serial " + QuoteForMessage(text, 80) + " is not hex");
    }
    if (out.empty() && c == '0') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (out.empty()) out = "0";
  return out;
}

// The audit event of a change this call makes; the store appends it in the
// change's own transaction, so the caller is answered after both are
// durable. What the change makes possible next is therefore always chained
// after it: an enrollment with the token just created cannot commit before
// the token's row, which commits with the token's event.
AuditEvent ChangeEvent(const CallPtr& call, std::string type, std::string subject, std::string detail) {
  return AuditEvent{.time = NowSeconds(call->rt), .type = std::move(type), .actor = call->actor,
                    .subject = std::move(subject), .result = "ok", .detail = std::move(detail)};
}

}  // namespace

void HandleCreateToken(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"node", "ttl"});
  if (!body) return call->Refuse(body.error());
  auto node = body->String("node");
  if (!node) return call->Refuse(node.error());
  if (auto r = ValidateNodeName(*node); !r) return call->Refuse(r.error());
  auto ttl = OptionalDuration(*body, "ttl");
  if (!ttl) return call->Refuse(ttl.error(), *node);
  // A join token is a credential: its lifetime is capped like a certificate's.
  const Duration cap = rt.config()->issuance.max_token_ttl;
  if (*ttl && **ttl > cap) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "field \"ttl\": a join token lives at most " +
                                                               FormatDuration(cap) + " ([issuance] max_token_ttl), not " +
                                                               FormatDuration(**ttl)},
                        *node);
  }

  unsigned char secret[kTokenSecretBytes];
  if (RAND_bytes(secret, sizeof(secret)) != 1) {
    return call->Refuse(Error{ErrorCode::kCrypto, "no randomness for a join token"}, *node);
  }
  // "<node>.<hex>": enroll reads the node from it to sign before consuming.
  std::string token = *node + "." + HexEncode(std::string_view(reinterpret_cast<char*>(secret), sizeof(secret)));
  OPENSSL_cleanse(secret, sizeof(secret));
  const int64_t now = NowSeconds(rt);
  const int64_t expires_at = now + ttl->value_or(std::min(kDefaultTokenTtl, cap)).count();
  TokenRecord record{.hash = HashToken(token), .node = *node, .created_at = now, .expires_at = expires_at};
  const std::string expires = FormatRfc3339(FromUnixSeconds(expires_at));
  const AuditEvent event = ChangeEvent(call, "token", *node, AuditDetail({{"expires_at", expires}}));
  if (auto r = rt.store().CreateToken(record, event); !r) return call->Refuse(r.error(), *node);
  AuditLog::LogLine(event);
  rt.metrics().tokens_created.fetch_add(1, std::memory_order_relaxed);
  call->ReplyJson(200, boost::json::object{
                           {"token", token}, {"expires_at", expires}, {"ca_fingerprint", rt.ca()->root_fingerprint}});
  OPENSSL_cleanse(token.data(), token.size());
}

void HandleListEntries(const CallPtr& call) {
  boost::json::array entries;
  for (const EntryRecord& e : *call->rt.entries().Get()) entries.push_back(EntryJson(e));
  call->ReplyJson(200, boost::json::object{{"entries", std::move(entries)}});
}

void HandleAddEntry(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"spiffe_id", "node", "dns", "ips", "ttl", "selectors"});
  if (!body) return call->Refuse(body.error());
  auto spiffe_id = body->String("spiffe_id");
  auto node = body->String("node");
  auto dns = body->StringArray("dns");
  auto ips = body->StringArray("ips");
  auto ttl = OptionalDuration(*body, "ttl");
  auto selectors = body->StringArray("selectors");
  for (const Error* e : {spiffe_id ? nullptr : &spiffe_id.error(), node ? nullptr : &node.error(),
                         dns ? nullptr : &dns.error(), ips ? nullptr : &ips.error(), ttl ? nullptr : &ttl.error(),
                         selectors ? nullptr : &selectors.error()}) {
    if (e != nullptr) return call->Refuse(*e);
  }
  EntryRecord entry{.spiffe_id = *spiffe_id, .node = *node, .dns = std::move(*dns), .ips = std::move(*ips),
                    .max_ttl = *ttl ? (*ttl)->count() : 0, .source = "api", .selectors = std::move(*selectors)};
  auto valid = ValidateEntry(std::move(entry), rt.policy());
  if (!valid) return call->Refuse(valid.error(), *spiffe_id);
  AuditEvent event;
  auto id = rt.store().AddEntry(*valid, [&](int64_t new_id) {
    EntryRecord added = *valid;
    added.id = new_id;
    event = ChangeEvent(call, "entry_add", added.spiffe_id, JsonText(EntryJson(added)));
    return event;
  });
  if (!id) return call->Refuse(id.error(), valid->spiffe_id);
  AuditLog::LogLine(event);
  valid->id = *id;
  rt.AppliedOwnChange(rt.entries().Rebuild(rt.store()), "refreshing entries");
  call->ReplyJson(201, EntryJson(*valid));
}

void HandleRemoveEntry(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  constexpr std::string_view kPrefix = "/v1/admin/entries/";
  std::string_view text;
  const auto& query = call->request.query;
  if (call->request.path.starts_with(kPrefix)) {
    text = std::string_view(call->request.path).substr(kPrefix.size());
  } else if (auto it = query.find("id"); it != query.end()) {
    text = it->second;
  } else {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "which entry? give ?id=N or /v1/admin/entries/N"});
  }
  auto id = ParseIntParam(text, "id", 1, INT64_MAX);
  if (!id) return call->Refuse(id.error());
  const std::string subject = "entry " + std::to_string(*id);
  const AuditEvent event = ChangeEvent(call, "entry_remove", subject, AuditDetail({{"id", std::to_string(*id)}}));
  if (auto r = rt.store().RemoveEntry(*id, event); !r) return call->Refuse(r.error(), subject);
  AuditLog::LogLine(event);
  rt.AppliedOwnChange(rt.entries().Rebuild(rt.store()), "refreshing entries");
  call->ReplyJson(200, boost::json::object{{"removed", *id}});
}

void HandleRevoke(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  auto body = JsonBody::Parse(call->request.body, {"serial", "spiffe_id", "node", "reason"});
  if (!body) return call->Refuse(body.error());
  if (body->Has("serial") + body->Has("spiffe_id") + body->Has("node") != 1) {
    return call->Refuse(Error{ErrorCode::kInvalidArgument, "give exactly one of serial, spiffe_id or node"});
  }
  RevokeSelector which;
  std::string selector;
  if (body->Has("serial")) {
    auto serial = body->String("serial");
    if (!serial) return call->Refuse(serial.error());
    auto normal = NormalizeSerial(*serial);
    if (!normal) return call->Refuse(normal.error());
    which.serial = *normal;
    selector = "serial";
  } else if (body->Has("spiffe_id")) {
    auto text = body->String("spiffe_id");
    if (!text) return call->Refuse(text.error());
    auto id = SpiffeId::Parse(*text);
    if (!id) return call->Refuse(id.error());
    which.spiffe_id = id->ToString();
    selector = "spiffe_id";
  } else {
    auto node = body->String("node");
    if (!node) return call->Refuse(node.error());
    if (auto r = ValidateNodeName(*node); !r) return call->Refuse(r.error());
    which.node = *node;
    selector = "node";
  }
  const std::string subject = which.serial.value_or(which.spiffe_id.value_or(which.node.value_or("")));
  RevocationReason reason = RevocationReason::kUnspecified;
  if (auto text = body->OptionalString("reason"); !text) {
    return call->Refuse(text.error(), subject);
  } else if (*text) {
    auto parsed = ParseRevocationReason(**text);
    if (!parsed) return call->Refuse(parsed.error(), subject);
    reason = *parsed;
  }

  AuditEvent event;
  auto serials = rt.store().Revoke(which, reason, NowSeconds(rt), [&](const std::vector<std::string>& revoked) {
    event = ChangeEvent(call, "revoke", subject,
                        AuditDetail({{"by", selector}, {"reason", RevocationReasonName(reason)},
                                     {"count", std::to_string(revoked.size())}}));
    return event;
  });
  if (!serials) return call->Refuse(serials.error(), subject);
  AuditLog::LogLine(event);
  rt.revocations().AddRevoked(*serials);
  if (which.node) rt.revocations().Ban(*which.node);
  rt.metrics().revocations.fetch_add(serials->size(), std::memory_order_relaxed);
  // The revocation is durable whatever happens here; a failed CRL is logged
  // and the interval timer signs the next one.
  rt.AppliedOwnChange(rt.crl().Regenerate(), "signing the CRL after a revocation");
  call->ReplyJson(200, boost::json::object{{"revoked", serials->size()},
                                           {"serials", boost::json::array(serials->begin(), serials->end())}});
}

}  // namespace mayfly
