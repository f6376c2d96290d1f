#include "issuance_hooks.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "mayfly/issuance_tamper.h"

namespace mayfly {
namespace {

// Both are set rarely (daemon start, tests) and read on every issuance:
// a shared_ptr snapshot under a mutex only when one is installed.
std::mutex hooks_mutex;
std::atomic<bool> tamper_set{false};
std::shared_ptr<testing::IssuanceTamper> tamper;
uint64_t next_observer_id = 1;
std::map<uint64_t, std::shared_ptr<const IssuanceCheckObserver>> observers;

}  // namespace

void testing::SetIssuanceTamper(IssuanceTamper t) {
  std::lock_guard lock(hooks_mutex);
  tamper = t ? std::make_shared<IssuanceTamper>(std::move(t)) : nullptr;
  tamper_set.store(tamper != nullptr, std::memory_order_release);
}

ScopedIssuanceCheckObserver::ScopedIssuanceCheckObserver(IssuanceCheckObserver observer) {
  std::lock_guard lock(hooks_mutex);
  id_ = next_observer_id++;
  observers.emplace(id_, std::make_shared<const IssuanceCheckObserver>(std::move(observer)));
}

ScopedIssuanceCheckObserver::~ScopedIssuanceCheckObserver() {
  std::lock_guard lock(hooks_mutex);
  observers.erase(id_);
}

namespace detail {

void ApplyIssuanceTamper(std::string_view kind, std::string& der) {
  if (!tamper_set.load(std::memory_order_acquire)) return;
  std::shared_ptr<testing::IssuanceTamper> t;
  {
    std::lock_guard lock(hooks_mutex);
    t = tamper;
  }
  if (t) (*t)(kind, der);
}

std::unexpected<Error> IssuanceCheckFailed(IssuanceCheckFailure failure) {
  std::vector<std::shared_ptr<const IssuanceCheckObserver>> told;
  {
    std::lock_guard lock(hooks_mutex);
    for (const auto& [id, o] : observers) told.push_back(o);
  }
  std::string message = "issuance check failed for " + failure.kind;
  if (!failure.subject.empty()) message += " " + failure.subject;
  message += ": " + failure.field + ": expected " + failure.expected + ", found " + failure.found;
  for (const auto& o : told) {
    if (*o) (*o)(failure);
  }
  return MakeError(ErrorCode::kInternal, std::move(message));
}

}  // namespace detail
}  // namespace mayfly
