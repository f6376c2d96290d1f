// The pre-issuance check seen from the API: with the issuing path broken on
// purpose (the test-only tamper hook), /v1/sign and /v1/enroll answer 500
// internal, hand out no certificate, store none, audit issuance_check_failed
// and count it in mayfly_issuance_check_failures_total.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "api_fixture.h"
#include "mayfly/issuance_check.h"
#include "mayfly/issuance_tamper.h"

namespace mayfly::testing {
namespace issuance_check_api_test {

class IssuanceCheckApiTest : public ApiTest {
 protected:
  void TearDown() override {
    SetIssuanceTamper(nullptr);
    ApiTest::TearDown();
  }

  // Adds a DNS name to every leaf and re-signs it, as a broken signer would.
  void AddSanToLeaves() {
    auto signer = std::make_shared<OsslPtr<EVP_PKEY>>(NewKey());
    SetIssuanceTamper([signer](std::string_view kind, std::string& der) {
      if (kind != kCheckLeaf) return;
      auto x = CertFromDer(der).value();
      OsslPtr<GENERAL_NAMES> names(
          static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr)));
      OsslPtr<GENERAL_NAME> extra(GENERAL_NAME_new());
      OsslPtr<ASN1_STRING> dns(ASN1_IA5STRING_new());
      ASN1_STRING_set(dns.get(), "bank.example.com", -1);
      GENERAL_NAME_set0_value(extra.get(), GEN_DNS, dns.release());
      sk_GENERAL_NAME_push(names.get(), extra.release());
      X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_REPLACE);
      X509_sign(x.get(), signer->get(), EVP_sha256());
      der = CertToDer(x.get()).value();
    });
  }

  std::vector<AuditEvent> CheckFailedEvents() {
    rt_->audit().Flush();
    auto events = rt_->store().ListAudit(0, 1000, std::nullopt).value();
    std::erase_if(events, [](const AuditEvent& e) { return e.type != "issuance_check_failed"; });
    return events;
  }

  bool MetricsSay(const std::string& series) {
    const std::string text = rt_->MetricsText();
    return text.find(series + "\n") != std::string::npos;
  }
};

TEST_F(IssuanceCheckApiTest, SignWithADamagedLeafAnswersInternalAndHandsOutNothing) {
  TestNode node = Enroll("web-1");
  ASSERT_FALSE(node.cert_pem.empty());
  EXPECT_TRUE(MetricsSay("mayfly_issuance_check_failures_total{kind=\"leaf\"} 0"));
  AddSanToLeaves();
  const auto before = Snapshot();

  auto r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "internal");
  EXPECT_EQ(r.body.find("BEGIN CERTIFICATE"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(), before) << "a certificate was stored";

  auto events = CheckFailedEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, "spiffe://example.org/ns/prod/web");
  EXPECT_EQ(events[0].result, "internal");
  EXPECT_NE(events[0].detail.find("subjectAltName DNS"), std::string::npos) << events[0].detail;
  EXPECT_NE(events[0].detail.find("bank.example.com"), std::string::npos) << events[0].detail;
  EXPECT_TRUE(MetricsSay("mayfly_issuance_check_failures_total{kind=\"leaf\"} 1")) << rt_->MetricsText();
  EXPECT_TRUE(MetricsSay("mayfly_issuances_total{route=\"sign\",result=\"error\"} 1"));

  // With the signer whole again the same request succeeds.
  SetIssuanceTamper(nullptr);
  r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(IssuanceCheckApiTest, EnrollWithADamagedLeafKeepsTheTokenAndStoresNothing) {
  const std::string token = CreateToken("web-2");
  AddSanToLeaves();
  const auto before = Snapshot();
  auto key = NewKey();
  auto r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(key.get())}}, Anonymous());
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "internal");
  EXPECT_EQ(Snapshot(), before);
  ASSERT_EQ(CheckFailedEvents().size(), 1u);
  EXPECT_EQ(CheckFailedEvents()[0].subject, "spiffe://example.org/mayfly/node/web-2");

  SetIssuanceTamper(nullptr);
  r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(key.get())}}, Anonymous());
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace issuance_check_api_test
}  // namespace mayfly::testing
