// The OCSP answer cache, the status of a serial and the responder certificates.
#include "ocsp_responder.h"

#include <spdlog/spdlog.h>

#include "ca_runtime.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// A responder certificate lives this many response validities (at least a
// day) and is renewed at half its life, so every response it signs ends
// before it does.
Duration ResponderTtl(Duration validity) { return std::max<Duration>(std::chrono::hours(24), validity * 4); }

constexpr auto kBackdate = std::chrono::minutes(1);

}  // namespace

OcspResponder::OcspResponder(CaRuntime& rt, Duration validity, std::string state_dir, std::string passphrase_file)
    : rt_(rt), validity_(validity), state_dir_(std::move(state_dir)), passphrase_file_(std::move(passphrase_file)) {}

Result<std::unique_ptr<OcspResponder>> OcspResponder::Create(CaRuntime& rt, Duration validity,
                                                             std::string state_dir, std::string passphrase_file) {
  std::unique_ptr<OcspResponder> r(
      new OcspResponder(rt, validity, std::move(state_dir), std::move(passphrase_file)));
  const std::pair<int, std::shared_ptr<const std::string>*> fixed[] = {
      {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, &r->malformed_},
      {OCSP_RESPONSE_STATUS_UNAUTHORIZED, &r->unauthorized_},
      {OCSP_RESPONSE_STATUS_TRYLATER, &r->try_later_},
      {OCSP_RESPONSE_STATUS_INTERNALERROR, &r->internal_}};
  for (const auto& [status, out] : fixed) {
    auto der = OcspErrorResponse(status);
    if (!der) return std::unexpected(der.error());
    *out = std::make_shared<const std::string>(std::move(*der));
  }
  r->unknown_refill_ = rt.clock().Now();
  return r;
}

OcspAnswer OcspResponder::Fixed(OcspOutcome outcome) const {
  const auto& der = outcome == OcspOutcome::kMalformed      ? malformed_
                    : outcome == OcspOutcome::kUnauthorized ? unauthorized_
                    : outcome == OcspOutcome::kTryLater     ? try_later_
                                                            : internal_;
  return OcspAnswer{.der = der, .outcome = outcome, .next_update = {}};
}

OcspAnswer OcspResponder::Malformed() {
  rt_.metrics().CountOcsp(OcspOutcome::kMalformed);
  return Fixed(OcspOutcome::kMalformed);
}

Result<std::shared_ptr<const OcspResponder::IssuerIndex>> OcspResponder::Index() {
  auto view = rt_.ca();
  std::lock_guard lock(index_mu_);
  if (index_ && index_->view == view) return index_;
  auto index = std::make_shared<IssuerIndex>();
  index->view = view;
  for (const auto& issuer : view->crl_issuers) {
    const CaCertRecord* record = nullptr;
    for (const CaCertRecord& r : view->records) {
      if (r.key_id == issuer->id() && r.role == CaRole::kIntermediate) record = &r;
    }
    auto hashes = HashOcspIssuer(issuer->cert());
    OsslPtr<X509> cert(X509_dup(issuer->cert()));
    if (!hashes) return std::unexpected(hashes.error());
    if (!cert) return OpensslError("copying an issuer certificate");
    index->issuers.push_back(IssuerEntry{.id = issuer->id(), .hashes = std::move(*hashes), .cert = std::move(cert),
                                         .record = record, .issuer = issuer});
  }
  for (const CaCertRecord& r : view->records) {
    if (r.role != CaRole::kRoot || !IsPublished(r.state)) continue;
    auto cert = CertFromDer(r.der);
    if (!cert) return std::unexpected(cert.error());
    auto hashes = HashOcspIssuer(cert->get());
    if (!hashes) return std::unexpected(hashes.error());
    index->issuers.push_back(
        IssuerEntry{.id = r.key_id, .hashes = std::move(*hashes), .cert = std::move(*cert), .record = &r});
  }
  // What a rotation step changes (an intermediate revoked, an issuer gone)
  // is in answers made under the old view: start over.
  {
    std::unique_lock cache_lock(cache_mu_);
    cache_.clear();
  }
  index_ = std::move(index);
  return index_;
}

