// After the whole flow (init, serve, token, enroll, issue, revoke, re-issue),
// no join token, private key or passphrase appears in any log line, audit row
// or database column.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace secrets_test {

using testing::kAgentBinary;
using testing::RunCommand;

// Every value of every column of every table, as text (BLOBs raw).
std::string DumpDatabase(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return out;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* list = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &list, nullptr);
  while (sqlite3_step(list) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
  sqlite3_finalize(list);
  for (const std::string& table : tables) {
    sqlite3_stmt* rows = nullptr;
    sqlite3_prepare_v2(db, ("SELECT * FROM \"" + table + "\"").c_str(), -1, &rows, nullptr);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(rows); ++i) {
        const void* blob = sqlite3_column_blob(rows, i);
        out.append(static_cast<const char*>(blob ? blob : ""), static_cast<size_t>(sqlite3_column_bytes(rows, i)));
        out += '\n';
      }
    }
    sqlite3_finalize(rows);
  }
  sqlite3_close(db);
  return out;
}

// The base64 lines of a PEM private key: any one of them found elsewhere
// means key material leaked.
std::vector<std::string> KeyLines(const std::string& pem) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < pem.size()) {
    size_t end = pem.find('\n', at);
    if (end == std::string::npos) end = pem.size();
    std::string line = pem.substr(at, end - at);
    if (!line.empty() && line.find("-----") == std::string::npos && line.size() >= 16) lines.push_back(line);
    at = end + 1;
  }
  return lines;
}

TEST(SecretsTest, NoTokenKeyOrPassphraseInLogsAuditOrDatabase) {
  testing::CaFixture ca;
  ca.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n");
  ca.Start();
  const std::string fingerprint = ca.WriteToken("node-1", ca.Path("token"));
  const std::string token = ReadFile(ca.Path("token")).value();
  const std::string unused_token_file = ca.Path("unused-token");
  ca.WriteToken("node-2", unused_token_file);
  testing::WriteTextFile(ca.Path("agent.toml"),
                         ca.AgentTomlHead(fingerprint) +
                             "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\n"
                             "cert = \"" + ca.Path("out/web.pem") + "\"\nkey = \"" + ca.Path("out/web.key") + "\"\n");
  std::string logs;
  auto once = RunCommand(kAgentBinary + " once --config " + ca.Path("agent.toml"));
  ASSERT_EQ(once.status, 0) << once.output;
  logs += once.output;
  const std::string first_web_key = ReadFile(ca.Path("out/web.key")).value();
  auto revoke = ca.Cli("revoke --spiffe-id spiffe://example.org/web");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  logs += revoke.output;
  once = RunCommand(kAgentBinary + " once --config " + ca.Path("agent.toml"));
  ASSERT_EQ(once.status, 0) << once.output;
  logs += once.output;
  logs += RunCommand(kAgentBinary + " status --config " + ca.Path("agent.toml")).output;
  // A replay of the used token: refusals are logged and audited too.
  ASSERT_EQ(RunCommand("openssl ecparam -genkey -name prime256v1 -noout -out " + ca.Path("replay.key") +
                       " && openssl req -new -key " + ca.Path("replay.key") + " -subj / -out " + ca.Path("replay.csr"))
                .status,
            0);
  const std::string csr = ReadFile(ca.Path("replay.csr")).value();
  testing::WriteTextFile(ca.Path("replay.json"),
                         boost::json::serialize(boost::json::object{{"token", token.substr(0, token.find('\n'))},
                                                                    {"csr", csr}}));
  auto replay = RunCommand("curl -s --cacert " + ca.Path("ca/root.pem") + " --data @" + ca.Path("replay.json") + " " +
                           ca.api() + "/v1/enroll");
  EXPECT_NE(replay.output.find("invalid_token"), std::string::npos) << replay.output;
  auto audit = ca.Cli("--json audit --limit 1000");
  ASSERT_EQ(audit.status, 0) << audit.output;
  EXPECT_NE(audit.output.find("invalid_token"), std::string::npos) << "the replay must be audited";
  ASSERT_EQ(ca.daemon()->Stop(SIGTERM), 0);
  logs += ca.daemon()->output();
  EXPECT_NE(logs.find("invalid_token"), std::string::npos) << "the replay must be logged";

  const std::string db = DumpDatabase(ca.Path("ca/ca.db"));
  ASSERT_NE(db.find("spiffe://example.org/web"), std::string::npos) << "the dump must see the rows";
  const std::string pass_file = ReadFile(ca.Path("pass")).value();
  const std::string passphrase = pass_file.substr(0, pass_file.find('\n'));
  struct Secret {
    std::string what, value;
  };
  std::vector<Secret> secrets = {{"join token", token.substr(0, token.find('\n'))},
                                 {"unused join token", ReadFile(unused_token_file).value().substr(0, 40)},
                                 {"passphrase", passphrase}};
  for (const std::string& key_file : {ca.Path("agent/node.key"), ca.Path("out/web.key"), ca.Path("ca/admin.key")}) {
    for (const std::string& line : KeyLines(ReadFile(key_file).value())) secrets.push_back({key_file, line});
  }
  for (const std::string& line : KeyLines(first_web_key)) secrets.push_back({"revoked web key", line});
  for (const std::string& key_file : {ca.Path("ca/intermediate.key"), ca.Path("ca/root.key")}) {
    for (const std::string& line : KeyLines(ReadFile(key_file).value())) secrets.push_back({key_file, line});
  }
  ASSERT_GT(secrets.size(), 10u);
  for (const Secret& s : secrets) {
    ASSERT_GE(s.value.size(), 16u) << s.what;
    EXPECT_EQ(logs.find(s.value), std::string::npos) << s.what << " appears in a log";
    EXPECT_EQ(audit.output.find(s.value), std::string::npos) << s.what << " appears in the audit log";
    EXPECT_EQ(db.find(s.value), std::string::npos) << s.what << " appears in the database";
  }
}

}  // namespace secrets_test
}  // namespace mayfly
