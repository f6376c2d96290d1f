// OCSP request parsing, issuer matching, the responder certificate profile
// and response content, checked with OpenSSL's own OCSP verification.
#include "mayfly/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "support/test_pki.h"

namespace mayfly {
namespace {

// A DER OCSPRequest about `serial` under `issuer`, with `md`, optionally a nonce.
std::string RequestDer(const X509* issuer, const std::string& serial_hex, const EVP_MD* md, bool nonce,
                       int count = 1) {
  OsslPtr<OCSP_REQUEST> req(OCSP_REQUEST_new());
  OsslPtr<BIGNUM> bn;
  BIGNUM* raw = nullptr;
  EXPECT_GT(BN_hex2bn(&raw, serial_hex.c_str()), 0);
  bn.reset(raw);
  OsslPtr<ASN1_STRING> serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  for (int i = 0; i < count; ++i) {
    OCSP_CERTID* id = OCSP_cert_id_new(md, X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer),
                                       serial.get());
    EXPECT_NE(OCSP_request_add0_id(req.get(), id), nullptr);  // takes ownership
  }
  if (nonce) {
    EXPECT_EQ(OCSP_request_add1_nonce(req.get(), nullptr, -1), 1);
  }
  return *EncodeDer(req.get(), i2d_OCSP_REQUEST, "request");
}

class OcspTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = testing::TestPki::Make(); }
  std::unique_ptr<testing::TestPki> pki_;
};

TEST_F(OcspTest, ParsesSha1AndSha256CertIdsAndMatchesTheIssuer) {
  auto hashes = HashOcspIssuer(pki_->intermediate.get());
  ASSERT_TRUE(hashes);
  auto root_hashes = HashOcspIssuer(pki_->root.get());
  ASSERT_TRUE(root_hashes);
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
    auto q = ParseOcspRequest(RequestDer(pki_->intermediate.get(), "0ABC12", md, true));
    ASSERT_TRUE(q) << q.error().ToString();
    EXPECT_EQ(q->serial, "abc12");
    EXPECT_EQ(q->hash, md == EVP_sha1() ? OcspHash::kSha1 : OcspHash::kSha256);
    EXPECT_TRUE(q->has_nonce);
    EXPECT_TRUE(hashes->Matches(*q));
    EXPECT_FALSE(root_hashes->Matches(*q));
  }
}

TEST_F(OcspTest, RefusesWhatIsNotOneSupportedRequest) {
  const std::string good = RequestDer(pki_->intermediate.get(), "1", EVP_sha1(), false);
  const struct {
    const char* name;
    std::string der;
  } cases[] = {
      {"empty", ""},
      {"not DER", "hello"},
      {"truncated", good.substr(0, good.size() - 3)},
      {"trailing bytes", good + "x"},
      {"two CertIDs", RequestDer(pki_->intermediate.get(), "1", EVP_sha1(), false, 2)},
      {"no CertID", RequestDer(pki_->intermediate.get(), "1", EVP_sha1(), false, 0)},
      {"SHA-384 CertID", RequestDer(pki_->intermediate.get(), "1", EVP_sha384(), false)},
  };
  for (const auto& c : cases) {
    auto q = ParseOcspRequest(c.der);
    ASSERT_FALSE(q) << c.name;
    EXPECT_EQ(q.error().code, ErrorCode::kInvalidArgument) << c.name;
  }
  ASSERT_TRUE(ParseOcspRequest(good));
}

TEST_F(OcspTest, DecodesBase64WithAndWithoutPadding) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*DecodeBase64("+/8="), "\xfb\xff");
  EXPECT_FALSE(DecodeBase64("a b"));
  EXPECT_FALSE(DecodeBase64("a"));
}

