// CRLs: v2, signed by the issuer, exactly the revoked serials, and honoured
// by OpenSSL's CRL checks (in-process and the openssl command).
#include "mayfly/crl.h"

#include <gtest/gtest.h>

#include <set>

#include "mayfly/x509_util.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace crl_test {

using testing::TestPki;

TEST(CrlTest, ListsExactlyTheRevokedSerialsWithReasons) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto a = pki->IssueFor(key.get(), "spiffe://example.org/a");
  auto b = pki->IssueFor(key.get(), "spiffe://example.org/b");
  auto c = pki->IssueFor(key.get(), "spiffe://example.org/c");
  TimePoint now = std::chrono::floor<Seconds>(pki->clock.Now());
  CrlSpec spec{7, now, now + std::chrono::hours(1),
               {{a.serial, now, RevocationReason::kKeyCompromise}, {b.serial, now, RevocationReason::kUnspecified}}};
  auto signed_crl = BuildCrl(pki->intermediate.get(), pki->intermediate_key.get(), spec);
  ASSERT_TRUE(signed_crl.has_value()) << signed_crl.error().ToString();
  auto crl = CrlFromPem(signed_crl->pem).value();

  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(pki->intermediate.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(pki->intermediate.get())), 0);
  OsslPtr<ASN1_STRING> number(static_cast<ASN1_STRING*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 7);
  EXPECT_GE(X509_CRL_get_ext_by_NID(crl.get(), NID_authority_key_identifier, -1), 0);
  EXPECT_EQ(ToUnixSeconds(Asn1TimeToTimePoint(X509_CRL_get0_nextUpdate(crl.get())).value()),
            ToUnixSeconds(now + std::chrono::hours(1)));

  std::set<std::string> listed;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    std::string serial = SerialHex(X509_REVOKED_get0_serialNumber(r));
    listed.insert(serial);
    int crit = 0;
    OsslPtr<ASN1_STRING> reason(static_cast<ASN1_STRING*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, nullptr)));
    if (serial == a.serial) {
      ASSERT_TRUE(reason);
      EXPECT_EQ(ASN1_ENUMERATED_get(reason.get()), 1);
    } else {
      EXPECT_FALSE(reason) << "unspecified reason must be absent";
    }
  }
  EXPECT_EQ(listed, (std::set<std::string>{a.serial, b.serial}));

  auto cert_a = CertFromDer(a.der).value();
  auto cert_c = CertFromDer(c.der).value();
  auto root_crl = BuildCrl(pki->root.get(), pki->root_key.get(), {1, now, now + std::chrono::hours(24), {}}).value();
  auto root_crl_obj = CrlFromPem(root_crl.pem).value();
  std::vector<X509_CRL*> crls = {crl.get(), root_crl_obj.get()};
  EXPECT_EQ(VerifyLeaf(cert_a.get(), *pki, pki->clock.Now(), crls), "certificate revoked");
  EXPECT_EQ(VerifyLeaf(cert_c.get(), *pki, pki->clock.Now(), crls), "");
}

TEST(CrlTest, TheOpensslCommandRefusesARevokedLeaf) {
  testing::TempDir dir;
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto revoked = pki->IssueFor(key.get(), "spiffe://example.org/revoked");
  auto good = pki->IssueFor(key.get(), "spiffe://example.org/good");
  TimePoint now = std::chrono::floor<Seconds>(pki->clock.Now());
  auto int_crl = BuildCrl(pki->intermediate.get(), pki->intermediate_key.get(),
                          {2, now, now + std::chrono::hours(1), {{revoked.serial, now, RevocationReason::kKeyCompromise}}}).value();
  auto root_crl = BuildCrl(pki->root.get(), pki->root_key.get(), {1, now, now + std::chrono::hours(24), {}}).value();
  testing::WriteTextFile(dir.File("root.pem"), CertToPem(pki->root.get()).value());
  testing::WriteTextFile(dir.File("int.pem"), CertToPem(pki->intermediate.get()).value());
  testing::WriteTextFile(dir.File("crl.pem"), int_crl.pem + root_crl.pem);
  testing::WriteTextFile(dir.File("revoked.pem"), revoked.Pem());
  testing::WriteTextFile(dir.File("good.pem"), good.Pem());
  std::string base = "openssl verify -x509_strict -crl_check_all -CRLfile " + dir.File("crl.pem") + " -CAfile " +
                     dir.File("root.pem") + " -untrusted " + dir.File("int.pem") + " ";
  auto bad = testing::RunCommand(base + dir.File("revoked.pem"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("certificate revoked"), std::string::npos) << bad.output;
  auto ok = testing::RunCommand(base + dir.File("good.pem"));
  EXPECT_EQ(ok.status, 0) << ok.output;
}

TEST(CrlTest, MalformedSerialIsAnError) {
  auto pki = TestPki::Make();
  TimePoint now = pki->clock.Now();
  auto r = BuildCrl(pki->intermediate.get(), pki->intermediate_key.get(), {1, now, now, {{"zz-not-hex", now}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(CrlTest, AHundredThousandEntriesAllParseBack) {
  auto pki = TestPki::Make();
  TimePoint now = std::chrono::floor<Seconds>(pki->clock.Now());
  CrlSpec spec{int64_t{1} << 40, now, now + std::chrono::hours(1), {}};
  // Short, odd-length and top-bit-set serials next to full 128-bit ones.
  for (const char* odd : {"1", "abc", "ff", "80", "0f00"}) spec.revoked.push_back({odd, now, RevocationReason::kSuperseded});
  for (int i = 0; i < 100000; ++i) {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", 0x80000000u | static_cast<unsigned>(i), 7u, 11u,
                  static_cast<unsigned>(i));
    spec.revoked.push_back({hex, now, RevocationReason::kKeyCompromise});
  }
  auto signed_crl = BuildCrl(pki->intermediate.get(), pki->intermediate_key.get(), spec);
  ASSERT_TRUE(signed_crl.has_value()) << signed_crl.error().ToString();
  auto crl = CrlFromPem(signed_crl->pem).value();
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(pki->intermediate.get())), 1);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), static_cast<int>(spec.revoked.size()));
  std::set<std::string> listed;
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    listed.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  for (const CrlEntry& e : spec.revoked) {
    std::string want = e.serial;
    want.erase(0, std::min(want.find_first_not_of('0'), want.size() - 1));
    EXPECT_TRUE(listed.contains(want)) << e.serial;
  }
  OsslPtr<ASN1_STRING> number(static_cast<ASN1_STRING*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), int64_t{1} << 40);
}

}  // namespace crl_test
}  // namespace mayfly
