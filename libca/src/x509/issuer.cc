// Leaf signing with everything constant prepared once per issuer.
//
// OpenSSL 3.0's obvious path (X509_set_pubkey, extensions from config
// strings, X509_sign) spends most of its time re-encoding keys and fetching
// algorithms: in an in-process loop on a 2-core machine it reached ~1 600
// certificates/s per thread, against ~9 000/s that the ECDSA sign + verify
// allow (perf: X509_set_pubkey's encode-then-decode of the key alone was ~300
// us per certificate). Here the leaf's key is moved over as
// its encoded SubjectPublicKeyInfo, the constant extensions are built once,
// and a digest-sign context is set up once and copied per certificate.
#include "mayfly/issuer.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstring>

#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "der_signer.h"
#include "der_writer.h"
#include "issuance_hooks.h"
#include "mayfly/issuance_check.h"

#include <openssl/core_names.h>

namespace mayfly {
namespace {

// Forks so far in this process's line: a forked child sees a new value.
std::atomic<unsigned> fork_generation{0};

// 16 random bytes for a serial, drawn from a per-thread pool filled 64
// serials at a time: a RAND_bytes call per certificate was 2 % of an
// issuance. The pool is refilled in a forked child (the generation changes
// there), so no two processes (or threads) ever hand out the same bytes.
bool RandomSerialBytes(unsigned char (&out)[16]) {
  static const bool watching_forks =
      pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
  struct Pool {
    unsigned char bytes[16 * 64];
    size_t used = sizeof bytes;
    unsigned generation = 0;
  };
  thread_local Pool pool;
  const unsigned generation = fork_generation.load(std::memory_order_relaxed);
  if (pool.used == sizeof pool.bytes || pool.generation != generation || !watching_forks) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) return false;
    pool.used = 0;
    pool.generation = generation;
  }
  std::memcpy(out, pool.bytes + pool.used, sizeof out);
  pool.used += sizeof out;
  return true;
}

Result<OsslPtr<X509_EXTENSION>> MakeExt(int nid, bool critical, void* value) {
  X509_EXTENSION* ext = X509V3_EXT_i2d(nid, critical ? 1 : 0, value);
  if (ext == nullptr) return OpensslError("building extension " + std::string(OBJ_nid2sn(nid)));
  return OsslPtr<X509_EXTENSION>(ext);
}

Result<OsslPtr<X509_EXTENSION>> KeyUsageExt(bool key_encipherment) {
  OsslPtr<ASN1_STRING> bits(ASN1_BIT_STRING_new());
  if (!bits || ASN1_BIT_STRING_set_bit(bits.get(), 0, 1) != 1 ||
      (key_encipherment && ASN1_BIT_STRING_set_bit(bits.get(), 2, 1) != 1)) {
    return OpensslError("building keyUsage");
  }
  return MakeExt(NID_key_usage, true, bits.get());
}

// Appends a URI, DNS or IP name; false on allocation failure.
bool PushName(GENERAL_NAMES* names, int type, const void* data, size_t len) {
  OsslPtr<GENERAL_NAME> gn(GENERAL_NAME_new());
  OsslPtr<ASN1_STRING> s(type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
  if (!gn || !s || ASN1_STRING_set(s.get(), data, static_cast<int>(len)) != 1) return false;
  GENERAL_NAME_set0_value(gn.get(), type, s.release());  // gn owns it now
  if (sk_GENERAL_NAME_push(names, gn.get()) == 0) return false;
  gn.release();  // the stack owns it
  return true;
}

}  // namespace

struct Issuer::Prepared {
  explicit Prepared(DerSigner s) : signer(std::move(s)) {}
  DerSigner signer;             // the CA key's signing context and algorithm
  std::string issuer_name;      // the CA's subject DER
  std::string subject_org_rdn;  // RDN "O=Mayfly"
  std::string exts_head;        // basicConstraints, keyUsage, EKU
  std::string exts_head_rsa;    // the same with keyEncipherment
  std::string exts_tail;        // AKI, CRL DP
};

