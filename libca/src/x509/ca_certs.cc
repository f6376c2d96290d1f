// Root and intermediate certificates, built with OpenSSL's extension
// configuration strings: they are made rarely, so clarity beats speed here.
#include "mayfly/ca_certs.h"

#include <arpa/inet.h>
#include <openssl/rand.h>

#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "issuance_hooks.h"
#include "mayfly/issuance_check.h"

namespace mayfly {
namespace {

Result<void> AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ClearOpensslErrors();
  OsslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError("adding " + std::string(OBJ_nid2sn(nid)) + " = " + value);
  }
  return Ok();
}

// A CA certificate with everything but the issuer-specific parts.
Result<OsslPtr<X509>> NewCaCert(const EVP_PKEY* key, const std::string& trust_domain,
                                const std::string& cn_prefix, TimePoint not_before,
                                TimePoint not_after) {
  ClearOpensslErrors();
  OsslPtr<X509> x(X509_new());
  unsigned char serial[16];
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 || RAND_bytes(serial, sizeof serial) != 1) {
    return OpensslError("allocating a CA certificate");
  }
  serial[0] = static_cast<unsigned char>(serial[0] | 1);  // 128 significant bits
  if (ASN1_STRING_set(X509_get_serialNumber(x.get()), serial, sizeof serial) != 1 ||
      X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(key)) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(ToUnixSeconds(not_before))) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(ToUnixSeconds(not_after))) == nullptr) {
    return OpensslError("setting CA certificate fields");
  }
  // The CN carries a short key id so that successive CAs have distinct names.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_pubkey_digest(x.get(), EVP_sha1(), md, &mdlen) != 1) return OpensslError("hashing the CA key");
  std::string cn = cn_prefix + " " + HexEncode(std::string_view(reinterpret_cast<char*>(md), 4));
  std::string ou = trust_domain.substr(0, 64);
  X509_NAME* name = X509_get_subject_name(x.get());
  auto add = [&](int nid, const std::string& v) {
    return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), -1, 0) == 1;
  };
  if (!add(NID_organizationName, "Mayfly") || !add(NID_organizationalUnitName, ou) ||
      !add(NID_commonName, cn)) {
    return OpensslError("setting the CA subject");
  }
  return x;
}

// "10.0.0.0/8" -> "10.0.0.0/255.0.0.0", the form OpenSSL's config expects.
Result<std::string> CidrToAddressMask(const std::string& text) {
  auto cidr = ParseCidr(text);
  if (!cidr) return std::unexpected(cidr.error());
  std::vector<uint8_t> mask(cidr->base.bytes.size(), 0);
  for (int i = 0; i < cidr->prefix_len; ++i) mask[static_cast<size_t>(i / 8)] |= static_cast<uint8_t>(0x80 >> (i % 8));
  IpAddress mask_ip{mask};
  return cidr->base.ToString() + "/" + mask_ip.ToString();
}

// Re-reads a signed CA certificate (through the test-only tamper) and checks
// it against what was asked for: the certificate returned is the one checked.
Result<OsslPtr<X509>> Checked(const X509* built, std::string_view kind, const X509* issuer,
                              const EVP_PKEY* subject_key, int path_len, bool name_constraints) {
  auto der = CertToDer(built);
  if (!der) return std::unexpected(der.error());
  detail::ApplyIssuanceTamper(kind, *der);
  auto spki = EncodeDer(subject_key, i2d_PUBKEY, "a CA public key");
  if (!spki) return std::unexpected(spki.error());
  auto parsed = CertFromDer(*der);
  const ExpectedCa expected{.kind = kind, .issuer = issuer != nullptr ? issuer : (parsed ? parsed->get() : built),
                            .subject = X509_get_subject_name(built), .spki_der = std::move(*spki),
                            .path_len = path_len, .name_constraints = name_constraints};
  if (auto failure = CheckCaCert(parsed ? parsed->get() : nullptr, expected)) {
    return detail::IssuanceCheckFailed(std::move(*failure));
  }
  return parsed;
}

}  // namespace

Result<void> SignWithKey(X509* cert, const EVP_PKEY* key) {
  ClearOpensslErrors();
  if (X509_sign(cert, const_cast<EVP_PKEY*>(key), SigningDigest(key)) <= 0) {
    return OpensslError("signing a certificate");
  }
  return Ok();
}

