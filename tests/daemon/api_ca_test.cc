// The CA rotation routes in-process, on a manual clock: states, conflicts,
// what is published at each step, the audit trail, the automatic schedule,
// and who may still call with a certificate from a revoked intermediate.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "mayfly/issuer.h"
#include "mayfly/public_key.h"
#include "support/wait.h"

namespace mayfly::testing {
namespace api_ca_test {

class ApiCaTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override { config.ca.auto_rotate = false; }

  boost::json::object Step(const std::string& step, boost::json::object body = {}, int want = 200) {
    auto r = Post("/v1/admin/ca/" + step, body, AdminSocket());
    EXPECT_EQ(r.status, want) << step << ": " << r.body;
    return Json(r).as_object();
  }
  boost::json::object Status() {
    auto r = Send("GET", "/v1/admin/ca", "", AdminSocket());
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r).as_object();
  }
  static const boost::json::object* Find(const boost::json::object& status, std::string_view role,
                                         std::string_view state) {
    for (const auto& c : status.at("cas").as_array()) {
      if (c.at("role").as_string() == role && c.at("state").as_string() == state) return &c.as_object();
    }
    return nullptr;
  }
  static std::string SerialOf(const boost::json::object& status, std::string_view role, std::string_view state) {
    const auto* o = Find(status, role, state);
    return o == nullptr ? "" : std::string(o->at("serial").as_string());
  }
  std::string Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    auto r = Send("GET", path, "", Anonymous(), std::move(query));
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return r.body;
  }
  // The chain a workload certificate comes with now.
  std::string SignedChain(const TestNode& node) {
    auto key = NewKey();
    auto r = Sign(node, Csr(key.get(), {"spiffe://example.org/ns/prod/db"}));
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = Json(r);
    return Str(v, "certificate") + Str(v, "chain");
  }
  static std::string IssuerSerial(const std::string& chain_pem) {
    auto certs = CertsFromPem(chain_pem);
    return certs && certs->size() > 1 ? CertSerialHex((*certs)[1].get()) : "";
  }
  // Past the expiry of every leaf issued so far (the init admin cert: 90 days).
  void OutliveLeaves() { clock_.Advance(std::chrono::hours(24 * 91)); }
};

TEST_F(ApiCaTest, StatusShowsTheInitialPairAndTheirLiveLeaves) {
  auto status = Status();
  ASSERT_EQ(status.at("cas").as_array().size(), 3u) << "root, intermediate, JWT key";
  EXPECT_NE(Find(status, "jwt", "active"), nullptr);
  const auto* inter = Find(status, "intermediate", "active");
  ASSERT_NE(inter, nullptr);
  EXPECT_EQ(inter->at("leaves").as_int64(), 1) << "the init admin certificate";
  EXPECT_NE(Find(status, "root", "active"), nullptr);
  EXPECT_EQ(Str(status, "root_fingerprint"), fingerprint_);
  Enroll("db-1");
  EXPECT_EQ(Find(Status(), "intermediate", "active")->at("leaves").as_int64(), 2);
}

TEST_F(ApiCaTest, PrepareActivateRetireMoveIssuanceAndPublication) {
  TestNode node = Enroll("db-1");
  const std::string first = SerialOf(Status(), "intermediate", "active");
  const std::string crl_der_before = Get("/v1/crl");

  auto prepared = Step("prepare");
  const std::string second = SerialOf(prepared, "intermediate", "prepared");
  ASSERT_FALSE(second.empty());
  EXPECT_NE(Str(prepared, "result").find("prepared intermediate " + second), std::string::npos);
  // Published, not used: its certificate and CRL are out, leaves still come
  // from the first one.
  EXPECT_EQ(CountOf(Get("/v1/intermediates"), "BEGIN CERTIFICATE"), 2);
  EXPECT_EQ(CountOf(Get("/v1/crl", {{"format", "pem"}}), "BEGIN X509 CRL"), 3);
  EXPECT_EQ(IssuerSerial(SignedChain(node)), first);
  EXPECT_EQ(CountOf(rt_->ca()->client_trust_pem, "BEGIN CERTIFICATE"), 3);
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/prepare", boost::json::object{}, AdminSocket())), "conflict");

  auto activated = Step("activate");
  EXPECT_EQ(SerialOf(activated, "intermediate", "active"), second);
  EXPECT_EQ(SerialOf(activated, "intermediate", "retiring"), first);
  const std::string chain = SignedChain(node);
  EXPECT_EQ(IssuerSerial(chain), second);
  EXPECT_EQ(VerifyAt(chain, rt_->ca()->bundle_pem, clock_.Now()), "");
  // The DER CRL is now the new intermediate's; the old one's is still served.
  EXPECT_NE(Get("/v1/crl"), crl_der_before);
  EXPECT_EQ(CountOf(Get("/v1/crl", {{"format", "pem"}}), "BEGIN X509 CRL"), 3);
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/activate", boost::json::object{}, AdminSocket())), "conflict");

  // The old intermediate still has live leaves: the admin's, the node's and
  // the workload signed before activation.
  auto refused = Post("/v1/admin/ca/retire", boost::json::object{}, AdminSocket());
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("3 unexpired certificate(s)"), std::string::npos) << refused.body;

  OutliveLeaves();
  auto retired = Step("retire");
  EXPECT_EQ(SerialOf(retired, "intermediate", "retired"), first);
  EXPECT_EQ(CountOf(Get("/v1/intermediates"), "BEGIN CERTIFICATE"), 1);
  EXPECT_EQ(CountOf(Get("/v1/crl", {{"format", "pem"}}), "BEGIN X509 CRL"), 2);
  EXPECT_EQ(CountOf(rt_->ca()->client_trust_pem, "BEGIN CERTIFICATE"), 2);
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/retire", boost::json::object{}, AdminSocket())), "conflict");
}

