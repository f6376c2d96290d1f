// CSR parsing with a fast path for the key types agents use.
//
// d2i_X509_REQ in OpenSSL 3.0 builds an EVP_PKEY for the request's key through
// the provider decoder machinery, which walks every registered algorithm name
// and costs more than the signature check itself (see BASELINES.md). So the
// request is decoded with Mayfly's own ASN.1 templates, declared with
// OpenSSL's template macros: the same DER engine, but the key stays raw
// SubjectPublicKeyInfo. The one EVP_PKEY the verification needs is then built
// directly from the encoded point (checked to be on its curve) or the raw
// Ed25519 bytes. The key policy is enforced here, on the algorithm OIDs.
#include "mayfly/csr.h"

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

// CertificationRequest (RFC 2986) with the key left undecoded.
extern "C" {
typedef struct {
  X509_ALGOR* algor;
  ASN1_BIT_STRING* public_key;
} MAYFLY_SPKI;
typedef struct {
  ASN1_INTEGER* version;
  ASN1_TYPE* subject;  // ignored: kept undecoded to save the Name parsing
  MAYFLY_SPKI* spki;
  STACK_OF(X509_ATTRIBUTE) * attributes;
} MAYFLY_REQ_INFO;
typedef struct {
  MAYFLY_REQ_INFO* info;
  X509_ALGOR* sig_alg;
  ASN1_BIT_STRING* signature;
} MAYFLY_REQ;
DECLARE_ASN1_FUNCTIONS(MAYFLY_REQ)
DECLARE_ASN1_ITEM(MAYFLY_SPKI)

ASN1_SEQUENCE(MAYFLY_SPKI) = {
    ASN1_SIMPLE(MAYFLY_SPKI, algor, X509_ALGOR),
    ASN1_SIMPLE(MAYFLY_SPKI, public_key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(MAYFLY_SPKI)

ASN1_SEQUENCE(MAYFLY_REQ_INFO) = {
    ASN1_SIMPLE(MAYFLY_REQ_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(MAYFLY_REQ_INFO, subject, ASN1_ANY),
    ASN1_SIMPLE(MAYFLY_REQ_INFO, spki, MAYFLY_SPKI),
    ASN1_IMP_SET_OF_OPT(MAYFLY_REQ_INFO, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END(MAYFLY_REQ_INFO)

ASN1_SEQUENCE(MAYFLY_REQ) = {
    ASN1_SIMPLE(MAYFLY_REQ, info, MAYFLY_REQ_INFO),
    ASN1_SIMPLE(MAYFLY_REQ, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(MAYFLY_REQ, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(MAYFLY_REQ)

IMPLEMENT_ASN1_FUNCTIONS(MAYFLY_REQ)
}  // extern "C"

namespace mayfly {
namespace {

struct ReqDeleter {
  void operator()(MAYFLY_REQ* r) const { MAYFLY_REQ_free(r); }
};
using ReqPtr = std::unique_ptr<MAYFLY_REQ, ReqDeleter>;

struct ExtensionsDeleter {
  void operator()(STACK_OF(X509_EXTENSION) * s) const { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
using ExtensionsPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsDeleter>;

// Parameters-only EC keys, duplicated per request and given its point.
const EVP_PKEY* EcTemplate(int curve_nid) {
  auto make = [](const char* group) -> EVP_PKEY* {
    OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params) != 1) return nullptr;
    return key;
  };
  static EVP_PKEY* p256 = make("P-256");
  static EVP_PKEY* p384 = make("P-384");
  return curve_nid == NID_X9_62_prime256v1 ? p256 : p384;
}

// This thread's EC key for one curve, whose point each request replaces,
// and a verification context over it. Per request, duplicating the template
// copied the whole curve group (a tenth of an issuance) and a new context
// walked OpenSSL's whole algorithm-name table. Safe to reuse: neither leaves
// this file (a Csr keeps the encoded SubjectPublicKeyInfo, not the
// EVP_PKEY); each request sets the point, then initialises the context
// again, which binds it to the key as it is now, before its one
// verification; a request whose point is refused never verifies.
struct EcVerifier {
  OsslPtr<EVP_PKEY> key;
  OsslPtr<EVP_PKEY_CTX> ctx;
};

EcVerifier* ThreadEcVerifier(int curve_nid) {
  thread_local EcVerifier p256;
  thread_local EcVerifier p384;
  EcVerifier& v = curve_nid == NID_X9_62_prime256v1 ? p256 : p384;
  if (!v.ctx) {
    const EVP_PKEY* tmpl = EcTemplate(curve_nid);
    OsslPtr<EVP_PKEY> key(tmpl != nullptr ? EVP_PKEY_dup(const_cast<EVP_PKEY*>(tmpl)) : nullptr);
    if (!key) return nullptr;
    v.ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!v.ctx) return nullptr;
    v.key = std::move(key);
  }
  return &v;
}

std::unexpected<Error> Bad(std::string msg) { return MakeError(ErrorCode::kInvalidCsr, std::move(msg)); }

// PEM armour off, or the input itself when it is not PEM.
Result<std::string> ToDer(std::string_view input) {
  constexpr std::string_view kDash = "-----BEGIN ";
  size_t begin = input.find(kDash);
  if (begin == std::string_view::npos) return std::string(input);
  size_t label_end = input.find("-----", begin + kDash.size());
  if (label_end == std::string_view::npos) return Bad("malformed PEM header");
  std::string_view label = input.substr(begin + kDash.size(), label_end - begin - kDash.size());
  if (label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST") {
    return Bad("expected a PEM CERTIFICATE REQUEST, found " + std::string(label));
  }
  std::string end_marker = "-----END " + std::string(label) + "-----";
  size_t body_begin = label_end + 5;
  size_t end = input.find(end_marker, body_begin);
  if (end == std::string_view::npos) return Bad("PEM CSR without its END line (truncated?)");
  std::string b64;
  for (char c : input.substr(body_begin, end - body_begin)) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64.push_back(c);
  }
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() / 4 * 3 > kMaxCsrDerBytes + 3) {
    return Bad(b64.size() / 4 * 3 > kMaxCsrDerBytes ? "CSR is larger than 16 KiB"
                                                    : "PEM CSR body is not valid base64");
  }
  std::string der(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return Bad("PEM CSR body is not valid base64");
  // EVP_DecodeBlock counts '=' padding as zero bytes.
  size_t pad = b64.ends_with("==") ? 2 : b64.ends_with("=") ? 1 : 0;
  der.resize(static_cast<size_t>(n) - pad);
  return der;
}

struct VerifiedKey {
  KeyType type;
  OsslPtr<EVP_PKEY> pkey;
  EVP_PKEY_CTX* ec_ctx = nullptr;  // EC keys: this thread's context over pkey
};

// Builds the request's public key and checks it against the policy.
Result<VerifiedKey> BuildKey(const MAYFLY_SPKI* spki, const SubjectPublicKey& pub) {
  const ASN1_OBJECT* alg = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(&alg, &ptype, &pval, spki->algor);
  const auto* pk = reinterpret_cast<const unsigned char*>(pub.key_bits.data());
  const size_t pklen = pub.key_bits.size();
  if (pklen == 0) return MakeError(ErrorCode::kWeakKey, "CSR public key is empty");
  ClearOpensslErrors();
  switch (OBJ_obj2nid(alg)) {
    case NID_X9_62_id_ecPublicKey: {
      int curve = ptype == V_ASN1_OBJECT ? OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval)) : NID_undef;
      if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1) {
        return MakeError(ErrorCode::kWeakKey,
                         "EC key on a curve other than P-256 or P-384 (or explicit parameters)");
      }
      EcVerifier* verifier = ThreadEcVerifier(curve);
      if (verifier == nullptr || EVP_PKEY_up_ref(verifier->key.get()) != 1) {
        return OpensslError("preparing an EC key");
      }
      OsslPtr<EVP_PKEY> key(verifier->key.get());
      if (EVP_PKEY_set1_encoded_public_key(key.get(), pk, pklen) != 1) {
        ClearOpensslErrors();
        return MakeError(ErrorCode::kWeakKey, "EC public key is not a point on its curve");
      }
      return VerifiedKey{curve == NID_X9_62_prime256v1 ? KeyType::kEcdsaP256 : KeyType::kEcdsaP384,
                         std::move(key), verifier->ctx.get()};
    }
    case NID_ED25519: {
      if (ptype != V_ASN1_UNDEF || pklen != 32) return MakeError(ErrorCode::kWeakKey, "malformed Ed25519 key");
      OsslPtr<EVP_PKEY> key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, pk, 32));
      if (!key) return OpensslError("reading an Ed25519 key", ErrorCode::kWeakKey);
      return VerifiedKey{KeyType::kEd25519, std::move(key)};
    }
    case NID_rsaEncryption: {
      // Rare and slow anyway: let the default decoders read it.
      const auto* p = reinterpret_cast<const unsigned char*>(pub.spki_der.data());
      OsslPtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(pub.spki_der.size())));
      if (!key) return OpensslError("reading an RSA key", ErrorCode::kWeakKey);
      auto type = ClassifyKey(key.get());
      if (!type) return std::unexpected(type.error());
      return VerifiedKey{*type, std::move(key)};
    }
    default: {
      char name[80];
      OBJ_obj2txt(name, sizeof name, alg, 0);
      return MakeError(ErrorCode::kWeakKey, std::string("key algorithm ") + name +
                                                " is not accepted (use ECDSA P-256/P-384, Ed25519 or RSA >= 2048)");
    }
  }
}

// The signature algorithm must be a strong one and fit the key's family.
// Returns the digest to verify with ("" for Ed25519).
Result<std::string> SignatureDigest(const X509_ALGOR* sig_alg, KeyType key_type) {
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, sig_alg);
  int nid = OBJ_obj2nid(obj);
  switch (FamilyOf(key_type)) {
    case KeyFamily::kEc:
      if (nid == NID_ecdsa_with_SHA256) return "SHA256";
      if (nid == NID_ecdsa_with_SHA384) return "SHA384";
      if (nid == NID_ecdsa_with_SHA512) return "SHA512";
      break;
    case KeyFamily::kEd25519:
      if (nid == NID_ED25519) return "";
      break;
    case KeyFamily::kRsa:
      if (nid == NID_sha256WithRSAEncryption) return "SHA256";
      if (nid == NID_sha384WithRSAEncryption) return "SHA384";
      if (nid == NID_sha512WithRSAEncryption) return "SHA512";
      break;
  }
  char name[80];
  OBJ_obj2txt(name, sizeof name, obj, 0);
  return Bad(std::string("CSR signature algorithm ") + name + " is not accepted for a " +
             std::string(KeyTypeName(key_type)) + " key");
}

