// Key generation, policy and PEM round trips.
#include "mayfly/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "mayfly/file_util.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace keys_test {

TEST(KeysTest, EveryConfiguredTypeGeneratesAndClassifies) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa2048}) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    auto key = GenerateKey(type);
    ASSERT_TRUE(key.has_value()) << key.error().ToString();
    auto classified = ClassifyKey(key->get());
    ASSERT_TRUE(classified.has_value());
    EXPECT_EQ(*classified, type);
    EXPECT_EQ(ParseKeyType(KeyTypeName(type)).value(), type);
  }
}

TEST(KeysTest, UnknownKeyTypeNameIsRefusedWithTheChoices) {
  auto r = ParseKeyType("dsa-1024");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("ecdsa-p256"), std::string::npos);
}

TEST(KeysTest, WeakRsaAndOtherCurvesAreRefused) {
  OsslPtr<EVP_PKEY> rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  auto r = ClassifyKey(rsa1024.get());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kWeakKey);
  EXPECT_NE(r.error().message.find("1024"), std::string::npos);

  OsslPtr<EVP_PKEY> k256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  auto c = ClassifyKey(k256.get());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kWeakKey);
}

TEST(KeysTest, EncryptedPemNeedsTheRightPassphrase) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto pem = PrivateKeyToEncryptedPem(key.get(), "correct horse");
  ASSERT_TRUE(pem.has_value());
  EXPECT_NE(pem->find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);

  auto back = PrivateKeyFromPem(*pem, std::string_view("correct horse"));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_TRUE(KeysMatch(key.get(), back->get()));

  auto wrong = PrivateKeyFromPem(*pem, std::string_view("wrong"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("passphrase"), std::string::npos);
  EXPECT_FALSE(PrivateKeyFromPem(*pem).has_value());
  EXPECT_FALSE(PrivateKeyToEncryptedPem(key.get(), "").has_value());
}

TEST(KeysTest, SavedKeyFilesAre0600AndEncryptedWhenAsked) {
  testing::TempDir dir;
  auto key = GenerateKey(KeyType::kEcdsaP384).value();
  ::umask(022);
  ASSERT_TRUE(SaveKeyFile(dir.File("ca.key"), key.get(), std::string_view("pass")).has_value());
  ASSERT_TRUE(SaveKeyFile(dir.File("leaf.key"), key.get(), std::nullopt).has_value());
  for (const char* name : {"ca.key", "leaf.key"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir.File(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  EXPECT_NE(ReadFile(dir.File("ca.key"))->find("ENCRYPTED"), std::string::npos);
  EXPECT_EQ(ReadFile(dir.File("leaf.key"))->find("ENCRYPTED"), std::string::npos);
  auto loaded = LoadKeyFile(dir.File("ca.key"), std::string_view("pass"));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(KeysMatch(key.get(), loaded->get()));
  auto missing = LoadKeyFile(dir.File("nope.key"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("nope.key"), std::string::npos);
}

TEST(KeysTest, PassphraseFileTakesTheFirstLineAndRefusesEmpty) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("p"), "s3cret\nignored\n", 0600).has_value());
  EXPECT_EQ(ReadPassphraseFile(dir.File("p")).value(), "s3cret");
  ASSERT_TRUE(WriteFileAtomic(dir.File("empty"), "\n", 0600).has_value());
  EXPECT_FALSE(ReadPassphraseFile(dir.File("empty")).has_value());
  EXPECT_FALSE(ReadPassphraseFile(dir.File("missing")).has_value());
}

}  // namespace keys_test
}  // namespace mayfly
