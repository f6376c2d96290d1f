// Leaf signing with everything constant prepared once per issuer.
//
// OpenSSL 3.0's obvious path (X509_set_pubkey, extensions from config
// strings, X509_sign) spends most of its time re-encoding keys and fetching
// algorithms; see shared BASELINES.md. Here the leaf's key is moved over as
// its encoded SubjectPublicKeyInfo, the constant extensions are built once,
// and a digest-sign context is set up once and copied per certificate.
#include "mayfly/issuer.h"

#include <openssl/rand.h>

#include <cstring>

#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

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
  ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (!gn || s == nullptr || ASN1_STRING_set(s, data, static_cast<int>(len)) != 1) {
    ASN1_STRING_free(s);
    return false;
  }
  GENERAL_NAME_set0_value(gn.get(), type, s);  // gn owns s now
  if (sk_GENERAL_NAME_push(names, gn.get()) == 0) return false;
  gn.release();  // the stack owns it
  return true;
}

// Copies the SubjectPublicKeyInfo without decoding the key.
Result<void> CopyPublicKey(const X509_PUBKEY* from, X509* to, std::string* ski_out) {
  ASN1_OBJECT* alg = nullptr;
  const unsigned char* pk = nullptr;
  int pklen = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&alg, &pk, &pklen, &algor, from) != 1 || pklen <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed public key");
  }
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(nullptr, &ptype, &pval, algor);
  void* param = nullptr;
  if (ptype == V_ASN1_OBJECT) {
    param = OBJ_dup(static_cast<const ASN1_OBJECT*>(pval));
    if (param == nullptr) return OpensslError("copying key parameters");
  } else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF) {
    return MakeError(ErrorCode::kWeakKey, "public key with unsupported parameters");
  }
  ASN1_OBJECT* alg_copy = OBJ_dup(alg);
  auto* pk_copy = static_cast<unsigned char*>(OPENSSL_memdup(pk, static_cast<size_t>(pklen)));
  if (alg_copy == nullptr || pk_copy == nullptr ||
      X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(to), alg_copy, ptype, param, pk_copy, pklen) != 1) {
    ASN1_OBJECT_free(alg_copy);
    OPENSSL_free(pk_copy);
    if (ptype == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param));
    return OpensslError("setting the public key");
  }
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey bits.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(pk, static_cast<size_t>(pklen), md, &mdlen, EVP_sha1(), nullptr) != 1) {
    return OpensslError("hashing the public key");
  }
  ski_out->assign(reinterpret_cast<char*>(md), mdlen);
  return Ok();
}

bool SetTime(ASN1_TIME* t, TimePoint tp) {
  return ASN1_TIME_set(t, static_cast<time_t>(ToUnixSeconds(tp))) != nullptr;
}

}  // namespace

struct Issuer::Prepared {
  OsslPtr<X509_NAME> issuer_name;
  OsslPtr<X509_EXTENSION> basic_constraints;
  OsslPtr<X509_EXTENSION> key_usage;
  OsslPtr<X509_EXTENSION> key_usage_rsa;
  OsslPtr<X509_EXTENSION> eku;
  OsslPtr<X509_EXTENSION> aki;
  OsslPtr<X509_EXTENSION> crl_dp;  // may be null
  OsslPtr<EVP_MD_CTX> sign_template;
};

std::string IssuedCert::Pem() const { return DerToPem(der, "CERTIFICATE"); }

Issuer::Issuer(OsslPtr<X509> cert, OsslPtr<EVP_PKEY> key, IssuerOptions options, const Clock& clock)
    : cert_(std::move(cert)), key_(std::move(key)), options_(std::move(options)), clock_(clock) {}

Issuer::~Issuer() = default;

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

  auto p = std::make_unique<Prepared>();
  p->issuer_name.reset(X509_NAME_dup(X509_get_subject_name(issuer->cert_.get())));
  if (!p->issuer_name) return OpensslError("copying the issuer name");
  // Encode once so concurrent copies only read the cached encoding.
  if (i2d_X509_NAME(p->issuer_name.get(), nullptr) <= 0) return OpensslError("encoding the issuer name");

  OsslPtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpensslError("allocating basicConstraints");
  bc->ca = 0;
  auto bce = MakeExt(NID_basic_constraints, true, bc.get());
  if (!bce) return std::unexpected(bce.error());
  p->basic_constraints = std::move(*bce);

  auto ku = KeyUsageExt(false);
  auto ku_rsa = KeyUsageExt(true);
  if (!ku) return std::unexpected(ku.error());
  if (!ku_rsa) return std::unexpected(ku_rsa.error());
  p->key_usage = std::move(*ku);
  p->key_usage_rsa = std::move(*ku_rsa);

  OsslPtr<EXTENDED_KEY_USAGE> eku(sk_ASN1_OBJECT_new_null());
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) == 0 ||
      sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth)) == 0) {
    return OpensslError("building extendedKeyUsage");
  }
  auto ekue = MakeExt(NID_ext_key_usage, false, eku.get());
  if (!ekue) return std::unexpected(ekue.error());
  p->eku = std::move(*ekue);

  OsslPtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer->cert_.get());
  if (!akid || (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == nullptr) {
    return OpensslError("building authorityKeyIdentifier");
  }
  auto akie = MakeExt(NID_authority_key_identifier, false, akid.get());
  if (!akie) return std::unexpected(akie.error());
  p->aki = std::move(*akie);

  if (!issuer->options_.crl_url.empty()) {
    OsslPtr<GENERAL_NAMES> uri(GENERAL_NAMES_new());
    const std::string& url = issuer->options_.crl_url;
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
    auto dpe = MakeExt(NID_crl_distribution_points, false, dps.get());
    if (!dpe) return std::unexpected(dpe.error());
    p->crl_dp = std::move(*dpe);
  }

  p->sign_template.reset(EVP_MD_CTX_new());
  const EVP_MD* digest = SigningDigest(issuer->key_.get());
  const char* md = digest ? EVP_MD_get0_name(digest) : nullptr;
  if (!p->sign_template ||
      EVP_DigestSignInit_ex(p->sign_template.get(), nullptr, md, nullptr, nullptr,
                            issuer->key_.get(), nullptr) != 1) {
    return OpensslError("preparing the signing context");
  }
  issuer->prepared_ = std::move(p);
  return issuer;
}

