// Checks on held certificates: pairs, names, renewal time, revocation.
#include "agent_cert_check.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>

#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// An IP in its binary form, so "::1" and "0:0::1" compare equal.
std::string IpBytes(const std::string& text) {
  auto ip = ParseIpAddress(text);
  return ip ? std::string(ip->bytes.begin(), ip->bytes.end()) : "?" + text;
}

std::string Join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return "[" + out + "]";
}

}  // namespace

Result<HeldCert> HeldFromPem(const std::string& chain_pem, const EVP_PKEY* key, const std::string& what) {
  auto certs = CertsFromPem(chain_pem);
  if (!certs) return WithContext(certs.error(), what);
  X509* leaf = certs->front().get();
  OsslPtr<EVP_PKEY> public_key(X509_get_pubkey(leaf));
  if (!public_key || !KeysMatch(public_key.get(), key)) {
    return MakeError(ErrorCode::kConflict, "the key does not match the certificate of " + what);
  }
  HeldCert held{.chain_pem = chain_pem,
                .serial = CertSerialHex(leaf),
                .spiffe_id = CertSpiffeId(leaf),
                .not_before = CertNotBefore(leaf),
                .not_after = CertNotAfter(leaf)};
  held.leaf = std::move(certs->front());
  return held;
}

Result<HeldCert> LoadHeldPair(const std::string& cert_path, const std::string& key_path) {
  auto pem = ReadFile(cert_path);
  if (!pem) return std::unexpected(pem.error());
  auto key = LoadKeyFile(key_path);
  if (!key) return std::unexpected(key.error());
  auto held = HeldFromPem(*pem, key->get(), cert_path);
  if (!held && held.error().code == ErrorCode::kConflict) {
    return MakeError(ErrorCode::kConflict, key_path + " does not hold the key of " + cert_path);
  }
  return held;
}

ExpectedNames NamesOf(const WorkloadConfig& workload) {
  return {workload.spiffe_id, workload.dns, workload.ips};
}

std::string NameMismatch(const X509* cert, const ExpectedNames& want) {
  std::set<std::string> uris, dns, ips;
  OsslPtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_URI || name->type == GEN_DNS || name->type == GEN_IPADD) {
      const ASN1_STRING* s = name->d.ia5;  // the union's members are all ASN1_STRINGs
      std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
      if (name->type == GEN_URI) uris.insert(value);
      if (name->type == GEN_DNS) dns.insert(Lower(value));
      if (name->type == GEN_IPADD) ips.insert(value);
    }
  }
  std::set<std::string> want_dns, want_ips;
  for (const auto& d : want.dns) want_dns.insert(Lower(d));
  for (const auto& ip : want.ips) want_ips.insert(IpBytes(ip));
  if (uris != std::set<std::string>{want.spiffe_id}) {
    return "it names " + Join(uris) + " instead of " + want.spiffe_id;
  }
  if (dns != want_dns) return "its DNS names " + Join(dns) + " differ from " + Join(want_dns);
  if (ips != want_ips) return "its IP addresses differ from the configured ips";
  return "";
}

TimePoint RenewalTime(const HeldCert& cert, double renew_at) {
  auto lifetime = cert.not_after - cert.not_before;
  return cert.not_before + std::chrono::duration_cast<TimePoint::duration>(lifetime * renew_at);
}

TimePoint JitteredDue(const HeldCert& cert, TimePoint renew, TimePoint now, std::mt19937_64& rng) {
  if (renew <= now) return renew;
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  auto left = std::chrono::duration<double>(renew - now) * jitter(rng);
  return std::min(now + std::chrono::duration_cast<TimePoint::duration>(left), cert.not_after);
}

std::set<std::string> RevokedSerials(const std::string& crl_pem) {
  std::set<std::string> serials;
  OsslPtr<BIO> bio(BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size())));
  while (bio) {
    OsslPtr<X509_CRL> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) break;
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      serials.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    }
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  return serials;
}

std::vector<OsslPtr<X509>> ChainOf(const std::string& chain_pem) {
  auto certs = CertsFromPem(chain_pem);
  std::vector<OsslPtr<X509>> chain;
  if (!certs) return chain;
  for (size_t i = 1; i < certs->size(); ++i) chain.push_back(std::move((*certs)[i]));
  return chain;
}

}  // namespace mayfly::agent

