// Issued leaves: exactly the designed extensions, strict verification,
// serials, validity, and nothing taken from the CSR but key and names.
#include "mayfly/issuer.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "mayfly/csr.h"
#include "mayfly/x509_util.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace issuer_test {

using testing::TestPki;

std::set<int> ExtensionNids(const X509* cert) {
  std::set<int> nids;
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    nids.insert(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert, i))));
  }
  return nids;
}

bool IsCritical(const X509* cert, int nid) {
  int idx = X509_get_ext_by_NID(cert, nid, -1);
  return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

TEST(IssuerTest, LeafHasExactlyTheDesignedExtensions) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  auto issued = pki->IssueFor(key.get(), "spiffe://example.org/ns/web", {"web.internal"});
  auto cert = CertFromDer(issued.der).value();

  EXPECT_EQ(ExtensionNids(cert.get()),
            (std::set<int>{NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                           NID_subject_key_identifier, NID_authority_key_identifier, NID_subject_alt_name}));
  EXPECT_TRUE(IsCritical(cert.get(), NID_basic_constraints));
  EXPECT_TRUE(IsCritical(cert.get(), NID_key_usage));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(CertSpiffeId(cert.get()), "spiffe://example.org/ns/web");
  EXPECT_EQ(X509_check_host(cert.get(), "web.internal", 0, 0, nullptr), 1);
  // AKI names the intermediate.
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(pki->intermediate.get())), 0);
  EXPECT_EQ(VerifyLeaf(cert.get(), *pki, pki->clock.Now()), "");
}

TEST(IssuerTest, RsaLeavesAlsoGetKeyEnciphermentAndCrlUrlIsAdded) {
  auto pki = TestPki::Make({.crl_url = "http://ca.internal/crl"});
  auto key = GenerateKey(KeyType::kRsa2048).value();
  auto cert = CertFromDer(pki->IssueFor(key.get(), "spiffe://example.org/rsa").der).value();
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_TRUE(ExtensionNids(cert.get()).contains(NID_crl_distribution_points));
  EXPECT_EQ(VerifyLeaf(cert.get(), *pki, pki->clock.Now()), "");
}

TEST(IssuerTest, CsrAskingForCaAndExtraUsagesGetsOnlyTheDesignedLeaf) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  OsslPtr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key.get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "keyCertSign,cRLSign"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "codeSigning"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                   "URI:spiffe://example.org/ok"));
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(req.get(), key.get(), EVP_sha256());
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  auto csr = Csr::Parse(BioToString(bio.get())).value();

  LeafSpec spec{&csr.public_key(), csr.key_type(), csr.uri_names().at(0), {}, {}, std::chrono::hours(1)};
  auto cert = CertFromDer(pki->issuer->Issue(spec).value().der).value();
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  // The leaf carries the CSR's key.
  EXPECT_TRUE(KeysMatch(X509_get0_pubkey(cert.get()), key.get()));
}

TEST(IssuerTest, SerialsAreRandom128BitPositiveAndUnique) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  std::set<std::string> serials;
  for (int i = 0; i < 500; ++i) {
    auto issued = pki->IssueFor(key.get(), "spiffe://example.org/s");
    auto cert = CertFromDer(issued.der).value();
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
    EXPECT_GE(issued.serial.size(), 31u);
    EXPECT_EQ(issued.serial, CertSerialHex(cert.get()));
    serials.insert(issued.serial);
  }
  EXPECT_EQ(serials.size(), 500u);
}

// Serials come from a per-thread random pool: a forked process must not hand
// out the serials its parent will.
TEST(IssuerTest, AForkedProcessDoesNotRepeatItsParentsSerials) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  pki->IssueFor(key.get(), "spiffe://example.org/s");  // fills this thread's pool
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string serial = pki->IssueFor(key.get(), "spiffe://example.org/s").serial;
    const bool written = write(fds[1], serial.data(), serial.size()) == static_cast<ssize_t>(serial.size());
    _exit(written ? 0 : 1);
  }
  close(fds[1]);
  const std::string parent_serial = pki->IssueFor(key.get(), "spiffe://example.org/s").serial;
  char buf[64];
  const ssize_t n = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_GT(n, 30);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)), parent_serial);
}

