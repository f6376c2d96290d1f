// The real daemon: selectors through `mayfly-ca entry add --selector` and
// `entry list` (table and --json), and a node fetching /v1/node/entries over mTLS.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/test_pki.h"

namespace mayfly {
namespace entry_selectors_cli_test {

namespace json = boost::json;

class EntrySelectorsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/cfg\"\nnode = \"node-*\"\n"
             "selectors = [\"unix:gid:33\"]\n");
    ASSERT_FALSE(HasFatalFailure());
    ca_.Start();
  }

  std::string Path(const std::string& name) const { return ca_.Path(name); }
  testing::CommandResult Cli(const std::string& args) { return ca_.Cli(args); }

  testing::CaFixture ca_;
};

TEST_F(EntrySelectorsCliTest, AddListAndNodeEntries) {
  auto add = Cli("entry add --spiffe-id spiffe://example.org/web --node node-1 --selector unix:uid:1000 "
                 "--selector systemd:unit:web.service");
  ASSERT_EQ(add.status, 0) << add.output;

  auto table = Cli("entry list");
  ASSERT_EQ(table.status, 0) << table.output;
  EXPECT_NE(table.output.find("SELECTORS"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("unix:uid:1000"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("unix:gid:33"), std::string::npos) << table.output;

  auto listed = Cli("--json entry list");
  ASSERT_EQ(listed.status, 0) << listed.output;
  const json::value v = json::parse(listed.output);
  bool found = false;
  for (const auto& e : v.at("entries").as_array()) {
    if (e.at("spiffe_id") != "spiffe://example.org/web") continue;
    found = true;
    EXPECT_EQ(e.at("selectors").as_array(), (json::array{"unix:uid:1000", "systemd:unit:web.service"}));
  }
  EXPECT_TRUE(found) << listed.output;

  auto bad = Cli("entry add --spiffe-id spiffe://example.org/x --node node-1 --selector unix:path:bin/x");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("unix:path:bin/x"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("absolute path"), std::string::npos) << bad.output;

  // node-1 over mTLS sees both entries that name it and have selectors.
  auto token = Cli("--json token create --node node-1");
  ASSERT_EQ(token.status, 0) << token.output;
  const std::string t(json::parse(token.output).at("token").as_string());
  const std::string csr = testing::OpensslCsr(Path("node.key"), Path("node.csr"), "");
  testing::WriteTextFile(Path("enroll.req"), json::serialize(json::object{{"token", t}, {"csr", csr}}));
  auto enroll = testing::RunCommand("curl -sf --cacert " + Path("ca/root.pem") + " -X POST --data @" +
                                    Path("enroll.req") + " " + ca_.api() + "/v1/enroll");
  ASSERT_EQ(enroll.status, 0) << enroll.output;
  const json::value cert = json::parse(enroll.output);
  testing::WriteTextFile(Path("node.pem"), std::string(cert.at("certificate").as_string()) +
                                              std::string(cert.at("chain").as_string()));
  auto entries = testing::RunCommand("curl -sf --cacert " + Path("ca/root.pem") + " --cert " + Path("node.pem") +
                                     " --key " + Path("node.key") + " " + ca_.api() + "/v1/node/entries");
  ASSERT_EQ(entries.status, 0) << entries.output;
  std::vector<std::string> ids;
  const json::value answer = json::parse(entries.output);
  for (const auto& e : answer.at("entries").as_array()) {
    ids.push_back(std::string(e.at("spiffe_id").as_string()));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"spiffe://example.org/cfg", "spiffe://example.org/web"}));
}

}  // namespace entry_selectors_cli_test
}  // namespace mayfly
