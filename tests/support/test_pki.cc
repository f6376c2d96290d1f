// A test PKI built in code.
#include "support/test_pki.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "mayfly/csr.h"
#include "mayfly/x509_util.h"

namespace mayfly::testing {

std::unique_ptr<TestPki> TestPki::Make(const TestPkiOptions& options) {
  auto pki = std::make_unique<TestPki>();
  pki->root_key = GenerateKey(options.ca_key_type).value();
  pki->intermediate_key = GenerateKey(options.ca_key_type).value();
  pki->root = MakeRootCert(pki->root_key.get(), options.trust_domain, std::chrono::hours(24 * 365),
                           pki->clock).value();
  NameConstraintsSpec nc{options.name_constraints, options.trust_domain, {}, {}};
  pki->intermediate = MakeIntermediateCert(pki->intermediate_key.get(), pki->root.get(),
                                           pki->root_key.get(), nc, options.intermediate_ttl,
                                           pki->clock).value();
  OsslPtr<X509> cert(X509_dup(pki->intermediate.get()));
  OsslPtr<EVP_PKEY> key(EVP_PKEY_dup(pki->intermediate_key.get()));
  IssuerOptions issuer_options;
  issuer_options.crl_url = options.crl_url;
  pki->issuer = Issuer::Create(std::move(cert), std::move(key), issuer_options, pki->clock).value();
  return pki;
}

IssuedCert TestPki::IssueFor(const EVP_PKEY* key, const std::string& spiffe_id, std::vector<std::string> dns,
                             std::chrono::seconds ttl) {
  auto spki = PublicKeyOf(key).value();
  LeafSpec spec;
  spec.public_key = &spki;
  spec.key_type = ClassifyKey(key).value();
  spec.spiffe_id = spiffe_id;
  spec.dns = std::move(dns);
  spec.ttl = ttl;
  auto issued = issuer->Issue(spec);
  EXPECT_TRUE(issued.has_value()) << issued.error().ToString();
  return issued.value_or(IssuedCert{});
}

std::string VerifyLeaf(const X509* leaf, const TestPki& pki, TimePoint at, const std::vector<X509_CRL*>& crls) {
  OsslPtr<X509_STORE> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), pki.root.get());
  unsigned long flags = X509_V_FLAG_X509_STRICT;
  for (X509_CRL* crl : crls) X509_STORE_add_crl(store.get(), crl);
  if (!crls.empty()) flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  X509StackPtr chain(sk_X509_new_null());
  sk_X509_push(chain.get(), X509_dup(pki.intermediate.get()));
  OsslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), chain.get());
  X509_STORE_CTX_set_flags(ctx.get(), flags);
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(ToUnixSeconds(at)));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

std::string MintLeaf(const X509* issuer, const EVP_PKEY* issuer_key, const EVP_PKEY* key,
                     const std::string& spiffe_id, bool with_aki, TimePoint now) {
  OsslPtr<X509> x(X509_new());
  unsigned char serial[16];
  EXPECT_EQ(RAND_bytes(serial, sizeof serial), 1);
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 1);
  time_t at = static_cast<time_t>(ToUnixSeconds(now));
  EXPECT_EQ(X509_set_version(x.get(), X509_VERSION_3), 1);
  EXPECT_EQ(ASN1_STRING_set(X509_get_serialNumber(x.get()), serial, sizeof serial), 1);
  EXPECT_EQ(X509_set_issuer_name(x.get(), X509_get_subject_name(issuer)), 1);
  EXPECT_NE(X509_time_adj(X509_getm_notBefore(x.get()), -60, &at), nullptr);
  EXPECT_NE(X509_time_adj(X509_getm_notAfter(x.get()), 3600, &at), nullptr);
  EXPECT_EQ(X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(key)), 1);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), x.get(), nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> exts = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                   {NID_key_usage, "critical,digitalSignature"},
                                                   {NID_ext_key_usage, "serverAuth,clientAuth"},
                                                   {NID_subject_alt_name, "URI:" + spiffe_id},
                                                   {NID_subject_key_identifier, "hash"}};
  if (with_aki) exts.emplace_back(NID_authority_key_identifier, "keyid:always");
  for (const auto& [nid, value] : exts) {
    OsslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    EXPECT_TRUE(ext && X509_add_ext(x.get(), ext.get(), -1) == 1) << value;
  }
  EXPECT_GT(X509_sign(x.get(), const_cast<EVP_PKEY*>(issuer_key), EVP_sha256()), 0);
  EXPECT_EQ(AuthorityKeyIdHex(x.get()).empty(), !with_aki);
  return CertToPem(x.get()).value_or("");
}

std::string OpensslCsr(const std::string& key_path, const std::string& csr_path, const std::string& san) {
  auto key = RunCommand("openssl ecparam -genkey -name prime256v1 -noout -out " + key_path);
  EXPECT_EQ(key.status, 0) << key.output;
  auto csr = RunCommand("openssl req -new -key " + key_path + " -subj / -out " + csr_path +
                        (san.empty() ? "" : " -addext subjectAltName=" + san));
  EXPECT_EQ(csr.status, 0) << csr.output;
  std::ifstream in(csr_path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << "writing " << path;
}

}  // namespace mayfly::testing
