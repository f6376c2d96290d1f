// DerSigner, for every CA key type: the signed structure's shape, its
// AlgorithmIdentifier, and a signature that OpenSSL verifies independently
// over exactly the to-be-signed bytes.
#include "der_signer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <string>
#include <thread>
#include <vector>

#include "der_reader.h"
#include "der_writer.h"
#include "mayfly/keys.h"

namespace mayfly {
namespace der_signer_test {

struct Case {
  KeyType key_type;
  int signature_nid;          // what the AlgorithmIdentifier must name
  const char* digest;         // what the verifier hashes with (nullptr: none, Ed25519)
};

constexpr Case kCases[] = {
    {KeyType::kEcdsaP256, NID_ecdsa_with_SHA256, "SHA256"},
    {KeyType::kEcdsaP384, NID_ecdsa_with_SHA384, "SHA384"},
    {KeyType::kEd25519, NID_ED25519, nullptr},
    {KeyType::kRsa2048, NID_sha256WithRSAEncryption, "SHA256"},
};

bool Verifies(EVP_PKEY* key, const char* digest, std::string_view tbs, std::string_view signature) {
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key, nullptr) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(tbs.data()), tbs.size()) == 1;
}

TEST(DerSignerTest, SignsWhatOpenSslVerifiesForEveryKeyType) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(KeyTypeName(c.key_type)));
    auto key = GenerateKey(c.key_type);
    ASSERT_TRUE(key);
    auto signer = DerSigner::Create(key->get());
    ASSERT_TRUE(signer) << signer.error().ToString();

    // The AlgorithmIdentifier parses and names the expected algorithm.
    const std::string& alg = signer->algorithm();
    const auto* p = reinterpret_cast<const unsigned char*>(alg.data());
    OsslPtr<X509_ALGOR> algor(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(alg.size())));
    ASSERT_TRUE(algor);
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, algor.get());
    EXPECT_EQ(OBJ_obj2nid(oid), c.signature_nid);

    const std::string tbs = der::Tlv(der::kSequence, der::PositiveInteger("\x2a"));
    auto signed_der = signer->Sign(tbs, "a test structure");
    ASSERT_TRUE(signed_der) << signed_der.error().ToString();

    // SEQUENCE { tbs, algorithm, BIT STRING { 0 unused bits, signature } }
    der::Reader outer(*signed_der);
    auto seq = outer.Next(der::kSequence);
    ASSERT_TRUE(seq && outer.Done());
    der::Reader fields(seq->content);
    auto got_tbs = fields.NextAny();
    auto got_alg = fields.NextAny();
    auto bits = fields.Next(der::kBitString);
    ASSERT_TRUE(got_tbs && got_alg && bits && fields.Done());
    EXPECT_EQ(got_tbs->encoded, tbs);
    EXPECT_EQ(got_alg->encoded, alg);
    ASSERT_FALSE(bits->content.empty());
    EXPECT_EQ(bits->content[0], '\0');
    const std::string_view signature = bits->content.substr(1);
    EXPECT_TRUE(Verifies(key->get(), c.digest, tbs, signature));

    // The signature covers the to-be-signed bytes: one bit changed there fails.
    std::string altered = tbs;
    altered.back() ^= 1;
    EXPECT_FALSE(Verifies(key->get(), c.digest, altered, signature));
    // And it is made with this key, not another of the same type.
    auto other = GenerateKey(c.key_type);
    ASSERT_TRUE(other);
    EXPECT_FALSE(Verifies(other->get(), c.digest, tbs, signature));
  }
}

TEST(DerSignerTest, ConcurrentSignaturesAreEachValid) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_TRUE(key);
  auto signer = DerSigner::Create(key->get());
  ASSERT_TRUE(signer);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 50; ++n) {
        auto s = signer->Sign(der::Tlv(der::kSequence, der::PositiveInteger(std::string(1, char(i + 1)))), "t");
        if (!s) return;
        results[i] = *s;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < results.size(); ++i) {
    der::Reader outer(results[i]);
    auto seq = outer.Next(der::kSequence);
    ASSERT_TRUE(seq);
    der::Reader fields(seq->content);
    auto tbs = fields.NextAny();
    fields.NextAny();
    auto bits = fields.Next(der::kBitString);
    ASSERT_TRUE(tbs && bits);
    EXPECT_TRUE(Verifies(key->get(), "SHA256", tbs->encoded, bits->content.substr(1))) << i;
  }
}

}  // namespace der_signer_test
}  // namespace mayfly
