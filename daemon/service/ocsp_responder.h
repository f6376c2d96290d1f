// Answers OCSP requests from memory: one signed response per (issuer, hash,
// serial), made on first request and again when half its validity has
// passed or the serial's status changed; delegated responder certificates
// per issuer, renewed before they expire. docs/ocsp.md says why each choice.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mayfly/ca_view.h"
#include "mayfly/clock.h"
#include "mayfly/config.h"
#include "mayfly/ocsp.h"
#include "metrics.h"

namespace mayfly {

class CaRuntime;

// One answer: the DER OCSPResponse, what it says, and until when it holds
// (the Cache-Control max-age of a GET).
struct OcspAnswer {
  std::shared_ptr<const std::string> der;
  OcspOutcome outcome = OcspOutcome::kMalformed;
  TimePoint next_update{};
};

class OcspResponder {
 public:
  // At most this many cached responses; a full cache starts over.
  static constexpr size_t kMaxCached = 100000;
  // Responses about serials no issuer of ours recorded are signed at most
  // this many per second (burst as many); beyond, tryLater.
  static constexpr double kUnknownPerSecond = 20;

  // `rt` must outlive it. Makes the constant error responses; kCrypto when
  // OpenSSL cannot.
  [[nodiscard]] static Result<std::unique_ptr<OcspResponder>> Create(CaRuntime& rt, Duration validity,
                                                                     std::string state_dir,
                                                                     std::string passphrase_file);

  // Answers a DER OCSPRequest; never fails (an internal error is the
  // internalError response). Thread-safe; signs only on a cache miss.
  OcspAnswer Respond(std::string_view request_der);

  // The error answer for a request that could not even be read (a GET
  // path that is not base64).
  OcspAnswer Malformed();

 private:
  // One CA certificate whose certificates we answer for.
  struct IssuerEntry {
    std::string id;                       // hex SKI
    OcspIssuerHashes hashes;
    OsslPtr<X509> cert;
    const CaCertRecord* record = nullptr;  // in index->view
    std::shared_ptr<const Issuer> issuer;  // intermediates: its key signs the responder certificate
  };
  struct IssuerIndex {
    std::shared_ptr<const CaView> view;
    std::vector<IssuerEntry> issuers;     // published intermediates, then published roots
  };
  struct Cached {
    std::shared_ptr<const std::string> der;
    OcspOutcome outcome;
    TimePoint this_update;
    TimePoint next_update;
  };
  struct Responder {
    OsslPtr<X509> cert;
    OsslPtr<EVP_PKEY> key;
    TimePoint renew_at;
    TimePoint not_after;
  };

  OcspResponder(CaRuntime& rt, Duration validity, std::string state_dir, std::string passphrase_file);
  [[nodiscard]] Result<std::shared_ptr<const IssuerIndex>> Index();
  // The cached answer for `key` when still fresh and not contradicted by the
  // revocation cache.
  std::optional<OcspAnswer> Lookup(const std::string& key, const IssuerEntry& issuer, const std::string& serial,
                                   TimePoint now) const;
  [[nodiscard]] Result<OcspAnswer> Build(const std::string& key, const IssuerIndex& index,
                                         const IssuerEntry& issuer, const OcspQuery& query);
  [[nodiscard]] Result<OcspStatus> StatusOf(const IssuerIndex& index, const IssuerEntry& issuer,
                                            const std::string& serial, TimePoint now);
  // Under build_mu_: the responder certificate for `issuer`, (re)issued when
  // missing or past half its life.
  [[nodiscard]] Result<Responder*> ResponderFor(const IssuerEntry& issuer, TimePoint now);
  bool TakeUnknownToken(TimePoint now);
  OcspAnswer Fixed(OcspOutcome outcome) const;

  CaRuntime& rt_;
  const Duration validity_;
  const std::string state_dir_;
  const std::string passphrase_file_;
  std::shared_ptr<const std::string> malformed_, unauthorized_, try_later_, internal_;

  std::mutex index_mu_;
  std::shared_ptr<const IssuerIndex> index_;

  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;

  std::mutex build_mu_;  // one signing at a time; guards what follows
  std::map<std::string, Responder> responders_;  // by issuer id
  double unknown_tokens_ = kUnknownPerSecond;
  TimePoint unknown_refill_{};
};

}  // namespace mayfly
