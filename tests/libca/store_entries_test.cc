// Registration entries in the store: API entries come and go, config entries are swapped whole.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace store_entries_test {

using testing::TempDir;

EntryRecord Entry(std::string spiffe_id, std::string node, std::string source = "") {
  return {.spiffe_id = std::move(spiffe_id), .node = std::move(node), .source = std::move(source)};
}

class StoreEntriesTest : public testing::StoreFixture {
 protected:
  std::vector<std::string> SpiffeIds() {
    std::vector<std::string> ids;
    const std::vector<EntryRecord> entries = store_->ListEntries().value();
    for (const EntryRecord& e : entries) ids.push_back(e.spiffe_id + "@" + e.source);
    return ids;
  }

};

TEST_P(StoreEntriesTest, AddListRemove) {
  EntryRecord web = Entry("spiffe://example.org/web", "web-*");
  // Names that need JSON quoting survive the round trip.
  web.dns = {"web.internal", "quote\"and\\slash", "ünïcode"};
  web.ips = {"10.0.0.1", "2001:db8::1"};
  web.max_ttl = 3600;
  auto id = store_->AddEntry(web, testing::kEntryEvent);
  ASSERT_TRUE(id) << id.error().ToString();
  auto db_id = store_->AddEntry(Entry("spiffe://example.org/db", "db-1"), testing::kEntryEvent);
  ASSERT_TRUE(db_id);
  EXPECT_GT(*db_id, *id);

  auto entries = store_->ListEntries().value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, *id);
  EXPECT_EQ(entries[0].node, "web-*");
  EXPECT_EQ(entries[0].dns, web.dns);
  EXPECT_EQ(entries[0].ips, web.ips);
  EXPECT_EQ(entries[0].max_ttl, 3600);
  EXPECT_EQ(entries[0].source, "api");
  EXPECT_TRUE(entries[1].dns.empty());

  ASSERT_TRUE(store_->RemoveEntry(*id, testing::TestEvent("entry_remove")));
  EXPECT_EQ(SpiffeIds(), std::vector<std::string>{"spiffe://example.org/db@api"});
  auto gone = store_->RemoveEntry(*id, testing::TestEvent("entry_remove"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreEntriesTest, BadEntriesAreRefused) {
  for (const EntryRecord& bad : {Entry("", "n"), Entry("spiffe://example.org/a", ""),
                                 Entry("spiffe://example.org/a", "n", "file")}) {
    auto r = store_->AddEntry(bad, testing::kEntryEvent);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->ListEntries().value().empty());
}

TEST_P(StoreEntriesTest, ConfigEntriesAreReplacedWholeAndNotRemovable) {
  ASSERT_TRUE(store_->AddEntry(Entry("spiffe://example.org/api", "n1"), testing::kEntryEvent));
  const std::vector<EntryRecord> first = {Entry("spiffe://example.org/a", "n1"),
                                          Entry("spiffe://example.org/b", "n2")};
  ASSERT_TRUE(store_->ReplaceConfigEntries(first));
  EXPECT_EQ(SpiffeIds(), (std::vector<std::string>{"spiffe://example.org/api@api",
                                                   "spiffe://example.org/a@config",
                                                   "spiffe://example.org/b@config"}));

  const int64_t config_id = store_->ListEntries().value()[1].id;
  auto r = store_->RemoveEntry(config_id, testing::TestEvent("entry_remove"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("ca.toml"), std::string::npos) << r.error().message;

  const std::vector<EntryRecord> second = {Entry("spiffe://example.org/c", "n3", "api")};
  ASSERT_TRUE(store_->ReplaceConfigEntries(second));
  EXPECT_EQ(SpiffeIds(), (std::vector<std::string>{"spiffe://example.org/api@api",
                                                   "spiffe://example.org/c@config"}));
  // A bad config entry changes nothing.
  const std::vector<EntryRecord> bad = {Entry("spiffe://example.org/d", "n4"), Entry("", "n5")};
  ASSERT_FALSE(store_->ReplaceConfigEntries(bad));
  EXPECT_EQ(SpiffeIds().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreEntriesTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_entries_test
}  // namespace mayfly