std::optional<OcspAnswer> OcspResponder::Lookup(const std::string& key, const IssuerEntry& issuer,
                                                const std::string& serial, TimePoint now) const {
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  const Cached& c = it->second;
  if (now >= c.this_update + validity_ / 2) return std::nullopt;
  // The revocation cache is what a revocation, here or on another instance,
  // updates first: an answer saying good about a serial it lists is stale.
  if (c.outcome == OcspOutcome::kGood && issuer.issuer && rt_.revocations().IsRevoked(serial)) return std::nullopt;
  return OcspAnswer{.der = c.der, .outcome = c.outcome, .next_update = c.next_update};
}

OcspAnswer OcspResponder::Respond(std::string_view request_der) {
  auto query = ParseOcspRequest(request_der);
  if (!query) return Malformed();
  auto index = Index();
  if (!index) {
    spdlog::error("OCSP: {}", index.error().ToString());
    return Fixed(OcspOutcome::kTryLater);
  }
  const IssuerEntry* issuer = nullptr;
  for (const IssuerEntry& e : (*index)->issuers) {
    if (e.hashes.Matches(*query)) {
      issuer = &e;
      break;
    }
  }
  if (issuer == nullptr) {
    rt_.metrics().CountOcsp(OcspOutcome::kUnauthorized);
    return Fixed(OcspOutcome::kUnauthorized);
  }
  const std::string key = issuer->id + "/" + std::string(OcspHashName(query->hash)) + "/" + query->serial;
  auto answer = Lookup(key, *issuer, query->serial, rt_.clock().Now());
  if (!answer) {
    auto built = Build(key, **index, *issuer, *query);
    if (!built) {
      spdlog::error("OCSP answer for serial {}: {}", query->serial, built.error().ToString());
      rt_.metrics().CountOcsp(OcspOutcome::kTryLater);
      return Fixed(OcspOutcome::kTryLater);
    }
    answer = std::move(*built);
  }
  rt_.metrics().CountOcsp(answer->outcome);
  return *answer;
}

Result<OcspStatus> OcspResponder::StatusOf(const IssuerIndex& index, const IssuerEntry& issuer,
                                           const std::string& serial, TimePoint now) {
  if (!issuer.issuer) {
    // A root answers for the intermediates (and cross certificates) it signed.
    for (const CaCertRecord& r : index.view->records) {
      if (r.role == CaRole::kRoot || r.issuer_key_id != issuer.id || r.serial != serial) continue;
      if (r.state == CaState::kRevoked) {
        return OcspStatus{.kind = OcspStatus::kRevoked, .revoked_at = FromUnixSeconds(r.changed_at),
                          .reason = RevocationReason::kCaCompromise};
      }
      if (now > FromUnixSeconds(r.not_after)) break;
      return OcspStatus{.kind = OcspStatus::kGood};
    }
    return OcspStatus{};
  }
  auto record = rt_.store().GetCertificate(serial);
  if (!record) return std::unexpected(record.error());
  if (!*record || (*record)->issuer != issuer.id) return OcspStatus{};
  if ((*record)->revoked_at) {
    return OcspStatus{.kind = OcspStatus::kRevoked, .revoked_at = FromUnixSeconds(*(*record)->revoked_at),
                      .reason = (*record)->reason};
  }
  // After expiry a certificate is nobody's business: unknown (a revoked one
  // stays revoked above).
  if (now > FromUnixSeconds((*record)->not_after)) return OcspStatus{};
  return OcspStatus{.kind = OcspStatus::kGood};
}

bool OcspResponder::TakeUnknownToken(TimePoint now) {
  const double elapsed = std::chrono::duration<double>(now - unknown_refill_).count();
  unknown_refill_ = now;
  unknown_tokens_ = std::min(kUnknownPerSecond, unknown_tokens_ + std::max(0.0, elapsed) * kUnknownPerSecond);
  if (unknown_tokens_ < 1) return false;
  unknown_tokens_ -= 1;
  return true;
}

