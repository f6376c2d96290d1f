// OCSP requests and responses through OpenSSL's OCSP API.
#include "mayfly/ocsp.h"

#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "issuance_hooks.h"
#include "mayfly/issuance_check.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

std::string Bytes(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
}

std::string Sha1(std::string_view data) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

Error Malformed(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

// Ed25519/Ed448 keys sign without a separate digest.
const EVP_MD* DigestFor(const EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? nullptr : EVP_sha256();
}

Result<void> AddExt(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  OsslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError("building the OCSP responder extension " + std::string(OBJ_nid2sn(nid)));
  }
  return Ok();
}

Result<OsslPtr<ASN1_STRING>> Asn1Time(TimePoint t) {
  OsslPtr<ASN1_STRING> time(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(t))));
  if (!time) return OpensslError("encoding an OCSP time");
  return time;
}

}  // namespace

std::string_view OcspHashName(OcspHash hash) { return hash == OcspHash::kSha1 ? "sha1" : "sha256"; }

Result<OcspQuery> ParseOcspRequest(std::string_view der) {
  if (der.empty()) return std::unexpected(Malformed("empty OCSP request"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ClearOpensslErrors();
  OsslPtr<OCSP_REQUEST> req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    ClearOpensslErrors();
    return std::unexpected(Malformed("the body is not a DER OCSPRequest"));
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return std::unexpected(Malformed("trailing bytes after the OCSPRequest"));
  }
  const int count = OCSP_request_onereq_count(req.get());
  if (count != 1) {
    return std::unexpected(Malformed("the request asks about " + std::to_string(count) +
                                     " certificates; Mayfly answers exactly one per request"));
  }
  OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0));
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* md = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (id == nullptr || OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, id) != 1) {
    return std::unexpected(Malformed("the request's CertID is incomplete"));
  }
  OcspQuery q;
  switch (OBJ_obj2nid(md)) {
    case NID_sha1: q.hash = OcspHash::kSha1; break;
    case NID_sha256: q.hash = OcspHash::kSha256; break;
    default: return std::unexpected(Malformed("the CertID's hash must be SHA-1 or SHA-256"));
  }
  const size_t want = q.hash == OcspHash::kSha1 ? SHA_DIGEST_LENGTH : SHA256_DIGEST_LENGTH;
  q.name_hash = Bytes(name_hash);
  q.key_hash = Bytes(key_hash);
  if (q.name_hash.size() != want || q.key_hash.size() != want) {
    return std::unexpected(Malformed("the CertID's issuer hashes do not have the length of their hash"));
  }
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
    return std::unexpected(Malformed("the CertID's serial number is negative"));
  }
  q.serial = SerialHex(serial);
  auto cert_id = EncodeDer(id, i2d_OCSP_CERTID, "the CertID");
  if (!cert_id) return std::unexpected(cert_id.error());
  q.cert_id_der = std::move(*cert_id);
  q.has_nonce = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1) >= 0;
  return q;
}

Result<std::string> DecodeBase64(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::unexpected(Malformed("the base64 request has a bad length"));
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::unexpected(Malformed("the request is not base64"));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool OcspIssuerHashes::Matches(const OcspQuery& q) const {
  if (q.hash == OcspHash::kSha1) return q.name_hash == sha1_name && q.key_hash == sha1_key;
  return q.name_hash == sha256_name && q.key_hash == sha256_key;
}

Result<OcspIssuerHashes> HashOcspIssuer(const X509* issuer) {
  auto name = EncodeDer(X509_get_subject_name(issuer), i2d_X509_NAME, "the issuer name");
  if (!name) return std::unexpected(name.error());
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer);
  if (key == nullptr) return MakeError(ErrorCode::kCrypto, "the issuer certificate has no public key");
  const std::string key_bytes = Bytes(key);
  return OcspIssuerHashes{.sha1_name = Sha1(*name), .sha1_key = Sha1(key_bytes), .sha256_name = Sha256(*name),
                          .sha256_key = Sha256(key_bytes)};
}

