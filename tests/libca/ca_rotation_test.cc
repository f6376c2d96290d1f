// The CA rotation state machine (mayfly/ca_rotation.h) driven directly, with
// real keys and certificates: which records each step changes, and the
// kConflict messages when a step does not apply.
#include "mayfly/ca_rotation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace ca_rotation_test {

using testing::TempDir;
using testing::TestPki;

constexpr std::string_view kPassphrase = "rotation test passphrase";

// A CA as the store holds it: an active root and intermediate (keys in
// their records), the records' view, and the options of its steps.
class RotationCa {
 public:
  RotationCa() : pki_(TestPki::Make()) {
    EXPECT_TRUE(WriteFileAtomic(dir_.File("passphrase"), std::string(kPassphrase) + "\n", 0600).has_value());
    const int64_t now = ToUnixSeconds(pki_->clock.Now());
    view_.records.push_back(Record(pki_->root.get(), pki_->root_key.get(), CaRole::kRoot, now));
    view_.records.push_back(Record(pki_->intermediate.get(), pki_->intermediate_key.get(), CaRole::kIntermediate, now));
    options_ = RotationOptions{.clock = &pki_->clock,
                               .state_dir = dir_.path(),
                               .passphrase_file = dir_.File("passphrase"),
                               .keys_in_store = false,
                               .key_type = "ecdsa-p256",
                               .trust_domain = "example.org",
                               .root_ttl = std::chrono::hours(24 * 365),
                               .intermediate_ttl = std::chrono::hours(24 * 30),
                               .constraints = NameConstraintsSpec{true, "example.org", {}, {}},
                               .jwt_max_ttl = std::chrono::hours(1),
                               .next_crl_number = [this]() -> Result<int64_t> { return ++crl_numbers_; }};
  }

  const CaView& view() const { return view_; }
  const RotationOptions& options() const { return options_; }
  int64_t crl_numbers() const { return crl_numbers_; }
  const std::string& dir() const { return dir_.path(); }
  void Advance(std::chrono::seconds d) { pki_->clock.Advance(d); }

  // Saves `step` as the store would: a changed record replaces the one with
  // its serial, a new one is appended.
  void Save(RotationStep& step) {
    for (CaCertRecord& changed : step.changed) {
      bool replaced = false;
      for (CaCertRecord& r : view_.records) {
        if (r.serial == changed.serial) {
          r = changed;
          replaced = true;
        }
      }
      if (!replaced) view_.records.push_back(changed);
    }
    step.keys.Keep();
  }

  // The states of the records of `role`, in creation order.
  std::vector<CaState> States(CaRole role) const {
    std::vector<CaState> states;
    for (const CaCertRecord& r : view_.records) {
      if (r.role == role) states.push_back(r.state);
    }
    return states;
  }

 private:
  static CaCertRecord Record(const X509* cert, const EVP_PKEY* key, CaRole role, int64_t now) {
    return CaCertRecord{.role = role, .state = CaState::kActive, .key_id = SubjectKeyIdHex(cert),
                        .issuer_key_id = AuthorityKeyIdHex(cert), .serial = CertSerialHex(cert),
                        .der = CertToDer(cert).value(), .key_pem = PrivateKeyToEncryptedPem(key, kPassphrase).value(),
                        .not_after = ToUnixSeconds(CertNotAfter(cert)), .created_at = now, .changed_at = now};
  }

  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  CaView view_;
  RotationOptions options_;
  int64_t crl_numbers_ = 0;
};

using S = CaState;

// One operator action.
enum class Action { kPrepare, kPrepareRoot, kActivate, kRetire, kRotateNow, kRotateNowRevoke };

struct Expected {
  std::string conflict;  // non-empty: the last action is kConflict with a message containing this
  std::vector<CaState> roots, intermediates, crosses, jwts;
};

