// The audit writer thread: batches queued events into one store transaction.
#include "audit_log.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <vector>

#include "mayfly/identity.h"

namespace mayfly {
namespace {

// Bounds one transaction so a backlog drains in steps, not one huge write.
constexpr size_t kMaxBatch = 512;

}  // namespace

AuditLog::AuditLog(Store& store, Metrics& metrics)
    : store_(store), metrics_(metrics), thread_([this] { Run(); }) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void AuditLog::LogLine(const AuditEvent& event) {
  // Every field is quoted: actor and subject may carry caller-chosen text.
  const auto level = event.result == "ok" ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "audit type={} actor={} subject={} result={} detail={}", event.type,
              QuoteForMessage(event.actor, 300), QuoteForMessage(event.subject, 300), event.result,
              QuoteForMessage(event.detail, 1000));
}

void AuditLog::Record(AuditEvent event) {
  LogLine(event);
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event));
    ++recorded_;
  }
  work_cv_.notify_one();
}

void AuditLog::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = recorded_;
  idle_cv_.wait(lock, [&] { return written_ >= target; });
}

void AuditLog::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::vector<AuditEvent> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    // While the store is away every batch fails: one error line when that
    // starts, one when events are stored again; the log lines and the
    // failure counter keep the rest.
    if (auto r = store_.RecordIssuance({}, batch); !r) {
      metrics_.audit_write_failures.fetch_add(batch.size(), std::memory_order_relaxed);
      if (lost_ == 0) spdlog::error("audit: could not store {} event(s): {}", batch.size(), r.error().ToString());
      lost_ += batch.size();
    } else if (lost_ > 0) {
      spdlog::info("audit: storing events again; {} event(s) could not be stored (their log lines remain)", lost_);
      lost_ = 0;
    }
    lock.lock();
    written_ += batch.size();
    idle_cv_.notify_all();
  }
}

std::string AuditDetail(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  boost::json::object object;
  for (const auto& [key, value] : fields) object[key] = value;
  return boost::json::serialize(object);
}

}  // namespace mayfly