namespace mayfly::agent {

Result<KeyAndCsr> NewKeyAndCsr(const std::string& key_type, const std::vector<std::string>& uris,
                               const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
  auto type = ParseKeyType(key_type);
  if (!type) return std::unexpected(type.error());
  auto key = GenerateKey(*type);
  if (!key) return std::unexpected(key.error());
  auto csr = MakeCsrPem(key->get(), uris, dns, ips);
  if (!csr) return std::unexpected(csr.error());
  return KeyAndCsr{std::move(*key), std::move(*csr)};
}

Result<void> VerifyIssued(const std::string& cert_pem, const std::string& trust_pem,
                          std::optional<TimePoint> at) {
  auto certs = CertsFromPem(cert_pem);
  if (!certs) return std::unexpected(certs.error());
  auto roots = CertsFromPem(trust_pem);
  if (!roots) return std::unexpected(roots.error());
  OsslPtr<X509_STORE> store(X509_STORE_new());
  OsslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx) return MakeError(ErrorCode::kCrypto, "out of memory");
  for (auto& root : *roots) X509_STORE_add_cert(store.get(), root.get());  // takes its own reference
  X509BorrowedStackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return MakeError(ErrorCode::kCrypto, "out of memory");
  for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(untrusted.get(), (*certs)[i].get());  // borrowed
  ERR_clear_error();
  if (X509_STORE_CTX_init(ctx.get(), store.get(), certs->front().get(), untrusted.get()) != 1) {
    return MakeError(ErrorCode::kCrypto, "setting up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  if (at) X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(*at));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return MakeError(ErrorCode::kCrypto,
                     std::string("the issued certificate does not verify: ") + X509_verify_cert_error_string(err));
  }
  return Ok();
}

Result<void> CheckAnswer(const std::string& chain_pem, const EVP_PKEY* key, const ExpectedNames& want,
                         const std::string& trust_pem, TimePoint now) {
  constexpr std::string_view kRefusing = "refusing the CA's answer";
  auto certs = CertsFromPem(chain_pem);
  if (!certs) return WithContext(certs.error(), std::string(kRefusing) + ": its certificate");
  const X509* leaf = certs->front().get();
  const std::string what = std::string(kRefusing) + ": its certificate (serial " + CertSerialHex(leaf) + ")";
  const EVP_PKEY* public_key = X509_get0_pubkey(leaf);
  if (public_key == nullptr || !KeysMatch(public_key, key)) {
    return MakeError(ErrorCode::kConflict, what + " is not for the key this agent sent in its CSR");
  }
  if (std::string m = NameMismatch(leaf, want); !m.empty()) {
    return MakeError(ErrorCode::kConflict, what + " is not what was asked for: " + m);
  }
  const TimePoint not_before = CertNotBefore(leaf), not_after = CertNotAfter(leaf);
  if (not_before > now + kClockSkew) {
    return MakeError(ErrorCode::kConflict, what + " is valid only from " + FormatRfc3339(not_before) +
                                               ", more than " + std::to_string(kClockSkew.count()) +
                                               " minutes after this host's clock (" + FormatRfc3339(now) + ")");
  }
  if (not_after <= now) {
    return MakeError(ErrorCode::kConflict, what + " expired at " + FormatRfc3339(not_after));
  }
  // Within the skew the chain is judged at the leaf's first valid second.
  if (auto r = VerifyIssued(chain_pem, trust_pem, std::max(now, not_before)); !r) {
    return WithContext(r.error(), kRefusing);
  }
  return Ok();
}

std::string ChainProblem(const HeldCert& cert, const std::string& trust_pem, const std::set<std::string>& revoked) {
  for (const auto& ca : ChainOf(cert.chain_pem)) {
    const std::string serial = CertSerialHex(ca.get());
    if (revoked.contains(serial)) return "its issuing CA (serial " + serial + ") is on the CA's CRL";
  }
  if (auto r = VerifyIssued(cert.chain_pem, trust_pem); !r) {
    return "its chain no longer verifies against the trusted roots (" + r.error().message + ")";
  }
  return "";
}

}  // namespace mayfly::agent