Result<OcspResponder::Responder*> OcspResponder::ResponderFor(const IssuerEntry& issuer, TimePoint now) {
  auto it = responders_.find(issuer.id);
  if (it != responders_.end() && now < it->second.renew_at) return &it->second;
  // A root's key is read (and decrypted) only to sign its responder
  // certificate, and dropped at the end of this scope.
  OsslPtr<EVP_PKEY> root_key;
  EVP_PKEY* signing_key = nullptr;
  if (issuer.issuer) {
    signing_key = const_cast<EVP_PKEY*>(issuer.issuer->key());
  } else {
    auto passphrase = Passphrase::Read(passphrase_file_);
    if (!passphrase) return WithContext(passphrase.error(), "reading the CA key passphrase for the root's OCSP responder");
    auto key = LoadCaKey(*issuer.record, state_dir_, *passphrase);
    if (!key) return WithContext(key.error(), "loading the root key " + CaKeyPlace(*issuer.record, state_dir_));
    root_key = std::move(*key);
    signing_key = root_key.get();
  }
  auto key = GenerateKey(KeyType::kEcdsaP256);
  if (!key) return std::unexpected(key.error());
  auto cert = IssueOcspResponderCert(issuer.cert.get(), signing_key, key->get(), ResponderTtl(validity_), kBackdate, now);
  if (!cert) return std::unexpected(cert.error());
  rt_.metrics().ocsp_signatures.fetch_add(1, std::memory_order_relaxed);
  const TimePoint not_after = CertNotAfter(cert->get());
  Responder responder{.cert = std::move(*cert), .key = std::move(*key), .renew_at = now + (not_after - now) / 2,
                      .not_after = not_after};
  spdlog::info("issued the OCSP responder certificate {} for CA {} (until {})", CertSerialHex(responder.cert.get()),
               issuer.id, FormatRfc3339(not_after));
  rt_.audit().Record(AuditEvent{.time = ToUnixSeconds(now), .type = "issue", .actor = "mayfly-ca",
                                .subject = "ocsp-responder", .result = "ok",
                                .detail = AuditDetail({{"serial", CertSerialHex(responder.cert.get())},
                                                       {"kind", "ocsp_responder"},
                                                       {"issuer", issuer.id},
                                                       {"not_after", FormatRfc3339(not_after)}})});
  auto [slot, inserted] = responders_.insert_or_assign(issuer.id, std::move(responder));
  return &slot->second;
}

Result<OcspAnswer> OcspResponder::Build(const std::string& key, const IssuerIndex& index, const IssuerEntry& issuer,
                                        const OcspQuery& query) {
  std::lock_guard lock(build_mu_);
  const TimePoint now = rt_.clock().Now();
  // Another request may have built it while this one waited.
  if (auto answer = Lookup(key, issuer, query.serial, now)) return *answer;
  auto status = StatusOf(index, issuer, query.serial, now);
  if (!status) return std::unexpected(status.error());
  if (status->kind == OcspStatus::kUnknown && !TakeUnknownToken(now)) return Fixed(OcspOutcome::kTryLater);
  auto responder = ResponderFor(issuer, now);
  if (!responder) return std::unexpected(responder.error());
  const TimePoint next_update = std::min(now + validity_, (*responder)->not_after);
  auto der = BuildOcspResponse(query, *status, now, next_update, (*responder)->cert.get(), (*responder)->key.get(),
                               {issuer.cert.get()});
  if (!der) return std::unexpected(der.error());
  rt_.metrics().ocsp_signatures.fetch_add(1, std::memory_order_relaxed);
  const OcspOutcome outcome = status->kind == OcspStatus::kGood      ? OcspOutcome::kGood
                              : status->kind == OcspStatus::kRevoked ? OcspOutcome::kRevoked
                                                                     : OcspOutcome::kUnknown;
  Cached cached{.der = std::make_shared<const std::string>(std::move(*der)), .outcome = outcome,
                .this_update = now, .next_update = next_update};
  {
    std::unique_lock cache_lock(cache_mu_);
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_.insert_or_assign(key, cached);
  }
  return OcspAnswer{.der = cached.der, .outcome = outcome, .next_update = next_update};
}

}  // namespace mayfly
