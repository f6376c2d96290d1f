// The agent's rules for what the CA may change: CheckBundleUpdate (bundles
// never drop trusted roots except as a rotation does) and CheckCrlNumbers
// (CRL numbers never go back, per issuer). Table-driven; the same rules over
// real TLS are in crl_bundle_sync_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "agent_crl_sync.h"
#include "mayfly/crl.h"
#include "mayfly/x509_util.h"
#include "support/test_pki.h"

namespace mayfly {
namespace trust_rules_test {

using testing::TestPki;

TEST(TrustRulesTest, BundleUpdates) {
  auto a = TestPki::Make(), b = TestPki::Make(), c = TestPki::Make();
  const std::string A = CertToPem(a->root.get()).value(), B = CertToPem(b->root.get()).value(),
                    C = CertToPem(c->root.get()).value();
  const std::string a_der = CertToDer(a->root.get()).value();
  struct Case {
    const char* name;
    std::string trusted, fetched, server_root;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"the same roots", A, A, a_der, true},
      {"a new root beside the old one (prepare --root)", A, A + B, a_der, true},
      {"a root dropped, the CA's kept (retire)", A + B, A, a_der, true},
      {"a root dropped, the CA's root unknown", A + B, A, "", false},
      {"none of the trusted roots", A, B, a_der, false},
      {"none of the trusted roots, with more", A, B + C, a_der, false},
      {"the CA's root dropped", A + B, B, a_der, false},
      {"the CA's root dropped for a new one", A + B, B + C, a_der, false},
  };
  for (const Case& c : cases) {
    auto r = agent::CheckBundleUpdate(c.trusted, c.fetched, c.server_root);
    EXPECT_EQ(r.has_value(), c.accepted) << c.name << (r ? "" : ": " + r.error().message);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kConflict) << c.name;
    }
  }
  EXPECT_EQ(agent::CheckBundleUpdate(A, "not PEM", a_der).error().code, ErrorCode::kInvalidArgument);
}

TEST(TrustRulesTest, CrlNumbers) {
  auto pki = TestPki::Make();
  auto other = TestPki::Make();  // same names, other keys: another issuer
  auto crl = [](const TestPki& p, bool root, int64_t number) {
    CrlSpec spec{.number = number, .this_update = p.clock.Now(), .next_update = p.clock.Now() + std::chrono::hours(1)};
    auto r = root ? BuildCrl(p.root.get(), p.root_key.get(), spec)
                  : BuildCrl(p.intermediate.get(), p.intermediate_key.get(), spec);
    EXPECT_TRUE(r);
    return r ? r->pem : "";
  };
  struct Case {
    const char* name;
    std::string kept, fetched;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"nothing kept", "", crl(*pki, false, 3), true},
      {"a higher number", crl(*pki, false, 3), crl(*pki, false, 4), true},
      {"the same number", crl(*pki, false, 3), crl(*pki, false, 3), true},
      {"a lower number", crl(*pki, false, 3), crl(*pki, false, 2), false},
      {"a lower number among several", crl(*pki, false, 3) + crl(*pki, true, 1),
       crl(*pki, true, 1) + crl(*pki, false, 2), false},
      {"numbers are per issuer", crl(*pki, false, 7) + crl(*pki, true, 1), crl(*pki, false, 8) + crl(*pki, true, 1),
       true},
      {"another key under the same name", crl(*pki, false, 7), crl(*other, false, 2), true},
      {"an issuer only kept", crl(*pki, false, 7) + crl(*pki, true, 1), crl(*pki, true, 1), true},
  };
  for (const Case& c : cases) {
    auto r = agent::CheckCrlNumbers(c.kept, c.fetched);
    EXPECT_EQ(r.has_value(), c.accepted) << c.name << (r ? "" : ": " + r.error().message);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kConflict) << c.name;
    }
  }
}

}  // namespace trust_rules_test
}  // namespace mayfly
