// Breaking the issuing path on purpose (through the test-only tamper hook,
// after the signer and before the check): every kind of damage is caught,
// the signer returns kInternal and no certificate or CRL, and the observer
// hears what differed.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <functional>
#include <mutex>
#include <vector>

#include "mayfly/ca_certs.h"
#include "mayfly/crl.h"
#include "mayfly/issuance_check.h"
#include "mayfly/issuance_tamper.h"
#include "mayfly/ocsp.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"
#include "support/test_pki.h"

namespace mayfly {
namespace issuance_tamper_test {

using testing::TestPki;

// Installs a tamper and collects the failures reported for the test's
// lifetime; removes the tamper at the end.
class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = TestPki::Make({.crl_url = "http://ca.example.org/crl"});
    key_ = GenerateKey(KeyType::kEcdsaP256).value();
    spki_ = PublicKeyOf(key_.get()).value();
  }
  void TearDown() override { testing::SetIssuanceTamper(nullptr); }

  // A tamper that parses the certificate, changes it and re-signs it with
  // `key` (default: the intermediate's, so only the change differs).
  void ResignLeaves(std::function<void(X509*)> change, const EVP_PKEY* key = nullptr) {
    const EVP_PKEY* signer = key != nullptr ? key : pki_->intermediate_key.get();
    testing::SetIssuanceTamper([change, signer](std::string_view kind, std::string& der) {
      if (kind != kCheckLeaf) return;
      auto x = CertFromDer(der).value();
      change(x.get());
      ASSERT_GT(X509_sign(x.get(), const_cast<EVP_PKEY*>(signer), EVP_sha256()), 0);
      der = CertToDer(x.get()).value();
    });
  }

  // Issues one leaf; expects it refused with kInternal and one failure on `field`.
  void ExpectRefused(const std::string& field) {
    auto issued = pki_->issuer->Issue(
        {.public_key = &spki_, .spiffe_id = "spiffe://example.org/web", .dns = {"web.example.org"}, .ttl = std::chrono::hours(1)});
    ASSERT_FALSE(issued.has_value()) << "a damaged certificate was handed out";
    EXPECT_EQ(issued.error().code, ErrorCode::kInternal);
    EXPECT_NE(issued.error().message.find("issuance check failed"), std::string::npos) << issued.error().message;
    std::lock_guard lock(mu_);
    ASSERT_EQ(failures_.size(), 1u);
    EXPECT_EQ(failures_[0].kind, "leaf");
    EXPECT_EQ(failures_[0].subject, "spiffe://example.org/web");
    EXPECT_EQ(failures_[0].field, field);
  }

  std::unique_ptr<TestPki> pki_;
  OsslPtr<EVP_PKEY> key_;
  SubjectPublicKey spki_;
  std::mutex mu_;
  std::vector<IssuanceCheckFailure> failures_;
  ScopedIssuanceCheckObserver observer_{[this](const IssuanceCheckFailure& f) {
    std::lock_guard lock(mu_);
    failures_.push_back(f);
  }};
};

TEST_F(TamperTest, WithoutATamperLeavesAreIssuedAndNothingIsReported) {
  auto issued = pki_->issuer->Issue({.public_key = &spki_, .spiffe_id = "spiffe://example.org/web", .ttl = std::chrono::hours(1)});
  ASSERT_TRUE(issued.has_value()) << issued.error().ToString();
  EXPECT_TRUE(failures_.empty());
}

TEST_F(TamperTest, AnAddedSanIsCaught) {
  ResignLeaves([](X509* x) {
    OsslPtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    OsslPtr<GENERAL_NAME> extra(GENERAL_NAME_new());
    OsslPtr<ASN1_STRING> dns(ASN1_IA5STRING_new());
    ASN1_STRING_set(dns.get(), "admin.example.org", -1);
    GENERAL_NAME_set0_value(extra.get(), GEN_DNS, dns.release());
    sk_GENERAL_NAME_push(names.get(), extra.release());
    X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_REPLACE);
  });
  ExpectRefused("subjectAltName DNS");
}

TEST_F(TamperTest, AStretchedNotAfterIsCaught) {
  ResignLeaves([](X509* x) { X509_time_adj_ex(X509_getm_notAfter(x), 1, 0, nullptr); });
  ExpectRefused("notAfter");
}

TEST_F(TamperTest, ADroppedCriticalFlagIsCaught) {
  ResignLeaves([](X509* x) {
    X509_EXTENSION* bc = X509_get_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1));
    X509_EXTENSION_set_critical(bc, 0);
  });
  ExpectRefused("extensions");
}

TEST_F(TamperTest, ASignatureByTheWrongKeyIsCaught) {
  auto wrong = GenerateKey(KeyType::kEcdsaP256).value();
  ResignLeaves([](X509*) {}, wrong.get());
  ExpectRefused("signature");
}

