// The CRL half of the pre-issuance check, read through d2i_X509_CRL.
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "mayfly/issuance_check.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

std::string EntryText(const std::string& serial, TimePoint at, int reason) {
  return serial + "@" + FormatRfc3339(at) + "/" + std::to_string(reason);
}

}  // namespace

CheckResult CheckCrl(std::string_view der, const X509* issuer, const CrlSpec& spec) {
  const std::string subject = issuer == nullptr ? std::string() : NameText(X509_get_subject_name(issuer));
  auto differ = [&](std::string field, std::string expected, std::string found) -> CheckResult {
    return IssuanceCheckFailure{std::string(kCheckCrl), subject, std::move(field), std::move(expected),
                                std::move(found)};
  };
  if (issuer == nullptr) return differ("issuer", "an issuing CA", "none");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ClearOpensslErrors();
  OsslPtr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ClearOpensslErrors();
    return differ("encoding", "a DER CRL", "unparseable or trailing bytes");
  }
  if (X509_CRL_get_version(crl.get()) != X509_CRL_VERSION_2) {
    return differ("version", "2", std::to_string(X509_CRL_get_version(crl.get()) + 1));
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) != 0) {
    return differ("issuer", subject, NameText(X509_CRL_get_issuer(crl.get())));
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(crl.get(), key) != 1) {
    ClearOpensslErrors();
    return differ("signature", "valid under the issuer's key", "invalid");
  }
  OsslPtr<ASN1_INTEGER> number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  if (!number || ASN1_INTEGER_get(number.get()) != spec.number) {
    return differ("crlNumber", std::to_string(spec.number), number ? std::to_string(ASN1_INTEGER_get(number.get())) : "none");
  }
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  OsslPtr<AUTHORITY_KEYID> aki(
      static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  if (ski == nullptr || !aki || aki->keyid == nullptr || ASN1_OCTET_STRING_cmp(ski, aki->keyid) != 0) {
    return differ("authorityKeyIdentifier", "the issuer's subject key identifier", "another or none");
  }
  if (X509_CRL_get_ext_count(crl.get()) != 2) {
    return differ("extensions", "crlNumber and authorityKeyIdentifier", std::to_string(X509_CRL_get_ext_count(crl.get())) + " extensions");
  }
  auto this_update = Asn1TimeToTimePoint(X509_CRL_get0_lastUpdate(crl.get()));
  auto next_update = Asn1TimeToTimePoint(X509_CRL_get0_nextUpdate(crl.get()));
  const TimePoint want_this = std::chrono::floor<Seconds>(spec.this_update);
  const TimePoint want_next = std::chrono::floor<Seconds>(spec.next_update);
  if (!this_update || *this_update != want_this) {
    return differ("thisUpdate", FormatRfc3339(want_this), this_update ? FormatRfc3339(*this_update) : "none");
  }
  if (!next_update || *next_update != want_next) {
    return differ("nextUpdate", FormatRfc3339(want_next), next_update ? FormatRfc3339(*next_update) : "none");
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  const size_t have_count = revoked == nullptr ? 0 : static_cast<size_t>(sk_X509_REVOKED_num(revoked));
  if (have_count != spec.revoked.size()) {
    return differ("revoked entries", std::to_string(spec.revoked.size()), std::to_string(have_count));
  }
  for (size_t i = 0; i < have_count; ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, static_cast<int>(i));
    const CrlEntry& want = spec.revoked[i];
    OsslPtr<ASN1_ENUMERATED> reason(
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr)));
    const int have_reason = reason ? static_cast<int>(ASN1_ENUMERATED_get(reason.get())) : 0;
    auto at = Asn1TimeToTimePoint(X509_REVOKED_get0_revocationDate(r));
    const std::string have = EntryText(SerialHex(X509_REVOKED_get0_serialNumber(r)), at ? *at : TimePoint{}, have_reason);
    std::string want_serial = want.serial;
    while (want_serial.size() > 1 && want_serial.front() == '0') want_serial.erase(0, 1);
    const std::string expected = EntryText(want_serial, std::chrono::floor<Seconds>(want.revoked_at),
                                           static_cast<int>(want.reason));
    if (have != expected) return differ("revoked entry " + std::to_string(i), expected, have);
  }
  return std::nullopt;
}

}  // namespace mayfly
