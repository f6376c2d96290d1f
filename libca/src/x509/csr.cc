// CSR parsing with a fast path for the key types agents use.
//
// OpenSSL 3.0's d2i_X509_REQ builds an EVP_PKEY for the request's key through
// the provider decoder machinery, which walks every registered algorithm name
// and costs more than the signature check itself (~170 µs per request against
// ~80 µs for the P-256 verify, measured with perf on OpenSSL 3.0.x on a
// 2-core x86-64 host), and its
// template decoder allocates an object per field. So the request is read with
// Mayfly's own strict DER reader (der_reader.h): it only slices the input,
// the SubjectPublicKeyInfo is kept exactly as received, and the one EVP_PKEY
// the verification needs is built directly from the encoded point (checked to
// be an uncompressed point on its curve) or the raw Ed25519 bytes. The key
// policy is enforced here, on the algorithm OIDs.
#include "mayfly/csr.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <optional>
#include <vector>

#include "der_reader.h"
#include "der_writer.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Parameters-only EC keys, duplicated once per thread (ThreadEcVerifier).
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

// The object identifiers a CSR is checked against, by NID, their content
// bytes taken from OpenSSL's own table once.
int OidNid(std::string_view content) {
  struct Known {
    int nid;
    std::string_view content;
  };
  static const std::vector<Known> known = [] {
    std::vector<Known> table;
    for (int nid : {NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1, NID_secp384r1, NID_ED25519, NID_rsaEncryption,
                    NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512, NID_sha256WithRSAEncryption,
                    NID_sha384WithRSAEncryption, NID_sha512WithRSAEncryption, NID_ext_req, NID_ms_ext_req,
                    NID_subject_alt_name}) {
      const ASN1_OBJECT* obj = OBJ_nid2obj(nid);
      table.push_back({nid, std::string_view(reinterpret_cast<const char*>(OBJ_get0_data(obj)),
                                             OBJ_length(obj))});
    }
    return table;
  }();
  for (const Known& k : known) {
    if (k.content == content) return k.nid;
  }
  return NID_undef;
}

// An OID in dotted form, for error messages.
std::string OidText(std::string_view content) {
  const std::string encoded = der::Tlv(der::kObjectIdentifier, content);
  const auto* p = reinterpret_cast<const unsigned char*>(encoded.data());
  OsslPtr<ASN1_OBJECT> obj(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(encoded.size())));
  ClearOpensslErrors();
  char text[80] = "(malformed OID)";
  if (obj) OBJ_obj2txt(text, sizeof text, obj.get(), 1);
  return text;
}

std::unexpected<Error> Malformed(std::string_view part) {
  return Bad("CSR is not valid DER: its " + std::string(part) + " is malformed");
}

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
struct Algorithm {
  int nid = NID_undef;
  std::string_view oid;                 // content bytes, for messages
  std::optional<der::Element> params;  // absent when not encoded
};

std::optional<Algorithm> ReadAlgorithm(der::Reader& in) {
  auto seq = in.Next(der::kSequence);
  if (!seq) return std::nullopt;
  der::Reader fields(seq->content);
  auto oid = fields.Next(der::kObjectIdentifier);
  if (!oid) return std::nullopt;
  Algorithm alg{OidNid(oid->content), oid->content, std::nullopt};
  if (!fields.AtEnd()) alg.params = fields.NextAny();
  if (!fields.Done()) return std::nullopt;
  return alg;
}

// A BIT STRING holding whole bytes (keys and signatures always do).
std::optional<std::string_view> ReadWholeBytes(der::Reader& in) {
  auto bits = in.Next(der::kBitString);
  if (!bits || bits->content.empty() || bits->content[0] != 0) return std::nullopt;
  return bits->content.substr(1);
}

// CertificationRequest (RFC 2986), sliced out of the input.
struct RawRequest {
  std::string_view signed_part;  // the CertificationRequestInfo as received
  std::string_view spki;         // SubjectPublicKeyInfo as received
  Algorithm key_algorithm;
  std::string_view key_bits;
  std::optional<der::Element> attributes;  // [0] IMPLICIT SET OF Attribute
  Algorithm signature_algorithm;
  std::string_view signature;
};