TEST(IssuerTest, ValidityIsBackdatedAndCutAtTheIssuersNotAfter) {
  auto pki = TestPki::Make({.intermediate_ttl = std::chrono::hours(2)});
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  TimePoint now = std::chrono::floor<Seconds>(pki->clock.Now());
  auto issued = pki->IssueFor(key.get(), "spiffe://example.org/v", {}, std::chrono::minutes(30));
  EXPECT_EQ(issued.not_before, now - std::chrono::minutes(1));
  EXPECT_EQ(issued.not_after, now + std::chrono::minutes(30));

  auto long_lived = pki->IssueFor(key.get(), "spiffe://example.org/v", {}, std::chrono::hours(24));
  EXPECT_EQ(long_lived.not_after, CertNotAfter(pki->intermediate.get()));
  auto cert = CertFromDer(long_lived.der).value();
  EXPECT_EQ(CertNotAfter(cert.get()), CertNotAfter(pki->intermediate.get()));

  pki->clock.Advance(std::chrono::hours(3));
  auto spki = PublicKeyOf(key.get()).value();
  auto expired = pki->issuer->Issue({&spki, KeyType::kEcdsaP256, "spiffe://example.org/v", {}, {},
                                     std::chrono::hours(1)});
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnavailable);
}

TEST(IssuerTest, NameConstraintsRefuseLeavesOfAnotherTrustDomain) {
  auto pki = TestPki::Make();
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  // The pre-issuance check refuses to hand out what no verifier would accept.
  auto spki = PublicKeyOf(key.get()).value();
  auto refused = pki->issuer->Issue({.public_key = &spki, .spiffe_id = "spiffe://evil.org/x", .ttl = std::chrono::hours(1)});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  EXPECT_NE(refused.error().message.find("name constraints"), std::string::npos) << refused.error().message;
  auto unconstrained = TestPki::Make({.name_constraints = false});
  auto cert2 = CertFromDer(unconstrained->IssueFor(key.get(), "spiffe://evil.org/x").der).value();
  EXPECT_EQ(VerifyLeaf(cert2.get(), *unconstrained, unconstrained->clock.Now()), "");
}

TEST(IssuerTest, EveryKeyTypeAndCaKeyTypeVerifiesWithTheOpensslCommand) {
  testing::TempDir dir;
  for (KeyType ca_type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519}) {
    auto pki = TestPki::Make({.ca_key_type = ca_type});
    testing::WriteTextFile(dir.File("root.pem"), CertToPem(pki->root.get()).value());
    testing::WriteTextFile(dir.File("int.pem"), CertToPem(pki->intermediate.get()).value());
    for (KeyType leaf_type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa2048}) {
      SCOPED_TRACE(std::string(KeyTypeName(ca_type)) + " CA, " + std::string(KeyTypeName(leaf_type)) + " leaf");
      auto key = GenerateKey(leaf_type).value();
      auto issued = pki->IssueFor(key.get(), "spiffe://example.org/t", {"t.example.org"});
      testing::WriteTextFile(dir.File("leaf.pem"), issued.Pem());
      auto r = testing::RunCommand("openssl verify -x509_strict -purpose sslclient -CAfile " + dir.File("root.pem") +
                                   " -untrusted " + dir.File("int.pem") + " " + dir.File("leaf.pem"));
      EXPECT_EQ(r.status, 0) << r.output;
      auto cert = CertFromDer(issued.der).value();
      EXPECT_EQ(VerifyLeaf(cert.get(), *pki, pki->clock.Now()), "");
    }
  }
}

}  // namespace issuer_test
}  // namespace mayfly