struct Case {
  std::string name;
  std::vector<Action> actions;
  // Unexpired leaves of the intermediate that was active first, for kRetire.
  int64_t first_intermediate_leaves = 0;
  Expected expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Result<RotationStep> RunAction(const RotationCa& ca, Action action, const std::map<std::string, int64_t>& live) {
  switch (action) {
    case Action::kPrepare: return PrepareStep(ca.view(), false, "test", ca.options());
    case Action::kPrepareRoot: return PrepareStep(ca.view(), true, "test", ca.options());
    case Action::kActivate: return ActivateStep(ca.view(), "test", ca.options());
    case Action::kRetire: return RetireStep(ca.view(), live, "test", ca.options());
    case Action::kRotateNow: return RotateNowStep(ca.view(), false, "test", ca.options());
    case Action::kRotateNowRevoke: return RotateNowStep(ca.view(), true, "test", ca.options());
  }
  return std::unexpected(Error{ErrorCode::kInternal, "unknown action"});
}

class RotationStepsTest : public ::testing::TestWithParam<Case> {};

TEST_P(RotationStepsTest, StatesAfterSteps) {
  const Case& c = GetParam();
  RotationCa ca;
  std::map<std::string, int64_t> live;
  if (c.first_intermediate_leaves > 0) {
    live[ca.view().Active(CaRole::kIntermediate)->key_id] = c.first_intermediate_leaves;
  }
  for (size_t i = 0; i < c.actions.size(); ++i) {
    ca.Advance(std::chrono::minutes(1));
    auto step = RunAction(ca, c.actions[i], live);
    const bool last = i + 1 == c.actions.size();
    if (last && !c.expected.conflict.empty()) {
      ASSERT_FALSE(step.has_value()) << "step " << i << " applied: " << step->message;
      EXPECT_EQ(step.error().code, ErrorCode::kConflict);
      EXPECT_NE(step.error().message.find(c.expected.conflict), std::string::npos) << step.error().message;
      break;
    }
    ASSERT_TRUE(step.has_value()) << "step " << i << ": " << step.error().ToString();
    EXPECT_FALSE(step->message.empty());
    EXPECT_EQ(step->event.result, "ok");
    EXPECT_FALSE(step->event.type.empty());
    ca.Save(*step);
  }
  EXPECT_EQ(ca.States(CaRole::kRoot), c.expected.roots);
  EXPECT_EQ(ca.States(CaRole::kIntermediate), c.expected.intermediates);
  EXPECT_EQ(ca.States(CaRole::kCross), c.expected.crosses);
  EXPECT_EQ(ca.States(CaRole::kJwt), c.expected.jwts);
}

using A = Action;
INSTANTIATE_TEST_SUITE_P(
    Steps, RotationStepsTest,
    ::testing::Values(
        Case{"Prepare", {A::kPrepare}, 0, {"", {S::kActive}, {S::kActive, S::kPrepared}, {}, {S::kPrepared}}},
        Case{"PrepareActivate",
             {A::kPrepare, A::kActivate},
             0,
             {"", {S::kActive}, {S::kRetiring, S::kActive}, {}, {S::kActive}}},
        Case{"PrepareActivateRetire",
             {A::kPrepare, A::kActivate, A::kRetire},
             0,
             {"", {S::kActive}, {S::kRetired, S::kActive}, {}, {S::kActive}}},
        Case{"ActivateWithNothingPrepared",
             {A::kActivate},
             0,
             {"no intermediate is prepared", {S::kActive}, {S::kActive}, {}, {}}},
        Case{"PrepareTwice",
             {A::kPrepare, A::kPrepare},
             0,
             {"is already prepared", {S::kActive}, {S::kActive, S::kPrepared}, {}, {S::kPrepared}}},
        Case{"RetireWithNothingRetiring", {A::kRetire}, 0, {"nothing is retiring", {S::kActive}, {S::kActive}, {}, {}}},
        Case{"RetireWhileLeavesLive",
             {A::kPrepare, A::kActivate, A::kRetire},
             3,
             {"still has 3 unexpired certificate(s)", {S::kActive}, {S::kRetiring, S::kActive}, {}, {S::kActive}}},
        Case{"PrepareRoot",
             {A::kPrepareRoot},
             0,
             {"", {S::kActive, S::kPrepared}, {S::kActive, S::kPrepared}, {S::kPrepared}, {S::kPrepared}}},
        Case{"PrepareRootActivateRetire",
             {A::kPrepareRoot, A::kActivate, A::kRetire},
             0,
             {"", {S::kRetired, S::kActive}, {S::kRetired, S::kActive}, {S::kRetired}, {S::kActive}}},
        Case{"RootStaysWhileItsIntermediateHasLeaves",
             {A::kPrepareRoot, A::kActivate, A::kRetire},
             2,
             {"nothing can be retired yet", {S::kRetiring, S::kActive}, {S::kRetiring, S::kActive}, {S::kActive},
              {S::kActive}}},
        Case{"RotateNowRetiresPrepared",
             {A::kPrepare, A::kRotateNow},
             0,
             {"", {S::kActive}, {S::kRetiring, S::kRetired, S::kActive}, {}, {S::kRetired, S::kActive}}},
        Case{"RotateNowRevoke",
             {A::kRotateNowRevoke},
             0,
             {"", {S::kActive}, {S::kRevoked, S::kActive}, {}, {S::kActive}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(CaRotationTest, PrepareRootMakesRootIntermediateAndCross) {
  RotationCa ca;
  const CaCertRecord old_root = *ca.view().Active(CaRole::kRoot);
  auto step = PrepareStep(ca.view(), true, "operator", ca.options());
  ASSERT_TRUE(step.has_value()) << step.error().ToString();
  ASSERT_EQ(step->changed.size(), 4u);
  const CaCertRecord& root = step->changed[0];
  const CaCertRecord& cross = step->changed[1];
  const CaCertRecord& inter = step->changed[2];
  const CaCertRecord& jwt = step->changed[3];
  EXPECT_EQ(root.role, CaRole::kRoot);
  EXPECT_EQ(root.key_id, root.issuer_key_id);  // self-signed
  EXPECT_FALSE(root.crl_pem.empty());
  EXPECT_EQ(ca.crl_numbers(), 1);
  EXPECT_EQ(cross.role, CaRole::kCross);
  EXPECT_EQ(cross.key_id, root.key_id);
  EXPECT_EQ(cross.issuer_key_id, old_root.key_id);
  EXPECT_EQ(inter.role, CaRole::kIntermediate);
  EXPECT_EQ(inter.issuer_key_id, root.key_id);
  EXPECT_EQ(jwt.role, CaRole::kJwt);
  EXPECT_EQ(jwt.issuer_key_id, inter.key_id);
  for (const CaCertRecord& r : step->changed) {
    EXPECT_EQ(r.state, CaState::kPrepared) << r.serial;
    if (r.role != CaRole::kCross) {
      EXPECT_FALSE(r.key_file.empty()) << r.serial;
    }
  }
  // The new intermediate verifies under the new root, and the cross
  // certificate under the old one.
  auto new_root = CertFromDer(root.der).value();
  EXPECT_EQ(X509_verify(CertFromDer(inter.der).value().get(), X509_get0_pubkey(new_root.get())), 1);
  auto old = CertFromDer(old_root.der).value();
  EXPECT_EQ(X509_verify(CertFromDer(cross.der).value().get(), X509_get0_pubkey(old.get())), 1);
  EXPECT_EQ(step->event.type, "ca_prepare");
  EXPECT_NE(step->event.detail.find(root.serial), std::string::npos);
}

TEST(CaRotationTest, UnsavedStepRemovesItsKeyFiles) {
  RotationCa ca;
  std::string file;
  {
    auto step = PrepareStep(ca.view(), false, "operator", ca.options());
    ASSERT_TRUE(step.has_value()) << step.error().ToString();
    file = ca.dir() + "/" + step->changed[0].key_file;
    EXPECT_EQ(::access(file.c_str(), F_OK), 0);
  }
  EXPECT_NE(::access(file.c_str(), F_OK), 0);
}

TEST(CaRotationTest, RotateNowRevokeSignsTheRootCrl) {
  RotationCa ca;
  const std::string old_serial = ca.view().Active(CaRole::kIntermediate)->serial;
  auto step = RotateNowStep(ca.view(), true, "operator", ca.options());
  ASSERT_TRUE(step.has_value()) << step.error().ToString();
  const CaCertRecord& root = step->changed.back();
  ASSERT_EQ(root.role, CaRole::kRoot);
  auto crl = CrlFromPem(root.crl_pem);
  ASSERT_TRUE(crl.has_value()) << crl.error().ToString();
  const auto* revoked = X509_CRL_get_REVOKED(crl->get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 1);
  EXPECT_EQ(step->event.type, "ca_rotate");
  EXPECT_NE(step->event.detail.find(old_serial), std::string::npos);
}

TEST(CaRotationTest, AutomaticSchedule) {
  RotationCa ca;
  const auto now = FromUnixSeconds(ca.view().Active(CaRole::kIntermediate)->not_after);
  const auto day = std::chrono::hours(24);
  // 30-day intermediate, 365-day root.
  EXPECT_EQ(NextAutomaticStep(ca.view(), day * 10, now - day * 20), AutomaticRotation::kRetire);
  EXPECT_EQ(NextAutomaticStep(ca.view(), day * 10, now - day * 5), AutomaticRotation::kPrepare);
  EXPECT_EQ(NextAutomaticStep(ca.view(), day * 400, now), AutomaticRotation::kRootExpiring);
}

}  // namespace ca_rotation_test
}  // namespace mayfly