Result<RawRequest> ReadRequest(std::string_view der) {
  der::Reader top(der);
  auto request = top.Next(der::kSequence);
  if (!request) return Bad("CSR is not valid DER (garbage or truncated)");
  if (!top.AtEnd()) return Bad("CSR has trailing bytes after its DER");

  RawRequest raw;
  der::Reader outer(request->content);
  auto info = outer.Next(der::kSequence);
  if (!info) return Malformed("CertificationRequestInfo");
  raw.signed_part = info->encoded;
  auto signature_algorithm = ReadAlgorithm(outer);
  if (!signature_algorithm) return Malformed("signature algorithm");
  raw.signature_algorithm = *signature_algorithm;
  auto signature = ReadWholeBytes(outer);
  if (!signature || !outer.Done()) return Malformed("signature");
  raw.signature = *signature;

  der::Reader fields(info->content);
  auto version = fields.Next(der::kInteger);
  if (!version) return Malformed("version");
  if (version->content != std::string_view("\0", 1)) return Bad("CSR version is not v1 (encoded as 0)");
  if (!fields.Next(der::kSequence)) return Malformed("subject name");
  auto spki = fields.Next(der::kSequence);
  if (!spki) return Malformed("public key (SubjectPublicKeyInfo)");
  raw.spki = spki->encoded;
  der::Reader key(spki->content);
  auto key_algorithm = ReadAlgorithm(key);
  auto key_bits = key_algorithm ? ReadWholeBytes(key) : std::nullopt;
  if (!key_bits || !key.Done()) return Malformed("public key (SubjectPublicKeyInfo)");
  raw.key_algorithm = *key_algorithm;
  raw.key_bits = *key_bits;
  raw.attributes = fields.NextIf(der::kContext0);
  if (!fields.Done()) return Malformed("attributes");
  return raw;
}

// An EC point must come as 04 || x || y, each coordinate as long as the
// field: one encoding per key, so comparing keys can never be fooled by a
// second form, and no room for the point at infinity (the one byte 00),
// which OpenSSL decodes without complaint and under which a signature
// verifies without any private key. Compressed points (02 or 03 || x) are
// refused: RFC 5480 makes only the uncompressed form mandatory, and every
// agent sends it.
Result<void> CheckEcPointEncoding(std::string_view point, int curve_nid) {
  const size_t field_bytes = curve_nid == NID_X9_62_prime256v1 ? 32 : 48;
  const std::string_view curve = curve_nid == NID_X9_62_prime256v1 ? "P-256" : "P-384";
  const auto prefix = static_cast<unsigned char>(point[0]);
  if (point.size() == 1 && prefix == 0x00) {
    return MakeError(ErrorCode::kWeakKey, "EC public key is the point at infinity");
  }
  if (prefix == 0x02 || prefix == 0x03) {
    return MakeError(ErrorCode::kInvalidArgument, "compressed EC points are not accepted; send the uncompressed point");
  }
  if (prefix != 0x04) {
    return MakeError(ErrorCode::kWeakKey, "EC public key is not an uncompressed point (04 || x || y)");
  }
  if (point.size() != 1 + 2 * field_bytes) {
    return MakeError(ErrorCode::kWeakKey, "EC public key on " + std::string(curve) + " must be " +
                                              std::to_string(1 + 2 * field_bytes) + " bytes (04 || x || y), not " +
                                              std::to_string(point.size()));
  }
  return Ok();
}

struct VerifiedKey {
  KeyType type;
  OsslPtr<EVP_PKEY> pkey;
  EVP_PKEY_CTX* ec_ctx = nullptr;  // EC keys: this thread's context over pkey
};

// Builds the request's public key and checks it against the policy.
Result<VerifiedKey> BuildKey(const RawRequest& raw) {
  const Algorithm& alg = raw.key_algorithm;
  const auto* pk = reinterpret_cast<const unsigned char*>(raw.key_bits.data());
  const size_t pklen = raw.key_bits.size();
  if (pklen == 0) return MakeError(ErrorCode::kWeakKey, "CSR public key is empty");
  ClearOpensslErrors();
  switch (alg.nid) {
    case NID_X9_62_id_ecPublicKey: {
      const int curve = alg.params && alg.params->tag == der::kObjectIdentifier ? OidNid(alg.params->content)
                                                                                 : NID_undef;
      if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1) {
        return MakeError(ErrorCode::kWeakKey,
                         "EC key on a curve other than P-256 or P-384 (or explicit parameters)");
      }
      if (auto r = CheckEcPointEncoding(raw.key_bits, curve); !r) return std::unexpected(r.error());
      EcVerifier* verifier = ThreadEcVerifier(curve);
      if (verifier == nullptr || EVP_PKEY_up_ref(verifier->key.get()) != 1) {
        return OpensslError("preparing an EC key");
      }
      OsslPtr<EVP_PKEY> key(verifier->key.get());
      // Decodes (x, y), refusing coordinates outside the field and a point
      // off the curve. With the encoding checked above that is a full public
      // key validation: P-256 and P-384 have cofactor 1, so every point on
      // the curve but infinity has the group's order.
      if (EVP_PKEY_set1_encoded_public_key(key.get(), pk, pklen) != 1) {
        ClearOpensslErrors();
        return MakeError(ErrorCode::kWeakKey, "EC public key is not a point on its curve");
      }
      return VerifiedKey{curve == NID_X9_62_prime256v1 ? KeyType::kEcdsaP256 : KeyType::kEcdsaP384,
                         std::move(key), verifier->ctx.get()};
    }
    case NID_ED25519: {
      if (alg.params || pklen != 32) return MakeError(ErrorCode::kWeakKey, "malformed Ed25519 key");
      OsslPtr<EVP_PKEY> key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, pk, 32));
      if (!key) return OpensslError("reading an Ed25519 key", ErrorCode::kWeakKey);
      return VerifiedKey{KeyType::kEd25519, std::move(key)};
    }
    case NID_rsaEncryption: {
      // Rare and slow anyway: let the default decoders read it.
      const auto* p = reinterpret_cast<const unsigned char*>(raw.spki.data());
      OsslPtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(raw.spki.size())));
      if (!key) return OpensslError("reading an RSA key", ErrorCode::kWeakKey);
      auto type = ClassifyKey(key.get());
      if (!type) return std::unexpected(type.error());
      return VerifiedKey{*type, std::move(key)};
    }
    default:
      return MakeError(ErrorCode::kWeakKey, "key algorithm " + OidText(alg.oid) +
                                                " is not accepted (use ECDSA P-256/P-384, Ed25519 or RSA >= 2048)");
  }
}

