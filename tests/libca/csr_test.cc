// CSR parsing: what is accepted, and every way a bad CSR is refused.
#include "mayfly/csr.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <functional>

#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"
#include "support/forged_csr.h"

namespace mayfly {
namespace csr_test {

std::string PemToDer(const std::string& pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_REQ_free(req);
  return out;
}

TEST(CsrTest, AcceptsEveryAllowedKeyTypeAndReadsTheNames) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa2048}) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    auto key = GenerateKey(type).value();
    auto pem = MakeCsrPem(key.get(), {"spiffe://example.org/web"}, {"web.internal"}, {"10.1.2.3", "::1"});
    ASSERT_TRUE(pem.has_value()) << pem.error().ToString();
    auto csr = Csr::Parse(*pem);
    ASSERT_TRUE(csr.has_value()) << csr.error().ToString();
    EXPECT_EQ(csr->key_type(), type);
    EXPECT_EQ(csr->uri_names(), std::vector<std::string>{"spiffe://example.org/web"});
    EXPECT_EQ(csr->dns_names(), std::vector<std::string>{"web.internal"});
    ASSERT_EQ(csr->ip_names().size(), 2u);
    EXPECT_EQ(csr->ip_names()[0].bytes, (std::vector<uint8_t>{10, 1, 2, 3}));
    EXPECT_EQ(csr->ip_names()[1].bytes.size(), 16u);
  }
}

TEST(CsrTest, AcceptsDerAndACsrWithoutNames) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto csr = Csr::Parse(PemToDer(MakeCsrPem(key.get(), {}, {}, {}).value()));
  ASSERT_TRUE(csr.has_value()) << csr.error().ToString();
  EXPECT_TRUE(csr->uri_names().empty());
  EXPECT_TRUE(csr->dns_names().empty());
  EXPECT_TRUE(csr->ip_names().empty());
  // The key read from the DER is the key that signed it, byte for byte.
  EXPECT_EQ(csr->key_type(), KeyType::kEcdsaP256);
  EXPECT_EQ(csr->public_key().spki_der, PublicKeyOf(key.get()).value().spki_der);
}

struct BadCsrCase {
  std::string name;
  std::string input;
  ErrorCode code;
  std::string message_part;
};

std::vector<BadCsrCase> BadCases() {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  std::string pem = MakeCsrPem(key.get(), {"spiffe://example.org/x"}, {}, {}).value();
  std::string der = PemToDer(pem);
  std::string bad_sig = der;
  bad_sig[bad_sig.size() - 5] ^= 0x01;  // inside the signature's integers
  OsslPtr<EVP_PKEY> rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  std::vector<std::string> many_dns;
  for (int i = 0; i < 10000; ++i) many_dns.push_back("n" + std::to_string(i) + ".example.org");
  std::string long_uri = "spiffe://example.org/" + std::string(3000, 'a');
  // Another key's CSR with its signature swapped in: signature mismatch.
  return {
      {"garbage", "this is not a CSR", ErrorCode::kInvalidCsr, "DER"},
      {"empty", "", ErrorCode::kInvalidCsr, "empty"},
      {"truncated der", der.substr(0, der.size() / 2), ErrorCode::kInvalidCsr, "DER"},
      {"trailing bytes", der + "extra", ErrorCode::kInvalidCsr, "trailing"},
      {"bad signature", bad_sig, ErrorCode::kInvalidCsr, "signature"},
      {"truncated pem", pem.substr(0, pem.size() / 2), ErrorCode::kInvalidCsr, "truncated"},
      {"certificate pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
       ErrorCode::kInvalidCsr, "CERTIFICATE REQUEST"},
      {"rsa 1024", MakeCsrPem(rsa1024.get(), {}, {}, {}).value(), ErrorCode::kWeakKey, "1024"},
      {"10000 SANs", MakeCsrPem(key.get(), {}, many_dns, {}).value(), ErrorCode::kInvalidCsr, "16 KiB"},
      {"oversized uri", MakeCsrPem(key.get(), {long_uri}, {}, {}).value(), ErrorCode::kInvalidCsr, "2048"},
      {"oversized dns", MakeCsrPem(key.get(), {}, {std::string(300, 'a')}, {}).value(),
       ErrorCode::kInvalidCsr, "253"},
  };
}