std::string IssuedCert::Pem() const { return DerToPem(der, "CERTIFICATE"); }

Issuer::Issuer(OsslPtr<X509> cert, OsslPtr<EVP_PKEY> key, IssuerOptions options, const Clock& clock)
    : cert_(std::move(cert)), key_(std::move(key)), options_(std::move(options)), clock_(clock) {}

Issuer::~Issuer() = default;

namespace {

Result<std::string> ExtDer(const Result<OsslPtr<X509_EXTENSION>>& ext) {
  if (!ext) return std::unexpected(ext.error());
  return EncodeDer(ext->get(), i2d_X509_EXTENSION, "an extension");
}

Result<OsslPtr<X509_EXTENSION>> BasicConstraintsLeaf() {
  OsslPtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpensslError("allocating basicConstraints");
  bc->ca = 0;
  return MakeExt(NID_basic_constraints, true, bc.get());
}

Result<OsslPtr<X509_EXTENSION>> ServerAndClientAuth() {
  OsslPtr<EXTENDED_KEY_USAGE> eku(sk_ASN1_OBJECT_new_null());
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) == 0 ||
      sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth)) == 0) {
    return OpensslError("building extendedKeyUsage");
  }
  return MakeExt(NID_ext_key_usage, false, eku.get());
}

Result<OsslPtr<X509_EXTENSION>> AuthorityKeyId(const X509* issuer) {
  OsslPtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  if (!akid || ski == nullptr || (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == nullptr) {
    return OpensslError("building authorityKeyIdentifier");
  }
  return MakeExt(NID_authority_key_identifier, false, akid.get());
}

Result<OsslPtr<X509_EXTENSION>> CrlDistributionPoint(const std::string& url) {
  OsslPtr<GENERAL_NAMES> uri(GENERAL_NAMES_new());
  OsslPtr<CRL_DIST_POINTS> dps(sk_DIST_POINT_new_null());
  OsslPtr<DIST_POINT> dp(DIST_POINT_new());
  if (!uri || !dps || !dp || !PushName(uri.get(), GEN_URI, url.data(), url.size()) ||
      (dp->distpoint = DIST_POINT_NAME_new()) == nullptr) {
    return OpensslError("building the CRL distribution point");
  }
  dp->distpoint->type = 0;
  dp->distpoint->name.fullname = uri.release();  // dp owns it
  if (sk_DIST_POINT_push(dps.get(), dp.get()) == 0) return OpensslError("building the CRL distribution point");
  dp.release();  // the stack owns it
  return MakeExt(NID_crl_distribution_points, false, dps.get());
}

Result<OsslPtr<X509_EXTENSION>> OcspAuthorityInfoAccess(const std::string& url) {
  OsslPtr<AUTHORITY_INFO_ACCESS> aia(sk_ACCESS_DESCRIPTION_new_null());
  OsslPtr<ACCESS_DESCRIPTION> ad(ACCESS_DESCRIPTION_new());
  OsslPtr<GENERAL_NAMES> uri(GENERAL_NAMES_new());
  if (!aia || !ad || !uri || !PushName(uri.get(), GEN_URI, url.data(), url.size())) {
    return OpensslError("building the OCSP authority information access");
  }
  ASN1_OBJECT_free(ad->method);
  ad->method = OBJ_nid2obj(NID_ad_OCSP);
  GENERAL_NAME_free(ad->location);
  ad->location = sk_GENERAL_NAME_shift(uri.get());  // ad owns it
  if (sk_ACCESS_DESCRIPTION_push(aia.get(), ad.get()) == 0) {
    return OpensslError("building the OCSP authority information access");
  }
  ad.release();  // the stack owns it
  return MakeExt(NID_info_access, false, aia.get());
}

constexpr std::string_view kOidOrganization("\x06\x03\x55\x04\x0a", 5);
constexpr std::string_view kOidCommonName("\x06\x03\x55\x04\x03", 5);
constexpr std::string_view kOidSubjectKeyId("\x06\x03\x55\x1d\x0e", 5);
constexpr std::string_view kOidSubjectAltName("\x06\x03\x55\x1d\x11", 5);
constexpr std::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);