// The DER of the CertificationRequestInfo: the bytes the signature covers,
// exactly as received.
Result<std::string_view> SignedPart(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  long len = 0;
  int tag = 0, cls = 0;
  if (ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(der.size())) & 0x80) {
    return Bad("CSR is not valid DER");
  }
  const unsigned char* info_start = p;
  long remaining = static_cast<long>(der.size()) - (p - reinterpret_cast<const unsigned char*>(der.data()));
  if (ASN1_get_object(&p, &len, &tag, &cls, remaining) & 0x80) return Bad("CSR is not valid DER");
  size_t total = static_cast<size_t>(p - info_start) + static_cast<size_t>(len);
  return std::string_view(reinterpret_cast<const char*>(info_start), total);
}

Result<void> VerifySignature(const VerifiedKey& key, const std::string& digest, std::string_view signed_part,
                             const ASN1_BIT_STRING* signature) {
  // ECDSA: hash with a pre-fetched digest, then verify the hash.
  if (const EVP_MD* md = FetchedDigest(digest); md != nullptr && key.ec_ctx != nullptr) {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    ClearOpensslErrors();
    if (EVP_Digest(signed_part.data(), signed_part.size(), hash, &hash_len, md, nullptr) != 1 ||
        EVP_PKEY_verify_init(key.ec_ctx) != 1 || EVP_PKEY_CTX_set_signature_md(key.ec_ctx, md) != 1) {
      return OpensslError("preparing the CSR signature check");
    }
    const int ok = EVP_PKEY_verify(key.ec_ctx, ASN1_STRING_get0_data(signature),
                                   static_cast<size_t>(ASN1_STRING_length(signature)), hash, hash_len);
    ClearOpensslErrors();
    if (ok != 1) return Bad("CSR signature does not verify with its own public key");
    return Ok();
  }
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ClearOpensslErrors();
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest.empty() ? nullptr : digest.c_str(), nullptr,
                                      nullptr, key.pkey.get(), nullptr) != 1) {
    return OpensslError("preparing the CSR signature check");
  }
  int ok = EVP_DigestVerify(ctx.get(), ASN1_STRING_get0_data(signature),
                            static_cast<size_t>(ASN1_STRING_length(signature)),
                            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  ClearOpensslErrors();
  if (ok != 1) return Bad("CSR signature does not verify with its own public key");
  return Ok();
}

