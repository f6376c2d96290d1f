// The CRLs of every published intermediate, signed on demand and served
// from memory with the roots' CRLs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "mayfly/ca_view.h"
#include "mayfly/clock.h"
#include "mayfly/config.h"
#include "mayfly/error.h"
#include "mayfly/store.h"
#include "metrics.h"

namespace mayfly {

// One published CRL generation; immutable once built.
struct CrlSnapshot {
  int64_t number = 0;
  TimePoint this_update;
  TimePoint next_update;
  std::string der;        // the active intermediate's CRL: the GET /v1/crl body
  std::string pem;        // each published intermediate's CRL, then each root's: ?format=pem
  std::string der_etag;   // "\"<hex SHA-256 of der>\""
  std::string pem_etag;   // "\"<hex SHA-256 of pem>\""
};

class CrlPublisher {
 public:
  // `view` returns the CA view in force (read under the signing lock, so a
  // rotation's CRLs are never replaced by an older view's). Signs the first
  // CRLs.
  using ViewSource = std::function<std::shared_ptr<const CaView>()>;
  [[nodiscard]] static Result<std::unique_ptr<CrlPublisher>> Create(Store& store, ViewSource view,
                                                                    Duration next_update, const Clock& clock,
                                                                    Metrics& metrics);

  // Signs, for each published intermediate, a new CRL listing every revoked,
  // unexpired certificate it issued, each with the store's next CRL number,
  // thisUpdate = now and nextUpdate = now + [crl] next_update, and makes them
  // current. Called after every revocation, every rotation step and on the
  // [crl] interval timer. Serialised, so CRL numbers and snapshots advance
  // together. On failure the previous CRLs stay current.
  [[nodiscard]] Result<void> Regenerate();

  // The CRL being served; never null after Create.
  std::shared_ptr<const CrlSnapshot> Current() const;

 private:
  CrlPublisher(Store& store, ViewSource view, Duration next_update, const Clock& clock, Metrics& metrics);

  Store& store_;
  const ViewSource view_;
  const Duration next_update_;
  const Clock& clock_;
  Metrics& metrics_;
  std::mutex regenerate_mu_;        // one signing at a time
  mutable std::mutex current_mu_;   // guards current_ only; readers never wait on signing
  std::shared_ptr<const CrlSnapshot> current_;
};

}  // namespace mayfly
