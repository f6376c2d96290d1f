// The checks read everything through OpenSSL's decoder and accessors: none
// of the DER writer's code is shared with the path that built the object.
#include "mayfly/issuance_check.h"

#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <set>
#include <utility>

#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Collects the first difference; later comparisons are skipped once one is found.
class Findings {
 public:
  Findings(std::string_view kind, std::string subject) : kind_(kind), subject_(std::move(subject)) {}
  bool ok() const { return !failure_; }
  // Records a difference (the first one only) and returns false.
  bool Differ(std::string field, std::string expected, std::string found) {
    if (!failure_) failure_ = IssuanceCheckFailure{kind_, subject_, std::move(field), std::move(expected), std::move(found)};
    return false;
  }
  CheckResult Take() { return std::move(failure_); }

 private:
  std::string kind_;
  std::string subject_;
  CheckResult failure_;
};

// OpenSSL 3.0's d2i_X509 decodes the subject's key through the provider
// decoders, a fresh decoder context per call: ~130 µs, more than half of the
// whole check, for a key the check only compares as bytes. In a library
// context holding only the null provider that decode finds no decoder and is
// skipped (it is not fatal to d2i); every other field goes through the same
// parser. Nothing but parsing runs in this context.
OSSL_LIB_CTX* KeylessParseContext() {
  static OSSL_LIB_CTX* ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    // A context with no provider loaded would fall back to the default one.
    if (c != nullptr && OSSL_PROVIDER_load(c, "null") == nullptr) {
      OSSL_LIB_CTX_free(c);
      c = nullptr;
    }
    return c;
  }();
  return ctx;
}

// The certificate as OpenSSL's X.509 parser reads it, its key left undecoded.
Result<OsslPtr<X509>> ParseForCheck(std::string_view der) {
  OSSL_LIB_CTX* ctx = KeylessParseContext();
  if (ctx == nullptr) return CertFromDer(der);
  ClearOpensslErrors();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OsslPtr<X509> cert(reinterpret_cast<X509*>(
      ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(X509), ctx, nullptr)));
  if (!cert) return OpensslError("reading a DER certificate", ErrorCode::kInvalidArgument);
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "reading a DER certificate: bytes after its end");
  }
  return cert;
}

std::string AsString(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& s : v) out += (out.size() > 1 ? ", " : "") + s;
  return out + "]";
}

// "" when the key cannot be encoded, which never equals an expected key.
std::string Spki(const X509* cert) {
  const X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  if (pub == nullptr) return {};
  return EncodeDer(pub, i2d_X509_PUBKEY, "a public key").value_or("");
}

// The extensions present, by NID, with their critical flags; a repeated one
// is a difference.
using ExtensionSet = std::vector<std::pair<int, bool>>;
bool CheckExtensionSet(const X509* cert, ExtensionSet want, Findings& f) {
  ExtensionSet have;
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    const X509_EXTENSION* ext = X509_get_ext(cert, i);
    have.emplace_back(OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext))),
                      X509_EXTENSION_get_critical(ext) != 0);
  }
  auto describe = [](ExtensionSet s) {
    std::sort(s.begin(), s.end());
    std::string out = "[";
    for (const auto& [nid, critical] : s) {
      out += (out.size() > 1 ? ", " : "") + std::string(nid == NID_undef ? "unknown" : OBJ_nid2sn(nid));
      if (critical) out += " (critical)";
    }
    return out + "]";
  };
  ExtensionSet sorted_have = have, sorted_want = want;
  std::sort(sorted_have.begin(), sorted_have.end());
  std::sort(sorted_want.begin(), sorted_want.end());
  if (sorted_have != sorted_want) return f.Differ("extensions", describe(want), describe(have));
  return true;
}

bool CheckSerial(const X509* cert, Findings& f) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (serial == nullptr) return f.Differ("serial", "present", "absent");
  if (ASN1_STRING_type(serial) != V_ASN1_INTEGER) return f.Differ("serial", "positive", "negative");
  const std::string bytes = AsString(serial);
  if (bytes.size() < 8) return f.Differ("serial", "at least 8 bytes", std::to_string(bytes.size()) + " bytes");
  if (std::all_of(bytes.begin(), bytes.begin() + 8, [](char c) { return c == 0; })) {
    return f.Differ("serial", "64 significant bits", "a zero high part");
  }
  return true;
}

