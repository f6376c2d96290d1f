// A test PKI built in code: root, intermediate and an issuer for leaves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mayfly/ca_certs.h"
#include "mayfly/clock.h"
#include "mayfly/issuer.h"
#include "mayfly/keys.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::testing {

struct TestPkiOptions {
  KeyType ca_key_type = KeyType::kEcdsaP256;
  std::string trust_domain = "example.org";
  bool name_constraints = true;
  std::chrono::seconds intermediate_ttl = std::chrono::hours(24 * 30);
  std::string crl_url;
};

// Root + intermediate + Issuer, on a manual clock that starts at the real
// time (so the `openssl` command accepts what is issued).
struct TestPki {
  static std::unique_ptr<TestPki> Make(const TestPkiOptions& options = {});

  ManualClock clock{SystemClock::Instance().Now()};
  OsslPtr<EVP_PKEY> root_key;
  OsslPtr<EVP_PKEY> intermediate_key;
  OsslPtr<X509> root;
  OsslPtr<X509> intermediate;
  std::unique_ptr<Issuer> issuer;

  // Issues a leaf for `key` with these names, failing the test on error.
  IssuedCert IssueFor(const EVP_PKEY* key, const std::string& spiffe_id,
                      std::vector<std::string> dns = {}, std::chrono::seconds ttl = std::chrono::hours(1));
};

// Verifies `leaf` up to the root through the intermediate with OpenSSL's
// strict checks at `at`, optionally checking these CRLs for every CA in the
// chain. Returns "" when the chain verifies, else OpenSSL's reason.
std::string VerifyLeaf(const X509* leaf, const TestPki& pki, TimePoint at,
                       const std::vector<X509_CRL*>& crls = {});

// A client leaf for `spiffe_id` and `key`, valid from a minute before `now`
// for an hour, signed with `issuer_key` under `issuer`'s name, as anyone
// holding that key could mint one (not through the CA's Issuer): with or
// without an Authority Key Identifier. PEM; fails the test on error.
std::string MintLeaf(const X509* issuer, const EVP_PKEY* issuer_key, const EVP_PKEY* key,
                     const std::string& spiffe_id, bool with_aki, TimePoint now);

// Runs a shell command, returning its exit status and combined output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// A P-256 key at `key_path` and a CSR for it at `csr_path` (subject empty;
// subjectAltName = `san` when given, e.g. "URI:spiffe://example.org/web")
// made by the openssl CLI, an independent client; returns the CSR's PEM.
// Fails the test when openssl does.
std::string OpensslCsr(const std::string& key_path, const std::string& csr_path, const std::string& san = "");

// Writes `text` to a file (test helper; fails the test on error).
void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace mayfly::testing
