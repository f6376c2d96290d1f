// Anomaly detection against the real ApiService on a manual clock: each
// kind raised by a scripted client (audit event, metric, listing), raised
// once per window and not per request, normal fleet traffic raising none,
// what the detector learned surviving a restart, and the quarantine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_fixture.h"
#include "support/store_fixture.h"

namespace mayfly::testing {
namespace anomaly_test {

constexpr char kWeb[] = "spiffe://example.org/ns/prod/web";
constexpr char kApi[] = "spiffe://example.org/ns/prod/api";
constexpr char kDb[] = "spiffe://example.org/ns/prod/db";

class AnomalyTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override {
    config.anomaly.window = std::chrono::minutes(10);
    config.anomaly.surge_floor = 20;
    config.anomaly.learning_period = std::chrono::hours(1);
    config.anomaly.refusal_burst = 5;
    config.anomaly.enroll_failure_burst = 5;
    CustomizeAnomaly(config.anomaly);
  }
  virtual void CustomizeAnomaly(CaConfig::Anomaly&) {}

  // A CSR for `id` with a key made once per test.
  std::string CsrFor(const std::string& id) {
    if (!key_) key_ = NewKey();
    return Csr(key_.get(), {id});
  }
  net::HttpResponse SignAs(const TestNode& node, const std::string& id, std::string ip = "192.0.2.20") {
    return Post("/v1/sign", {{"csr", CsrFor(id)}}, WithCert(node.cert_pem, std::move(ip)));
  }
  void AddEntry(const std::string& id, const std::string& node) {
    auto r = Post("/v1/admin/entries", {{"spiffe_id", id}, {"node", node}}, AdminSocket());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // The anomalies listed by GET /v1/admin/anomalies, once the audit queue
  // has stored them.
  boost::json::array Anomalies() {
    rt_->audit().Flush();
    auto r = Send("GET", "/v1/admin/anomalies", "", AdminSocket());
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r).at("anomalies").as_array();
  }
  // mayfly_anomalies_total{kind="<kind>"} in the /metrics text.
  int64_t Metric(const std::string& kind) {
    const std::string text = rt_->MetricsText();
    const std::string series = "mayfly_anomalies_total{kind=\"" + kind + "\"} ";
    const auto at = text.find(series);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + series.size()));
  }
  // Exactly one anomaly listed, of `kind`, about `node`; it is returned.
  boost::json::object OnlyAnomaly(const std::string& kind, const std::string& node) {
    auto list = Anomalies();
    EXPECT_EQ(list.size(), 1u) << boost::json::serialize(list);
    if (list.size() != 1) return {};
    auto a = list[0].as_object();
    EXPECT_EQ(Str(a, "kind"), kind);
    EXPECT_EQ(Str(a, "node"), node);
    EXPECT_EQ(Str(a, "action"), "alert");
    EXPECT_EQ(Metric(kind), 1);
    return a;
  }

  OsslPtr<EVP_PKEY> key_;
};

TEST_F(AnomalyTest, IssuanceSurgeAboveTheNodesBaselineIsRaisedOncePerWindow) {
  TestNode node = Enroll("web-1");
  // Six windows at a steady 8 per window: the baseline, no anomaly.
  for (int w = 0; w < 6; ++w) {
    for (int i = 0; i < 8; ++i) ASSERT_EQ(SignAs(node, kWeb).status, 200);
    clock_.Advance(std::chrono::minutes(10));
  }
  EXPECT_TRUE(Anomalies().empty());
  // A burst: 10 x the baseline and past the floor. Every request is still
  // answered (alert), one anomaly for the window.
  for (int i = 0; i < 120; ++i) ASSERT_EQ(SignAs(node, kWeb).status, 200);
  auto a = OnlyAnomaly("issuance_surge", "web-1");
  EXPECT_EQ(Str(a, "address"), "192.0.2.20");
  const auto& evidence = a.at("evidence").as_object();
  EXPECT_GE(std::stoll(Str(evidence, "count")), std::stoll(Str(evidence, "threshold")));
  EXPECT_EQ(Str(evidence, "window_seconds"), "600");
}

TEST_F(AnomalyTest, NewIdentityAfterLearningIsRaisedAndLearnedAcrossRestarts) {
  TestNode node = Enroll("web-1");
  AddEntry(kApi, "web-1");
  ASSERT_EQ(SignAs(node, kWeb).status, 200);  // within the learning period
  clock_.Advance(std::chrono::hours(2));
  // What the node held is rebuilt from the store's certificates.
  Stop();
  Start();
  ASSERT_EQ(SignAs(node, kWeb).status, 200);
  EXPECT_TRUE(Anomalies().empty());
  // A first request for an identity its entries allow: issued (alert), raised.
  ASSERT_EQ(SignAs(node, kApi).status, 200);
  ASSERT_EQ(SignAs(node, kApi).status, 200);
  auto a = OnlyAnomaly("new_identity", "web-1");
  EXPECT_EQ(Str(a.at("evidence"), "spiffe_id"), kApi);
  // The audit event carries the same, in the chain.
  auto audit = Send("GET", "/v1/admin/audit", "", AdminSocket());
  EXPECT_NE(audit.body.find("\"type\":\"anomaly\""), std::string::npos);
  EXPECT_TRUE(Json(Send("GET", "/v1/admin/audit/verify", "", AdminSocket())).at("intact").as_bool());
}

