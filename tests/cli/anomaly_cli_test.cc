// The real daemon with [anomaly] action = "quarantine": a node enrolled and
// probing with curl is quarantined, `mayfly-ca anomalies --json` lists what
// was raised, and `mayfly-ca node unban` lifts the quarantine.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace anomaly_cli_test {

namespace json = boost::json;

class AnomalyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ca_.Init("[anomaly]\naction = \"quarantine\"\nrefusal_burst = 3\n"
                                     "enroll_failure_burst = 3\n"));
    ASSERT_NO_FATAL_FAILURE(ca_.Start());
  }
  void TearDown() override { ca_.Stop(); }

  // POSTs `body` to `path` with curl (as the node when `as_node`); the status.
  int Post(const std::string& path, const json::object& body, bool as_node) {
    testing::WriteTextFile(ca_.Path("req.json"), json::serialize(body));
    const std::string cert = as_node ? " --cert " + ca_.Path("node.pem") + " --key " + ca_.Path("node.key") : "";
    auto r = testing::RunCommand("curl -s -o " + ca_.Path("answer.json") + " -w '%{http_code}' --cacert " +
                                 ca_.Path("ca/root.pem") + cert + " -X POST --data @" + ca_.Path("req.json") + " " +
                                 ca_.api() + path);
    return std::atoi(r.output.c_str());
  }

  testing::CaFixture ca_;
};

TEST_F(AnomalyCliTest, QuarantinedNodeListedAndUnbanned) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  ASSERT_TRUE(SaveKeyFile(ca_.Path("node.key"), key.get(), std::nullopt));
  const std::string node_csr = MakeCsrPem(key.get(), {}, {}, {}).value();
  // Guessing tokens from one address: an enroll_failure_burst.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Post("/v1/enroll", {{"token", "web-1." + std::string(64, 'b')}, {"csr", node_csr}}, false), 401);
  }
  // A node enrolls, then probes for an identity no entry gives it.
  ca_.WriteToken("web-1", ca_.Path("token"));
  const std::string token = ReadFile(ca_.Path("token")).value();
  ASSERT_EQ(Post("/v1/enroll", {{"token", token.substr(0, token.size() - 1)}, {"csr", node_csr}}, false), 200)
      << ReadFile(ca_.Path("answer.json")).value_or("");
  auto enrolled = json::parse(ReadFile(ca_.Path("answer.json")).value()).as_object();
  testing::WriteTextFile(ca_.Path("node.pem"), std::string(enrolled.at("certificate").as_string()) +
                                                   std::string(enrolled.at("chain").as_string()));
  const std::string csr = MakeCsrPem(key.get(), {"spiffe://example.org/secret"}, {}, {}).value();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Post("/v1/sign", {{"csr", csr}}, true), 403);
  EXPECT_EQ(Post("/v1/sign", {{"csr", csr}}, true), 403);
  EXPECT_NE(ReadFile(ca_.Path("answer.json")).value_or("").find("mayfly-ca node unban web-1"), std::string::npos);

  // Anomaly events reach the audit chain through its queue: await them.
  json::array listed;
  EXPECT_TRUE(testing::WaitUntil([&] {
    auto r = ca_.Cli("anomalies --json");
    boost::system::error_code ec;
    auto v = json::parse(r.output, ec);
    if (r.status != 0 || ec || !v.is_object()) return false;
    listed = v.as_object().at("anomalies").as_array();
    return listed.size() == 2;
  })) << json::serialize(listed);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("kind").as_string(), "refusal_burst");
  EXPECT_EQ(listed[0].at("node").as_string(), "web-1");
  EXPECT_EQ(listed[0].at("action").as_string(), "quarantine");
  EXPECT_EQ(listed[1].at("kind").as_string(), "enroll_failure_burst");
  EXPECT_EQ(listed[1].at("address").as_string(), "127.0.0.1");
  auto table = ca_.Cli("anomalies");
  EXPECT_EQ(table.status, 0);
  EXPECT_NE(table.output.find("refusal_burst"), std::string::npos) << table.output;

  auto unban = ca_.Cli("node unban web-1");
  EXPECT_EQ(unban.status, 0) << unban.output;
  EXPECT_NE(unban.output.find("refusal_burst"), std::string::npos) << unban.output;
  auto again = ca_.Cli("node unban web-1");
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("not quarantined"), std::string::npos) << again.output;
}

}  // namespace anomaly_cli_test
}  // namespace mayfly
