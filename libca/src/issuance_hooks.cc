#include "issuance_hooks.h"

#include <atomic>
#include <memory>
#include <mutex>

#include "mayfly/issuance_tamper.h"

namespace mayfly {
namespace {

// Both are set rarely (daemon start, tests) and read on every issuance:
// a shared_ptr snapshot under a mutex only when one is installed.
std::mutex hooks_mutex;
std::atomic<bool> tamper_set{false};
std::shared_ptr<testing::IssuanceTamper> tamper;
std::shared_ptr<IssuanceCheckObserver> observer;

}  // namespace

void testing::SetIssuanceTamper(IssuanceTamper t) {
  std::lock_guard lock(hooks_mutex);
  tamper = t ? std::make_shared<IssuanceTamper>(std::move(t)) : nullptr;
  tamper_set.store(tamper != nullptr, std::memory_order_release);
}

void SetIssuanceCheckObserver(IssuanceCheckObserver o) {
  std::lock_guard lock(hooks_mutex);
  observer = o ? std::make_shared<IssuanceCheckObserver>(std::move(o)) : nullptr;
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
  std::shared_ptr<IssuanceCheckObserver> o;
  {
    std::lock_guard lock(hooks_mutex);
    o = observer;
  }
  std::string message = "issuance check failed for " + failure.kind;
  if (!failure.subject.empty()) message += " " + failure.subject;
  message += ": " + failure.field + ": expected " + failure.expected + ", found " + failure.found;
  if (o) (*o)(failure);
  return MakeError(ErrorCode::kInternal, std::move(message));
}

}  // namespace detail
}  // namespace mayfly
