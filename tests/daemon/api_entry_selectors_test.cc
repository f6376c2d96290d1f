// Selectors through the admin entries API: added, listed, and each bad form
// refused with a 400 naming the selector.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace mayfly::testing {
namespace api_entry_selectors_test {

class ApiEntrySelectorsTest : public ApiTest {};

TEST_F(ApiEntrySelectorsTest, AddAndListCarrySelectors) {
  const boost::json::array selectors = {"unix:uid:1000", "systemd:unit:web.service"};
  auto r = Post("/v1/admin/entries",
                {{"spiffe_id", "spiffe://example.org/web"}, {"node", "web-*"}, {"selectors", selectors}},
                AdminSocket());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r).at("selectors").as_array(), selectors);
  const int64_t id = Json(r).at("id").as_int64();

  r = Send("GET", "/v1/admin/entries", "", AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  bool found = false;
  const boost::json::value list = Json(r);
  for (const auto& e : list.at("entries").as_array()) {
    if (e.at("id").as_int64() != id) {
      EXPECT_TRUE(e.at("selectors").as_array().empty());
      continue;
    }
    found = true;
    EXPECT_EQ(e.at("selectors").as_array(), selectors);
  }
  EXPECT_TRUE(found);
}

TEST_F(ApiEntrySelectorsTest, BadSelectorsAreRefused) {
  const auto before = Snapshot();
  for (const char* bad : {"unix:uid:x", "unix:gid:", "unix:user:-x", "unix:group:a b", "unix:path:rel/exe",
                          "unix:sha256:ABC", "systemd:unit:noext", "docker:label:x"}) {
    auto r = Post("/v1/admin/entries",
                  {{"spiffe_id", "spiffe://example.org/web"}, {"node", "web-*"},
                   {"selectors", boost::json::array{"unix:uid:1000", bad}}},
                  AdminSocket());
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << bad;
    EXPECT_NE(r.body.find(std::string("selector \\\"") + bad), std::string::npos) << r.body;
  }
  auto r = Post("/v1/admin/entries",
                {{"spiffe_id", "spiffe://example.org/web"}, {"node", "web-*"}, {"selectors", "unix:uid:1"}},
                AdminSocket());
  EXPECT_EQ(r.status, 400) << "not an array: " << r.body;
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace api_entry_selectors_test
}  // namespace mayfly::testing