// The signature algorithm must be a strong one and fit the key's family.
// Returns the digest to verify with, fetched once (nullptr for Ed25519,
// which hashes internally).
Result<const EVP_MD*> SignatureDigest(const Algorithm& alg, KeyType key_type) {
  // No algorithm Mayfly accepts has parameters; RSA's are an explicit NULL.
  const bool no_params = !alg.params || (alg.params->tag == der::kNull && alg.params->content.empty());
  if (!no_params) return Bad("CSR signature algorithm " + OidText(alg.oid) + " has unexpected parameters");
  struct Accepted {
    int nid;
    KeyFamily family;
    std::string_view digest;  // empty: the algorithm hashes internally
  };
  static constexpr Accepted kAccepted[] = {
      {NID_ecdsa_with_SHA256, KeyFamily::kEc, "SHA256"},
      {NID_ecdsa_with_SHA384, KeyFamily::kEc, "SHA384"},
      {NID_ecdsa_with_SHA512, KeyFamily::kEc, "SHA512"},
      {NID_ED25519, KeyFamily::kEd25519, ""},
      {NID_sha256WithRSAEncryption, KeyFamily::kRsa, "SHA256"},
      {NID_sha384WithRSAEncryption, KeyFamily::kRsa, "SHA384"},
      {NID_sha512WithRSAEncryption, KeyFamily::kRsa, "SHA512"},
  };
  for (const Accepted& a : kAccepted) {
    if (a.nid != alg.nid || a.family != FamilyOf(key_type)) continue;
    if (a.digest.empty()) return nullptr;
    const EVP_MD* md = FetchedDigest(a.digest);
    if (md == nullptr) return OpensslError("fetching " + std::string(a.digest));
    return md;
  }
  return Bad("CSR signature algorithm " + OidText(alg.oid) + " is not accepted for a " +
             std::string(KeyTypeName(key_type)) + " key");
}

Result<void> VerifySignature(const VerifiedKey& key, const EVP_MD* md, std::string_view signed_part,
                             std::string_view signature) {
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  // ECDSA: hash, then verify the hash on this thread's context. The context
  // is never told the digest (it would only check the hash's length, and a
  // digest set once would stay for the next request on this thread, which
  // may use another).
  if (key.ec_ctx != nullptr) {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    ClearOpensslErrors();
    if (EVP_Digest(signed_part.data(), signed_part.size(), hash, &hash_len, md, nullptr) != 1 ||
        EVP_PKEY_verify_init(key.ec_ctx) != 1) {
      return OpensslError("preparing the CSR signature check");
    }
    const int ok = EVP_PKEY_verify(key.ec_ctx, sig, signature.size(), hash, hash_len);
    ClearOpensslErrors();
    if (ok != 1) return Bad("CSR signature does not verify with its own public key");
    return Ok();
  }
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ClearOpensslErrors();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1) {
    return OpensslError("preparing the CSR signature check");
  }
  int ok = EVP_DigestVerify(ctx.get(), sig, signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  ClearOpensslErrors();
  if (ok != 1) return Bad("CSR signature does not verify with its own public key");
  return Ok();
}

