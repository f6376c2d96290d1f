// The pre-issuance checker on certificates and CRLs built by hand with
// OpenSSL's X509 API (not Mayfly's DER writer): one that matches the profile
// passes, and each kind of deviation is named.
#include "mayfly/issuance_check.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <optional>

#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"
#include "support/test_pki.h"

namespace mayfly {
namespace issuance_check_test {

using testing::TestPki;

constexpr auto kBackdate = std::chrono::minutes(1);
constexpr auto kTtl = std::chrono::hours(1);

// A hand-built leaf: by default exactly what Mayfly's profile says for
// `san`; each field can be changed to break it.
struct LeafRecipe {
  std::string san = "URI:spiffe://example.org/web";
  std::string basic_constraints = "critical,CA:FALSE";
  std::string key_usage = "critical,digitalSignature";
  std::string extra_ext_nid_sn;  // e.g. "nsComment"
  std::string extra_ext_value;
  std::optional<std::string> serial;  // raw big-endian bytes; default 16 random ones
  bool negative_serial = false;
  std::optional<TimePoint> not_after;
  const X509_NAME* issuer_name = nullptr;  // default: the issuer's subject
  const EVP_PKEY* subject_key = nullptr;   // default: the leaf key
  const EVP_PKEY* signing_key = nullptr;   // default: the intermediate's key
};

class IssuanceCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = TestPki::Make();
    key_ = GenerateKey(KeyType::kEcdsaP256).value();
    now_ = std::chrono::floor<Seconds>(pki_->clock.Now());
  }

  std::string Build(const LeafRecipe& r) {
    OsslPtr<X509> x(X509_new());
    EXPECT_TRUE(x);
    X509_set_version(x.get(), X509_VERSION_3);
    std::string serial = r.serial.value_or(std::string(16, '\0'));
    if (!r.serial) {
      RAND_bytes(reinterpret_cast<unsigned char*>(serial.data()), 16);
      serial[0] = static_cast<char>(serial[0] | 0x40);
    }
    ASN1_INTEGER* sn = X509_get_serialNumber(x.get());
    ASN1_STRING_set(sn, serial.data(), static_cast<int>(serial.size()));
    if (r.negative_serial) sn->type = V_ASN1_NEG_INTEGER;
    OsslPtr<X509_NAME> subject(X509_NAME_new());
    X509_NAME_add_entry_by_txt(subject.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Mayfly"),
                               -1, -1, 0);
    X509_set_subject_name(x.get(), subject.get());
    X509_set_issuer_name(x.get(), const_cast<X509_NAME*>(r.issuer_name != nullptr
                                                             ? r.issuer_name
                                                             : X509_get_subject_name(pki_->intermediate.get())));
    ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(ToUnixSeconds(now_ - kBackdate)));
    ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(ToUnixSeconds(r.not_after.value_or(now_ + kTtl))));
    X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(r.subject_key != nullptr ? r.subject_key : key_.get()));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, pki_->intermediate.get(), x.get(), nullptr, nullptr, 0);
    std::vector<std::pair<std::string, std::string>> exts = {{"basicConstraints", r.basic_constraints},
                                                             {"keyUsage", r.key_usage},
                                                             {"extendedKeyUsage", "serverAuth,clientAuth"},
                                                             {"subjectKeyIdentifier", "hash"},
                                                             {"authorityKeyIdentifier", "keyid:always"},
                                                             {"subjectAltName", r.san}};
    if (!r.extra_ext_nid_sn.empty()) exts.emplace_back(r.extra_ext_nid_sn, r.extra_ext_value);
    for (const auto& [name, value] : exts) {
      OsslPtr<X509_EXTENSION> ext(X509V3_EXT_nconf(nullptr, &ctx, name.c_str(), value.c_str()));
      EXPECT_TRUE(ext) << name << "=" << value;
      if (ext) X509_add_ext(x.get(), ext.get(), -1);
    }
    EVP_PKEY* signer = const_cast<EVP_PKEY*>(r.signing_key != nullptr ? r.signing_key : pki_->intermediate_key.get());
    EXPECT_GT(X509_sign(x.get(), signer, EVP_sha256()), 0);
    return CertToDer(x.get()).value();
  }

  ExpectedLeaf Expected(std::string spiffe_id = "spiffe://example.org/web") {
    return ExpectedLeaf{.issuer = pki_->intermediate.get(), .spki_der = PublicKeyOf(key_.get())->spki_der,
                        .key_type = KeyType::kEcdsaP256, .spiffe_id = std::move(spiffe_id), .dns = {}, .ips = {},
                        .now = pki_->clock.Now(), .backdate = kBackdate, .ttl = kTtl, .crl_url = {}, .ocsp_url = {}};
  }

  // The field the check names, or "" when it passes.
  std::string FieldOf(const LeafRecipe& r, const ExpectedLeaf& e) {
    auto failure = CheckLeaf(Build(r), e);
    if (!failure) return "";
    EXPECT_EQ(failure->kind, "leaf");
    EXPECT_FALSE(failure->expected.empty());
    return failure->field;
  }
  std::string FieldOf(const LeafRecipe& r) { return FieldOf(r, Expected()); }

  std::unique_ptr<TestPki> pki_;
  OsslPtr<EVP_PKEY> key_;
  TimePoint now_;
};