Result<OsslPtr<X509>> IssueOcspResponderCert(const X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* responder_key,
                                            std::chrono::seconds ttl, std::chrono::seconds backdate,
                                            TimePoint now) {
  ClearOpensslErrors();
  OsslPtr<X509> cert(X509_new());
  unsigned char serial_bytes[16];
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return OpensslError("starting the OCSP responder certificate");
  }
  serial_bytes[0] &= 0x7f;  // positive
  serial_bytes[0] |= 0x40;  // and a full 16 bytes
  OsslPtr<BIGNUM> bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  OsslPtr<X509_NAME> subject(X509_NAME_new());
  const TimePoint not_after = std::min(now + ttl, CertNotAfter(issuer));
  auto nb = Asn1Time(now - backdate);
  auto na = Asn1Time(not_after);
  if (!nb || !na) return std::unexpected((!nb ? nb : na).error());
  if (!bn || !subject || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_NAME_add_entry_by_txt(subject.get(), "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("Mayfly"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("Mayfly OCSP responder"), -1, -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set1_notBefore(cert.get(), nb->get()) != 1 || X509_set1_notAfter(cert.get(), na->get()) != 1 ||
      X509_set_pubkey(cert.get(), responder_key) != 1) {
    return OpensslError("building the OCSP responder certificate");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "OCSPSigning"},
      {NID_id_pkix_OCSP_noCheck, "ignored"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : exts) {
    if (auto r = AddExt(cert.get(), &ctx, nid, value); !r) return std::unexpected(r.error());
  }
  if (X509_sign(cert.get(), issuer_key, DigestFor(issuer_key)) <= 0) {
    return OpensslError("signing the OCSP responder certificate");
  }
  // Like every certificate the CA signs: read back and compared with what
  // was authorized before it is used (issuance_check.h).
  auto der = CertToDer(cert.get());
  if (!der) return std::unexpected(der.error());
  detail::ApplyIssuanceTamper(kCheckOcspResponder, *der);
  auto spki = EncodeDer(responder_key, i2d_PUBKEY, "the OCSP responder's public key");
  if (!spki) return std::unexpected(spki.error());
  const ExpectedOcspResponder expected{.issuer = issuer, .spki_der = std::move(*spki), .not_after = not_after};
  if (auto failure = CheckOcspResponderCert(*der, expected)) return detail::IssuanceCheckFailed(std::move(*failure));
  return CertFromDer(*der);
}

Result<std::string> BuildOcspResponse(const OcspQuery& query, const OcspStatus& status, TimePoint this_update,
                                      TimePoint next_update, X509* responder, EVP_PKEY* responder_key,
                                      const std::vector<X509*>& chain) {
  ClearOpensslErrors();
  const auto* p = reinterpret_cast<const unsigned char*>(query.cert_id_der.data());
  OsslPtr<OCSP_CERTID> id(d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(query.cert_id_der.size())));
  OsslPtr<OCSP_BASICRESP> basic(OCSP_BASICRESP_new());
  if (!id || !basic) return OpensslError("starting an OCSP response");
  auto this_time = Asn1Time(this_update);
  auto next_time = Asn1Time(next_update);
  auto revoked_time = Asn1Time(status.revoked_at);
  if (!this_time || !next_time || !revoked_time) return OpensslError("encoding OCSP times");
  const int kind = status.kind == OcspStatus::kGood      ? V_OCSP_CERTSTATUS_GOOD
                   : status.kind == OcspStatus::kRevoked ? V_OCSP_CERTSTATUS_REVOKED
                                                         : V_OCSP_CERTSTATUS_UNKNOWN;
  const bool revoked = status.kind == OcspStatus::kRevoked;
  // add1: the response copies the CertID and the times.
  if (OCSP_basic_add1_status(basic.get(), id.get(), kind, revoked ? static_cast<int>(status.reason) : -1,
                             revoked ? revoked_time->get() : nullptr, this_time->get(),
                             next_time->get()) == nullptr) {
    return OpensslError("adding the certificate status");
  }
  X509StackPtr certs(sk_X509_new_null());
  if (!certs) return OpensslError("allocating the response's certificates");
  for (X509* c : chain) {
    if (X509_up_ref(c) != 1) return OpensslError("referencing a chain certificate");
    if (sk_X509_push(certs.get(), c) == 0) {
      X509_free(c);
      return OpensslError("adding a chain certificate");
    }
  }
  // Signs, names the responder by key hash and includes `responder` first.
  if (OCSP_basic_sign(basic.get(), responder, responder_key, DigestFor(responder_key), certs.get(),
                      OCSP_RESPID_KEY) != 1) {
    return OpensslError("signing the OCSP response");
  }
  OsslPtr<OCSP_RESPONSE> response(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (!response) return OpensslError("wrapping the OCSP response");
  return EncodeDer(response.get(), i2d_OCSP_RESPONSE, "the OCSP response");
}

Result<std::string> OcspErrorResponse(int response_status) {
  ClearOpensslErrors();
  OsslPtr<OCSP_RESPONSE> response(OCSP_response_create(response_status, nullptr));
  if (!response) return OpensslError("building an OCSP error response");
  return EncodeDer(response.get(), i2d_OCSP_RESPONSE, "the OCSP error response");
}

}  // namespace mayfly