Result<IssuedCert> Issuer::Issue(const LeafSpec& spec) const {
  if (spec.public_key == nullptr) return MakeError(ErrorCode::kInvalidArgument, "leaf without a public key");
  if (spec.ttl.count() <= 0) return MakeError(ErrorCode::kInvalidArgument, "leaf TTL must be positive");
  const TimePoint now = clock_.Now();
  if (now >= not_after_) return MakeError(ErrorCode::kUnavailable, "the issuing CA certificate has expired");
  const Prepared& p = *prepared_;
  ClearOpensslErrors();

  OsslPtr<X509> x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) return OpensslError("allocating a certificate");

  unsigned char serial[16];
  do {
    if (RAND_bytes(serial, sizeof serial) != 1) return OpensslError("generating a serial");
  } while (serial[0] == 0);  // keep the full 128 bits significant
  if (ASN1_STRING_set(X509_get_serialNumber(x.get()), serial, sizeof serial) != 1) {
    return OpensslError("setting the serial");
  }

  IssuedCert out;
  const TimePoint now_s = std::chrono::floor<Seconds>(now);
  out.not_before = now_s - options_.backdate;
  out.not_after = std::min<TimePoint>(now_s + spec.ttl, not_after_);
  if (!SetTime(X509_getm_notBefore(x.get()), out.not_before) ||
      !SetTime(X509_getm_notAfter(x.get()), out.not_after) ||
      X509_set_issuer_name(x.get(), p.issuer_name.get()) != 1) {
    return OpensslError("setting validity and issuer");
  }

  X509_NAME* subject = X509_get_subject_name(x.get());
  static constexpr unsigned char kOrg[] = "Mayfly";
  if (X509_NAME_add_entry_by_NID(subject, NID_organizationName, MBSTRING_UTF8, kOrg, 6, -1, 0) != 1) {
    return OpensslError("setting the subject");
  }
  if (!spec.dns.empty() && spec.dns.front().size() <= 64) {
    const std::string& cn = spec.dns.front();
    if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.data()),
                                   static_cast<int>(cn.size()), -1, 0) != 1) {
      return OpensslError("setting the subject");
    }
  }

  std::string ski;
  if (auto r = CopyPublicKey(spec.public_key, x.get(), &ski); !r) return std::unexpected(r.error());

  const bool rsa = FamilyOf(spec.key_type) == KeyFamily::kRsa;
  for (const X509_EXTENSION* ext : {p.basic_constraints.get(), rsa ? p.key_usage_rsa.get() : p.key_usage.get(),
                                    p.eku.get(), p.aki.get(), p.crl_dp.get()}) {
    if (ext != nullptr && X509_add_ext(x.get(), const_cast<X509_EXTENSION*>(ext), -1) != 1) {
      return OpensslError("adding an extension");
    }
  }
  OsslPtr<ASN1_STRING> ski_str(ASN1_OCTET_STRING_new());
  if (!ski_str || ASN1_STRING_set(ski_str.get(), ski.data(), static_cast<int>(ski.size())) != 1 ||
      X509_add1_ext_i2d(x.get(), NID_subject_key_identifier, ski_str.get(), 0, X509V3_ADD_APPEND) != 1) {
    return OpensslError("adding subjectKeyIdentifier");
  }

  OsslPtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  if (!names || !PushName(names.get(), GEN_URI, spec.spiffe_id.data(), spec.spiffe_id.size())) {
    return OpensslError("adding the SPIFFE ID");
  }
  for (const auto& d : spec.dns) {
    if (!PushName(names.get(), GEN_DNS, d.data(), d.size())) return OpensslError("adding a DNS name");
  }
  for (const auto& ip : spec.ips) {
    if (!PushName(names.get(), GEN_IPADD, ip.bytes.data(), ip.bytes.size())) return OpensslError("adding an IP");
  }
  if (X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_APPEND) != 1) {
    return OpensslError("adding subjectAltName");
  }

  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), p.sign_template.get()) != 1 ||
      X509_sign_ctx(x.get(), ctx.get()) <= 0) {
    return OpensslError("signing the certificate");
  }
  auto der = CertToDer(x.get());
  if (!der) return std::unexpected(der.error());
  out.der = std::move(*der);
  out.serial = SerialHex(X509_get0_serialNumber(x.get()));
  return out;
}

Result<OsslPtr<X509_PUBKEY>> PublicKeyInfo(const EVP_PKEY* key) {
  ClearOpensslErrors();
  X509_PUBKEY* pub = nullptr;
  if (X509_PUBKEY_set(&pub, const_cast<EVP_PKEY*>(key)) != 1) return OpensslError("encoding a public key");
  return OsslPtr<X509_PUBKEY>(pub);
}

}  // namespace mayfly