// The requested extensions, from the PKCS#9 extensionRequest attribute.
Result<ExtensionsPtr> RequestedExtensions(const STACK_OF(X509_ATTRIBUTE) * attributes) {
  ExtensionsPtr found;
  for (int i = 0; i < sk_X509_ATTRIBUTE_num(attributes); ++i) {
    X509_ATTRIBUTE* attr = sk_X509_ATTRIBUTE_value(attributes, i);
    int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr));
    if (nid != NID_ext_req && nid != NID_ms_ext_req) continue;
    if (found) return Bad("CSR has more than one extension request");
    ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
    if (X509_ATTRIBUTE_count(attr) != 1 || value == nullptr || value->type != V_ASN1_SEQUENCE) {
      return Bad("CSR extension request is malformed");
    }
    const unsigned char* p = value->value.sequence->data;
    found.reset(d2i_X509_EXTENSIONS(nullptr, &p, value->value.sequence->length));
    if (!found) return OpensslError("CSR extension request is malformed", ErrorCode::kInvalidCsr);
  }
  return found;
}

std::string Asn1Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// A URI or DNS name as requested, bounded and without embedded NULs.
Result<std::string> TextName(const ASN1_STRING* s, const char* kind, size_t max_bytes) {
  std::string text = Asn1Text(s);
  if (text.size() > max_bytes) {
    return Bad(std::string("CSR ") + kind + " name is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (text.find('\0') != std::string::npos) return Bad(std::string("CSR ") + kind + " name contains a NUL byte");
  return text;
}

}  // namespace

Result<Csr> Csr::Parse(std::string_view input) {
  auto der = ToDer(input);
  if (!der) return std::unexpected(der.error());
  if (der->empty()) return Bad("CSR is empty");
  if (der->size() > kMaxCsrDerBytes) return Bad("CSR is larger than 16 KiB");

  ClearOpensslErrors();
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  const auto* end = p + der->size();
  ReqPtr req(d2i_MAYFLY_REQ(nullptr, &p, static_cast<long>(der->size())));
  if (!req) return OpensslError("CSR is not valid DER (garbage or truncated)", ErrorCode::kInvalidCsr);
  if (p != end) return Bad("CSR has trailing bytes after its DER");
  auto signed_part = SignedPart(*der);
  if (!signed_part) return std::unexpected(signed_part.error());

  Csr csr;
  unsigned char* spki_der = nullptr;
  int spki_len = ASN1_item_i2d(reinterpret_cast<ASN1_VALUE*>(req->info->spki), &spki_der,
                               ASN1_ITEM_rptr(MAYFLY_SPKI));
  if (spki_len <= 0) return OpensslError("CSR public key is malformed", ErrorCode::kInvalidCsr);
  csr.public_key_.spki_der.assign(reinterpret_cast<char*>(spki_der), static_cast<size_t>(spki_len));
  OPENSSL_free(spki_der);
  csr.public_key_.key_bits = Asn1Text(req->info->spki->public_key);

  auto key = BuildKey(req->info->spki, csr.public_key_);
  if (!key) return std::unexpected(key.error());
  csr.key_type_ = key->type;
  auto digest = SignatureDigest(req->sig_alg, key->type);
  if (!digest) return std::unexpected(digest.error());
  if (auto r = VerifySignature(*key, *digest, *signed_part, req->signature); !r) return std::unexpected(r.error());

  auto exts = RequestedExtensions(req->info->attributes);
  if (!exts) return std::unexpected(exts.error());
  if (!*exts) return csr;
  bool seen_san = false;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts->get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts->get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    if (seen_san) return Bad("CSR has more than one subjectAltName extension");
    seen_san = true;
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
    const unsigned char* vp = ASN1_STRING_get0_data(value);
    OsslPtr<GENERAL_NAMES> names(d2i_GENERAL_NAMES(nullptr, &vp, ASN1_STRING_length(value)));
    if (!names) return OpensslError("CSR subjectAltName is malformed", ErrorCode::kInvalidCsr);
    size_t count = static_cast<size_t>(sk_GENERAL_NAME_num(names.get()));
    if (count > kMaxCsrNames) {
      return Bad("CSR requests " + std::to_string(count) + " names; at most " +
                 std::to_string(kMaxCsrNames) + " are accepted");
    }
    for (size_t j = 0; j < count; ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), static_cast<int>(j));
      switch (gn->type) {
        case GEN_URI: {
          auto uri = TextName(gn->d.uniformResourceIdentifier, "URI", kMaxUriNameBytes);
          if (!uri) return std::unexpected(uri.error());
          csr.uris_.push_back(std::move(*uri));
          break;
        }
        case GEN_DNS: {
          auto dns = TextName(gn->d.dNSName, "DNS", kMaxDnsNameBytes);
          if (!dns) return std::unexpected(dns.error());
          csr.dns_.push_back(std::move(*dns));
          break;
        }
        case GEN_IPADD: {
          std::string raw = Asn1Text(gn->d.iPAddress);
          if (raw.size() != 4 && raw.size() != 16) return Bad("CSR IP address is neither 4 nor 16 bytes");
          csr.ips_.push_back(IpAddress{std::vector<uint8_t>(raw.begin(), raw.end())});
          break;
        }
        default:
          return Bad("CSR requests a name type Mayfly does not issue (only URI, DNS and IP names)");
      }
    }
  }
  return csr;
}

