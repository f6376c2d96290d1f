// CSR keys checked as keys, end to end through the API: a key at the point
// at infinity gets no certificate from /v1/sign.
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

}  // namespace public_key_check_test
}  // namespace mayfly::testing
