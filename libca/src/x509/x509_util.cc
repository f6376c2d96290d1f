// Certificate encoding helpers.
#include "mayfly/x509_util.h"

#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstdio>
#include <ctime>

#include "mayfly/file_util.h"

namespace mayfly {
namespace {

}  // namespace

std::string DerToPem(std::string_view der, std::string_view label) {
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  // 48 input bytes make one 64-character base64 line.
  unsigned char line[65 + 1];
  for (size_t off = 0; off < der.size(); off += 48) {
    size_t n = std::min<size_t>(48, der.size() - off);
    int len = EVP_EncodeBlock(line, reinterpret_cast<const unsigned char*>(der.data() + off),
                              static_cast<int>(n));
    out.append(reinterpret_cast<char*>(line), static_cast<size_t>(len));
    out.push_back('\n');
  }
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

Result<OsslPtr<X509>> CertFromPem(std::string_view pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ClearOpensslErrors();
  OsslPtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpensslError("reading a PEM certificate", ErrorCode::kInvalidArgument);
  return cert;
}

Result<OsslPtr<X509>> CertFromDer(std::string_view der) {
  ClearOpensslErrors();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OsslPtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return OpensslError("reading a DER certificate", ErrorCode::kInvalidArgument);
  return cert;
}

Result<std::vector<OsslPtr<X509>>> CertsFromPem(std::string_view pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<OsslPtr<X509>> out;
  ClearOpensslErrors();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  // The loop ends on "no start line" at the end of input: expected.
  ClearOpensslErrors();
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  }
  return out;
}

Result<std::string> CertToDer(const X509* cert) { return EncodeDer(cert, i2d_X509, "a certificate"); }

Result<std::string> CertToPem(const X509* cert) {
  auto der = CertToDer(cert);
  if (!der) return std::unexpected(der.error());
  return DerToPem(*der, "CERTIFICATE");
}

Result<OsslPtr<X509>> LoadCertFile(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem) return std::unexpected(pem.error());
  auto cert = CertFromPem(*pem);
  if (!cert) return WithContext(cert.error(), path);
  return cert;
}

Result<OsslPtr<X509_CRL>> CrlFromPem(std::string_view pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ClearOpensslErrors();
  OsslPtr<X509_CRL> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) return OpensslError("reading a PEM CRL", ErrorCode::kInvalidArgument);
  return crl;
}

Result<std::string> CrlToDer(const X509_CRL* crl) { return EncodeDer(crl, i2d_X509_CRL, "a CRL"); }

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  std::string_view bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
                         static_cast<size_t>(ASN1_STRING_length(serial)));
  while (!bytes.empty() && bytes.front() == 0) bytes.remove_prefix(1);
  std::string hex = HexEncode(bytes);
  if (!hex.empty() && hex.front() == '0') hex.erase(0, 1);
  return hex.empty() ? "0" : hex;
}

std::string CertSerialHex(const X509* cert) { return SerialHex(X509_get0_serialNumber(cert)); }

std::string Sha256(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

Result<std::string> CertFingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ClearOpensslErrors();
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return OpensslError("hashing a certificate");
  return "sha256:" + HexEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string SubjectKeyIdHex(const X509* cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(cert));
  if (ski == nullptr) return "";
  return HexEncode(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                                    static_cast<size_t>(ASN1_STRING_length(ski))));
}

std::string NameText(const X509_NAME* name) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string AuthorityKeyIdHex(const X509* cert) {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(const_cast<X509*>(cert));
  if (aki == nullptr) return "";
  return HexEncode(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                                    static_cast<size_t>(ASN1_STRING_length(aki))));
}

Result<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ClearOpensslErrors();
    return MakeError(ErrorCode::kInvalidArgument, "malformed ASN.1 time");
  }
  return FromUnixSeconds(static_cast<int64_t>(timegm(&tm)));
}

TimePoint CertNotBefore(const X509* cert) {
  return Asn1TimeToTimePoint(X509_get0_notBefore(cert)).value_or(TimePoint{});
}

TimePoint CertNotAfter(const X509* cert) {
  return Asn1TimeToTimePoint(X509_get0_notAfter(cert)).value_or(TimePoint{});
}

std::string FormatRfc3339(TimePoint t) {
  time_t secs = static_cast<time_t>(ToUnixSeconds(t));
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  struct tm tm {};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || (std::string_view(end) != "Z" && std::string_view(end) != "+00:00")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got \"" + s + "\"");
  }
  return FromUnixSeconds(static_cast<int64_t>(timegm(&tm)));
}

std::string CertSpiffeId(const X509* cert) {
  OsslPtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return "";
  std::string found;
  int uris = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    ++uris;
    found.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier)),
                 static_cast<size_t>(ASN1_STRING_length(gn->d.uniformResourceIdentifier)));
  }
  return uris == 1 ? found : "";
}

}  // namespace mayfly