std::string Rdn(std::string_view oid, std::string_view value) {
  std::string atv(oid);
  der::AppendTlv(atv, der::kUtf8String, value);
  return der::Tlv(der::kSet, der::Tlv(der::kSequence, atv));
}

}  // namespace

Result<std::unique_ptr<Issuer>> Issuer::Create(OsslPtr<X509> cert, OsslPtr<EVP_PKEY> key,
                                               IssuerOptions options, const Clock& clock) {
  if (!cert || !key) return MakeError(ErrorCode::kInvalidArgument, "issuer needs a certificate and a key");
  ClearOpensslErrors();
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return OpensslError("the issuing key does not match the issuing certificate", ErrorCode::kConfig);
  }
  std::unique_ptr<Issuer> issuer(new Issuer(std::move(cert), std::move(key), std::move(options), clock));
  issuer->id_ = SubjectKeyIdHex(issuer->cert_.get());
  if (issuer->id_.empty()) {
    return MakeError(ErrorCode::kConfig, "the issuing certificate has no subject key identifier");
  }
  issuer->not_after_ = CertNotAfter(issuer->cert_.get());

  auto signer = DerSigner::Create(issuer->key_.get());
  if (!signer) return std::unexpected(signer.error());
  auto p = std::make_unique<Prepared>(std::move(*signer));
  auto issuer_name = EncodeDer(X509_get_subject_name(issuer->cert_.get()), i2d_X509_NAME, "the issuer name");
  if (!issuer_name) return std::unexpected(issuer_name.error());
  p->issuer_name = std::move(*issuer_name);
  p->subject_org_rdn = Rdn(kOidOrganization, "Mayfly");

  auto bc = ExtDer(BasicConstraintsLeaf());
  auto ku = ExtDer(KeyUsageExt(false));
  auto ku_rsa = ExtDer(KeyUsageExt(true));
  auto eku = ExtDer(ServerAndClientAuth());
  auto aki = ExtDer(AuthorityKeyId(issuer->cert_.get()));
  for (const auto* r : {&bc, &ku, &ku_rsa, &eku, &aki}) {
    if (!*r) return std::unexpected(r->error());
  }
  p->exts_head = *bc + *ku + *eku;
  p->exts_head_rsa = *bc + *ku_rsa + *eku;
  p->exts_tail = *aki;
  if (!issuer->options_.crl_url.empty()) {
    auto dp = ExtDer(CrlDistributionPoint(issuer->options_.crl_url));
    if (!dp) return std::unexpected(dp.error());
    p->exts_tail += *dp;
  }
  if (!issuer->options_.ocsp_url.empty()) {
    auto aia = ExtDer(OcspAuthorityInfoAccess(issuer->options_.ocsp_url));
    if (!aia) return std::unexpected(aia.error());
    p->exts_tail += *aia;
  }

  issuer->prepared_ = std::move(p);
  return issuer;
}

