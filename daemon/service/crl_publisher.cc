// Building, numbering and swapping in the intermediates' CRLs.
#include "crl_publisher.h"

#include <openssl/sha.h>

#include "mayfly/crl.h"
#include "mayfly/x509_util.h"

namespace mayfly {

CrlPublisher::CrlPublisher(Store& store, ViewSource view, Duration next_update, const Clock& clock,
                           Metrics& metrics)
    : store_(store),
      view_(std::move(view)),
      next_update_(next_update),
      clock_(clock),
      metrics_(metrics) {}

Result<std::unique_ptr<CrlPublisher>> CrlPublisher::Create(Store& store, ViewSource view, Duration next_update,
                                                           const Clock& clock, Metrics& metrics) {
  std::unique_ptr<CrlPublisher> publisher(new CrlPublisher(store, std::move(view), next_update, clock, metrics));
  if (auto r = publisher->Regenerate(); !r) return WithContext(r.error(), "signing the first CRL");
  return publisher;
}

Result<void> CrlPublisher::Regenerate() {
  std::lock_guard lock(regenerate_mu_);
  auto fail = [&](Error error) {
    metrics_.crl_failures.fetch_add(1, std::memory_order_relaxed);
    return WithContext(std::move(error), "regenerating the CRL");
  };
  const TimePoint now = std::chrono::floor<Seconds>(clock_.Now());
  const std::shared_ptr<const CaView> view = view_();
  auto snapshot = std::make_shared<CrlSnapshot>();
  snapshot->this_update = now;
  snapshot->next_update = now + next_update_;
  for (const auto& issuer : view->crl_issuers) {
    auto contents = store_.NextCrl(issuer->id(), ToUnixSeconds(now));
    if (!contents) return fail(contents.error());
    CrlSpec spec{.number = contents->number, .this_update = now, .next_update = snapshot->next_update,
                 .revoked = ToCrlEntries(contents->revoked)};
    auto crl = BuildCrl(issuer->cert(), issuer->key(), spec);
    if (!crl) return fail(crl.error());
    snapshot->pem += crl->pem;
    if (issuer == view->active) {
      snapshot->number = spec.number;
      snapshot->der = std::move(crl->der);
    }
  }
  snapshot->pem += view->root_crls_pem;
  snapshot->der_etag = EntityTag(snapshot->der);
  snapshot->pem_etag = EntityTag(snapshot->pem);
  const int64_t number = snapshot->number;
  {
    std::lock_guard current_lock(current_mu_);
    current_ = std::move(snapshot);
  }
  metrics_.crl_number.store(number, std::memory_order_relaxed);
  metrics_.crl_regenerations.fetch_add(1, std::memory_order_relaxed);
  return Ok();
}

std::shared_ptr<const CrlSnapshot> CrlPublisher::Current() const {
  std::lock_guard lock(current_mu_);
  return current_;
}

}  // namespace mayfly