bool CheckIssuedBy(const X509* cert, const X509* issuer, Findings& f) {
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
    return f.Differ("issuer", NameText(X509_get_subject_name(issuer)), NameText(X509_get_issuer_name(cert)));
  }
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(const_cast<X509*>(cert));
  if (ski == nullptr || aki == nullptr || ASN1_OCTET_STRING_cmp(ski, aki) != 0) {
    return f.Differ("authorityKeyIdentifier", HexEncode(AsString(ski)), HexEncode(AsString(aki)));
  }
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  ClearOpensslErrors();
  if (issuer_key == nullptr || X509_verify(const_cast<X509*>(cert), issuer_key) != 1) {
    ClearOpensslErrors();
    return f.Differ("signature", "valid under the issuer's key", "invalid");
  }
  return true;
}

bool CheckKeyUsage(const X509* cert, uint32_t want, Findings& f) {
  const uint32_t have = X509_get_key_usage(const_cast<X509*>(cert));
  if (have != want) return f.Differ("keyUsage", std::to_string(want), std::to_string(have));
  return true;
}

bool CheckBasicConstraints(const X509* cert, bool ca, int path_len, Findings& f) {
  OsslPtr<BASIC_CONSTRAINTS> bc(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr)));
  if (!bc) return f.Differ("basicConstraints", "present", "absent or malformed");
  const bool have_ca = bc->ca != 0;
  const long have_len = bc->pathlen == nullptr ? -1 : ASN1_INTEGER_get(bc->pathlen);
  const long want_len = ca ? path_len : -1;
  if (have_ca != ca || have_len != want_len) {
    auto text = [](bool c, long l) { return std::string(c ? "CA:TRUE" : "CA:FALSE") + (l >= 0 ? " pathlen:" + std::to_string(l) : ""); };
    return f.Differ("basicConstraints", text(ca, want_len), text(have_ca, have_len));
  }
  return true;
}

bool CheckSans(const X509* cert, const ExpectedLeaf& e, Findings& f) {
  OsslPtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return f.Differ("subjectAltName", "present", "absent or malformed");
  std::vector<std::string> uris, dns, ips, want_ips;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    switch (gn->type) {
      case GEN_URI: uris.push_back(AsString(gn->d.uniformResourceIdentifier)); break;
      case GEN_DNS: dns.push_back(AsString(gn->d.dNSName)); break;
      case GEN_IPADD: ips.push_back(HexEncode(AsString(gn->d.iPAddress))); break;
      default: return f.Differ("subjectAltName", "URI, DNS and IP names only", "name type " + std::to_string(gn->type));
    }
  }
  for (const auto& ip : e.ips) {
    want_ips.push_back(HexEncode(std::string_view(reinterpret_cast<const char*>(ip.bytes.data()), ip.bytes.size())));
  }
  if (uris != std::vector<std::string>{e.spiffe_id}) return f.Differ("subjectAltName URI", Joined({e.spiffe_id}), Joined(uris));
  if (dns != e.dns) return f.Differ("subjectAltName DNS", Joined(e.dns), Joined(dns));
  if (ips != want_ips) return f.Differ("subjectAltName IP", Joined(want_ips), Joined(ips));
  return true;
}

bool CheckEku(const X509* cert, const std::vector<int>& want_nids, Findings& f) {
  OsslPtr<EXTENDED_KEY_USAGE> eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  std::vector<std::string> have;
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    have.push_back(OBJ_nid2sn(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))));
  }
  std::vector<std::string> want;
  for (int nid : want_nids) want.push_back(OBJ_nid2sn(nid));
  if (have != want) return f.Differ("extendedKeyUsage", Joined(want), Joined(have));
  return true;
}

// Every URI of a distribution point list or an OCSP access description.
bool CheckCrlDp(const X509* cert, const std::string& url, Findings& f) {
  if (url.empty()) return true;
  OsslPtr<CRL_DIST_POINTS> dps(
      static_cast<CRL_DIST_POINTS*>(X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr)));
  std::vector<std::string> have;
  for (int i = 0; dps && i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0 || dp->reasons != nullptr || dp->CRLissuer != nullptr) {
      have.push_back("(not a plain full name)");
      continue;
    }
    for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
      have.push_back(gn->type == GEN_URI ? AsString(gn->d.uniformResourceIdentifier) : "(not a URI)");
    }
  }
  if (have != std::vector<std::string>{url}) return f.Differ("crlDistributionPoints", Joined({url}), Joined(have));
  return true;
}

