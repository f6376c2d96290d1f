// Counters the daemon exposes on /metrics, kept as atomics so handlers never lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "mayfly/error.h"

namespace mayfly {

// What an issuance was for; the `route` label of mayfly_issuances_total.
enum class IssueRoute { kEnroll, kRenew, kSign, kServer, kRecover };
inline constexpr size_t kIssueRouteCount = 5;
std::string_view IssueRouteName(IssueRoute route);

// What a failed pre-issuance check was for: the `kind` label of
// mayfly_issuance_check_failures_total (the check kinds of issuance_check.h).
inline constexpr std::array<std::string_view, 6> kIssuanceCheckKinds = {"leaf",  "root", "intermediate",
                                                                         "cross", "crl",  "ocsp_responder"};
// The anomaly kinds (anomaly_detector.h, in AnomalyKind order): the `kind`
// label of mayfly_anomalies_total.
inline constexpr std::array<std::string_view, 5> kAnomalyKinds = {
    "issuance_surge", "new_identity", "new_source_address", "refusal_burst", "enroll_failure_burst"};
// What an OCSP answer said; the `status` label of mayfly_ocsp_responses_total.
enum class OcspOutcome { kGood, kRevoked, kUnknown, kUnauthorized, kMalformed, kTryLater };
inline constexpr size_t kOcspOutcomeCount = 6;

// Every field is safe to bump from any thread. Prometheus text comes from a
// consistent-enough snapshot (each counter read once; no cross-counter lock).
struct Metrics {
  static constexpr size_t kErrorCodeCount = static_cast<size_t>(ErrorCode::kInternal) + 1;
  // Upper bounds (seconds) of the request latency histogram; +Inf is implied.
  static constexpr std::array<double, 10> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,  0.1,    0.25,  1.0,  5.0};

  std::array<std::atomic<uint64_t>, kIssueRouteCount> issued_ok{};
  std::array<std::atomic<uint64_t>, kIssueRouteCount> issued_error{};
  // Refused calls by error code (rate limited included, as rate_limited).
  std::array<std::atomic<uint64_t>, kErrorCodeCount> refused{};
  std::array<std::atomic<uint64_t>, kIssueRouteCount> rate_limited{};
  std::atomic<uint64_t> revocations{0};         // certificates revoked
  std::atomic<uint64_t> tokens_created{0};
  std::atomic<int64_t> crl_number{0};           // of the CRL being served
  std::atomic<uint64_t> crl_regenerations{0};
  std::atomic<uint64_t> crl_failures{0};
  std::atomic<uint64_t> audit_write_failures{0};
  std::array<std::atomic<uint64_t>, kIssuanceCheckKinds.size()> issuance_check_failures{};
  std::array<std::atomic<uint64_t>, kOcspOutcomeCount> ocsp_responses{};
  std::atomic<uint64_t> ocsp_signatures{0};     // OCSP responses and responder certificates signed
  std::atomic<uint64_t> jwt_svids{0};           // JWT-SVIDs signed
  std::array<std::atomic<uint64_t>, kAnomalyKinds.size()> anomalies{};  // by kAnomalyKinds index

  // Requests answered on the API and admin listeners, and how long they took.
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_us{0};

  void CountIssue(IssueRoute route, bool ok);
  void CountRefused(ErrorCode code);
  void CountIssuanceCheckFailure(std::string_view kind);
  void CountOcsp(OcspOutcome outcome) {
    ocsp_responses[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  void CountAnomaly(size_t kind_index) { anomalies.at(kind_index).fetch_add(1, std::memory_order_relaxed); }
  void ObserveLatency(std::chrono::steady_clock::duration d);

  // The Prometheus text exposition format (version 0.0.4), every series
  // prefixed "mayfly_".
  std::string PrometheusText() const;
};

// Appends one unlabelled series, with its HELP and TYPE lines, to `out`.
void AppendMetric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                  uint64_t value);

// One series of a labelled family: its label's value and the count.
struct LabelledValue {
  std::string_view label_value;
  uint64_t value;
};
// Appends a family with one label (every series, zeros included, so that a
// rate() sees each from the start), with its HELP and TYPE lines, to `out`.
void AppendLabelledMetric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                          std::string_view label, std::initializer_list<LabelledValue> series);

}  // namespace mayfly