TEST_F(OcspTest, ResponderCertificateAndSignedResponsesVerifyAgainstTheRoot) {
  const TimePoint now = pki_->clock.Now();
  auto key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_TRUE(key);
  auto responder = IssueOcspResponderCert(pki_->intermediate.get(), pki_->intermediate_key.get(), key->get(),
                                          std::chrono::hours(24), std::chrono::minutes(1), now);
  ASSERT_TRUE(responder) << responder.error().ToString();
  X509* r = responder->get();
  EXPECT_EQ(X509_get_extended_key_usage(r) & XKU_OCSP_SIGN, static_cast<uint32_t>(XKU_OCSP_SIGN));
  EXPECT_GE(X509_get_ext_by_NID(r, NID_id_pkix_OCSP_noCheck, -1), 0);
  EXPECT_EQ(X509_check_ca(r), 0);
  EXPECT_EQ(ToUnixSeconds(CertNotAfter(r)) - ToUnixSeconds(now), 24 * 3600);

  auto leaf_key = GenerateKey(KeyType::kEcdsaP256);
  auto leaf = pki_->IssueFor(leaf_key->get(), "spiffe://example.org/web");
  auto query = ParseOcspRequest(RequestDer(pki_->intermediate.get(), leaf.serial, EVP_sha1(), true));
  ASSERT_TRUE(query);
  const OcspStatus revoked{.kind = OcspStatus::kRevoked, .revoked_at = now - std::chrono::seconds(5),
                           .reason = RevocationReason::kKeyCompromise};
  for (const OcspStatus& status : {OcspStatus{.kind = OcspStatus::kGood}, revoked, OcspStatus{}}) {
    auto der = BuildOcspResponse(*query, status, now, now + std::chrono::hours(1), r, key->get(),
                                 {pki_->intermediate.get()});
    ASSERT_TRUE(der) << der.error().ToString();
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    OsslPtr<OCSP_RESPONSE> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der->size())));
    ASSERT_TRUE(resp);
    ASSERT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    OsslPtr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(resp.get()));
    ASSERT_TRUE(basic);
    // Verified against the root alone: the responder and the intermediate ride along.
    OsslPtr<X509_STORE> store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), pki_->root.get());
    EXPECT_EQ(OCSP_basic_verify(basic.get(), nullptr, store.get(), 0), 1);
    // The status is found under the CertID as asked (serial of the leaf).
    const auto* q = reinterpret_cast<const unsigned char*>(query->cert_id_der.data());
    OsslPtr<OCSP_CERTID> asked(d2i_OCSP_CERTID(nullptr, &q, static_cast<long>(query->cert_id_der.size())));
    int st = -1, reason = -1;
    ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
    ASSERT_EQ(OCSP_resp_find_status(basic.get(), asked.get(), &st, &reason, &rev, &thisupd, &nextupd), 1);
    EXPECT_EQ(st, status.kind == OcspStatus::kGood      ? V_OCSP_CERTSTATUS_GOOD
                  : status.kind == OcspStatus::kRevoked ? V_OCSP_CERTSTATUS_REVOKED
                                                        : V_OCSP_CERTSTATUS_UNKNOWN);
    if (status.kind == OcspStatus::kRevoked) {
      EXPECT_EQ(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
      EXPECT_EQ(*Asn1TimeToTimePoint(rev), FromUnixSeconds(ToUnixSeconds(status.revoked_at)));
    }
    EXPECT_EQ(*Asn1TimeToTimePoint(nextupd) - *Asn1TimeToTimePoint(thisupd), std::chrono::hours(1));
    // No nonce: answers are shared by every client (docs/ocsp.md).
    EXPECT_LT(OCSP_BASICRESP_get_ext_by_NID(basic.get(), NID_id_pkix_OCSP_Nonce, -1), 0);
  }
}

TEST_F(OcspTest, ErrorResponsesCarryOnlyTheirStatus) {
  for (int status : {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
                     OCSP_RESPONSE_STATUS_TRYLATER}) {
    auto der = OcspErrorResponse(status);
    ASSERT_TRUE(der);
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    OsslPtr<OCSP_RESPONSE> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der->size())));
    ASSERT_TRUE(resp);
    EXPECT_EQ(OCSP_response_status(resp.get()), status);
    EXPECT_EQ(OsslPtr<OCSP_BASICRESP>(OCSP_response_get1_basic(resp.get())), nullptr);
  }
}

}  // namespace
}  // namespace mayfly