TEST(CsrTest, BadCsrsAreRefusedWithClearErrors) {
  for (const auto& c : BadCases()) {
    SCOPED_TRACE(c.name);
    auto csr = Csr::Parse(c.input);
    ASSERT_FALSE(csr.has_value());
    EXPECT_EQ(csr.error().code, c.code) << csr.error().ToString();
    EXPECT_NE(csr.error().message.find(c.message_part), std::string::npos) << csr.error().message;
  }
}

// A request for key B signed with key A.
std::string CsrForKeySignedBy(EVP_PKEY* subject_key, EVP_PKEY* signer) {
  OsslPtr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), subject_key);
  X509_REQ_sign(req.get(), signer, nullptr);
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return BioToString(bio.get());
}

// Csr::Parse reuses one EC key and context per thread and curve: each request
// must be checked against its own key, never the one before it.
TEST(CsrTest, EachRequestIsVerifiedWithItsOwnKeyNotThePreviousOne) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384}) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    auto a = GenerateKey(type).value();
    auto b = GenerateKey(type).value();
    ASSERT_TRUE(Csr::Parse(CsrForKeySignedBy(a.get(), a.get())).has_value());
    auto forged = Csr::Parse(CsrForKeySignedBy(b.get(), a.get()));
    ASSERT_FALSE(forged.has_value()) << "a request for B signed by the previous request's key A was accepted";
    EXPECT_NE(forged.error().message.find("does not verify"), std::string::npos) << forged.error().message;

    // A point off the curve is refused, and leaves nothing behind.
    std::string off_curve = PemToDer(CsrForKeySignedBy(a.get(), a.get()));
    const std::string point = PublicKeyOf(a.get()).value().key_bits;
    const size_t at = off_curve.find(point);
    ASSERT_NE(at, std::string::npos);
    off_curve[at + point.size() - 1] ^= 0x01;  // the last byte of y
    auto refused = Csr::Parse(off_curve);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kWeakKey) << refused.error().ToString();
    EXPECT_TRUE(Csr::Parse(CsrForKeySignedBy(b.get(), b.get())).has_value());
    EXPECT_FALSE(Csr::Parse(CsrForKeySignedBy(a.get(), b.get())).has_value());
  }
}

TEST(CsrTest, TooManyNamesInASmallCsrAreRefused) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  std::vector<std::string> dns;
  for (int i = 0; i < 100; ++i) dns.push_back("a" + std::to_string(i));
  auto csr = Csr::Parse(MakeCsrPem(key.get(), {}, dns, {}).value());
  ASSERT_FALSE(csr.has_value());
  EXPECT_NE(csr.error().message.find("at most 64"), std::string::npos) << csr.error().message;
}

TEST(CsrTest, OtherNameTypesAreRefused) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  OsslPtr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key.get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "email:a@b.c"));
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(req.get(), key.get(), EVP_sha256());
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  auto csr = Csr::Parse(BioToString(bio.get()));
  ASSERT_FALSE(csr.has_value());
  EXPECT_NE(csr.error().message.find("name type"), std::string::npos);
}

TEST(CsrTest, WeakSignatureDigestIsRefused) {
  auto key = GenerateKey(KeyType::kRsa2048).value();
  OsslPtr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key.get());
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha1()), 0);
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  auto csr = Csr::Parse(BioToString(bio.get()));
  ASSERT_FALSE(csr.has_value());
  EXPECT_NE(csr.error().message.find("signature algorithm"), std::string::npos);
}

// Hand-assembled requests, to reach the encodings OpenSSL will not produce
// (tests/support/forged_csr.h).
using testing::SignedRequest;
const auto Tlv = testing::DerTlv;
const auto OidTlv = testing::DerOid;
const auto ExtensionRequest = testing::DerExtensionRequest;
const auto SanExtension = testing::DerSanExtension;

struct HandBuilt {
  OsslPtr<EVP_PKEY> key = GenerateKey(KeyType::kEcdsaP256).value();
  std::string spki = PublicKeyOf(key.get()).value().spki_der;
  std::string version = Tlv(0x02, std::string(1, '\0'));
  std::string subject = Tlv(0x30, "");
  std::string attributes = ExtensionRequest(SanExtension(Tlv(0x30, Tlv(0x86, "spiffe://example.org/web"))));