TEST_F(TamperTest, ADamagedCrlIsNotReturned) {
  testing::SetIssuanceTamper([](std::string_view kind, std::string& der) {
    if (kind == kCheckCrl) der[der.size() - 3] = static_cast<char>(der[der.size() - 3] ^ 0x01);  // in the signature
  });
  const TimePoint now = std::chrono::floor<Seconds>(pki_->clock.Now());
  auto crl = BuildCrl(pki_->intermediate.get(), pki_->intermediate_key.get(),
                      {3, now, now + std::chrono::hours(1), {{"0123456789abcdef01", now, RevocationReason::kKeyCompromise}}});
  ASSERT_FALSE(crl.has_value());
  EXPECT_EQ(crl.error().code, ErrorCode::kInternal);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0].kind, "crl");
  EXPECT_EQ(failures_[0].field, "signature");
}

TEST_F(TamperTest, ADamagedIntermediateOrRootIsNotReturned) {
  auto wrong = GenerateKey(KeyType::kEcdsaP256).value();
  testing::SetIssuanceTamper([&wrong](std::string_view kind, std::string& der) {
    if (kind != kCheckIntermediate && kind != kCheckRoot) return;
    auto x = CertFromDer(der).value();
    ASSERT_GT(X509_sign(x.get(), wrong.get(), EVP_sha256()), 0);
    der = CertToDer(x.get()).value();
  });
  auto int_key = GenerateKey(KeyType::kEcdsaP256).value();
  NameConstraintsSpec nc{.enabled = true, .trust_domain = "example.org", .permitted_dns = {}, .permitted_ips = {}};
  auto intermediate = MakeIntermediateCert(int_key.get(), pki_->root.get(), pki_->root_key.get(), nc,
                                           std::chrono::hours(24), pki_->clock);
  ASSERT_FALSE(intermediate.has_value());
  EXPECT_EQ(intermediate.error().code, ErrorCode::kInternal);
  auto root = MakeRootCert(int_key.get(), "example.org", std::chrono::hours(24), pki_->clock);
  ASSERT_FALSE(root.has_value());
  ASSERT_EQ(failures_.size(), 2u);
  EXPECT_EQ(failures_[0].kind, "intermediate");
  EXPECT_EQ(failures_[0].field, "signature");
  EXPECT_EQ(failures_[1].kind, "root");
}

TEST_F(TamperTest, AnOcspResponderCertificateIsCheckedToo) {
  auto responder_key = GenerateKey(KeyType::kEcdsaP256).value();
  auto issue = [&] {
    return IssueOcspResponderCert(pki_->intermediate.get(), pki_->intermediate_key.get(), responder_key.get(),
                                  std::chrono::hours(4), std::chrono::minutes(1), pki_->clock.Now());
  };
  ASSERT_TRUE(issue()) << "an undamaged responder certificate is issued";
  ASSERT_TRUE(failures_.empty());

  // An added EKU (serverAuth beside OCSPSigning): the responder could serve TLS.
  testing::SetIssuanceTamper([this](std::string_view kind, std::string& der) {
    if (kind != kCheckOcspResponder) return;
    auto x = CertFromDer(der).value();
    X509_EXTENSION_free(X509_delete_ext(x.get(), X509_get_ext_by_NID(x.get(), NID_ext_key_usage, -1)));
    OsslPtr<X509_EXTENSION> eku(X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "OCSPSigning,serverAuth"));
    ASSERT_TRUE(eku);
    X509_add_ext(x.get(), eku.get(), -1);
    ASSERT_GT(X509_sign(x.get(), pki_->intermediate_key.get(), EVP_sha256()), 0);
    der = CertToDer(x.get()).value();
  });
  auto widened = issue();
  ASSERT_FALSE(widened.has_value()) << "a responder certificate with another EKU was handed out";
  EXPECT_EQ(widened.error().code, ErrorCode::kInternal);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0].kind, "ocsp_responder");
  EXPECT_EQ(failures_[0].field, "extendedKeyUsage");

  // Signed by another key than the CA it answers for.
  auto wrong = GenerateKey(KeyType::kEcdsaP256).value();
  testing::SetIssuanceTamper([&wrong](std::string_view kind, std::string& der) {
    if (kind != kCheckOcspResponder) return;
    auto x = CertFromDer(der).value();
    ASSERT_GT(X509_sign(x.get(), wrong.get(), EVP_sha256()), 0);
    der = CertToDer(x.get()).value();
  });
  ASSERT_FALSE(issue().has_value());
  ASSERT_EQ(failures_.size(), 2u);
  EXPECT_EQ(failures_[1].field, "signature");
}

}  // namespace issuance_tamper_test
}  // namespace mayfly