TEST_F(IssuanceCheckTest, AHandBuiltLeafOfTheProfilePasses) {
  EXPECT_EQ(FieldOf({}), "");
  ExpectedLeaf e = Expected();
  e.dns = {"web.example.org"};
  e.ips = {ParseIpAddress("10.0.0.1").value()};
  EXPECT_EQ(FieldOf({.san = "URI:spiffe://example.org/web,DNS:web.example.org,IP:10.0.0.1"}, e), "");
}

TEST_F(IssuanceCheckTest, AMayflyLeafPasses) {
  // And the other way round: what the issuer builds passes the checker
  // (Issue runs it too; here it is called directly on the result).
  auto spki = PublicKeyOf(key_.get()).value();
  auto issued = pki_->issuer->Issue({.public_key = &spki, .spiffe_id = "spiffe://example.org/web", .dns = {"a.b"},
                                     .ttl = kTtl});
  ASSERT_TRUE(issued.has_value()) << issued.error().ToString();
  ExpectedLeaf e = Expected();
  e.dns = {"a.b"};
  EXPECT_EQ(CheckLeaf(issued->der, e), std::nullopt);
}

TEST_F(IssuanceCheckTest, AnExtraSanIsCaught) {
  auto failure = CheckLeaf(Build({.san = "URI:spiffe://example.org/web,DNS:extra.example.org"}), Expected());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->field, "subjectAltName DNS");
  EXPECT_EQ(failure->expected, "[]");
  EXPECT_EQ(failure->found, "[extra.example.org]");
  EXPECT_EQ(FieldOf({.san = "URI:spiffe://example.org/web,URI:spiffe://example.org/admin"}), "subjectAltName URI");
  EXPECT_EQ(FieldOf({.san = "URI:spiffe://example.org/web,email:a@example.org"}), "subjectAltName");
  EXPECT_EQ(FieldOf({.san = "URI:spiffe://example.org/web,IP:10.0.0.9"}), "subjectAltName IP");
}

TEST_F(IssuanceCheckTest, AnExtraExtensionIsCaught) {
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "nsComment", .extra_ext_value = "hello"}), "extensions");
}

TEST_F(IssuanceCheckTest, ANonCriticalBasicConstraintsIsCaught) {
  auto failure = CheckLeaf(Build({.basic_constraints = "CA:FALSE"}), Expected());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->field, "extensions");
  EXPECT_NE(failure->expected.find("basicConstraints (critical)"), std::string::npos) << failure->expected;
  EXPECT_EQ(FieldOf({.basic_constraints = "critical,CA:TRUE"}), "basicConstraints");
  EXPECT_EQ(FieldOf({.key_usage = "critical,digitalSignature,keyCertSign"}), "keyUsage");
}

TEST_F(IssuanceCheckTest, AnotherPublicKeyIsCaught) {
  auto other = GenerateKey(KeyType::kEcdsaP256).value();
  EXPECT_EQ(FieldOf({.subject_key = other.get()}), "public key");
}

