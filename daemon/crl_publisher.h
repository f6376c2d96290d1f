// The intermediate's CRL, signed on demand and served from memory.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "mayfly/clock.h"
#include "mayfly/config.h"
#include "mayfly/error.h"
#include "mayfly/issuer.h"
#include "mayfly/store.h"
#include "metrics.h"

namespace mayfly {

// One published CRL generation; immutable once built.
struct CrlSnapshot {
  int64_t number = 0;
  TimePoint this_update;
  TimePoint next_update;
  std::string der;        // the intermediate's CRL: the GET /v1/crl body
  std::string pem;        // intermediate CRL PEM + root CRL PEM: ?format=pem
  std::string der_etag;   // "\"<hex SHA-256 of der>\""
  std::string pem_etag;   // "\"<hex SHA-256 of pem>\""
};

class CrlPublisher {
 public:
  // `issuer` must outlive the publisher; `root_crl_pem` is root.crl.pem as
  // read at start (the root CRL changes only offline). Signs the first CRL.
  [[nodiscard]] static Result<std::unique_ptr<CrlPublisher>> Create(Store& store, const Issuer& issuer,
                                                                    std::string root_crl_pem,
                                                                    Duration next_update, const Clock& clock,
                                                                    Metrics& metrics);

  // Signs a new CRL listing every revoked, unexpired certificate of this
  // issuer, with the store's next CRL number, thisUpdate = now and
  // nextUpdate = now + [crl] next_update, and makes it current. Called after
  // every revocation and on the [crl] interval timer. Serialised, so CRL
  // numbers and snapshots advance together. On failure the previous CRL
  // stays current.
  [[nodiscard]] Result<void> Regenerate();

  // The CRL being served; never null after Create.
  std::shared_ptr<const CrlSnapshot> Current() const;

 private:
  CrlPublisher(Store& store, const Issuer& issuer, std::string root_crl_pem, Duration next_update,
               const Clock& clock, Metrics& metrics);

  Store& store_;
  const Issuer& issuer_;
  const std::string root_crl_pem_;
  const Duration next_update_;
  const Clock& clock_;
  Metrics& metrics_;
  std::mutex regenerate_mu_;        // one signing at a time
  mutable std::mutex current_mu_;   // guards current_ only; readers never wait on signing
  std::shared_ptr<const CrlSnapshot> current_;
};

// Quoted lowercase hex SHA-256 of `body`, an HTTP entity tag.
std::string EntityTag(std::string_view body);

}  // namespace mayfly