Result<std::string> MakeCsrPem(const EVP_PKEY* key, const std::vector<std::string>& uris,
                               const std::vector<std::string>& dns,
                               const std::vector<std::string>& ips) {
  ClearOpensslErrors();
  OsslPtr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(key)) != 1) {
    return OpensslError("building a CSR");
  }
  OsslPtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  auto add = [&](int type, const std::string& value) -> bool {
    GENERAL_NAME* gn = nullptr;
    if (type == GEN_IPADD) {
      gn = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, GEN_IPADD, value.c_str(), 0);
    } else {
      gn = GENERAL_NAME_new();
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      if (gn == nullptr || s == nullptr ||
          ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        return false;
      }
      GENERAL_NAME_set0_value(gn, type, s);
    }
    if (gn == nullptr) return false;
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return false;
    }
    return true;
  };
  for (const auto& u : uris) if (!add(GEN_URI, u)) return OpensslError("adding URI " + u);
  for (const auto& d : dns) if (!add(GEN_DNS, d)) return OpensslError("adding DNS name " + d);
  for (const auto& ip : ips) if (!add(GEN_IPADD, ip)) return OpensslError("adding IP " + ip, ErrorCode::kInvalidName);
  if (sk_GENERAL_NAME_num(names.get()) > 0) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
    bool ok = exts != nullptr && ext != nullptr && sk_X509_EXTENSION_push(exts, ext) != 0;
    if (!ok) X509_EXTENSION_free(ext);
    ok = ok && X509_REQ_add_extensions(req.get(), exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (!ok) return OpensslError("adding the CSR's names");
  }
  const EVP_MD* md = EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(key), md) <= 0) return OpensslError("signing a CSR");
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) return OpensslError("encoding a CSR");
  return BioToString(bio.get());
}

}  // namespace mayfly