TEST_F(IssuanceCheckTest, AShortNegativeOrZeroHighSerialIsCaught) {
  EXPECT_EQ(FieldOf({.serial = std::string("\x01\x02\x03\x04", 4)}), "serial");
  EXPECT_EQ(FieldOf({.negative_serial = true}), "serial");
  // Zero high bytes are either dropped (a short serial) or a non-minimal
  // INTEGER, which OpenSSL's decoder refuses.
  EXPECT_EQ(FieldOf({.serial = std::string(7, '\x7f')}), "serial");
  EXPECT_EQ(FieldOf({.serial = std::string(8, '\0') + std::string(8, '\x7f')}), "encoding");
}

TEST_F(IssuanceCheckTest, NotAfterBeyondTheIssuerOrTheTtlIsCaught) {
  ExpectedLeaf e = Expected();
  e.ttl = std::chrono::hours(24 * 365 * 10);  // only the issuer's notAfter limits
  auto failure = CheckLeaf(Build({.not_after = CertNotAfter(pki_->intermediate.get()) + std::chrono::hours(1)}), e);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->field, "notAfter");
  EXPECT_NE(failure->expected.find("issuer"), std::string::npos);
  EXPECT_EQ(FieldOf({.not_after = now_ + kTtl + std::chrono::seconds(1)}), "notAfter");
}

TEST_F(IssuanceCheckTest, AnotherIssuerNameIsCaught) {
  EXPECT_EQ(FieldOf({.issuer_name = X509_get_subject_name(pki_->root.get())}), "issuer");
}

TEST_F(IssuanceCheckTest, ASignatureByAnotherKeyIsCaught) {
  auto other = GenerateKey(KeyType::kEcdsaP256).value();
  EXPECT_EQ(FieldOf({.signing_key = other.get()}), "signature");
}

TEST_F(IssuanceCheckTest, AUriOutsideTheNameConstraintsIsCaught) {
  auto failure = CheckLeaf(Build({.san = "URI:spiffe://evil.org/x"}), Expected("spiffe://evil.org/x"));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->field, "name constraints");
  EXPECT_EQ(failure->subject, "spiffe://evil.org/x");
}

TEST_F(IssuanceCheckTest, TheCrlDistributionPointAndOcspUrlMustBeExactlyTheExpectedOnes) {
  ExpectedLeaf e = Expected();
  e.crl_url = "http://ca.example.org/crl";
  EXPECT_EQ(FieldOf({}, e), "extensions");  // expected, absent
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "crlDistributionPoints", .extra_ext_value = "URI:http://ca.example.org/crl"}, e),
            "");
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "crlDistributionPoints", .extra_ext_value = "URI:http://evil.org/crl"}, e),
            "crlDistributionPoints");
  ExpectedLeaf o = Expected();
  o.ocsp_url = "http://ca.example.org/ocsp";
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "authorityInfoAccess", .extra_ext_value = "OCSP;URI:http://ca.example.org/ocsp"}, o),
            "");
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "authorityInfoAccess", .extra_ext_value = "OCSP;URI:http://evil.org/ocsp"}, o),
            "authorityInfoAccess OCSP");
  EXPECT_EQ(FieldOf({.extra_ext_nid_sn = "authorityInfoAccess", .extra_ext_value = "OCSP;URI:http://ca.example.org/ocsp"}),
            "extensions");  // not expected
}

TEST_F(IssuanceCheckTest, GarbageIsCaught) {
  auto failure = CheckLeaf("not a certificate", Expected());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->field, "encoding");
}

