// CSR public keys checked as keys: EC points (infinity, compressed, hybrid,
// wrong length) and RSA public exponents, each refused with a clear error.
#include <gtest/gtest.h>

#include "mayfly/csr.h"
#include "mayfly/keys.h"
#include "support/forged_csr.h"

namespace mayfly {
namespace csr_key_test {

using testing::DerEcSpki;
using testing::DerRequestInfo;
using testing::DerUriNames;
using testing::SignedRequest;

OsslPtr<BIGNUM> Bn(const char* hex) {
  BIGNUM* n = nullptr;
  EXPECT_GT(BN_hex2bn(&n, hex), 0);
  return OsslPtr<BIGNUM>(n);
}

// The forged request is well formed and its signature is right for the key it
// names: before the key check, it was accepted (and a certificate issued).
TEST(CsrKeyTest, PointAtInfinityIsRefused) {
  for (int curve : {NID_X9_62_prime256v1, NID_secp384r1}) {
    SCOPED_TRACE(OBJ_nid2sn(curve));
    auto csr = Csr::Parse(testing::InfinityPointCsr(curve, {"spiffe://example.org/ns/prod/web"}));
    ASSERT_FALSE(csr.has_value()) << "a key at the point at infinity was accepted";
    EXPECT_EQ(csr.error().code, ErrorCode::kWeakKey) << csr.error().ToString();
    EXPECT_NE(csr.error().message.find("point at infinity"), std::string::npos) << csr.error().message;
  }
}

TEST(CsrKeyTest, CompressedPointIsRefusedAndTheUncompressedOneAccepted) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto csr = Csr::Parse(testing::CompressedPointCsr(key.get(), {}));
  ASSERT_FALSE(csr.has_value()) << "a compressed point was accepted";
  EXPECT_EQ(csr.error().code, ErrorCode::kInvalidArgument) << csr.error().ToString();
  EXPECT_EQ(csr.error().message, "compressed EC points are not accepted; send the uncompressed point");
  const std::string info = DerRequestInfo(PublicKeyOf(key.get()).value().spki_der, "");
  EXPECT_TRUE(Csr::Parse(SignedRequest(info, key.get(), EVP_sha256(), NID_ecdsa_with_SHA256)).has_value());
}

// Points in encodings other than 04 || x || y, each signed by the key whose
// point it alters where it still has one.
TEST(CsrKeyTest, OtherPointEncodingsAreRefused) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string point = PublicKeyOf(key.get()).value().key_bits;
  ASSERT_EQ(point.size(), 65u);
  const bool odd_y = (static_cast<unsigned char>(point.back()) & 1) != 0;
  struct Case {
    std::string name;
    std::string point;
    ErrorCode code;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"hybrid form", std::string(1, odd_y ? '\x07' : '\x06') + point.substr(1), ErrorCode::kWeakKey,
       "uncompressed point"},
      {"one byte short", point.substr(0, 64), ErrorCode::kWeakKey, "65 bytes"},
      {"one byte long", point + '\x00', ErrorCode::kWeakKey, "65 bytes"},
      {"a P-384 sized point on P-256", std::string(97, '\x04'), ErrorCode::kWeakKey, "65 bytes"},
      {"compressed with the wrong parity", std::string(1, odd_y ? '\x02' : '\x03') + point.substr(1, 32),
       ErrorCode::kInvalidArgument, "compressed EC points are not accepted"},
      {"x and y zero", '\x04' + std::string(64, '\0'), ErrorCode::kWeakKey, "not a point on its curve"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string info = DerRequestInfo(DerEcSpki(NID_X9_62_prime256v1, c.point), DerUriNames({}));
    auto csr = Csr::Parse(SignedRequest(info, key.get(), EVP_sha256(), NID_ecdsa_with_SHA256));
    ASSERT_FALSE(csr.has_value()) << "accepted";
    EXPECT_EQ(csr.error().code, c.code) << csr.error().ToString();
    EXPECT_NE(csr.error().message.find(c.message_part), std::string::npos) << csr.error().message;
  }
}

TEST(CsrKeyTest, RsaKeysWithWeakPublicExponentsAreRefused) {
  struct Case {
    std::string name;
    const char* e_hex;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"e = 1 (a signature forged without a key)", "1", "public exponent 1 is not accepted"},
      {"e = 3", "3", "public exponent 3 is not accepted"},
      {"e = 65535, odd but below 65537", "FFFF", "public exponent 65535 is not accepted"},
      {"e = 65538, even", "10002", "public exponent 65538 is not accepted"},
      {"e = 2^16, even", "10000", "public exponent 65536 is not accepted"},
      {"e = 2^256 + 1, too large", "10000000000000000000000000000000000000000000000000000000000000001",
       "is not accepted"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto e = Bn(c.e_hex);
    auto csr = Csr::Parse(testing::RsaExponentCsr(2048, e.get()));
    ASSERT_FALSE(csr.has_value()) << "accepted";
    EXPECT_EQ(csr.error().code, ErrorCode::kWeakKey) << csr.error().ToString();
    EXPECT_NE(csr.error().message.find(c.message_part), std::string::npos) << csr.error().message;
    EXPECT_NE(csr.error().message.find("odd, from 65537 to 2^256 - 1"), std::string::npos) << csr.error().message;
  }
}

TEST(CsrKeyTest, RsaKeysWithStrongOddExponentsAreAccepted) {
  for (const char* e_hex : {"10001", "1000001"}) {  // 65537 and 2^24 + 1
    SCOPED_TRACE(e_hex);
    auto e = Bn(e_hex);
    auto csr = Csr::Parse(testing::RsaExponentCsr(2048, e.get()));
    ASSERT_TRUE(csr.has_value()) << csr.error().ToString();
    EXPECT_EQ(csr->key_type(), KeyType::kRsa2048);
  }
}

// The same policy applies to every RSA key Mayfly classifies, not only CSRs.
TEST(CsrKeyTest, ClassifyKeyRefusesAWeakExponent) {
  auto e = Bn("3");
  OsslPtr<EVP_PKEY> key = testing::RsaKeyWithExponent(2048, e.get());
  ASSERT_TRUE(key);
  auto type = ClassifyKey(key.get());
  ASSERT_FALSE(type.has_value());
  EXPECT_EQ(type.error().code, ErrorCode::kWeakKey);
  auto good = GenerateKey(KeyType::kRsa2048).value();
  EXPECT_EQ(ClassifyKey(good.get()).value(), KeyType::kRsa2048);
}

}  // namespace csr_key_test
}  // namespace mayfly
