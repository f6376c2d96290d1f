// Audit events: their log line, and their row through the commit queue.
#include "audit_log.h"

#include <spdlog/spdlog.h>

#include "mayfly/identity.h"

namespace mayfly {

void AuditLog::LogLine(const AuditEvent& event) {
  // Every field is quoted: actor and subject may carry caller-chosen text.
  const auto level = event.result == "ok" ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "audit type={} actor={} subject={} result={} detail={}", event.type,
              QuoteForMessage(event.actor, 300), QuoteForMessage(event.subject, 300), event.result,
              QuoteForMessage(event.detail, 1000));
}

void AuditLog::Record(AuditEvent event) {
  LogLine(event);
  // While the store is away every event fails: one error line when that
  // starts, one when events are stored again; the log lines and the failure
  // counter keep the rest.
  queue_.SubmitAudit(std::move(event), [this](Result<void> stored) {
    if (!stored) {
      metrics_.audit_write_failures.fetch_add(1, std::memory_order_relaxed);
      if (lost_++ == 0) spdlog::error("audit: could not store an event: {}", stored.error().ToString());
    } else if (lost_ > 0) {
      spdlog::info("audit: storing events again; {} event(s) could not be stored (their log lines remain)", lost_);
      lost_ = 0;
    }
  });
}

}  // namespace mayfly
