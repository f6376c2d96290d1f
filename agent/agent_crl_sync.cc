// CRL and bundle refresh: fetch, verify, publish.
#include "agent_crl_sync.h"

#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include "agent_cert_check.h"
#include "agent_publish.h"
#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace {

// Writes `path` when its content differs from `data`; true when written.
Result<bool> PublishIfChanged(const std::string& path, const std::string& data) {
  if (path.empty()) return false;
  if (auto current = ReadFile(path); current && *current == data) return false;
  if (auto r = EnsureParentDirectory(path); !r) return std::unexpected(r.error());
  if (auto r = WriteFileAtomic(path, data, 0644); !r) return std::unexpected(r.error());
  return true;
}

// The CA's published intermediates (and cross certificates) that chain to
// the roots in `trust_pem`; the others are dropped with a warning.
Result<std::vector<OsslPtr<X509>>> FetchIntermediates(CaClient& client, const std::string& trust_pem) {
  std::string no_tag;
  auto answer = client.GetIfChanged("/v1/intermediates", no_tag);
  if (!answer) return WithContext(answer.error(), "fetching the CA's intermediates");
  std::vector<OsslPtr<X509>> verified;
  if (!answer->has_value() || (*answer)->empty()) return verified;
  auto certs = CertsFromPem(**answer);
  if (!certs) return WithContext(certs.error(), "the CA's intermediates");
  std::vector<std::string> pems;
  for (auto& cert : *certs) pems.push_back(CertToPem(cert.get()).value_or(""));
  for (size_t i = 0; i < certs->size(); ++i) {
    std::string chain = pems[i];
    for (size_t j = 0; j < pems.size(); ++j) chain += j == i ? "" : pems[j];
    if (auto r = VerifyIssued(chain, trust_pem); !r) {
      spdlog::warn("ignoring intermediate {} from the CA: {}", CertSerialHex((*certs)[i].get()), r.error().message);
      continue;
    }
    verified.push_back(std::move((*certs)[i]));
  }
  return verified;
}

}  // namespace

Result<void> VerifyCrls(const std::string& crl_pem, const std::vector<X509*>& issuers) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size())));
  if (!bio) return MakeError(ErrorCode::kCrypto, "out of memory");
  int count = 0;
  while (true) {
    OsslPtr<X509_CRL> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) break;
    ++count;
    bool verified = false;
    for (X509* issuer : issuers) {
      if (X509_NAME_cmp(X509_get_subject_name(issuer), X509_CRL_get_issuer(crl.get())) != 0) continue;
      EVP_PKEY* key = X509_get0_pubkey(issuer);
      if (key != nullptr && X509_CRL_verify(crl.get(), key) == 1) {
        verified = true;
        break;
      }
    }
    ERR_clear_error();
    if (!verified) {
      return MakeError(ErrorCode::kCrypto, "CRL #" + std::to_string(count) + " (issuer " +
                                               NameText(X509_CRL_get_issuer(crl.get())) +
                                               ") is not signed by a trusted root or known intermediate");
    }
  }
  ERR_clear_error();  // the end of the text reads as a PEM error
  if (count == 0) return MakeError(ErrorCode::kCrypto, "the CA's CRL answer holds no CRL");
  return Ok();
}

Result<SyncOutcome> SyncCrlAndBundle(CaClient& client, const AgentConfig& config, const StatePaths& paths,
                                     std::string& trust_pem, const std::vector<X509*>& intermediates) {
  SyncOutcome outcome;
  ETags tags = LoadETags(paths);

  // The bundle comes over a connection verified against the current roots,
  // so what it says replaces them (this is how a root rotation reaches us).
  std::string bundle_tag = ReadFile(paths.trust) ? tags.bundle : "";
  auto bundle = client.GetIfChanged("/v1/bundle", bundle_tag);
  if (!bundle) return std::unexpected(bundle.error());
  if (bundle->has_value()) {
    if (auto roots = CertsFromPem(**bundle); !roots) return WithContext(roots.error(), "the CA's bundle");
    if (**bundle != trust_pem) {
      if (auto r = WriteFileAtomic(paths.trust, **bundle, 0644); !r) return std::unexpected(r.error());
      trust_pem = **bundle;
      outcome.trust_changed = true;
    }
    tags.bundle = bundle_tag;
  }

  std::string crl_tag = ReadFile(paths.crl) ? tags.crl : "";
  auto crl = client.GetIfChanged("/v1/crl?format=pem", crl_tag);
  if (!crl) return std::unexpected(crl.error());
  if (crl->has_value()) {
    auto roots = CertsFromPem(trust_pem);
    if (!roots) return WithContext(roots.error(), "trusted roots");
    // During a rotation the CRLs of intermediates this agent holds no
    // certificate from yet are verified with the CA's published list.
    auto published = FetchIntermediates(client, trust_pem);
    if (!published) return std::unexpected(published.error());
    std::vector<X509*> issuers;
    for (auto& root : *roots) issuers.push_back(root.get());
    for (auto& inter : *published) issuers.push_back(inter.get());
    issuers.insert(issuers.end(), intermediates.begin(), intermediates.end());
    if (auto r = VerifyCrls(**crl, issuers); !r) return WithContext(r.error(), "refusing the CA's CRL");
    if (auto r = WriteFileAtomic(paths.crl, **crl, 0644); !r) return std::unexpected(r.error());
    tags.crl = crl_tag;
  }
  if (auto r = SaveETags(paths, tags); !r) return std::unexpected(r.error());

  auto written = PublishIfChanged(config.bundle_path, trust_pem);
  if (!written) return std::unexpected(written.error());
  outcome.bundle_written = *written;
  if (auto kept = ReadFile(paths.crl); kept) {
    written = PublishIfChanged(config.crl_path, *kept);
    if (!written) return std::unexpected(written.error());
    outcome.crl_written = *written;
  }
  return outcome;
}

}  // namespace mayfly::agent