// A CRL built with OpenSSL's X509_CRL API, for `entries` (serial hex, reason).
std::string HandBuiltCrl(const X509* issuer, const EVP_PKEY* key, int64_t number, TimePoint this_update,
                         TimePoint next_update, const std::vector<CrlEntry>& entries) {
  OsslPtr<X509_CRL> crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
  OsslPtr<ASN1_STRING> t1(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(this_update))));
  OsslPtr<ASN1_STRING> t2(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(next_update))));
  X509_CRL_set1_lastUpdate(crl.get(), t1.get());
  X509_CRL_set1_nextUpdate(crl.get(), t2.get());
  for (const CrlEntry& e : entries) {
    OsslPtr<X509_REVOKED> r(X509_REVOKED_new());
    BIGNUM* bn = nullptr;
    BN_hex2bn(&bn, e.serial.c_str());
    OsslPtr<BIGNUM> owned(bn);
    OsslPtr<ASN1_STRING> serial(BN_to_ASN1_INTEGER(bn, nullptr));
    X509_REVOKED_set_serialNumber(r.get(), serial.get());
    OsslPtr<ASN1_STRING> at(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnixSeconds(e.revoked_at))));
    X509_REVOKED_set_revocationDate(r.get(), at.get());
    if (e.reason != RevocationReason::kUnspecified) {
      OsslPtr<ASN1_STRING> reason(ASN1_ENUMERATED_new());
      ASN1_ENUMERATED_set(reason.get(), static_cast<long>(e.reason));
      X509_REVOKED_add1_ext_i2d(r.get(), NID_crl_reason, reason.get(), 0, 0);
    }
    X509_CRL_add0_revoked(crl.get(), r.release());
  }
  OsslPtr<ASN1_STRING> n(ASN1_INTEGER_new());
  ASN1_INTEGER_set_int64(n.get(), number);
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, n.get(), 0, 0);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), nullptr, nullptr, crl.get(), 0);
  OsslPtr<X509_EXTENSION> aki(X509V3_EXT_nconf(nullptr, &ctx, "authorityKeyIdentifier", "keyid:always"));
  X509_CRL_add_ext(crl.get(), aki.get(), -1);
  EXPECT_GT(X509_CRL_sign(crl.get(), const_cast<EVP_PKEY*>(key), EVP_sha256()), 0);
  unsigned char* buf = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &buf);
  std::string der(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return der;
}

class CrlCheckTest : public IssuanceCheckTest {
 protected:
  CrlSpec Spec() {
    return CrlSpec{9, now_, now_ + std::chrono::hours(1),
                   {{"1a2b3c4d5e6f708192a3b4c5d6e7f801", now_ - std::chrono::minutes(5), RevocationReason::kKeyCompromise},
                    {"7f00000000000001", now_, RevocationReason::kUnspecified}}};
  }
  std::string FieldOf(const std::string& der, const CrlSpec& spec) {
    auto failure = CheckCrl(der, pki_->intermediate.get(), spec);
    if (!failure) return "";
    EXPECT_EQ(failure->kind, "crl");
    return failure->field;
  }
};

TEST_F(CrlCheckTest, AHandBuiltCrlOfTheSpecPasses) {
  const CrlSpec spec = Spec();
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), pki_->intermediate_key.get(), spec.number,
                                 spec.this_update, spec.next_update, spec.revoked),
                    spec),
            "");
}

TEST_F(CrlCheckTest, ABadSignatureIsCaught) {
  const CrlSpec spec = Spec();
  auto other = GenerateKey(KeyType::kEcdsaP256).value();
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), other.get(), spec.number, spec.this_update,
                                 spec.next_update, spec.revoked),
                    spec),
            "signature");
}

TEST_F(CrlCheckTest, AMissingOrChangedEntryIsCaught) {
  const CrlSpec spec = Spec();
  auto missing = spec.revoked;
  missing.pop_back();
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), pki_->intermediate_key.get(), spec.number,
                                 spec.this_update, spec.next_update, missing),
                    spec),
            "revoked entries");
  auto changed = spec.revoked;
  changed[0].reason = RevocationReason::kSuperseded;
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), pki_->intermediate_key.get(), spec.number,
                                 spec.this_update, spec.next_update, changed),
                    spec),
            "revoked entry 0");
}

TEST_F(CrlCheckTest, AnotherNumberIssuerOrUpdateTimeIsCaught) {
  const CrlSpec spec = Spec();
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), pki_->intermediate_key.get(), spec.number + 1,
                                 spec.this_update, spec.next_update, spec.revoked),
                    spec),
            "crlNumber");
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->intermediate.get(), pki_->intermediate_key.get(), spec.number,
                                 spec.this_update, spec.next_update + std::chrono::hours(1), spec.revoked),
                    spec),
            "nextUpdate");
  EXPECT_EQ(FieldOf(HandBuiltCrl(pki_->root.get(), pki_->root_key.get(), spec.number, spec.this_update,
                                 spec.next_update, spec.revoked),
                    spec),
            "issuer");
}

}  // namespace issuance_check_test
}  // namespace mayfly