class SourceAddressTest : public AnomalyTest {
  void CustomizeAnomaly(CaConfig::Anomaly& a) override { a.new_source_address = true; }
};

TEST_F(SourceAddressTest, NewSourceAddressIsRaisedAndKnownOnesSurviveARestart) {
  TestNode node = Enroll("web-1");
  ASSERT_EQ(SignAs(node, kWeb, "192.0.2.20").status, 200);
  clock_.Advance(std::chrono::hours(2));
  Stop();
  Start();
  ASSERT_EQ(SignAs(node, kWeb, "192.0.2.20").status, 200);
  EXPECT_TRUE(Anomalies().empty());
  ASSERT_EQ(SignAs(node, kWeb, "198.51.100.7").status, 200);
  ASSERT_EQ(SignAs(node, kWeb, "198.51.100.7").status, 200);
  auto a = OnlyAnomaly("new_source_address", "web-1");
  EXPECT_EQ(Str(a, "address"), "198.51.100.7");
}

TEST_F(AnomalyTest, RefusalBurstIsRaisedOnceForABurst) {
  TestNode node = Enroll("web-1");
  for (int i = 0; i < 12; ++i) ASSERT_EQ(SignAs(node, kDb).status, 403);
  auto a = OnlyAnomaly("refusal_burst", "web-1");
  EXPECT_EQ(Str(a.at("evidence"), "last_spiffe_id"), kDb);
}

TEST_F(AnomalyTest, EnrollFailureBurstIsRaisedPerAddress) {
  const std::string bad = "web-9." + std::string(64, 'a');
  auto key = NewKey();
  for (int i = 0; i < 8; ++i) {
    auto r = Post("/v1/enroll", {{"token", bad}, {"csr", Csr(key.get())}}, Anonymous("203.0.113.5"));
    ASSERT_EQ(ErrorCodeOf(r), "invalid_token") << r.body;
  }
  auto a = OnlyAnomaly("enroll_failure_burst", "");
  EXPECT_EQ(Str(a, "address"), "203.0.113.5");
  EXPECT_EQ(Str(a.at("evidence"), "failures"), "5");
}

// A fleet of 100 nodes under the default thresholds: enrolling, signing
// their workload every half life (2 h TTL), renewing their node
// certificates at half life, for 30 simulated hours (past the learning
// period). Nothing is raised.
class NormalFleetTest : public ApiTest {
  void Customize(CaConfig& config) override {
    config.anomaly = CaConfig::Anomaly{};
    config.anomaly.new_source_address = true;  // the opt-in kind too
  }
};

TEST_F(NormalFleetTest, RaisesNothing) {
  constexpr int kNodes = 100;
  std::vector<TestNode> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(Enroll("web-" + std::to_string(i)));
  auto key = NewKey();
  const std::string csr = Csr(key.get(), {kWeb});
  // Each round sends every node's request at once, as a fleet would.
  auto round = [&](auto body_for, const std::string& path) {
    std::vector<std::future<net::HttpResponse>> answers;
    for (int i = 0; i < kNodes; ++i) {
      net::HttpRequest request{.method = "POST", .path = path, .body = body_for(i)};
      request.peer = WithCert(nodes[i].cert_pem, "10.1.0." + std::to_string(i));
      auto promise = std::make_shared<std::promise<net::HttpResponse>>();
      answers.push_back(promise->get_future());
      api_->Handle(std::move(request), [promise](net::HttpResponse r) { promise->set_value(std::move(r)); });
    }
    std::vector<net::HttpResponse> out;
    for (auto& a : answers) out.push_back(a.get());
    return out;
  };
  const std::string sign = boost::json::serialize(boost::json::object{{"csr", csr}, {"ttl", "2h"}});
  for (int hour = 0; hour <= 30; ++hour) {
    for (const auto& r : round([&](int) { return sign; }, "/v1/sign")) ASSERT_EQ(r.status, 200) << r.body;
    if (hour % 12 == 11) {  // node certificates at half life
      std::vector<OsslPtr<EVP_PKEY>> keys;
      for (int i = 0; i < kNodes; ++i) keys.push_back(NewKey());
      auto renewed = round(
          [&](int i) { return boost::json::serialize(boost::json::object{{"csr", Csr(keys[i].get())}}); },
          "/v1/renew");
      for (int i = 0; i < kNodes; ++i) {
        ASSERT_EQ(renewed[i].status, 200) << renewed[i].body;
        nodes[i].cert_pem = Str(Json(renewed[i]), "certificate");
      }
    }
    clock_.Advance(std::chrono::hours(1));
  }
  rt_->audit().Flush();
  auto r = Send("GET", "/v1/admin/anomalies", "", AdminSocket());
  EXPECT_TRUE(Json(r).at("anomalies").as_array().empty()) << r.body;
  const std::string metrics = rt_->MetricsText();
  for (std::string_view kind : kAnomalyKinds) {
    EXPECT_NE(metrics.find("mayfly_anomalies_total{kind=\"" + std::string(kind) + "\"} 0\n"), std::string::npos)
        << kind;
  }
}

