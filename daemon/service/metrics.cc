// Metrics counters and their Prometheus text rendering.
#include "metrics.h"

#include <spdlog/fmt/fmt.h>

namespace mayfly {

std::string_view IssueRouteName(IssueRoute route) {
  switch (route) {
    case IssueRoute::kEnroll: return "enroll";
    case IssueRoute::kRenew: return "renew";
    case IssueRoute::kSign: return "sign";
    case IssueRoute::kServer: return "server";
    case IssueRoute::kRecover: return "recover";
  }
  return "unknown";
}

void Metrics::CountIssue(IssueRoute route, bool ok) {
  auto& counter = ok ? issued_ok : issued_error;
  counter[static_cast<size_t>(route)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::CountRefused(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  if (i < refused.size()) refused[i].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::CountIssuanceCheckFailure(std::string_view kind) {
  for (size_t i = 0; i < kIssuanceCheckKinds.size(); ++i) {
    if (kIssuanceCheckKinds[i] == kind) issuance_check_failures[i].fetch_add(1, std::memory_order_relaxed);
  }
}

void Metrics::ObserveLatency(std::chrono::steady_clock::duration d) {
  const double seconds = std::chrono::duration<double>(d).count();
  size_t bucket = 0;
  while (bucket < kLatencyBounds.size() && seconds > kLatencyBounds[bucket]) ++bucket;
  latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_count.fetch_add(1, std::memory_order_relaxed);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  latency_sum_us.fetch_add(static_cast<uint64_t>(us < 0 ? 0 : us), std::memory_order_relaxed);
}

namespace {

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void AppendMetric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                  uint64_t value) {
  Header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void AppendLabelledMetric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                          std::string_view label, std::initializer_list<LabelledValue> series) {
  Header(out, name, type, help);
  for (const auto& s : series) out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, s.label_value, s.value);
}

std::string Metrics::PrometheusText() const {
  std::string out;
  Header(out, "mayfly_issuances_total", "counter", "Certificates issued, by route and result.");
  for (size_t i = 0; i < kIssueRouteCount; ++i) {
    const auto route = IssueRouteName(static_cast<IssueRoute>(i));
    out += fmt::format("mayfly_issuances_total{{route=\"{}\",result=\"ok\"}} {}\n", route, issued_ok[i].load());
    out += fmt::format("mayfly_issuances_total{{route=\"{}\",result=\"error\"}} {}\n", route,
                       issued_error[i].load());
  }
  Header(out, "mayfly_refused_total", "counter", "Refused API calls, by error code.");
  for (size_t i = 0; i < refused.size(); ++i) {
    const uint64_t n = refused[i].load();
    if (n == 0) continue;  // one series per code seen, not 19 zeros
    out += fmt::format("mayfly_refused_total{{code=\"{}\"}} {}\n", ErrorCodeName(static_cast<ErrorCode>(i)), n);
  }
  Header(out, "mayfly_rate_limited_total", "counter", "Calls refused by a rate limit, by route.");
  for (size_t i = 0; i < kIssueRouteCount; ++i) {
    if (static_cast<IssueRoute>(i) == IssueRoute::kServer) continue;
    out += fmt::format("mayfly_rate_limited_total{{route=\"{}\"}} {}\n", IssueRouteName(static_cast<IssueRoute>(i)),
                       rate_limited[i].load());
  }
  AppendMetric(out, "mayfly_revocations_total", "counter", "Certificates revoked.", revocations.load());
  AppendMetric(out, "mayfly_join_tokens_created_total", "counter", "Join tokens created.", tokens_created.load());
  AppendMetric(out, "mayfly_crl_number", "gauge", "CRL number of the CRL being served.",
               static_cast<uint64_t>(crl_number.load()));
  AppendMetric(out, "mayfly_crl_regenerations_total", "counter", "CRLs signed.", crl_regenerations.load());
  AppendMetric(out, "mayfly_crl_failures_total", "counter", "CRL regenerations that failed.", crl_failures.load());
  auto ocsp = [this](OcspOutcome o) { return ocsp_responses[static_cast<size_t>(o)].load(); };
  AppendLabelledMetric(out, "mayfly_ocsp_responses_total", "counter", "OCSP responses sent, by what they said.",
                       "status",
                       {{"good", ocsp(OcspOutcome::kGood)},
                        {"revoked", ocsp(OcspOutcome::kRevoked)},
                        {"unknown", ocsp(OcspOutcome::kUnknown)},
                        {"unauthorized", ocsp(OcspOutcome::kUnauthorized)},
                        {"malformed", ocsp(OcspOutcome::kMalformed)},
                        {"try_later", ocsp(OcspOutcome::kTryLater)}});
  AppendMetric(out, "mayfly_ocsp_signatures_total", "counter",
               "OCSP responses and responder certificates signed (not one per request: answers are cached).",
               ocsp_signatures.load());
  AppendMetric(out, "mayfly_jwt_svids_total", "counter", "JWT-SVIDs signed (POST /v1/jwt).", jwt_svids.load());
  AppendMetric(out, "mayfly_audit_write_failures_total", "counter", "Audit events that could not be stored.",
               audit_write_failures.load());
  Header(out, "mayfly_issuance_check_failures_total", "counter",
         "Certificates and CRLs the pre-issuance check refused, by kind.");
  for (size_t i = 0; i < kIssuanceCheckKinds.size(); ++i) {
    out += fmt::format("mayfly_issuance_check_failures_total{{kind=\"{}\"}} {}\n", kIssuanceCheckKinds[i],
                       issuance_check_failures[i].load());
  }

  Header(out, "mayfly_anomalies_total", "counter", "Anomalies raised by the issuance watch, by kind.");
  for (size_t i = 0; i < kAnomalyKinds.size(); ++i) {
    out += fmt::format("mayfly_anomalies_total{{kind=\"{}\"}} {}\n", kAnomalyKinds[i], anomalies[i].load());
  }

  Header(out, "mayfly_request_duration_seconds", "histogram", "API request latency.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBounds.size(); ++i) {
    cumulative += latency_buckets[i].load();
    out += fmt::format("mayfly_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBounds[i], cumulative);
  }
  cumulative += latency_buckets[kLatencyBounds.size()].load();
  out += fmt::format("mayfly_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("mayfly_request_duration_seconds_sum {}\n", static_cast<double>(latency_sum_us.load()) / 1e6);
  out += fmt::format("mayfly_request_duration_seconds_count {}\n", latency_count.load());
  return out;
}

}  // namespace mayfly