Result<OsslPtr<X509>> MakeRootCert(const EVP_PKEY* key, const std::string& trust_domain,
                                   std::chrono::seconds ttl, const Clock& clock) {
  TimePoint now = std::chrono::floor<Seconds>(clock.Now());
  auto x = NewCaCert(key, trust_domain, "Mayfly Root CA", now - std::chrono::hours(1), now + ttl);
  if (!x) return x;
  if (X509_set_issuer_name(x->get(), X509_get_subject_name(x->get())) != 1) {
    return OpensslError("setting the root issuer");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x->get(), x->get(), nullptr, nullptr, 0);
  for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:TRUE,pathlen:2"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"}}) {
    if (auto r = AddExt(x->get(), &ctx, nid, value); !r) return std::unexpected(r.error());
  }
  if (auto r = SignWithKey(x->get(), key); !r) return std::unexpected(r.error());
  return Checked(x->get(), kCheckRoot, nullptr, key, 2, false);
}

// The extensions of a CA certificate signed by `issuer`: basic constraints
// with `pathlen`, key usages, key identifiers and, when enabled, the name
// constraints.
Result<void> AddSubordinateCaExtensions(X509* x, const X509* issuer, int pathlen,
                                        const NameConstraintsSpec& constraints) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), x, nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:TRUE,pathlen:" + std::to_string(pathlen)},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (constraints.enabled) {
    if (auto td = ValidateTrustDomain(constraints.trust_domain); !td) return std::unexpected(td.error());
    std::string nc = "critical,permitted;URI:" + constraints.trust_domain;
    for (const auto& dns : constraints.permitted_dns) nc += ",permitted;DNS:" + dns;
    for (const auto& ip : constraints.permitted_ips) {
      auto mask = CidrToAddressMask(ip);
      if (!mask) return WithContext(mask.error(), "[ca] permitted_ips");
      nc += ",permitted;IP:" + *mask;
    }
    exts.emplace_back(NID_name_constraints, nc);
  }
  for (const auto& [nid, value] : exts) {
    if (auto r = AddExt(x, &ctx, nid, value); !r) return r;
  }
  return Ok();
}

Result<OsslPtr<X509>> MakeIntermediateCert(const EVP_PKEY* key, const X509* root, const EVP_PKEY* root_key,
                                           const NameConstraintsSpec& constraints,
                                           std::chrono::seconds ttl, const Clock& clock) {
  TimePoint now = std::chrono::floor<Seconds>(clock.Now());
  TimePoint not_after = std::min<TimePoint>(now + ttl, CertNotAfter(root));
  auto x = NewCaCert(key, constraints.trust_domain, "Mayfly Intermediate CA", now - std::chrono::hours(1),
                     not_after);
  if (!x) return x;
  if (X509_set_issuer_name(x->get(), X509_get_subject_name(root)) != 1) {
    return OpensslError("setting the intermediate issuer");
  }
  if (auto r = AddSubordinateCaExtensions(x->get(), root, 0, constraints); !r) return std::unexpected(r.error());
  if (auto r = SignWithKey(x->get(), root_key); !r) return std::unexpected(r.error());
  return Checked(x->get(), kCheckIntermediate, root, key, 0, constraints.enabled);
}

Result<OsslPtr<X509>> MakeCrossCert(const X509* new_root, const X509* old_root, const EVP_PKEY* old_root_key,
                                    const NameConstraintsSpec& constraints, const Clock& clock) {
  TimePoint now = std::chrono::floor<Seconds>(clock.Now());
  TimePoint not_after = std::min(CertNotAfter(new_root), CertNotAfter(old_root));
  ClearOpensslErrors();
  OsslPtr<X509> x(X509_new());
  unsigned char serial[16];
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 || RAND_bytes(serial, sizeof serial) != 1) {
    return OpensslError("allocating a cross certificate");
  }
  serial[0] = static_cast<unsigned char>(serial[0] | 1);
  if (ASN1_STRING_set(X509_get_serialNumber(x.get()), serial, sizeof serial) != 1 ||
      X509_set_subject_name(x.get(), X509_get_subject_name(new_root)) != 1 ||
      X509_set_issuer_name(x.get(), X509_get_subject_name(old_root)) != 1 ||
      X509_set_pubkey(x.get(), X509_get0_pubkey(new_root)) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(ToUnixSeconds(now - std::chrono::hours(1)))) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(ToUnixSeconds(not_after))) == nullptr) {
    return OpensslError("setting cross certificate fields");
  }
  if (auto r = AddSubordinateCaExtensions(x.get(), old_root, 1, constraints); !r) return std::unexpected(r.error());
  if (auto r = SignWithKey(x.get(), old_root_key); !r) return std::unexpected(r.error());
  return Checked(x.get(), kCheckCross, old_root, X509_get0_pubkey(new_root), 1, constraints.enabled);
}

}  // namespace mayfly
