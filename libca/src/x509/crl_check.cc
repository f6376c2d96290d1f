// The CRL half of the pre-issuance check, read through d2i_X509_CRL.
#include <openssl/x509v3.h>

#include <algorithm>
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
  // Compared without formatting (a CRL may hold 100 000 entries); text only
  // for the entry that differs.
  for (size_t i = 0; i < have_count; ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, static_cast<int>(i));
    const CrlEntry& want = spec.revoked[i];
    int have_reason = 0;
    if (X509_REVOKED_get_ext_count(r) > 0) {
      OsslPtr<ASN1_ENUMERATED> reason(
          static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr)));
      have_reason = reason && X509_REVOKED_get_ext_count(r) == 1 ? static_cast<int>(ASN1_ENUMERATED_get(reason.get()))
                                                                 : -1;
    }
    auto at = Asn1TimeToTimePoint(X509_REVOKED_get0_revocationDate(r));
    const std::string have_serial = SerialHex(X509_REVOKED_get0_serialNumber(r));
    const size_t skip = std::min(want.serial.find_first_not_of('0'), want.serial.size() - 1);
    const std::string_view want_serial = std::string_view(want.serial).substr(skip);
    const TimePoint want_at = std::chrono::floor<Seconds>(want.revoked_at);
    if (have_serial != want_serial || !at || *at != want_at || have_reason != static_cast<int>(want.reason)) {
      return differ("revoked entry " + std::to_string(i),
                    EntryText(std::string(want_serial), want_at, static_cast<int>(want.reason)),
                    EntryText(have_serial, at ? *at : TimePoint{}, have_reason));
    }
  }
  return std::nullopt;
}

}  // namespace mayfly
