// Building, numbering and swapping in the intermediate's CRL.
#include "crl_publisher.h"

#include <openssl/sha.h>

#include "mayfly/crl.h"
#include "mayfly/x509_util.h"

namespace mayfly {

std::string EntityTag(std::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return "\"" + HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest))) + "\"";
}

CrlPublisher::CrlPublisher(Store& store, const Issuer& issuer, std::string root_crl_pem, Duration next_update,
                           const Clock& clock, Metrics& metrics)
    : store_(store),
      issuer_(issuer),
      root_crl_pem_(std::move(root_crl_pem)),
      next_update_(next_update),
      clock_(clock),
      metrics_(metrics) {}

Result<std::unique_ptr<CrlPublisher>> CrlPublisher::Create(Store& store, const Issuer& issuer,
                                                           std::string root_crl_pem, Duration next_update,
                                                           const Clock& clock, Metrics& metrics) {
  std::unique_ptr<CrlPublisher> publisher(
      new CrlPublisher(store, issuer, std::move(root_crl_pem), next_update, clock, metrics));
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
  auto revoked = store_.ListRevokedUnexpired(issuer_.id(), ToUnixSeconds(now));
  if (!revoked) return fail(revoked.error());
  auto number = store_.NextCrlNumber();
  if (!number) return fail(number.error());
  CrlSpec spec{.number = *number, .this_update = now, .next_update = now + next_update_,
               .revoked = ToCrlEntries(*revoked)};
  auto crl = BuildCrl(issuer_.cert(), issuer_.key(), spec);
  if (!crl) return fail(crl.error());

  auto snapshot = std::make_shared<CrlSnapshot>();
  snapshot->number = spec.number;
  snapshot->this_update = spec.this_update;
  snapshot->next_update = spec.next_update;
  snapshot->pem = crl->pem + root_crl_pem_;
  snapshot->der = std::move(crl->der);
  snapshot->der_etag = EntityTag(snapshot->der);
  snapshot->pem_etag = EntityTag(snapshot->pem);
  {
    std::lock_guard current_lock(current_mu_);
    current_ = std::move(snapshot);
  }
  metrics_.crl_number.store(spec.number, std::memory_order_relaxed);
  metrics_.crl_regenerations.fetch_add(1, std::memory_order_relaxed);
  return Ok();
}

std::shared_ptr<const CrlSnapshot> CrlPublisher::Current() const {
  std::lock_guard lock(current_mu_);
  return current_;
}

}  // namespace mayfly
