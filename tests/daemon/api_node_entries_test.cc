// GET /v1/node/entries: each node sees only the selector entries that name it
// (by name or glob), with the effective TTL, and conditional GET answers 304.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace api_node_entries_test {

class ApiNodeEntriesTest : public ApiTest {
 protected:
  int64_t AddEntry(boost::json::object body) {
    auto r = Post("/v1/admin/entries", body, AdminSocket());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? Json(r).at("id").as_int64() : 0;
  }
  std::vector<std::string> SpiffeIds(const net::HttpResponse& r) {
    std::vector<std::string> ids;
    const boost::json::value body = Json(r);
    for (const auto& e : body.at("entries").as_array()) ids.push_back(Str(e, "spiffe_id"));
    return ids;
  }
};

TEST_F(ApiNodeEntriesTest, TwoNodesSeeOnlyTheirOwnSelectorEntries) {
  AddEntry({{"spiffe_id", "spiffe://example.org/web"}, {"node", "web-*"}, {"dns", {"web.internal"}},
            {"ttl", "2h"}, {"selectors", {"unix:uid:1000", "systemd:unit:web.service"}}});
  AddEntry({{"spiffe_id", "spiffe://example.org/db"}, {"node", "db-1"}, {"selectors", {"unix:user:postgres"}}});
  AddEntry({{"spiffe_id", "spiffe://example.org/web-sign-only"}, {"node", "web-1"}});
  const TestNode web = Enroll("web-1");
  const TestNode db = Enroll("db-1");

  auto r = Send("GET", "/v1/node/entries", "", AsNode(web));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(SpiffeIds(r), std::vector<std::string>{"spiffe://example.org/web"});
  const boost::json::value body = Json(r);
  const auto& entry = body.at("entries").as_array().at(0);
  EXPECT_EQ(entry.at("selectors").as_array(), (boost::json::array{"unix:uid:1000", "systemd:unit:web.service"}));
  EXPECT_EQ(entry.at("dns").as_array(), boost::json::array{"web.internal"});
  EXPECT_TRUE(entry.at("ips").as_array().empty());
  EXPECT_EQ(Str(entry, "ttl"), "2h");
  EXPECT_GT(entry.at("id").as_int64(), 0);

  r = Send("GET", "/v1/node/entries", "", AsNode(db));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(SpiffeIds(r), std::vector<std::string>{"spiffe://example.org/db"});
  // No ttl of its own: the [issuance] max_ttl applies and is written out.
  EXPECT_EQ(Str(Json(r).at("entries").as_array().at(0), "ttl"), FormatDuration(config_.issuance.max_ttl));
}

TEST_F(ApiNodeEntriesTest, ConditionalGetAndChanges) {
  const TestNode web = Enroll("web-1");
  auto r = Send("GET", "/v1/node/entries", "", AsNode(web));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(SpiffeIds(r).empty());
  const std::string etag = Header(r, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = Send("GET", "/v1/node/entries", "", AsNode(web), {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  AddEntry({{"spiffe_id", "spiffe://example.org/web"}, {"node", "web-1"}, {"selectors", {"unix:gid:33"}}});
  again = Send("GET", "/v1/node/entries", "", AsNode(web), {}, {{"if-none-match", etag}});
  ASSERT_EQ(again.status, 200);
  EXPECT_NE(Header(again, "ETag"), etag);
  EXPECT_EQ(SpiffeIds(again), std::vector<std::string>{"spiffe://example.org/web"});
}

TEST_F(ApiNodeEntriesTest, NeedsANodeCertificate) {
  EXPECT_EQ(Send("GET", "/v1/node/entries", "", Anonymous()).status, 401);
  EXPECT_EQ(Send("GET", "/v1/node/entries", "", Admin()).status, 403);
}

}  // namespace api_node_entries_test
}  // namespace mayfly::testing