TEST_F(ApiCaTest, EveryStepIsAuditedAndTheChainStaysIntact) {
  Step("prepare");
  Step("activate");
  OutliveLeaves();
  Step("retire");
  Step("rotate", {{"now", true}, {"revoke_old", true}});
  std::vector<std::string> types;
  const auto events = rt_->store().ListAudit(0, 100, std::nullopt).value();
  for (const auto& e : events) types.push_back(e.type);
  for (const char* want : {"ca_import", "ca_prepare", "ca_activate", "ca_retire", "ca_rotate"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), want), types.end()) << want;
  }
  EXPECT_FALSE(rt_->store().VerifyAuditChain().value().first_bad_id.has_value());
}

TEST_F(ApiCaTest, ARootRotationPublishesTheRootFirstAndCrossCertifiesIt) {
  TestNode node = Enroll("db-1");
  const std::string old_root = rt_->ca()->bundle_pem;
  const int64_t first_sequence =
      boost::json::parse(Get("/v1/bundle", {{"format", "spiffe"}})).as_object().at("spiffe_sequence").as_int64();
  auto prepared = Step("prepare", {{"root", true}});
  ASSERT_FALSE(SerialOf(prepared, "root", "prepared").empty());
  ASSERT_FALSE(SerialOf(prepared, "cross", "prepared").empty());
  EXPECT_EQ(CountOf(Get("/v1/bundle"), "BEGIN CERTIFICATE"), 2);
  EXPECT_EQ(CountOf(Get("/v1/crl", {{"format", "pem"}}), "BEGIN X509 CRL"), 4);
  // The SPIFFE bundle carries both roots, under a higher spiffe_sequence.
  const auto spiffe = boost::json::parse(Get("/v1/bundle", {{"format", "spiffe"}})).as_object();
  const auto& keys = spiffe.at("keys").as_array();
  EXPECT_EQ(std::count_if(keys.begin(), keys.end(), [](const auto& k) { return k.at("use") == "x509-svid"; }), 2);
  EXPECT_GT(spiffe.at("spiffe_sequence").as_int64(), first_sequence);
  EXPECT_EQ(CountOf(SignedChain(node), "BEGIN CERTIFICATE"), 2) << "nothing chains to the new root yet";
  const std::string new_root = Get("/v1/bundle").substr(old_root.size());

  Step("activate");
  const std::string chain = SignedChain(node);
  ASSERT_EQ(CountOf(chain, "BEGIN CERTIFICATE"), 3) << "leaf, intermediate, cross certificate";
  EXPECT_EQ(VerifyAt(chain, old_root, clock_.Now()), "") << "a store with only the old root";
  EXPECT_EQ(VerifyAt(chain, new_root, clock_.Now()), "") << "a store with only the new root";
  EXPECT_EQ(Str(Status(), "root_fingerprint"), CertFingerprint(CertFromPem(new_root)->get()).value());

  OutliveLeaves();
  auto retired = Step("retire");
  EXPECT_EQ(SerialOf(retired, "root", "active"), SerialOf(prepared, "root", "prepared"));
  EXPECT_FALSE(SerialOf(retired, "root", "retired").empty());
  EXPECT_EQ(Get("/v1/bundle"), new_root);
  const std::string after = SignedChain(Enroll("db-1"));
  EXPECT_EQ(CountOf(after, "BEGIN CERTIFICATE"), 2) << "the cross certificate left with the old root";
  EXPECT_EQ(VerifyAt(after, new_root, clock_.Now()), "");
  // The daemon keeps root.pem as the bundle operators read.
  EXPECT_EQ(ReadFile(CaPaths::For(config_.state_dir).root_cert).value_or(""), new_root);
}