class QuarantineTest : public AnomalyTest {
  void CustomizeAnomaly(CaConfig::Anomaly& a) override { a.action = "quarantine"; }

 protected:
  std::string CreateAdmin(const std::string& name, const std::string& role) {
    auto key = NewKey();
    auto r = Post("/v1/admin/admins", {{"name", name}, {"role", role}, {"csr", Csr(key.get())}}, AdminSocket());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Str(Json(r), "certificate") : "";
  }
};

TEST_F(QuarantineTest, AnomalyQuarantinesUntilUnbanAcrossRestartsWithoutRevoking) {
  TestNode node = Enroll("web-1");
  auto first = SignAs(node, kWeb);
  ASSERT_EQ(first.status, 200);
  const std::string issued_serial = Str(Json(first), "serial");
  // Probing: the burst's last refusal quarantines the node.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(SignAs(node, kDb).status, 403);
  auto refused = SignAs(node, kWeb);
  ASSERT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(ErrorCodeOf(refused), "node_banned");
  EXPECT_NE(refused.body.find("refusal_burst"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("mayfly-ca node unban web-1"), std::string::npos) << refused.body;
  EXPECT_EQ(ErrorCodeOf(Post("/v1/jwt", {{"spiffe_id", kWeb}, {"audience", {"a"}}}, AsNode(node))), "node_banned");
  // Its certificates stay valid: nothing was revoked.
  EXPECT_FALSE(AllRevokedSerials().contains(issued_serial));
  EXPECT_FALSE(AllRevokedSerials().contains(node.serial));
  auto listed = Anomalies();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(Str(listed[0], "action"), "quarantine");

  // The quarantine is in the store: a restart keeps it.
  Stop();
  Start();
  EXPECT_EQ(ErrorCodeOf(SignAs(node, kWeb)), "node_banned");
  // A join token does not lift it either.
  auto token = CreateToken("web-1");
  EXPECT_EQ(ErrorCodeOf(Post("/v1/enroll", {{"token", token}, {"csr", Csr(NewKey().get())}}, Anonymous())),
            "node_banned");

  // A viewer may list anomalies but not unban; an operator may.
  const std::string viewer = CreateAdmin("vera", "viewer");
  const std::string op = CreateAdmin("otto", "operator");
  EXPECT_EQ(Send("GET", "/v1/admin/anomalies", "", WithCert(viewer)).status, 200);
  auto denied = Post("/v1/admin/nodes/unban", {{"node", "web-1"}}, WithCert(viewer));
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(ErrorCodeOf(denied), "forbidden");
  auto lifted = Post("/v1/admin/nodes/unban", {{"node", "web-1"}}, WithCert(op));
  ASSERT_EQ(lifted.status, 200) << lifted.body;
  EXPECT_EQ(Str(Json(lifted), "anomaly"), "refusal_burst");
  EXPECT_EQ(SignAs(node, kWeb).status, 200);
  // Audited, and a second unban says there is nothing to lift.
  auto audit = Send("GET", "/v1/admin/audit", "", AdminSocket());
  EXPECT_NE(audit.body.find("\"type\":\"node_unban\""), std::string::npos);
  EXPECT_EQ(Post("/v1/admin/nodes/unban", {{"node", "web-1"}}, WithCert(op)).status, 404);
  // Lifted in the store too.
  Stop();
  Start();
  EXPECT_EQ(SignAs(node, kWeb).status, 200);
}

// Another instance on a shared store quarantines and unbans through the
// store; this one follows the change generation (StoreFollower's call).
TEST_F(QuarantineTest, AnotherInstancesQuarantineIsFollowed) {
  TestNode node = Enroll("web-1");
  ASSERT_EQ(SignAs(node, kWeb).status, 200);
  ASSERT_TRUE(rt_->store().QuarantineNode("web-1", "issuance_surge", testing::TestEvent("anomaly")).value());
  ASSERT_TRUE(rt_->FollowStoreChanges());
  auto refused = SignAs(node, kWeb);
  EXPECT_EQ(ErrorCodeOf(refused), "node_banned");
  EXPECT_NE(refused.body.find("issuance_surge"), std::string::npos) << refused.body;
  ASSERT_TRUE(rt_->store().LiftQuarantine("web-1", AuditEvent{.time = 1, .type = "node_unban", .actor = "b",
                                                              .subject = "web-1", .result = "ok"}));
  ASSERT_TRUE(rt_->FollowStoreChanges());
  EXPECT_EQ(SignAs(node, kWeb).status, 200);
}

TEST_F(AnomalyTest, AlertNeverRefusesTheTriggeringRequest) {
  TestNode node = Enroll("web-1");
  for (int i = 0; i < 40; ++i) ASSERT_EQ(SignAs(node, kWeb).status, 200);
  EXPECT_EQ(Metric("issuance_surge"), 1);
  EXPECT_EQ(SignAs(node, kWeb).status, 200);
}

}  // namespace anomaly_test
}  // namespace mayfly::testing