bool CheckOcspUrl(const X509* cert, const std::string& url, Findings& f) {
  if (url.empty()) return true;
  OsslPtr<AUTHORITY_INFO_ACCESS> aia(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  std::vector<std::string> have;
  for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    const bool ocsp_uri = OBJ_obj2nid(ad->method) == NID_ad_OCSP && ad->location->type == GEN_URI;
    have.push_back(ocsp_uri ? AsString(ad->location->d.uniformResourceIdentifier) : "(not an OCSP URI)");
  }
  if (have != std::vector<std::string>{url}) return f.Differ("authorityInfoAccess OCSP", Joined({url}), Joined(have));
  return true;
}

bool CheckSubjectKeyId(const X509* cert, Findings& f) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(cert));
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (bits == nullptr || EVP_Digest(ASN1_STRING_get0_data(bits), static_cast<size_t>(ASN1_STRING_length(bits)), md,
                                    &md_len, EVP_sha1(), nullptr) != 1) {
    return f.Differ("subjectKeyIdentifier", "SHA-1 of the key", "no key");
  }
  const std::string want(reinterpret_cast<char*>(md), md_len);
  if (AsString(ski) != want) return f.Differ("subjectKeyIdentifier", HexEncode(want), HexEncode(AsString(ski)));
  return true;
}

bool CheckNameConstraints(X509* cert, const X509* issuer, Findings& f) {
  int critical = -1;
  OsslPtr<NAME_CONSTRAINTS> nc(
      static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(issuer, NID_name_constraints, &critical, nullptr)));
  if (!nc) return true;
  const int rc = NAME_CONSTRAINTS_check(cert, nc.get());
  if (rc != X509_V_OK) {
    return f.Differ("name constraints", "names within the issuer's constraints", X509_verify_cert_error_string(rc));
  }
  return true;
}

std::string TimeText(TimePoint t) { return FormatRfc3339(t); }

}  // namespace

CheckResult CheckLeaf(std::string_view der, const ExpectedLeaf& e) {
  Findings f(kCheckLeaf, e.spiffe_id);
  auto parsed = ParseForCheck(der);
  if (!parsed) {
    f.Differ("encoding", "a DER certificate", parsed.error().message);
    return f.Take();
  }
  X509* cert = parsed->get();
  if (e.issuer == nullptr) {
    f.Differ("issuer", "an issuing CA", "none");
    return f.Take();
  }
  // Times: notBefore backdated from the signing second, notAfter cut to the issuer's.
  const TimePoint now_s = std::chrono::floor<Seconds>(e.now);
  const TimePoint want_nb = now_s - e.backdate;
  const TimePoint issuer_na = CertNotAfter(e.issuer);
  const TimePoint nb = CertNotBefore(cert);
  const TimePoint na = CertNotAfter(cert);
  const bool rsa = FamilyOf(e.key_type) == KeyFamily::kRsa;

  ExtensionSet want = {{NID_basic_constraints, true},     {NID_key_usage, true},
                       {NID_ext_key_usage, false},        {NID_subject_key_identifier, false},
                       {NID_authority_key_identifier, false}, {NID_subject_alt_name, false}};
  if (!e.crl_url.empty()) want.emplace_back(NID_crl_distribution_points, false);
  if (!e.ocsp_url.empty()) want.emplace_back(NID_info_access, false);

  (X509_get_version(cert) == X509_VERSION_3 || f.Differ("version", "3", std::to_string(X509_get_version(cert) + 1))) &&
      CheckSerial(cert, f) &&
      (nb == want_nb || f.Differ("notBefore", TimeText(want_nb), TimeText(nb))) &&
      (na <= issuer_na || f.Differ("notAfter", "at most the issuer's " + TimeText(issuer_na), TimeText(na))) &&
      (na <= now_s + e.ttl || f.Differ("notAfter", "at most " + TimeText(now_s + e.ttl), TimeText(na))) &&
      (na > nb || f.Differ("notAfter", "after notBefore " + TimeText(nb), TimeText(na))) &&
      (Spki(cert) == e.spki_der || f.Differ("public key", "the CSR's key", "another key")) &&
      CheckExtensionSet(cert, std::move(want), f) && CheckBasicConstraints(cert, false, 0, f) &&
      CheckKeyUsage(cert, KU_DIGITAL_SIGNATURE | (rsa ? KU_KEY_ENCIPHERMENT : 0), f) && CheckEku(cert, {NID_server_auth, NID_client_auth}, f) &&
      CheckSubjectKeyId(cert, f) && CheckSans(cert, e, f) && CheckCrlDp(cert, e.crl_url, f) &&
      CheckOcspUrl(cert, e.ocsp_url, f) && CheckIssuedBy(cert, e.issuer, f) && CheckNameConstraints(cert, e.issuer, f);
  return f.Take();
}