TEST_F(ApiCaTest, AfterARevokingRotationOldCertificatesMayOnlyRenewWhatTheCaIssued) {
  TestNode node = Enroll("db-1");
  const std::string old = SerialOf(Status(), "intermediate", "active");
  auto rotated = Step("rotate", {{"now", true}, {"revoke_old", true}});
  EXPECT_EQ(SerialOf(rotated, "intermediate", "revoked"), old);
  // The root CRL lists the old intermediate as compromised.
  const std::string crls = Get("/v1/crl", {{"format", "pem"}});
  bool listed = false;
  for (size_t at = crls.find("-----BEGIN X509 CRL"); at != std::string::npos;
       at = crls.find("-----BEGIN X509 CRL", at + 1)) {
    auto crl = CrlFromPem(crls.substr(at));
    ASSERT_TRUE(crl);
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl->get());
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      listed = listed || SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))) == old;
    }
  }
  EXPECT_TRUE(listed) << crls;

  auto sign = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/db"}));
  EXPECT_EQ(sign.status, 401) << sign.body;
  auto admin = Send("GET", "/v1/admin/certs", "", Admin());
  EXPECT_EQ(admin.status, 401) << "the init admin certificate came from the revoked intermediate";

  // A certificate the stolen key could mint for the node is refused even to renew.
  const CaPaths paths = CaPaths::For(config_.state_dir);
  auto stolen_key = LoadKeyFile(paths.intermediate_key, ReadPassphraseFile(config_.ca.key_passphrase_file).value());
  ASSERT_TRUE(stolen_key);
  auto stolen = Issuer::Create(CertFromPem(ReadFile(paths.intermediate_cert).value()).value(), std::move(*stolen_key),
                               {}, clock_)
                    .value();
  auto forged_key = NewKey();
  auto spki = PublicKeyOf(forged_key.get()).value();
  auto forged = stolen->Issue({.public_key = &spki, .spiffe_id = "spiffe://example.org/mayfly/node/db-1",
                               .ttl = std::chrono::hours(1)});
  ASSERT_TRUE(forged);
  auto refused = Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, WithCert(forged->Pem()));
  EXPECT_EQ(refused.status, 401) << refused.body;

  // The node's own recorded certificate renews, onto the new intermediate.
  auto renewed = Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, AsNode(node));
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  const std::string fresh = SerialOf(rotated, "intermediate", "active");
  EXPECT_EQ(IssuerSerial(Str(Json(renewed), "certificate") + Str(Json(renewed), "chain")), fresh);
}

TEST_F(ApiCaTest, RotateNeedsNowAndStepsRefuseUnknownFields) {
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/rotate", boost::json::object{}, AdminSocket())), "invalid_argument");
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/prepare", {{"rooot", true}}, AdminSocket())), "invalid_argument");
  EXPECT_EQ(ErrorCodeOf(Post("/v1/admin/ca/prepare", {{"root", "yes"}}, AdminSocket())), "invalid_argument");
  EXPECT_EQ(Send("POST", "/v1/admin/ca/prepare", "", Anonymous()).status, 401);
  EXPECT_EQ(Status().at("cas").as_array().size(), 3u) << "nothing was made";
}

TEST_F(ApiCaTest, TheStatesSurviveARestart) {
  Step("prepare");
  const std::string second = SerialOf(Step("activate"), "intermediate", "active");
  Stop();
  Start();
  EXPECT_EQ(SerialOf(Status(), "intermediate", "active"), second);
  EXPECT_EQ(IssuerSerial(SignedChain(Enroll("db-1"))), second);
}

class AutoRotationTest : public ApiCaTest {
 protected:
  void Customize(CaConfig& config) override {
    config.ca.intermediate_ttl = std::chrono::hours(24 * 90);
    config.ca.rotate_before = std::chrono::hours(24 * 30);
  }
};

TEST_F(AutoRotationTest, PreparesThenActivatesThenRetiresOnTheSchedule) {
  const std::string first = SerialOf(Status(), "intermediate", "active");
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_TRUE(SerialOf(Status(), "intermediate", "prepared").empty()) << "60 days left: nothing to do";

  clock_.Advance(std::chrono::hours(24 * 61));  // 29 days left
  ASSERT_TRUE(rt_->Refresh());
  const std::string second = SerialOf(Status(), "intermediate", "prepared");
  ASSERT_FALSE(second.empty());

  clock_.Advance(std::chrono::hours(24 * 15));  // 14 days left, under half of rotate_before
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_EQ(SerialOf(Status(), "intermediate", "active"), second);
  EXPECT_EQ(SerialOf(Status(), "intermediate", "retiring"), first);

  clock_.Advance(std::chrono::hours(24 * 15));  // the old one's leaves (and itself) expired
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_EQ(SerialOf(Status(), "intermediate", "retired"), first);
}

class ShortRootTest : public ApiCaTest {
 protected:
  void Customize(CaConfig& config) override {
    config.ca.root_ttl = std::chrono::hours(24 * 100);
    config.ca.intermediate_ttl = std::chrono::hours(24 * 90);
    config.ca.rotate_before = std::chrono::hours(24 * 30);
  }
};

TEST_F(ShortRootTest, NoAutomaticRotationWhenTheRootExpiresFirst) {
  clock_.Advance(std::chrono::hours(24 * 75));  // intermediate: 15 days left; root: 25 days
  ASSERT_TRUE(rt_->Refresh());
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_TRUE(SerialOf(Status(), "intermediate", "prepared").empty())
      << "a new intermediate would be cut to the root's expiry too";
  EXPECT_EQ(Status().at("cas").as_array().size(), 3u);
}

}  // namespace api_ca_test
}  // namespace mayfly::testing
