// SamePublicKey: keys compared as keys, whatever their encoding; errors never
// read as "different".
#include "mayfly/public_key.h"

#include <gtest/gtest.h>

#include "mayfly/keys.h"
#include "support/forged_csr.h"

namespace mayfly {
namespace public_key_test {

TEST(SamePublicKeyTest, OneKeyInEitherEncodingIsTheSameKey) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string uncompressed = PublicKeyOf(key.get()).value().spki_der;
  const std::string compressed = testing::DerEcSpki(NID_X9_62_prime256v1, testing::CompressedPoint(key.get()));
  ASSERT_NE(compressed, uncompressed);
  EXPECT_TRUE(SamePublicKey(uncompressed, key.get()).value());
  EXPECT_TRUE(SamePublicKey(compressed, key.get()).value());
}

TEST(SamePublicKeyTest, OtherKeysAreDifferent) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa2048}) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    auto other = GenerateKey(type).value();
    auto same = SamePublicKey(PublicKeyOf(other.get()).value().spki_der, key.get());
    ASSERT_TRUE(same.has_value()) << same.error().ToString();
    EXPECT_FALSE(*same);
  }
}

TEST(SamePublicKeyTest, WhatCannotBeComparedIsAnErrorNotADifference) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string spki = PublicKeyOf(key.get()).value().spki_der;
  auto garbage = SamePublicKey("not a key", key.get());
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().code, ErrorCode::kCrypto);
  auto none = SamePublicKey(spki, nullptr);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kCrypto);
}

}  // namespace public_key_test
}  // namespace mayfly