  std::string Info() const { return Tlv(0x30, version + subject + spki + attributes); }
  std::string Der() { return SignedRequest(Info(), key.get(), EVP_sha256(), NID_ecdsa_with_SHA256); }
};

TEST(CsrTest, AHandBuiltRequestIsAcceptedAndItsKeyKeptAsReceived) {
  HandBuilt request;
  auto csr = Csr::Parse(request.Der());
  ASSERT_TRUE(csr.has_value()) << csr.error().ToString();
  EXPECT_EQ(csr->public_key().spki_der, request.spki);
  EXPECT_EQ(csr->uri_names(), std::vector<std::string>{"spiffe://example.org/web"});
  request.attributes.clear();  // the attributes field is optional here
  ASSERT_TRUE(Csr::Parse(request.Der()).has_value());
}

TEST(CsrTest, EncodingsThatAreNotStrictDerAreRefused) {
  struct Case {
    std::string name;
    std::function<void(HandBuilt&)> change;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"version 2", [](HandBuilt& r) { r.version = Tlv(0x02, "\x01"); }, "version"},
      {"length in a longer form than needed",
       [](HandBuilt& r) { r.subject = std::string("\x30\x81\x05\x31\x03\x02\x01\x00", 8); }, "not valid DER"},
      {"length with a leading zero byte",
       [](HandBuilt& r) { r.subject = std::string("\x30\x82\x00\x80", 4) + std::string(0x80, '\x05'); },
       "not valid DER"},
      {"indefinite length", [](HandBuilt& r) { r.subject = std::string("\x30\x80\x00\x00", 4); },
       "not valid DER"},
      {"key bits with unused bits",
       [](HandBuilt& r) {
         const size_t at = r.spki.find(std::string("\x03\x42\x00", 3));
         ASSERT_NE(at, std::string::npos);
         r.spki[at + 2] = 0x01;
       },
       "public key"},
      {"bytes after the names in the subjectAltName",
       [](HandBuilt& r) {
         r.attributes = ExtensionRequest(SanExtension(Tlv(0x30, Tlv(0x86, "spiffe://example.org/web")) + "\x05\x00"));
       },
       "subjectAltName is malformed"},
      {"two subjectAltNames",
       [](HandBuilt& r) {
         const std::string san = SanExtension(Tlv(0x30, Tlv(0x82, "a.internal")));
         r.attributes = ExtensionRequest(san + san);
       },
       "more than one subjectAltName"},
      {"a name running past its list",
       [](HandBuilt& r) { r.attributes = ExtensionRequest(SanExtension(Tlv(0x30, std::string("\x82\x09") + "abc"))); },
       "subjectAltName is malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HandBuilt request;
    c.change(request);
    auto csr = Csr::Parse(request.Der());
    ASSERT_FALSE(csr.has_value()) << "accepted";
    EXPECT_EQ(csr.error().code, ErrorCode::kInvalidCsr) << csr.error().ToString();
    EXPECT_NE(csr.error().message.find(c.message_part), std::string::npos) << csr.error().message;
  }
}

// The thread's verification context is reused: a request hashed with one
// digest must not change how the next one, hashed with another, is checked.
TEST(CsrTest, EachRequestIsCheckedWithItsOwnDigest) {
  HandBuilt request;
  const std::string info = request.Info();
  for (int round = 0; round < 2; ++round) {
    for (auto [md, nid] : {std::pair{EVP_sha384(), NID_ecdsa_with_SHA384}, std::pair{EVP_sha256(), NID_ecdsa_with_SHA256},
                           std::pair{EVP_sha512(), NID_ecdsa_with_SHA512}}) {
      SCOPED_TRACE(OBJ_nid2sn(nid));
      std::string der = SignedRequest(info, request.key.get(), md, nid);
      ASSERT_TRUE(Csr::Parse(der).has_value());
      // The same signature under another algorithm's name does not verify.
      const int other = nid == NID_ecdsa_with_SHA256 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256;
      std::string renamed = der;
      const std::string from = OidTlv(nid), to = OidTlv(other);
      ASSERT_EQ(from.size(), to.size());
      renamed.replace(renamed.rfind(from), from.size(), to);
      auto refused = Csr::Parse(renamed);
      ASSERT_FALSE(refused.has_value());
      EXPECT_NE(refused.error().message.find("does not verify"), std::string::npos) << refused.error().message;
    }
  }
}

}  // namespace csr_test
}  // namespace mayfly
