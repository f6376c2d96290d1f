// Admin roles: every admin route admits exactly the roles the route table
// names, a revoked name loses its rights on the next request, and the admin
// socket keeps every right.
#include <gtest/gtest.h>

#include <map>

#include "api_fixture.h"
#include "api_routes.h"
#include "support/wait.h"

namespace mayfly::testing {
namespace admin_roles_test {

class AdminRolesTest : public ApiTest {
 protected:
  // Creates NAME with ROLE over the admin socket and returns its certificate.
  std::string CreateAdmin(const std::string& name, const std::string& role) {
    auto key = NewKey();
    auto r = Post("/v1/admin/admins", {{"name", name}, {"role", role}, {"csr", Csr(key.get())}}, AdminSocket());
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return "";
    EXPECT_EQ(Str(Json(r), "role"), role);
    return Str(Json(r), "certificate");
  }
};

TEST_F(AdminRolesTest, EveryAdminRouteAdmitsExactlyItsRoles) {
  const std::map<AdminRole, std::string> peers = {
      {AdminRole::kViewer, CreateAdmin("alice", "viewer")},
      {AdminRole::kOperator, CreateAdmin("bob", "operator")},
      {AdminRole::kAdmin, CreateAdmin("carol", "admin")},
  };
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    if (route.caller != CallerClass::kAdmin) continue;
    // A body the handler refuses as malformed: the role check comes first, so
    // an admitted caller gets anything but forbidden, and nothing changes.
    const std::string path = route.path.ends_with('/') ? std::string(route.path) + "999" : std::string(route.path);
    for (const auto& [role, peer] : peers) {
      auto r = Send(std::string(route.method), path, "{\"unknown_field\":1}", WithCert(peer));
      const std::string what = std::string(route.method) + " " + path + " as " + std::string(AdminRoleName(role));
      if (role < route.role) {
        EXPECT_EQ(r.status, 403) << what << ": " << r.body;
        EXPECT_EQ(ErrorCodeOf(r), "forbidden") << what;
        EXPECT_NE(r.body.find("needs role " + std::string(AdminRoleName(route.role))), std::string::npos) << r.body;
      } else {
        EXPECT_NE(ErrorCodeOf(r), "forbidden") << what << ": " << r.body;
        EXPECT_NE(r.status, 401) << what << ": " << r.body;
      }
      ++checked;
    }
    auto socket = Send(std::string(route.method), path, "{\"unknown_field\":1}", AdminSocket());
    EXPECT_NE(ErrorCodeOf(socket), "forbidden") << route.path << ": " << socket.body;
  }
  EXPECT_GT(checked, 3 * 15);
}

TEST_F(AdminRolesTest, RefusalIsAudited) {
  auto viewer = CreateAdmin("vera", "viewer");
  auto r = Post("/v1/admin/tokens", {{"node", "web-1"}}, WithCert(viewer));
  ASSERT_EQ(r.status, 403) << r.body;
  // Refusals reach the audit chain through its queue, not synchronously.
  std::string seen;
  EXPECT_TRUE(WaitUntil([&] {
    seen = Send("GET", "/v1/admin/audit", "", AdminSocket()).body;
    return seen.find("needs role operator; admin vera has role viewer") != std::string::npos;
  })) << seen;
}

TEST_F(AdminRolesTest, RevokedAdminIsRefusedOnTheNextRequest) {
  auto op = CreateAdmin("olga", "operator");
  ASSERT_EQ(Send("GET", "/v1/admin/certs", "", WithCert(op)).status, 200);
  auto r = Post("/v1/admin/admins/revoke", {{"name", "olga"}}, Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("revoked").as_int64(), 1);
  auto after = Send("GET", "/v1/admin/certs", "", WithCert(op));
  EXPECT_TRUE(after.status == 401 || after.status == 403) << after.body;
  // The name can be given a new credential, with a new role.
  CreateAdmin("olga", "viewer");
}

TEST_F(AdminRolesTest, InitAdminHasAdminRoleAndListShowsRoles) {
  CreateAdmin("dave", "viewer");
  auto r = Send("GET", "/v1/admin/admins", "", Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = Json(r);
  const auto& admins = body.at("admins").as_array();
  ASSERT_EQ(admins.size(), 2u);
  EXPECT_EQ(Str(admins[0], "name"), "admin");
  EXPECT_EQ(Str(admins[0], "role"), "admin");
  EXPECT_EQ(Str(admins[1], "name"), "dave");
  EXPECT_EQ(Str(admins[1], "role"), "viewer");
}

TEST_F(AdminRolesTest, NameWithoutRoleRowIsForbidden) {
  ASSERT_EQ(Post("/v1/admin/admins", {{"name", "x"}, {"role", "boss"}, {"csr", Csr(NewKey().get())}}, AdminSocket())
                .status,
            400);
  auto twice = Post("/v1/admin/admins", {{"name", "admin"}, {"role", "viewer"}, {"csr", Csr(NewKey().get())}},
                    AdminSocket());
  EXPECT_EQ(twice.status, 409) << twice.body;
}

}  // namespace admin_roles_test
}  // namespace mayfly::testing
