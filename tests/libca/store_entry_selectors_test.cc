// Selectors on registration entries survive the store on both backends, for
// API and config entries, including strings that need quoting.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include "support/store_fixture.h"

namespace mayfly {
namespace store_entry_selectors_test {

class StoreEntrySelectorsTest : public testing::StoreFixture {};

TEST_P(StoreEntrySelectorsTest, RoundTripInOrder) {
  EntryRecord web{.spiffe_id = "spiffe://example.org/web", .node = "web-*", .dns = {"web.internal"},
                  .selectors = {"unix:uid:1000", "systemd:unit:web.service", "unix:path:/opt/a \"b\"/c"}};
  EntryRecord plain{.spiffe_id = "spiffe://example.org/db", .node = "db-1"};
  auto web_id = store_->AddEntry(web, testing::kEntryEvent);
  ASSERT_TRUE(web_id) << web_id.error().ToString();
  ASSERT_TRUE(store_->AddEntry(plain, testing::kEntryEvent));
  const std::vector<EntryRecord> config = {
      EntryRecord{.spiffe_id = "spiffe://example.org/cfg", .node = "n", .source = "config",
                  .selectors = {"unix:gid:33"}}};
  ASSERT_TRUE(store_->ReplaceConfigEntries(config));

  auto entries = store_->ListEntries();
  ASSERT_TRUE(entries) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].selectors, web.selectors);
  EXPECT_EQ((*entries)[0].dns, web.dns);
  EXPECT_TRUE((*entries)[1].selectors.empty());
  EXPECT_EQ((*entries)[2].selectors, config[0].selectors);
  EXPECT_EQ((*entries)[2].source, "config");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreEntrySelectorsTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_entry_selectors_test
}  // namespace mayfly
