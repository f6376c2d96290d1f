// CRL construction.
#include "mayfly/crl.h"

#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

Result<OsslPtr<ASN1_STRING>> SerialFromHex(const std::string& hex) {
  BIGNUM* raw = nullptr;
  if (hex.empty() || hex.size() > 40 || BN_hex2bn(&raw, hex.c_str()) != static_cast<int>(hex.size())) {
    BN_free(raw);
    return MakeError(ErrorCode::kInvalidArgument, "malformed serial \"" + hex + "\"");
  }
  OsslPtr<BIGNUM> bn(raw);
  OsslPtr<ASN1_STRING> serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return OpensslError("encoding a serial");
  return serial;
}

Result<void> AddRevoked(X509_CRL* crl, const CrlEntry& entry) {
  auto serial = SerialFromHex(entry.serial);
  if (!serial) return std::unexpected(serial.error());
  OsslPtr<X509_REVOKED> rev(X509_REVOKED_new());
  OsslPtr<ASN1_STRING> when(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(entry.revoked_at))));
  if (!rev || !when || X509_REVOKED_set_serialNumber(rev.get(), serial->get()) != 1 ||
      X509_REVOKED_set_revocationDate(rev.get(), when.get()) != 1) {
    return OpensslError("building a CRL entry");
  }
  // RFC 5280 5.3.1: the reasonCode "unspecified" SHOULD be absent.
  if (entry.reason != RevocationReason::kUnspecified) {
    OsslPtr<ASN1_STRING> code(ASN1_ENUMERATED_new());
    if (!code || ASN1_ENUMERATED_set(code.get(), static_cast<long>(entry.reason)) != 1 ||
        X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, code.get(), 0, 0) != 1) {
      return OpensslError("adding a reason code");
    }
  }
  if (X509_CRL_add0_revoked(crl, rev.get()) != 1) return OpensslError("adding a CRL entry");
  rev.release();  // the CRL owns it
  return Ok();
}

}  // namespace

Result<SignedCrl> BuildCrl(const X509* issuer, const EVP_PKEY* key, const CrlSpec& spec) {
  ClearOpensslErrors();
  OsslPtr<X509_CRL> crl(X509_CRL_new());
  OsslPtr<ASN1_STRING> this_update(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(spec.this_update))));
  OsslPtr<ASN1_STRING> next_update(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(spec.next_update))));
  if (!crl || !this_update || !next_update || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OpensslError("building a CRL");
  }
  for (const auto& entry : spec.revoked) {
    if (auto r = AddRevoked(crl.get(), entry); !r) return std::unexpected(r.error());
  }
  OsslPtr<ASN1_STRING> number(ASN1_INTEGER_new());
  OsslPtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  if (!number || !akid || ski == nullptr || ASN1_INTEGER_set_int64(number.get(), spec.number) != 1 ||
      (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == nullptr ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) != 1) {
    return OpensslError("adding CRL extensions");
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), const_cast<EVP_PKEY*>(key), SigningDigest(key)) <= 0) return OpensslError("signing a CRL");
  auto der = CrlToDer(crl.get());
  if (!der) return std::unexpected(der.error());
  SignedCrl out;
  out.pem = DerToPem(*der, "X509 CRL");
  out.der = std::move(*der);
  return out;
}

std::vector<CrlEntry> ToCrlEntries(const std::vector<RevokedCert>& revoked) {
  std::vector<CrlEntry> out;
  out.reserve(revoked.size());
  for (const auto& r : revoked) out.push_back({r.serial, FromUnixSeconds(r.revoked_at), r.reason});
  return out;
}

}  // namespace mayfly
