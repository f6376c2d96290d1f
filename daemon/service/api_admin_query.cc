// The admin routes that read: certificates and the audit log, paged.
#include "api_json.h"
#include "api_routes.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

constexpr int64_t kMaxPage = 1000;
constexpr int kDefaultPage = 100;

boost::json::object CertJson(const CertRecord& c, int64_t now) {
  std::string_view status = c.revoked_at ? "revoked" : c.not_after <= now ? "expired" : "valid";
  boost::json::object out{{"serial", c.serial},
                          {"spiffe_id", c.spiffe_id},
                          {"node", c.node},
                          {"kind", CertKindName(c.kind)},
                          {"not_before", FormatRfc3339(FromUnixSeconds(c.not_before))},
                          {"not_after", FormatRfc3339(FromUnixSeconds(c.not_after))},
                          {"status", status}};
  if (c.revoked_at) {
    out["revoked_at"] = FormatRfc3339(FromUnixSeconds(*c.revoked_at));
    out["reason"] = RevocationReasonName(c.reason);
  }
  return out;
}

// A query parameter's value, when present.
const std::string* Param(const CallPtr& call, const std::string& name) {
  auto it = call->request.query.find(name);
  return it == call->request.query.end() ? nullptr : &it->second;
}

Result<int> PageLimit(const CallPtr& call) {
  const std::string* text = Param(call, "limit");
  if (text == nullptr) return kDefaultPage;
  auto limit = ParseIntParam(*text, "limit", 1, kMaxPage);
  if (!limit) return std::unexpected(limit.error());
  return static_cast<int>(*limit);
}

}  // namespace

void HandleListCerts(const CallPtr& call) {
  CaRuntime& rt = call->rt;
  if (auto r = CheckQueryParams(call->request.query, {"spiffe_id", "node", "status", "limit", "cursor"}); !r) {
    return call->Refuse(r.error());
  }
  CertFilter filter;
  filter.now = NowSeconds(rt);
  if (const std::string* v = Param(call, "spiffe_id")) filter.spiffe_id = *v;
  if (const std::string* v = Param(call, "node")) filter.node = *v;
  if (const std::string* v = Param(call, "cursor")) filter.cursor = *v;
  if (const std::string* v = Param(call, "status")) {
    auto status = ParseCertStatus(*v);
    if (!status) return call->Refuse(status.error());
    filter.status = *status;
  }
  auto limit = PageLimit(call);
  if (!limit) return call->Refuse(limit.error());
  filter.limit = *limit;
  auto page = rt.store().ListCertificates(filter);
  if (!page) return call->Refuse(page.error());
  boost::json::array certs;
  for (const CertRecord& c : page->certs) certs.push_back(CertJson(c, filter.now));
  boost::json::object out{{"certificates", std::move(certs)}};
  if (page->next_cursor) out["next_cursor"] = *page->next_cursor;
  call->ReplyJson(200, out);
}

namespace {

// The audit listing's query (since, before, limit), read into a store call.
struct AuditQuery {
  int64_t since = 0;
  std::optional<int64_t> before;
  int limit = kDefaultPage;
};

Result<AuditQuery> ReadAuditQuery(const CallPtr& call) {
  if (auto r = CheckQueryParams(call->request.query, {"since", "limit", "before"}); !r) {
    return std::unexpected(r.error());
  }
  AuditQuery q;
  if (const std::string* v = Param(call, "since")) {
    auto t = ParseRfc3339(*v);
    if (!t) return WithContext(t.error(), "\"since\"");
    q.since = ToUnixSeconds(*t);
  }
  if (const std::string* v = Param(call, "before")) {
    auto id = ParseIntParam(*v, "before", 1, INT64_MAX);
    if (!id) return std::unexpected(id.error());
    q.before = *id;
  }
  auto limit = PageLimit(call);
  if (!limit) return std::unexpected(limit.error());
  q.limit = *limit;
  return q;
}

// Lists one page of audit events (of `type`, when not empty), each as
// `to_json` makes it, under `key`.
void ReplyAuditPage(const CallPtr& call, const std::string& type, std::string_view key,
                    boost::json::object (*to_json)(const AuditEvent&)) {
  auto q = ReadAuditQuery(call);
  if (!q) return call->Refuse(q.error());
  auto events = call->rt.store().ListAudit(q->since, q->limit, q->before, type);
  if (!events) return call->Refuse(events.error());
  boost::json::array out;
  for (const AuditEvent& e : *events) out.push_back(to_json(e));
  boost::json::object body{{key, std::move(out)}};
  // A full page may have more behind it; the next page starts below its last id.
  if (static_cast<int>(events->size()) == q->limit && events->back().id > 1) body["next_before"] = events->back().id;
  call->ReplyJson(200, body);
}

boost::json::object AuditEventJson(const AuditEvent& e) {
  return boost::json::object{{"id", e.id},
                             {"time", FormatRfc3339(FromUnixSeconds(e.time))},
                             {"type", e.type},
                             {"actor", e.actor},
                             {"subject", e.subject},
                             {"result", e.result},
                             {"detail", ParseOwnJson(e.detail)}};
}

// An "anomaly" audit event as the anomalies listing shows it: kind, node,
// address and action up front, the rest of its detail as evidence.
boost::json::object AnomalyJson(const AuditEvent& e) {
  boost::json::object out{{"id", e.id}, {"time", FormatRfc3339(FromUnixSeconds(e.time))}};
  boost::json::value detail = ParseOwnJson(e.detail);
  boost::json::object evidence;
  if (detail.is_object()) {
    for (const auto& [k, v] : detail.as_object()) {
      if (k == "kind" || k == "node" || k == "address" || k == "action") {
        out[k] = v;
      } else {
        evidence[k] = v;
      }
    }
  }
  out["evidence"] = std::move(evidence);
  return out;
}

}  // namespace

void HandleListAudit(const CallPtr& call) { ReplyAuditPage(call, "", "events", AuditEventJson); }

void HandleListAnomalies(const CallPtr& call) { ReplyAuditPage(call, "anomaly", "anomalies", AnomalyJson); }

void HandleVerifyAudit(const CallPtr& call) {
  if (auto r = CheckQueryParams(call->request.query, {}); !r) return call->Refuse(r.error());
  auto check = call->rt.store().VerifyAuditChain();
  if (!check) return call->Refuse(check.error());
  boost::json::object body{{"intact", !check->first_bad_id.has_value()}, {"events", check->events}};
  if (check->first_bad_id) body["first_bad_id"] = *check->first_bad_id;
  call->ReplyJson(200, body);
}

}  // namespace mayfly