// The certificate is assembled as DER from prepared pieces and signed with a
// copy of the prepared context: building an X509 object and letting OpenSSL
// encode it costs several times the signature itself (measured with perf on
// OpenSSL 3.0; docs/performance.md). Tests
// parse and verify every variant with OpenSSL's strict checks.
Result<IssuedCert> Issuer::Issue(const LeafSpec& spec) const {
  if (spec.public_key == nullptr) return MakeError(ErrorCode::kInvalidArgument, "leaf without a public key");
  if (spec.ttl.count() <= 0) return MakeError(ErrorCode::kInvalidArgument, "leaf TTL must be positive");
  const TimePoint now = clock_.Now();
  if (now >= not_after_) return MakeError(ErrorCode::kUnavailable, "the issuing CA certificate has expired");
  const Prepared& p = *prepared_;
  ClearOpensslErrors();

  unsigned char serial[16];
  do {
    if (!RandomSerialBytes(serial)) return OpensslError("generating a serial");
  } while (serial[0] == 0);  // keep the full 128 bits significant

  IssuedCert out;
  const TimePoint now_s = std::chrono::floor<Seconds>(now);
  out.not_before = now_s - options_.backdate;
  out.not_after = std::min<TimePoint>(now_s + spec.ttl, not_after_);
  out.serial = HexEncode(std::string_view(reinterpret_cast<char*>(serial), sizeof serial));
  if (out.serial.front() == '0') out.serial.erase(0, 1);  // canonical: no leading zero

  // RFC 5280 method 1: the key identifier is SHA-1 of the subjectPublicKey bits.
  const SubjectPublicKey& key = *spec.public_key;
  if (key.spki_der.empty() || key.key_bits.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed public key");
  }
  unsigned char ski[EVP_MAX_MD_SIZE];
  unsigned int ski_len = 0;
  if (EVP_Digest(key.key_bits.data(), key.key_bits.size(), ski, &ski_len, FetchedDigest("SHA1"), nullptr) != 1) {
    return OpensslError("hashing the public key");
  }

  std::string names;
  der::AppendTlv(names, der::kGeneralNameUri, spec.spiffe_id);
  for (const auto& d : spec.dns) der::AppendTlv(names, der::kGeneralNameDns, d);
  for (const auto& ip : spec.ips) {
    der::AppendTlv(names, der::kGeneralNameIp,
                   std::string_view(reinterpret_cast<const char*>(ip.bytes.data()), ip.bytes.size()));
  }

  std::string exts = FamilyOf(spec.key_type) == KeyFamily::kRsa ? p.exts_head_rsa : p.exts_head;
  exts += der::Extension(kOidSubjectKeyId, false,
                         der::Tlv(der::kOctetString, std::string_view(reinterpret_cast<char*>(ski), ski_len)));
  exts += der::Extension(kOidSubjectAltName, false, der::Tlv(der::kSequence, names));
  exts += p.exts_tail;

  std::string subject = p.subject_org_rdn;
  if (!spec.dns.empty() && spec.dns.front().size() <= 64) subject += Rdn(kOidCommonName, spec.dns.front());

  std::string tbs_content;
  tbs_content.reserve(1024);
  tbs_content += kVersion3;
  tbs_content += der::PositiveInteger(std::string_view(reinterpret_cast<char*>(serial), sizeof serial));
  tbs_content += p.signer.algorithm();
  tbs_content += p.issuer_name;
  tbs_content += der::Tlv(der::kSequence, der::Time(ToUnixSeconds(out.not_before)) +
                                              der::Time(ToUnixSeconds(out.not_after)));
  tbs_content += der::Tlv(der::kSequence, subject);
  tbs_content += key.spki_der;
  tbs_content += der::Tlv(der::kContext3, der::Tlv(der::kSequence, exts));
  std::string tbs = der::Tlv(der::kSequence, tbs_content);

  auto der = p.signer.Sign(std::move(tbs), "the certificate");
  if (!der) return std::unexpected(der.error());
  out.der = std::move(*der);
  detail::ApplyIssuanceTamper(kCheckLeaf, out.der);

  // Nothing leaves Issue() that an independent parse does not confirm.
  const ExpectedLeaf expected{.issuer = cert_.get(), .spki_der = key.spki_der, .key_type = spec.key_type,
                              .spiffe_id = spec.spiffe_id, .dns = spec.dns, .ips = spec.ips, .now = now,
                              .backdate = options_.backdate, .ttl = spec.ttl, .crl_url = options_.crl_url,
                              .ocsp_url = options_.ocsp_url};
  if (auto failure = CheckLeaf(out.der, expected)) return detail::IssuanceCheckFailed(std::move(*failure));
  return out;
}

}  // namespace mayfly
