// CRL and bundle refresh: fetch, verify, publish.
#include "agent_crl_sync.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

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

// A CRL's issuer as CheckCrlNumbers tells issuers apart: the DER of its name
// (self-delimiting) then the key id of its authority key identifier (a
// rotated CA may keep its name).
std::string CrlIssuerKey(const X509_CRL* crl) {
  std::string key;
  const unsigned char* der = nullptr;
  size_t len = 0;
  if (X509_NAME_get0_der(X509_CRL_get_issuer(crl), &der, &len) == 1) {
    key.assign(reinterpret_cast<const char*>(der), len);
  }
  OsslPtr<AUTHORITY_KEYID> aki(
      static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr)));
  if (aki && aki->keyid != nullptr) {
    key.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki->keyid)),
               static_cast<size_t>(ASN1_STRING_length(aki->keyid)));
  }
  ERR_clear_error();
  return key;
}

// A CRL's CRLNumber extension; null when absent.
OsslPtr<ASN1_STRING> CrlNumber(const X509_CRL* crl) {
  return OsslPtr<ASN1_STRING>(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
}

std::string NumberText(const ASN1_INTEGER* number) {
  if (number == nullptr) return "none";
  OsslPtr<BIGNUM> bn(ASN1_INTEGER_to_BN(number, nullptr));
  char* dec = bn ? BN_bn2dec(bn.get()) : nullptr;
  if (dec == nullptr) return "?";
  std::string text(dec);
  OPENSSL_free(dec);
  return text;
}

// A root's DER and its fingerprint, for comparisons and messages.
struct Root {
  std::string der;
  std::string fingerprint;
};

Result<std::vector<Root>> RootsOf(const std::string& pem, const std::string& what) {
  auto certs = CertsFromPem(pem);
  if (!certs) return WithContext(certs.error(), what);
  std::vector<Root> roots;
  for (const auto& cert : *certs) {
    auto der = CertToDer(cert.get());
    if (!der) return WithContext(der.error(), what);
    roots.push_back({std::move(*der), CertFingerprint(cert.get()).value_or("?")});
  }
  return roots;
}

bool Holds(const std::vector<Root>& roots, const std::string& der) {
  return std::any_of(roots.begin(), roots.end(), [&der](const Root& r) { return r.der == der; });
}

std::string Fingerprints(const std::vector<Root>& roots) {
  std::string out;
  for (const Root& r : roots) out += (out.empty() ? "" : ", ") + r.fingerprint;
  return out;
}

}  // namespace

std::vector<OsslPtr<X509_CRL>> CrlsFromPem(const std::string& pem) {
  std::vector<OsslPtr<X509_CRL>> crls;
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (bio) {
    OsslPtr<X509_CRL> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) break;
    crls.push_back(std::move(crl));
  }
  ERR_clear_error();  // the end of the text reads as a PEM error
  return crls;
}

Result<void> CheckBundleUpdate(const std::string& trusted_pem, const std::string& fetched_pem,
                               const std::string& server_root_der) {
  auto trusted = RootsOf(trusted_pem, "trusted roots");
  if (!trusted) return std::unexpected(trusted.error());
  auto fetched = RootsOf(fetched_pem, "the CA's bundle");
  if (!fetched) return std::unexpected(fetched.error());
  std::vector<Root> kept, dropped;
  for (Root& root : *trusted) (Holds(*fetched, root.der) ? kept : dropped).push_back(std::move(root));
  if (kept.empty()) {
    return MakeError(ErrorCode::kConflict,
                     "refusing the CA's bundle (" + Fingerprints(*fetched) + "): it holds none of the roots this " +
                         "agent trusts (" + Fingerprints(dropped) + "); a new root joins the bundle beside the " +
                         "old one (ca prepare --root) before the old one leaves it");
  }
  if (!dropped.empty() && (server_root_der.empty() || !Holds(*fetched, server_root_der))) {
    return MakeError(ErrorCode::kConflict,
                     "refusing the CA's bundle (" + Fingerprints(*fetched) + "): it drops trusted root(s) " +
                         Fingerprints(dropped) + " without holding the root the CA's own certificate chains to");
  }
  return Ok();
}

Result<void> CheckCrlNumbers(const std::string& kept_pem, const std::string& fetched_pem) {
  std::map<std::string, OsslPtr<ASN1_STRING>> kept;
  for (const auto& crl : CrlsFromPem(kept_pem)) kept.emplace(CrlIssuerKey(crl.get()), CrlNumber(crl.get()));
  for (const auto& crl : CrlsFromPem(fetched_pem)) {
    auto it = kept.find(CrlIssuerKey(crl.get()));
    if (it == kept.end() || it->second == nullptr) continue;
    OsslPtr<ASN1_STRING> number = CrlNumber(crl.get());
    if (number != nullptr && ASN1_INTEGER_cmp(number.get(), it->second.get()) >= 0) continue;
    return MakeError(ErrorCode::kConflict,
                     "refusing the CA's CRL of " + NameText(X509_CRL_get_issuer(crl.get())) + ": its CRL number " +
                         NumberText(number.get()) + " is lower than " + NumberText(it->second.get()) +
                         ", the number of the CRL kept from that issuer; keeping that one");
  }
  return Ok();
}

Result<void> VerifyCrls(const std::string& crl_pem, const std::vector<X509*>& issuers) {
  int count = 0;
  for (const auto& crl : CrlsFromPem(crl_pem)) {
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
  if (count == 0) return MakeError(ErrorCode::kCrypto, "the CA's CRL answer holds no CRL");
  return Ok();
}

Result<SyncOutcome> SyncCrlAndBundle(CaClient& client, const AgentConfig& config, const StatePaths& paths,
                                     std::string& trust_pem, const std::vector<X509*>& intermediates) {
  SyncOutcome outcome;
  ETags tags = LoadETags(paths);

  // The bundle comes from the CA (its certificate carries the CA's SPIFFE ID
  // and chains to the current roots), and replaces them only by the rule of
  // rotation: a new root beside the old ones, an old one dropped only once
  // the CA chains to another (CheckBundleUpdate).
  std::string bundle_tag = ReadFile(paths.trust) ? tags.bundle : "";
  auto bundle = client.GetIfChanged("/v1/bundle", bundle_tag);
  if (!bundle) return std::unexpected(bundle.error());
  if (bundle->has_value()) {
    if (auto r = CheckBundleUpdate(trust_pem, **bundle, client.server().root_der); !r) {
      return std::unexpected(r.error());
    }
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
    if (auto r = CheckCrlNumbers(ReadFile(paths.crl).value_or(""), **crl); !r) return std::unexpected(r.error());
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
