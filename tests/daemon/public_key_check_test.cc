// CSR keys checked as keys, end to end through the API: a key at the point
// at infinity gets no certificate from /v1/sign, and /v1/renew tells the
// current key in another encoding from a new one.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "support/forged_csr.h"

namespace mayfly::testing {
namespace public_key_check_test {

class PublicKeyCheckTest : public ApiTest {};

// The forged CSR names an identity the node's entry allows and carries a
// signature that verifies under its key, made without any private key: all
// that stops it is the key check.
TEST_F(PublicKeyCheckTest, SignRefusesAKeyAtThePointAtInfinity) {
  TestNode node = Enroll("web-1");
  const auto before = Snapshot();
  for (int curve : {NID_X9_62_prime256v1, NID_secp384r1}) {
    SCOPED_TRACE(OBJ_nid2sn(curve));
    auto r = Sign(node, CsrPem(InfinityPointCsr(curve, {"spiffe://example.org/ns/prod/web"})));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "weak_key") << r.body;
    EXPECT_NE(r.body.find("EC public key is the point at infinity"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Snapshot(), before) << "a certificate was issued";
  // The same node and identity with a real key still get one.
  auto key = NewKey();
  auto ok = Sign(node, Csr(key.get(), {"spiffe://example.org/ns/prod/web"}));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

// The node's own key, its point sent compressed: a valid CSR for the same
// key, in bytes unlike the certificate's. The old byte comparison renewed it.
TEST_F(PublicKeyCheckTest, RenewWithTheSameKeyReencodedCompressedIsRefused) {
  TestNode node = Enroll("web-1");
  const auto before = Snapshot();
  auto r = Post("/v1/renew", {{"csr", CsrPem(CompressedPointCsr(node.key.get(), {}))}}, AsNode(node));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << r.body;
  EXPECT_EQ(Str(Json(r).at("error"), "message"), "compressed EC points are not accepted; send the uncompressed point");
  auto same = Post("/v1/renew", {{"csr", Csr(node.key.get())}}, AsNode(node));
  EXPECT_EQ(same.status, 400) << same.body;
  EXPECT_NE(same.body.find("renewal needs a new key"), std::string::npos) << same.body;
  EXPECT_EQ(Snapshot(), before) << "a certificate was issued";
}

// A key of another algorithm is a new key, not a failed comparison.
TEST_F(PublicKeyCheckTest, RenewToAnotherKeyTypeIsANewKey) {
  TestNode node = Enroll("web-1");
  auto ed25519 = GenerateKey(KeyType::kEd25519).value();
  auto r = Post("/v1/renew", {{"csr", Csr(ed25519.get())}}, AsNode(node));
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace public_key_check_test
}  // namespace mayfly::testing
