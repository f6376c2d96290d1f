// ca.toml's [store]: the backend choice, its keys, and what OpenStore is given.
#include <gtest/gtest.h>

#include "mayfly/ca_layout.h"
#include "mayfly/config.h"
#include "mayfly/file_util.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace config_store_test {

constexpr std::string_view kBase = "trust_domain = \"example.org\"\nstate_dir = \"/var/lib/ca\"\n";

Result<CaConfig> Load(const testing::TempDir& dir, const std::string& store_table) {
  const std::string path = dir.File("ca.toml");
  EXPECT_TRUE(WriteFileAtomic(path, std::string(kBase) + store_table, 0600));
  return LoadCaConfig(path);
}

TEST(ConfigStoreTest, SqliteIsTheDefaultAndUsesTheDatabaseInStateDir) {
  testing::TempDir dir;
  auto cfg = Load(dir, "");
  ASSERT_TRUE(cfg) << cfg.error().ToString();
  EXPECT_EQ(cfg->store.backend, "sqlite");
  const StoreOptions options = StoreOptionsFor(*cfg);
  EXPECT_EQ(options.backend, StoreBackend::kSqlite);
  EXPECT_EQ(options.sqlite_path, "/var/lib/ca/ca.db");
}

TEST(ConfigStoreTest, PostgresqlReadsUrlAndPasswordFile) {
  testing::TempDir dir;
  auto cfg = Load(dir, R"toml(
[store]
backend = "postgresql"
url = "postgresql://mayfly@db1,db2/mayfly?target_session_attrs=read-write"
password_file = "/etc/mayfly/db-password"
)toml");
  ASSERT_TRUE(cfg) << cfg.error().ToString();
  const StoreOptions options = StoreOptionsFor(*cfg);
  EXPECT_EQ(options.backend, StoreBackend::kPostgresql);
  EXPECT_EQ(options.url, "postgresql://mayfly@db1,db2/mayfly?target_session_attrs=read-write");
  EXPECT_EQ(options.password_file, "/etc/mayfly/db-password");
}

TEST(ConfigStoreTest, BadStoreTablesNameTheKeyAndWhatWasExpected) {
  struct Case {
    const char* what;
    const char* toml;
    const char* key;       // as the message names it
    const char* expected;  // part of the message
  };
  const Case cases[] = {
      {"unknown backend", "[store]\nbackend = \"mysql\"\n", "store.backend", R"(expected "sqlite" or "postgresql")"},
      {"backend not a string", "[store]\nbackend = 1\n", "store.backend", "expected a string"},
      {"unknown key", "[store]\nbackend = \"sqlite\"\nuri = \"x\"\n", "store.uri",
       "known keys in [store]: backend, url, password_file"},
      {"postgresql without url", "[store]\nbackend = \"postgresql\"\npassword_file = \"/p\"\n", "store.url",
       "needs a url"},
      {"postgresql without password_file",
       "[store]\nbackend = \"postgresql\"\nurl = \"postgresql://mayfly@db/mayfly\"\n", "store.password_file",
       "needs a password_file"},
      {"password in the url",
       "[store]\nbackend = \"postgresql\"\nurl = \"postgresql://mayfly:s3cret@db/mayfly\"\npassword_file = \"/p\"\n",
       "store.url", "put it in password_file"},
      {"url that is no connection string",
       "[store]\nbackend = \"postgresql\"\nurl = \"postgresql://db/mayfly?nonsense=1\"\npassword_file = \"/p\"\n",
       "store.url", "not a valid connection string"},
      {"url with sqlite", "[store]\nurl = \"postgresql://mayfly@db/mayfly\"\n", "store.url",
       R"(only used with backend = "postgresql")"},
      {"password_file with sqlite", "[store]\nbackend = \"sqlite\"\npassword_file = \"/p\"\n", "store.password_file",
       R"(only used with backend = "postgresql")"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    testing::TempDir dir;
    auto cfg = Load(dir, c.toml);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code, ErrorCode::kConfig);
    const std::string& message = cfg.error().message;
    EXPECT_NE(message.find(dir.File("ca.toml")), std::string::npos) << message;
    EXPECT_NE(message.find(c.key), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  }
}

}  // namespace config_store_test
}  // namespace mayfly
