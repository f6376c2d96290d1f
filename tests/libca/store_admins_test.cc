// Admin roles in the store, on both backends: one row per name, revoked rows
// kept, a revoked name may be given a new role.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include "support/store_fixture.h"

namespace mayfly {
namespace store_admins_test {

class StoreAdminsTest : public testing::StoreFixture {};

TEST_P(StoreAdminsTest, PutGetListRevoke) {
  ASSERT_TRUE(store_->PutAdmin({.name = "zed", .role = AdminRole::kViewer, .created_at = 100}, {}, {}));
  ASSERT_TRUE(store_->PutAdmin({.name = "amy", .role = AdminRole::kOperator, .created_at = 200}, {}, {}));
  auto dup = store_->PutAdmin({.name = "amy", .role = AdminRole::kAdmin, .created_at = 300}, {}, {});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);

  auto amy = store_->GetAdmin("amy").value();
  ASSERT_TRUE(amy);
  EXPECT_EQ(amy->role, AdminRole::kOperator);
  EXPECT_EQ(amy->created_at, 200);
  EXPECT_FALSE(amy->revoked_at);
  EXPECT_FALSE(store_->GetAdmin("nobody").value());

  auto all = store_->ListAdmins().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "amy");
  EXPECT_EQ(all[1].name, "zed");

  const std::string amy_id = "spiffe://example.org/admin/amy";
  ASSERT_TRUE(store_->RevokeAdmin("amy", amy_id, 400, testing::kRevokeEvent));
  ASSERT_TRUE(store_->RevokeAdmin("amy", amy_id, 500, testing::kRevokeEvent));  // keeps the first time
  EXPECT_EQ(store_->GetAdmin("amy").value()->revoked_at, 400);
  auto missing = store_->RevokeAdmin("nobody", "spiffe://example.org/admin/nobody", 400, testing::kRevokeEvent);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  // A revoked name can be recreated, with a new role.
  ASSERT_TRUE(store_->PutAdmin({.name = "amy", .role = AdminRole::kViewer, .created_at = 600}, {}, {}));
  amy = store_->GetAdmin("amy").value();
  EXPECT_EQ(amy->role, AdminRole::kViewer);
  EXPECT_FALSE(amy->revoked_at);
}

TEST(AdminRoleNames, ParseAndName) {
  for (AdminRole r : {AdminRole::kViewer, AdminRole::kOperator, AdminRole::kAdmin}) {
    EXPECT_EQ(ParseAdminRole(AdminRoleName(r)).value(), r);
  }
  auto bad = ParseAdminRole("root");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("\"viewer\", \"operator\" or \"admin\""), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreAdminsTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_admins_test
}  // namespace mayfly
