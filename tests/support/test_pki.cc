// A test PKI built in code.
#include "support/test_pki.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>

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
