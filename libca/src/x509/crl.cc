// CRL construction.
#include "mayfly/crl.h"

#include "der_signer.h"
#include "der_writer.h"
#include "issuance_hooks.h"
#include "mayfly/issuance_check.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Assembled as DER directly: a CRL for 100 000 revoked certificates is a
// few milliseconds this way, against over a second through one OpenSSL
// X509_REVOKED object per entry.
constexpr std::string_view kVersion2("\x02\x01\x01", 3);
constexpr std::string_view kOidCrlNumber("\x06\x03\x55\x1d\x14", 5);
constexpr std::string_view kOidReasonCode("\x06\x03\x55\x1d\x15", 5);
constexpr std::string_view kOidAuthorityKeyId("\x06\x03\x55\x1d\x23", 5);
constexpr uint8_t kEnumerated = 0x0a;
constexpr uint8_t kKeyIdentifier = 0x80;  // [0] IMPLICIT OCTET STRING

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The serial's INTEGER from its hex form (at most 20 octets, RFC 5280 4.1.2.2).
Result<std::string> SerialInteger(const std::string& hex) {
  if (hex.empty() || hex.size() > 40) return MakeError(ErrorCode::kInvalidArgument, "malformed serial \"" + hex + "\"");
  std::string bytes((hex.size() + 1) / 2, '\0');
  for (size_t i = 0; i < hex.size(); ++i) {
    const int d = HexDigit(hex[hex.size() - 1 - i]);
    if (d < 0) return MakeError(ErrorCode::kInvalidArgument, "malformed serial \"" + hex + "\"");
    bytes[bytes.size() - 1 - i / 2] = static_cast<char>(bytes[bytes.size() - 1 - i / 2] | (d << (4 * (i % 2))));
  }
  return der::PositiveInteger(bytes);
}

std::string BigEndian(int64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, value >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(value & 0xff);
  return out;
}

}  // namespace

Result<SignedCrl> BuildCrl(const X509* issuer, const EVP_PKEY* key, const CrlSpec& spec) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  if (ski == nullptr) return MakeError(ErrorCode::kInvalidArgument, "the CRL issuer has no subject key identifier");
  if (spec.number < 0) return MakeError(ErrorCode::kInvalidArgument, "negative CRL number");
  auto signer = DerSigner::Create(key);
  if (!signer) return std::unexpected(signer.error());
  auto name = EncodeDer(X509_get_subject_name(issuer), i2d_X509_NAME, "the CRL issuer name");
  if (!name) return std::unexpected(name.error());
  std::string tbs_content(kVersion2);
  tbs_content += signer->algorithm();
  tbs_content += *name;
  tbs_content += der::Time(ToUnixSeconds(spec.this_update));
  tbs_content += der::Time(ToUnixSeconds(spec.next_update));

  if (!spec.revoked.empty()) {
    std::string entries;
    entries.reserve(spec.revoked.size() * 64);
    std::string entry;
    for (const CrlEntry& e : spec.revoked) {
      auto serial = SerialInteger(e.serial);
      if (!serial) return std::unexpected(serial.error());
      entry = *serial;
      entry += der::Time(ToUnixSeconds(e.revoked_at));
      // RFC 5280 5.3.1: the reasonCode "unspecified" SHOULD be absent.
      if (e.reason != RevocationReason::kUnspecified) {
        const std::string code = der::Tlv(kEnumerated, std::string(1, static_cast<char>(e.reason)));
        entry += der::Tlv(der::kSequence, der::Extension(kOidReasonCode, false, code));
      }
      der::AppendTlv(entries, der::kSequence, entry);
    }
    der::AppendTlv(tbs_content, der::kSequence, entries);
  }
  const std::string keyid(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                          static_cast<size_t>(ASN1_STRING_length(ski)));
  const std::string extensions =
      der::Extension(kOidAuthorityKeyId, false, der::Tlv(der::kSequence, der::Tlv(kKeyIdentifier, keyid))) +
      der::Extension(kOidCrlNumber, false, der::PositiveInteger(BigEndian(spec.number)));
  tbs_content += der::Tlv(der::kContext0, der::Tlv(der::kSequence, extensions));

  auto der = signer->Sign(der::Tlv(der::kSequence, tbs_content), "a CRL");
  if (!der) return std::unexpected(der.error());
  detail::ApplyIssuanceTamper(kCheckCrl, *der);
  if (auto failure = CheckCrl(*der, issuer, spec)) return detail::IssuanceCheckFailed(std::move(*failure));
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