// The requested extensions (the content of the PKCS#9 extensionRequest
// attribute), if any. Other attributes are skipped.
Result<std::optional<std::string_view>> RequestedExtensions(const std::optional<der::Element>& attributes) {
  if (!attributes) return std::nullopt;
  std::optional<std::string_view> extensions;
  der::Reader list(attributes->content);
  while (!list.AtEnd()) {
    auto attribute = list.Next(der::kSequence);
    if (!attribute) return Malformed("attributes");
    der::Reader fields(attribute->content);
    auto type = fields.Next(der::kObjectIdentifier);
    auto values = type ? fields.Next(der::kSet) : std::nullopt;
    if (!values || !fields.Done()) return Malformed("attributes");
    const int nid = OidNid(type->content);
    if (nid != NID_ext_req && nid != NID_ms_ext_req) continue;
    if (extensions) return Bad("CSR has more than one extension request");
    der::Reader value(values->content);
    auto sequence = value.Next(der::kSequence);
    if (!sequence || !value.Done()) return Bad("CSR extension request is malformed");
    extensions = sequence->content;
  }
  return extensions;
}

// The content of the requested subjectAltName extension, if any. Other
// extensions are skipped: the CA builds every extension itself.
Result<std::optional<std::string_view>> RequestedSan(const std::optional<der::Element>& attributes) {
  auto extensions = RequestedExtensions(attributes);
  if (!extensions || !*extensions) return extensions;
  std::optional<std::string_view> san;
  der::Reader exts(**extensions);
  while (!exts.AtEnd()) {
    auto extension = exts.Next(der::kSequence);
    if (!extension) return Bad("CSR extension request is malformed");
    der::Reader fields(extension->content);
    auto id = fields.Next(der::kObjectIdentifier);
    auto critical = id ? fields.NextIf(der::kBoolean) : std::nullopt;
    auto value = id ? fields.Next(der::kOctetString) : std::nullopt;
    if (!value || !fields.Done() || (critical && critical->content.size() != 1)) {
      return Bad("CSR extension request is malformed");
    }
    if (OidNid(id->content) != NID_subject_alt_name) continue;
    if (san) return Bad("CSR has more than one subjectAltName extension");
    san = value->content;
  }
  return san;
}

// Adds a URI or DNS name as requested, bounded and without embedded NULs.
Result<void> AddTextName(std::vector<std::string>& to, std::string_view text, const char* kind,
                         size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Bad(std::string("CSR ") + kind + " name is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (text.find('\0') != std::string_view::npos) return Bad(std::string("CSR ") + kind + " name contains a NUL byte");
  to.emplace_back(text);
  return Ok();
}

}  // namespace

Result<void> Csr::ReadNames(std::string_view san) {
  der::Reader outer(san);
  auto names = outer.Next(der::kSequence);
  if (!names || !outer.Done()) return Bad("CSR subjectAltName is malformed");
  size_t count = 0;
  for (der::Reader counting(names->content); !counting.AtEnd(); ++count) {
    if (!counting.NextAny()) return Bad("CSR subjectAltName is malformed");
  }
  if (count > kMaxCsrNames) {
    return Bad("CSR requests " + std::to_string(count) + " names; at most " + std::to_string(kMaxCsrNames) +
               " are accepted");
  }
  der::Reader reader(names->content);
  while (auto name = reader.NextAny()) {
    Result<void> added = Ok();
    switch (name->tag) {
      case der::kGeneralNameUri:
        added = AddTextName(uris_, name->content, "URI", kMaxUriNameBytes);
        break;
      case der::kGeneralNameDns:
        added = AddTextName(dns_, name->content, "DNS", kMaxDnsNameBytes);
        break;
      case der::kGeneralNameIp: {
        if (name->content.size() != 4 && name->content.size() != 16) {
          return Bad("CSR IP address is neither 4 nor 16 bytes");
        }
        ips_.push_back(IpAddress{std::vector<uint8_t>(name->content.begin(), name->content.end())});
        break;
      }
      default:
        return Bad("CSR requests a name type Mayfly does not issue (only URI, DNS and IP names)");
    }
    if (!added) return added;
  }
  return Ok();
}

Result<Csr> Csr::Parse(std::string_view input) {
  auto der = ToDer(input);
  if (!der) return std::unexpected(der.error());
  if (der->empty()) return Bad("CSR is empty");
  if (der->size() > kMaxCsrDerBytes) return Bad("CSR is larger than 16 KiB");
  auto raw = ReadRequest(*der);
  if (!raw) return std::unexpected(raw.error());

  auto key = BuildKey(*raw);
  if (!key) return std::unexpected(key.error());
  auto digest = SignatureDigest(raw->signature_algorithm, key->type);
  if (!digest) return std::unexpected(digest.error());
  if (auto r = VerifySignature(*key, *digest, raw->signed_part, raw->signature); !r) return std::unexpected(r.error());

  Csr csr;
  csr.key_type_ = key->type;
  csr.public_key_.spki_der = std::string(raw->spki);
  csr.public_key_.key_bits = std::string(raw->key_bits);
  auto san = RequestedSan(raw->attributes);
  if (!san) return std::unexpected(san.error());
  if (*san) {
    if (auto r = csr.ReadNames(**san); !r) return std::unexpected(r.error());
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