CheckResult CheckCaCert(const X509* cert, const ExpectedCa& e) {
  Findings f(e.kind, e.subject == nullptr ? std::string() : NameText(e.subject));
  if (cert == nullptr || e.issuer == nullptr || e.subject == nullptr) {
    f.Differ("certificate", "a certificate, its issuer and subject", "none");
    return f.Take();
  }
  // Re-read from its encoding: the X509 object in hand was built, not parsed.
  auto der = CertToDer(cert);
  auto parsed = der ? ParseForCheck(*der) : std::unexpected(der.error());
  if (!parsed) {
    f.Differ("encoding", "a DER certificate", parsed.error().message);
    return f.Take();
  }
  X509* c = parsed->get();
  ExtensionSet want = {{NID_basic_constraints, true},
                       {NID_key_usage, true},
                       {NID_subject_key_identifier, false},
                       {NID_authority_key_identifier, false}};
  if (e.name_constraints) want.emplace_back(NID_name_constraints, true);
  (X509_get_version(c) == X509_VERSION_3 || f.Differ("version", "3", std::to_string(X509_get_version(c) + 1))) &&
      CheckSerial(c, f) &&
      (X509_NAME_cmp(X509_get_subject_name(c), e.subject) == 0 ||
       f.Differ("subject", NameText(e.subject), NameText(X509_get_subject_name(c)))) &&
      (Spki(c) == e.spki_der || f.Differ("public key", "the CA's key", "another key")) &&
      (CertNotAfter(c) <= CertNotAfter(e.issuer) ||
       f.Differ("notAfter", "at most the issuer's " + TimeText(CertNotAfter(e.issuer)), TimeText(CertNotAfter(c)))) &&
      CheckExtensionSet(c, std::move(want), f) && CheckBasicConstraints(c, true, e.path_len, f) &&
      CheckKeyUsage(c, KU_KEY_CERT_SIGN | KU_CRL_SIGN, f) && CheckSubjectKeyId(c, f) && CheckIssuedBy(c, e.issuer, f);
  return f.Take();
}

CheckResult CheckOcspResponderCert(std::string_view der, const ExpectedOcspResponder& e) {
  Findings f(kCheckOcspResponder, e.issuer == nullptr ? std::string() : NameText(X509_get_subject_name(e.issuer)));
  auto parsed = ParseForCheck(der);
  if (!parsed || e.issuer == nullptr) {
    f.Differ("encoding", "a DER certificate and its issuer", parsed ? "no issuer" : parsed.error().message);
    return f.Take();
  }
  X509* c = parsed->get();
  const TimePoint na = CertNotAfter(c);
  const TimePoint issuer_na = CertNotAfter(e.issuer);
  ExtensionSet want = {{NID_basic_constraints, true},        {NID_key_usage, true},
                       {NID_ext_key_usage, false},           {NID_id_pkix_OCSP_noCheck, false},
                       {NID_subject_key_identifier, false},  {NID_authority_key_identifier, false}};
  (X509_get_version(c) == X509_VERSION_3 || f.Differ("version", "3", std::to_string(X509_get_version(c) + 1))) &&
      CheckSerial(c, f) && (Spki(c) == e.spki_der || f.Differ("public key", "the responder's key", "another key")) &&
      (na <= issuer_na || f.Differ("notAfter", "at most the issuer's " + TimeText(issuer_na), TimeText(na))) &&
      (na <= e.not_after || f.Differ("notAfter", "at most " + TimeText(e.not_after), TimeText(na))) &&
      (na > CertNotBefore(c) || f.Differ("notAfter", "after notBefore", TimeText(na))) &&
      CheckExtensionSet(c, std::move(want), f) && CheckBasicConstraints(c, false, 0, f) &&
      CheckKeyUsage(c, KU_DIGITAL_SIGNATURE, f) && CheckEku(c, {NID_OCSP_sign}, f) && CheckSubjectKeyId(c, f) &&
      CheckIssuedBy(c, e.issuer, f);
  return f.Take();
}

}  // namespace mayfly
