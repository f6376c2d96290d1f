// LoadCaConfig and LoadAgentConfig: defaults, every key, the example files, and
// errors that name the file, the key, the line and what was expected.
#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <fstream>
#include <optional>
#include <string>

#include "mayfly/config.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace config_test {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string WriteFile(const testing::TempDir& dir, const std::string& name,
                      const std::string& text) {
  std::string path = dir.File(name);
  std::ofstream(path) << text;
  return path;
}

// One bad file and the error it must produce.
struct ErrorCase {
  const char* name;
  const char* toml;
  int line;              // 0: the message carries no line
  const char* key;       // dotted path
  const char* expected;  // a part of what follows "<key>: "
};

// The error of loading `path` with the loader its file name implies
// (agent.toml or ca.toml), or nullopt when the file loads.
std::optional<Error> LoadError(const std::string& path) {
  if (path.ends_with("agent.toml")) {
    Result<AgentConfig> cfg = LoadAgentConfig(path);
    return cfg ? std::nullopt : std::optional<Error>(cfg.error());
  }
  Result<CaConfig> cfg = LoadCaConfig(path);
  return cfg ? std::nullopt : std::optional<Error>(cfg.error());
}

// "<file>:<line>: <key>: " and then `expected`, with code kConfig.
void ExpectConfigError(const Error& error, const std::string& path, const ErrorCase& c) {
  EXPECT_EQ(error.code, ErrorCode::kConfig);
  std::string where = path + (c.line > 0 ? ":" + std::to_string(c.line) : "") + ": " +
                      c.key + ": ";
  EXPECT_EQ(error.message.rfind(where, 0), 0u) << "message: " << error.message
                                               << "\nwanted prefix: " << where;
  EXPECT_NE(error.message.find(c.expected), std::string::npos)
      << "message: " << error.message << "\nwanted: " << c.expected;
}

// Test names and failure output show the case's name, not its bytes.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

std::string CaseName(const ::testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

// Writes the case's TOML as `file` and checks the error LoadError gives.
class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  void ExpectError(const std::string& file) {
    testing::TempDir dir;
    std::string path = WriteFile(dir, file, GetParam().toml);
    std::optional<Error> error = LoadError(path);
    ASSERT_TRUE(error.has_value()) << "loaded:\n" << GetParam().toml;
    ExpectConfigError(*error, path, GetParam());
  }
};

// Compares part by part first, so that a failure says where they differ.
void ExpectSameConfig(const CaConfig& got, const CaConfig& want) {
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.trust_domain, want.trust_domain);
  EXPECT_EQ(got.server_names, want.server_names);
  EXPECT_TRUE(got.ca == want.ca) << "[ca] differs";
  EXPECT_TRUE(got.issuance == want.issuance) << "[issuance] differs";
  EXPECT_TRUE(got.crl == want.crl) << "[crl] differs";
  EXPECT_TRUE(got.limits == want.limits) << "[limits] differs";
  EXPECT_TRUE(got.tls == want.tls) << "[tls] differs";
  ASSERT_EQ(got.entries.size(), want.entries.size());
  for (size_t i = 0; i < got.entries.size(); ++i) {
    EXPECT_TRUE(got.entries[i] == want.entries[i]) << "entry[" << i << "] differs";
  }
  EXPECT_TRUE(got == want) << "a top-level key differs";
}

void ExpectSameConfig(const AgentConfig& got, const AgentConfig& want) {
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.servers, want.servers);
  EXPECT_EQ(got.ca_fingerprint, want.ca_fingerprint);
  EXPECT_EQ(got.renew_at, want.renew_at);
  ASSERT_EQ(got.workloads.size(), want.workloads.size());
  for (size_t i = 0; i < got.workloads.size(); ++i) {
    EXPECT_TRUE(got.workloads[i] == want.workloads[i]) << "workload[" << i << "] differs";
  }
  EXPECT_TRUE(got == want) << "a top-level key differs";
}

// ---- ca.toml ----

TEST(CaConfigTest, MinimalFileKeepsEveryDefault) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "ca.toml", "trust_domain = \"example.org\"\n");
  Result<CaConfig> cfg = LoadCaConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  CaConfig want;
  want.path = path;
  want.trust_domain = "example.org";
  ExpectSameConfig(*cfg, want);
  // The defaults DESIGN.md promises.
  EXPECT_EQ(cfg->issuance.default_ttl, hours(1));
  EXPECT_EQ(cfg->issuance.node_ttl, hours(24));
  EXPECT_EQ(cfg->issuance.min_ttl, minutes(1));
  EXPECT_EQ(cfg->issuance.backdate, minutes(1));
  EXPECT_EQ(cfg->issuance.max_token_ttl, hours(24));
  EXPECT_EQ(cfg->issuance.node_recovery_window, hours(24 * 30));
  EXPECT_TRUE(cfg->ca.name_constraints);
  EXPECT_EQ(cfg->ca.key_type, "ecdsa-p256");
  EXPECT_EQ(cfg->ca.rotate_before, cfg->ca.intermediate_ttl / 3);
}

TEST(CaConfigTest, NodeRecoveryWindowZeroTurnsRecoveryOff) {
  testing::TempDir dir;
  auto cfg = LoadCaConfig(
      WriteFile(dir, "ca.toml", "trust_domain = \"example.org\"\n[issuance]\nnode_recovery_window = \"0s\"\n"));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->issuance.node_recovery_window, Duration::zero());
}

TEST(CaConfigTest, RotateBeforeDefaultsToAThirdOfTheIntermediateLifetime) {
  testing::TempDir dir;
  auto cfg = LoadCaConfig(WriteFile(dir, "ca.toml", "trust_domain = \"example.org\"\n[ca]\nintermediate_ttl = \"90d\"\n"));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->ca.rotate_before, hours(24 * 30));
  EXPECT_TRUE(cfg->ca.auto_rotate);
  cfg = LoadCaConfig(WriteFile(dir, "off.toml", "trust_domain = \"example.org\"\n[ca]\nauto_rotate = false\n"));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_FALSE(cfg->ca.auto_rotate);
}

TEST(CaConfigTest, ReadsEveryKey) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "ca.toml", R"toml(
trust_domain = "prod.example-1_x"
state_dir = "state"
listen = "[::1]:443"
server_names = ["ca.internal"]
metrics_listen = "localhost:9000"
admin_socket = "/tmp/a.sock"
[ca]
key_type = "rsa-3072"
key_passphrase_file = "pass"
root_ttl = "7300d"
intermediate_ttl = "30d"
rotate_before = "10d"
auto_rotate = false
name_constraints = false
permitted_dns = [".internal"]
permitted_ips = ["10.0.0.0/8", "fd00::/8"]
[issuance]
default_ttl = "2h"
max_ttl = "48h"
min_ttl = "30s"
node_ttl = "12h"
backdate = "5m"
max_token_ttl = "2h"
node_recovery_window = "7d"
[crl]
interval = "5m"
next_update = "2h"
url = "http://ca.internal/crl"
[limits]
sign_per_node_per_minute = 10
enroll_per_ip_per_minute = 2
max_body = 1024
max_connections = 8
allow_cidrs = ["127.0.0.0/8"]
header_timeout = "1s"
body_timeout = "2s"
idle_timeout = "3s"
[tls]
min_version = "1.2"
[[entry]]
spiffe_id = "spiffe://prod.example-1_x/web"
node = "web-*"
dns = ["web.internal"]
ips = ["10.1.2.3", "::1"]
ttl = "1h"
[[entry]]
spiffe_id = "spiffe://prod.example-1_x/db"
node = "db-1"
)toml");
  Result<CaConfig> cfg = LoadCaConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  CaConfig want;
  want.path = path;
  want.trust_domain = "prod.example-1_x";
  want.state_dir = "state";  // kept as written
  want.listen = "[::1]:443";
  want.server_names = {"ca.internal"};
  want.metrics_listen = "localhost:9000";
  want.admin_socket = "/tmp/a.sock";
  // Designated, so that a field added to a struct cannot shift these values.
  want.ca = {.key_type = "rsa-3072",
             .key_passphrase_file = "pass",
             .root_ttl = hours(24 * 7300),
             .intermediate_ttl = hours(24 * 30),
             .rotate_before = hours(24 * 10),
             .auto_rotate = false,
             .name_constraints = false,
             .permitted_dns = {".internal"},
             .permitted_ips = {"10.0.0.0/8", "fd00::/8"}};
  want.issuance = {.default_ttl = hours(2),
                   .max_ttl = hours(48),
                   .min_ttl = seconds(30),
                   .node_ttl = hours(12),
                   .backdate = minutes(5),
                   .max_token_ttl = hours(2),
                   .node_recovery_window = hours(24 * 7)};
  want.crl = {.interval = minutes(5), .next_update = hours(2), .url = "http://ca.internal/crl"};
  want.limits = {.sign_per_node_per_minute = 10,
                 .enroll_per_ip_per_minute = 2,
                 .max_body = 1024,
                 .max_connections = 8,
                 .allow_cidrs = {"127.0.0.0/8"},
                 .header_timeout = seconds(1),
                 .body_timeout = seconds(2),
                 .idle_timeout = seconds(3)};
  want.tls = {.min_version = "1.2"};
  want.entries = {{.spiffe_id = "spiffe://prod.example-1_x/web",
                   .node = "web-*",
                   .dns = {"web.internal"},
                   .ips = {"10.1.2.3", "::1"},
                   .ttl = hours(1)},
                  {.spiffe_id = "spiffe://prod.example-1_x/db", .node = "db-1"}};
  ExpectSameConfig(*cfg, want);
}

TEST(CaConfigTest, InlineTablesAndDottedKeysAreTheSameKeys) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "ca.toml", R"toml(
trust_domain = "example.org"
issuance = { max_ttl = "2h" }
crl.interval = "1m"
entry = [{ spiffe_id = "spiffe://example.org/a", node = "n" }]
)toml");
  Result<CaConfig> cfg = LoadCaConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->issuance.max_ttl, hours(2));
  EXPECT_EQ(cfg->crl.interval, minutes(1));
  ASSERT_EQ(cfg->entries.size(), 1u);
}

TEST(CaConfigTest, ExampleFileLoadsWithTheQuickstartValues) {
  Result<CaConfig> cfg = LoadCaConfig(MAYFLY_SOURCE_DIR "/config/ca.toml");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->trust_domain, "example.org");
  EXPECT_EQ(cfg->state_dir, "./demo/ca");
  EXPECT_EQ(cfg->listen, "127.0.0.1:8443");
  EXPECT_EQ(cfg->server_names, (std::vector<std::string>{"localhost", "127.0.0.1"}));
  EXPECT_EQ(cfg->metrics_listen, "127.0.0.1:9443");
  EXPECT_EQ(cfg->admin_socket, "./demo/ca/admin.sock");
  EXPECT_EQ(cfg->ca.key_passphrase_file, "./demo/ca-passphrase");
  EXPECT_EQ(cfg->issuance.min_ttl, minutes(1));
  ASSERT_EQ(cfg->entries.size(), 2u);
  EXPECT_EQ(cfg->entries[0].spiffe_id, "spiffe://example.org/demo/web");
  EXPECT_EQ(cfg->entries[0].node, "demo-node");
  EXPECT_EQ(cfg->entries[0].dns, std::vector<std::string>{"web.demo.internal"});
  EXPECT_EQ(cfg->entries[0].ttl, minutes(2));
  EXPECT_EQ(cfg->entries[1].spiffe_id, "spiffe://example.org/demo/api");
  EXPECT_EQ(cfg->entries[1].node, "demo-*");
  EXPECT_EQ(cfg->entries[1].ttl, minutes(2));
}

class CaConfigErrorTest : public ConfigErrorTest {};

TEST_P(CaConfigErrorTest, NamesFileKeyLineAndExpectation) { ExpectError("ca.toml"); }

constexpr const char* kDurationShape =
    R"(expected a duration like "90s", "10m", "1h" or "30d")";

INSTANTIATE_TEST_SUITE_P(
    Table, CaConfigErrorTest,
    ::testing::Values(
        ErrorCase{"MissingTrustDomain", "state_dir = \"x\"\n", 0, "trust_domain",
                  "required key is missing"},
        ErrorCase{"EmptyTrustDomain", "trust_domain = \"\"\n", 1, "trust_domain",
                  "expected a non-empty string"},
        ErrorCase{"UppercaseTrustDomain", "trust_domain = \"Example.org\"\n", 1,
                  "trust_domain",
                  "invalid trust domain \"Example.org\": trust domain must be lowercase"},
        ErrorCase{"TrustDomainWithScheme", "trust_domain = \"spiffe://example.org\"\n", 1,
                  "trust_domain", "without \"spiffe://\""},
        ErrorCase{"TrustDomainNotAString", "trust_domain = 7\n", 1, "trust_domain",
                  "expected a string, got integer 7"},
        ErrorCase{"MisspeltKeyBeatsMissingKey", "trust_domian = \"example.org\"\n", 1,
                  "trust_domian",
                  "unknown key; known keys in the top level: trust_domain, state_dir, "
                  "listen, server_names, metrics_listen, admin_socket, ca, issuance, crl, "
                  "limits, ocsp, jwt, tls, store, anomaly, entry"},
        ErrorCase{"AnomalyAction", "trust_domain = \"example.org\"\n[anomaly]\naction = \"ban\"\n", 3,
                  "anomaly.action", R"(expected "alert" or "quarantine", got "ban")"},
        ErrorCase{"AnomalySurgeFactor", "trust_domain = \"example.org\"\n[anomaly]\nsurge_factor = 1.0\n", 3,
                  "anomaly.surge_factor", "expected a number from 1.5 to 1000"},
        ErrorCase{"AnomalyWindow", "trust_domain = \"example.org\"\n[anomaly]\nwindow = \"10s\"\n", 3,
                  "anomaly.window", R"(expected a duration from "1m" to "24h")"},
        ErrorCase{"UnknownKeyInTable",
                  "trust_domain = \"example.org\"\n[issuance]\nmax_tll = \"1h\"\n", 3,
                  "issuance.max_tll",
                  "unknown key; known keys in [issuance]: default_ttl, max_ttl, min_ttl, "
                  "node_ttl, backdate, max_token_ttl, node_recovery_window"},
        ErrorCase{"BadMaxTokenTtl", "trust_domain = \"example.org\"\n[issuance]\nmax_token_ttl = \"0s\"\n", 3,
                  "issuance.max_token_ttl", "expected a duration"},
        ErrorCase{"BadNodeRecoveryWindow",
                  "trust_domain = \"example.org\"\n[issuance]\nnode_recovery_window = \"30 days\"\n", 3,
                  "issuance.node_recovery_window", "expected a duration like \"90s\", \"10m\", \"1h\" or \"30d\""},
        ErrorCase{"NodeRecoveryWindowNotAString",
                  "trust_domain = \"example.org\"\n[issuance]\nnode_recovery_window = 0\n", 3,
                  "issuance.node_recovery_window", "or \"0s\" for off"},
        ErrorCase{"MaxTokenTtlNotAString", "trust_domain = \"example.org\"\n[issuance]\nmax_token_ttl = 24\n", 3,
                  "issuance.max_token_ttl", "expected a duration string"},
        ErrorCase{"UnknownTable", "trust_domain = \"example.org\"\n[issuence]\n", 2,
                  "issuence", "unknown key"},
        ErrorCase{"UnknownKeyInEntry",
                  "trust_domain = \"example.org\"\n"
                  "[[entry]]\nspiffe_id = \"spiffe://example.org/a\"\nnode = \"n\"\n"
                  "[[entry]]\nspiffe_id = \"spiffe://example.org/b\"\nnod = \"n\"\n",
                  7, "entry[1].nod",
                  "unknown key; known keys in [[entry]]: spiffe_id, node, dns, ips, selectors, ttl"},
        ErrorCase{"BadDuration",
                  "trust_domain = \"example.org\"\n[issuance]\nmax_ttl = \"abc\"\n", 3,
                  "issuance.max_ttl", kDurationShape},
        ErrorCase{"BadDurationQuotesTheValue",
                  "trust_domain = \"example.org\"\n[issuance]\nmax_ttl = \"abc\"\n", 3,
                  "issuance.max_ttl", "got \"abc\""},
        ErrorCase{"DurationAsInteger",
                  "trust_domain = \"example.org\"\n[crl]\ninterval = 600\n", 3,
                  "crl.interval", "expected a duration string like \"90s\""},
        ErrorCase{"DurationTooLarge",
                  "trust_domain = \"example.org\"\n[ca]\nroot_ttl = \"99999999d\"\n", 3,
                  "ca.root_ttl", "expected a duration of at most 36500d"},
        ErrorCase{"ControlCharactersAreEscaped",
                  "trust_domain = \"example.org\"\nlisten = \"a\\tb\\\"c\"\n", 2, "listen",
                  R"(got "a\x09b\"c")"},
        ErrorCase{"StringArrayWithANumber",
                  "trust_domain = \"example.org\"\nserver_names = [\"a\", 3]\n", 2,
                  "server_names[1]", "expected a string, got integer 3"},
        ErrorCase{"StringWhereArrayExpected",
                  "trust_domain = \"example.org\"\nserver_names = \"a\"\n", 2,
                  "server_names", "expected an array of strings, got \"a\""},
        ErrorCase{"NoServerNames", "trust_domain = \"example.org\"\nserver_names = []\n", 2,
                  "server_names", "expected at least one DNS name or IP address"},
        ErrorCase{"ListenWithoutPort", "trust_domain = \"example.org\"\nlisten = \"localhost\"\n",
                  2, "listen", "expected \"host:port\" with a port from 0 to 65535"},
        ErrorCase{"ListenNegativePort", "trust_domain = \"example.org\"\nlisten = \"a:-1\"\n", 2,
                  "listen", "got \"a:-1\""},
        ErrorCase{"ListenPortTooLarge",
                  "trust_domain = \"example.org\"\nmetrics_listen = \"a:65536\"\n", 2,
                  "metrics_listen", "port from 0 to 65535"},
        ErrorCase{"ListenBareIpv6", "trust_domain = \"example.org\"\nlisten = \"::1:80\"\n", 2,
                  "listen", "host:port"},
        ErrorCase{"EmptyStateDir", "trust_domain = \"example.org\"\nstate_dir = \"\"\n", 2,
                  "state_dir", "expected a non-empty string"},
        ErrorCase{"TableIsAString", "trust_domain = \"example.org\"\nca = \"x\"\n", 2, "ca",
                  "expected a table, got \"x\""},
        ErrorCase{"BadKeyType",
                  "trust_domain = \"example.org\"\n[ca]\nkey_type = \"rsa-1024\"\n", 3,
                  "ca.key_type",
                  "expected one of ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072, "
                  "rsa-4096, got \"rsa-1024\""},
        ErrorCase{"BoolAsString",
                  "trust_domain = \"example.org\"\n[ca]\nname_constraints = \"no\"\n", 3,
                  "ca.name_constraints", "expected true or false"},
        ErrorCase{"BadPermittedIp",
                  "trust_domain = \"example.org\"\n[ca]\npermitted_ips = [\"10.0.0.0/40\"]\n", 3,
                  "ca.permitted_ips[0]", "expected a CIDR"},
        ErrorCase{"IntermediateOutlivesRoot",
                  "trust_domain = \"example.org\"\n[ca]\nroot_ttl = \"30d\"\n", 3,
                  "ca.root_ttl", "expected at least ca.intermediate_ttl (365d)"},
        ErrorCase{"MinAboveDefault",
                  "trust_domain = \"example.org\"\n[issuance]\nmin_ttl = \"2h\"\n", 3,
                  "issuance.min_ttl", "expected at most issuance.default_ttl (1h)"},
        ErrorCase{"DefaultAboveMax",
                  "trust_domain = \"example.org\"\n[issuance]\ndefault_ttl = \"2h\"\n"
                  "max_ttl = \"90m\"\n",
                  4, "issuance.max_ttl", "expected at least issuance.default_ttl (2h)"},
        ErrorCase{"RotateBeforeNotBelowIntermediate",
                  "trust_domain = \"example.org\"\n[ca]\nintermediate_ttl = \"30d\"\nrotate_before = \"30d\"\n", 3,
                  "ca.intermediate_ttl", "expected more than ca.rotate_before (30d)"},
        ErrorCase{"MaxAboveIntermediate",
                  "trust_domain = \"example.org\"\n[ca]\nintermediate_ttl = \"12h\"\n", 3,
                  "ca.intermediate_ttl", "expected at least issuance.max_ttl (1d)"},
        ErrorCase{"CrlIntervalNotBelowNextUpdate",
                  "trust_domain = \"example.org\"\n[crl]\ninterval = \"1h\"\n", 3,
                  "crl.interval", "expected less than crl.next_update (1h)"},
        ErrorCase{"CrlUrlNotHttp",
                  "trust_domain = \"example.org\"\n[crl]\nurl = \"ftp://x/crl\"\n", 3,
                  "crl.url", "expected an http:// or https:// URL"},
        ErrorCase{"OcspListenNotHostPort",
                  "trust_domain = \"example.org\"\n[ocsp]\nlisten = \"8080\"\n", 3, "ocsp.listen", "host:port"},
        ErrorCase{"OcspUrlNotHttp",
                  "trust_domain = \"example.org\"\n[ocsp]\nurl = \"ldap://x\"\n", 3, "ocsp.url",
                  "expected an http:// or https:// URL"},
        ErrorCase{"OcspValidityTooShort",
                  "trust_domain = \"example.org\"\n[ocsp]\nvalidity = \"30s\"\n", 3, "ocsp.validity",
                  "expected a duration from \"1m\" to \"7d\""},
        ErrorCase{"JwtMaxTtlTooLong",
                  "trust_domain = \"example.org\"\n[jwt]\nmax_ttl = \"2d\"\n", 3, "jwt.max_ttl",
                  "expected a duration from \"10s\" to \"24h\""},
        ErrorCase{"JwtUnknownKey", "trust_domain = \"example.org\"\n[jwt]\nttl = \"5m\"\n", 3, "jwt.ttl",
                  "unknown key; known keys in [jwt]: max_ttl"},
        ErrorCase{"ZeroLimit",
                  "trust_domain = \"example.org\"\n[limits]\nmax_connections = 0\n", 3,
                  "limits.max_connections", "expected a positive integer, got integer 0"},
        ErrorCase{"NegativeLimit", "trust_domain = \"example.org\"\n[limits]\nmax_body = -1\n",
                  3, "limits.max_body", "expected a positive integer"},
        ErrorCase{"LimitAsString",
                  "trust_domain = \"example.org\"\n[limits]\nmax_body = \"64k\"\n", 3,
                  "limits.max_body", "expected a positive integer, got \"64k\""},
        ErrorCase{"LimitTooLargeForInt",
                  "trust_domain = \"example.org\"\n[limits]\n"
                  "sign_per_node_per_minute = 3000000000\n",
                  3, "limits.sign_per_node_per_minute", "at most 2147483647"},
        ErrorCase{"BadAllowCidr",
                  "trust_domain = \"example.org\"\n[limits]\n"
                  "allow_cidrs = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
                  3, "limits.allow_cidrs[1]", "expected a CIDR like \"10.0.0.0/8\""},
        ErrorCase{"TlsVersionUnquoted",
                  "trust_domain = \"example.org\"\n[tls]\nmin_version = 1.2\n", 3,
                  "tls.min_version", "expected \"1.2\" or \"1.3\" (quoted)"},
        ErrorCase{"TlsVersionTooOld",
                  "trust_domain = \"example.org\"\n[tls]\nmin_version = \"1.1\"\n", 3,
                  "tls.min_version", "got \"1.1\""},
        ErrorCase{"EntryNotAnArray",
                  "trust_domain = \"example.org\"\n[entry]\nnode = \"n\"\n", 2, "entry",
                  "expected an array of tables ([[entry]])"},
        ErrorCase{"EntryWithoutSpiffeId",
                  "trust_domain = \"example.org\"\n\n[[entry]]\nnode = \"n\"\n", 3,
                  "entry[0].spiffe_id", "required key is missing"},
        ErrorCase{"EntryWithoutNode",
                  "trust_domain = \"example.org\"\n[[entry]]\n"
                  "spiffe_id = \"spiffe://example.org/a\"\n",
                  2, "entry[0].node", "required key is missing"},
        ErrorCase{"EntrySpiffeIdWithoutScheme",
                  "trust_domain = \"example.org\"\n[[entry]]\nspiffe_id = \"example.org/a\"\n"
                  "node = \"n\"\n",
                  3, "entry[0].spiffe_id", "expected a SPIFFE ID starting with \"spiffe://\""},
        ErrorCase{"EntryBadIp",
                  "trust_domain = \"example.org\"\n[[entry]]\n"
                  "spiffe_id = \"spiffe://example.org/a\"\nnode = \"n\"\nips = [\"300.1.1.1\"]\n",
                  5, "entry[0].ips[0]", "expected an IP address, got \"300.1.1.1\""},
        ErrorCase{"EntryTtlAboveMax",
                  "trust_domain = \"example.org\"\n[[entry]]\n"
                  "spiffe_id = \"spiffe://example.org/a\"\nnode = \"n\"\nttl = \"2d\"\n",
                  5, "entry[0].ttl", "expected at most issuance.max_ttl (1d)"},
        ErrorCase{"EntryTtlBelowMin",
                  "trust_domain = \"example.org\"\n[[entry]]\n"
                  "spiffe_id = \"spiffe://example.org/a\"\nnode = \"n\"\nttl = \"30s\"\n",
                  5, "entry[0].ttl", "expected at least issuance.min_ttl (1m)"}),
    CaseName);





// ---- agent.toml ----

constexpr const char* kAgentBase =
    "server = \"https://ca.internal:8443\"\nca_bundle = \"root.pem\"\n";

TEST(AgentConfigTest, MinimalFileKeepsEveryDefault) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "agent.toml", kAgentBase);
  Result<AgentConfig> cfg = LoadAgentConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  AgentConfig want;
  want.path = path;
  want.servers = {"https://ca.internal:8443"};
  want.ca_bundle = "root.pem";
  ExpectSameConfig(*cfg, want);
  // The defaults DESIGN.md promises.
  EXPECT_DOUBLE_EQ(cfg->renew_at, 0.5);
  EXPECT_EQ(cfg->refresh, minutes(1));
  EXPECT_EQ(cfg->key_type, "ecdsa-p256");
}

TEST(AgentConfigTest, ReadsEveryKey) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "agent.toml", R"toml(
server = "https://127.0.0.1:8443"
ca_fingerprint = "SHA256:AB:cd:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd"
join_token_file = "token"
state_dir = "st"
crl_path = "crl.pem"
bundle_path = "bundle.pem"
crl_on_change = "systemctl reload nginx"
bundle_on_change = "true"
refresh = "30s"
renew_at = 0.7
key_type = "ed25519"
workload_api_socket = "/run/mayfly/agent.sock"
[[workload]]
spiffe_id = "spiffe://example.org/web"
dns = ["web.internal"]
ips = ["10.0.0.1"]
ttl = "2m"
cert = "web.pem"
key = "web.key"
key_type = "ecdsa-p384"
owner = "www-data:www-data"
mode = "0640"
on_renew = "nginx -s reload"
signal = "SIGHUP"
pid_file = "/run/nginx.pid"
[[workload]]
spiffe_id = "spiffe://example.org/api"
cert = "api.pem"
key = "api.key"
mode = 0o644
signal = "usr1"
pid_file = "api.pid"
)toml");
  Result<AgentConfig> cfg = LoadAgentConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  AgentConfig want;
  want.path = path;
  want.servers = {"https://127.0.0.1:8443"};
  want.ca_fingerprint =
      "sha256:abcd00112233445566778899aabbccddeeff00112233445566778899aabbccdd";
  want.join_token_file = "token";
  want.state_dir = "st";
  want.crl_path = "crl.pem";
  want.bundle_path = "bundle.pem";
  want.crl_on_change = "systemctl reload nginx";
  want.bundle_on_change = "true";
  want.refresh = seconds(30);
  want.renew_at = 0.7;
  want.key_type = "ed25519";
  want.workload_api_socket = "/run/mayfly/agent.sock";
  want.workloads = {{.spiffe_id = "spiffe://example.org/web",
                     .dns = {"web.internal"},
                     .ips = {"10.0.0.1"},
                     .ttl = minutes(2),
                     .cert = "web.pem",
                     .key = "web.key",
                     .key_type = "ecdsa-p384",
                     .owner = "www-data:www-data",
                     .mode = 0640,
                     .on_renew = "nginx -s reload",
                     .signal = "HUP",
                     .signal_number = SIGHUP,
                     .pid_file = "/run/nginx.pid"},
                    {.spiffe_id = "spiffe://example.org/api",
                     .cert = "api.pem",
                     .key = "api.key",
                     .mode = 0644,
                     .signal = "USR1",
                     .signal_number = SIGUSR1,
                     .pid_file = "api.pid"}};
  ExpectSameConfig(*cfg, want);
}

TEST(AgentConfigTest, WorkloadDefaults) {
  testing::TempDir dir;
  std::string path = WriteFile(dir, "agent.toml",
                               std::string(kAgentBase) +
                                   "[[workload]]\nspiffe_id = \"spiffe://example.org/a\"\n"
                                   "cert = \"a.pem\"\nkey = \"a.key\"\n");
  Result<AgentConfig> cfg = LoadAgentConfig(path);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  ASSERT_EQ(cfg->workloads.size(), 1u);
  WorkloadConfig want;
  want.spiffe_id = "spiffe://example.org/a";
  want.cert = "a.pem";
  want.key = "a.key";
  EXPECT_TRUE(cfg->workloads[0] == want);
  EXPECT_EQ(cfg->workloads[0].mode, 0600);
  EXPECT_EQ(cfg->workloads[0].ttl, hours(1));
}

TEST(AgentConfigTest, FingerprintFormsAreNormalised) {
  const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  std::string upper_colons;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) upper_colons += ':';
    upper_colons += static_cast<char>(std::toupper(hex[i]));
    upper_colons += static_cast<char>(std::toupper(hex[i + 1]));
  }
  for (const std::string& written :
       {"sha256:" + hex, "sha256:" + upper_colons, "SHA256:" + upper_colons}) {
    testing::TempDir dir;
    std::string path = WriteFile(dir, "agent.toml",
                                 "server = \"https://a:1\"\nca_fingerprint = \"" + written +
                                     "\"\n");
    Result<AgentConfig> cfg = LoadAgentConfig(path);
    ASSERT_TRUE(cfg.has_value()) << written << ": " << cfg.error().message;
    EXPECT_EQ(cfg->ca_fingerprint, "sha256:" + hex);
  }
}

TEST(AgentConfigTest, ExampleFileLoadsWithTheQuickstartValues) {
  Result<AgentConfig> cfg = LoadAgentConfig(MAYFLY_SOURCE_DIR "/config/agent.toml");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->servers, std::vector<std::string>{"https://127.0.0.1:8443"});
  EXPECT_EQ(cfg->ca_bundle, "./demo/ca/root.pem");
  EXPECT_EQ(cfg->ca_fingerprint, "");
  EXPECT_EQ(cfg->join_token_file, "./demo/join-token");
  EXPECT_EQ(cfg->state_dir, "./demo/agent");
  EXPECT_EQ(cfg->crl_path, "./demo/out/crl.pem");
  EXPECT_EQ(cfg->bundle_path, "./demo/out/bundle.pem");
  EXPECT_EQ(cfg->refresh, seconds(30));
  EXPECT_DOUBLE_EQ(cfg->renew_at, 0.5);
  ASSERT_EQ(cfg->workloads.size(), 2u);
  EXPECT_EQ(cfg->workloads[0].spiffe_id, "spiffe://example.org/demo/web");
  EXPECT_EQ(cfg->workloads[0].ttl, minutes(2));
  EXPECT_EQ(cfg->workloads[0].cert, "./demo/out/web.pem");
  EXPECT_EQ(cfg->workloads[0].key, "./demo/out/web.key");
  EXPECT_EQ(cfg->workloads[1].spiffe_id, "spiffe://example.org/demo/api");
  EXPECT_EQ(cfg->workloads[1].ttl, minutes(2));
  EXPECT_EQ(cfg->workloads[1].cert, "./demo/out/api.pem");
  EXPECT_EQ(cfg->workloads[1].key, "./demo/out/api.key");
}

// Both example files describe the same demo: each workload has an entry.
TEST(AgentConfigTest, ExampleWorkloadsMatchExampleEntries) {
  Result<CaConfig> ca = LoadCaConfig(MAYFLY_SOURCE_DIR "/config/ca.toml");
  Result<AgentConfig> agent = LoadAgentConfig(MAYFLY_SOURCE_DIR "/config/agent.toml");
  ASSERT_TRUE(ca.has_value() && agent.has_value());
  for (const WorkloadConfig& w : agent->workloads) {
    bool found = false;
    for (const EntryConfig& e : ca->entries) found = found || e.spiffe_id == w.spiffe_id;
    EXPECT_TRUE(found) << w.spiffe_id;
  }
}

class AgentConfigErrorTest : public ConfigErrorTest {};

TEST_P(AgentConfigErrorTest, NamesFileKeyLineAndExpectation) { ExpectError("agent.toml"); }

// kAgentBase is two lines, so the first line after it is line 3.
#define BASE "server = \"https://ca.internal:8443\"\nca_bundle = \"root.pem\"\n"
#define WORKLOAD                                                                    \
  "[[workload]]\nspiffe_id = \"spiffe://example.org/a\"\ncert = \"a.pem\"\n" \
  "key = \"a.key\"\n"

INSTANTIATE_TEST_SUITE_P(
    Table, AgentConfigErrorTest,
    ::testing::Values(
        ErrorCase{"MissingServer", "ca_bundle = \"r.pem\"\n", 0, "server",
                  "required key is missing"},
        ErrorCase{"ServerNotHttps",
                  "server = \"http://ca:8443\"\nca_bundle = \"r.pem\"\n", 1, "server",
                  "expected an https:// URL"},
        ErrorCase{"NoTrustAnchor", "server = \"https://ca:8443\"\n", 0, "ca_fingerprint",
                  "required key is missing (or ca_bundle)"},
        ErrorCase{"BothTrustAnchors",
                  BASE "ca_fingerprint = \"sha256:" 
                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n",
                  2, "ca_bundle", "expected either ca_fingerprint or ca_bundle, not both"},
        ErrorCase{"ShortFingerprint",
                  "server = \"https://ca:1\"\nca_fingerprint = \"sha256:abcd\"\n", 2,
                  "ca_fingerprint", "expected \"sha256:\" and 64 hex digits"},
        ErrorCase{"FingerprintWithoutPrefix",
                  "server = \"https://ca:1\"\nca_fingerprint = "
                  "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n",
                  2, "ca_fingerprint", "expected \"sha256:\""},
        ErrorCase{"FingerprintWithStrayColon",
                  "server = \"https://ca:1\"\nca_fingerprint = "
                  "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde:f\"\n",
                  2, "ca_fingerprint", "64 hex digits"},
        ErrorCase{"RenewAtOne", BASE "renew_at = 1\n", 3, "renew_at",
                  "expected a number strictly between 0 and 1, like 0.5, got integer 1"},
        ErrorCase{"RenewAtZero", BASE "renew_at = 0.0\n", 3, "renew_at",
                  "strictly between 0 and 1"},
        ErrorCase{"RenewAtNan", BASE "renew_at = nan\n", 3, "renew_at",
                  "strictly between 0 and 1"},
        ErrorCase{"RenewAtString", BASE "renew_at = \"0.5\"\n", 3, "renew_at",
                  "expected a number, got \"0.5\""},
        ErrorCase{"BadRefresh", BASE "refresh = \"1.5m\"\n", 3, "refresh", kDurationShape},
        ErrorCase{"BadNodeKeyType", BASE "key_type = \"ecdsa\"\n", 3, "key_type",
                  "expected one of ecdsa-p256"},
        ErrorCase{"HookWithoutFile", BASE "crl_on_change = \"true\"\n", 3, "crl_on_change",
                  "expected only together with crl_path"},
        ErrorCase{"UnknownTopLevelKey", BASE "refresh_every = \"1m\"\n", 3, "refresh_every",
                  "unknown key; known keys in the top level: server, servers, ca_fingerprint, "
                  "ca_bundle, join_token_file, state_dir, crl_path, bundle_path, "
                  "crl_on_change, bundle_on_change, refresh, renew_at, key_type, "
                  "workload_api_socket, workload"},
        ErrorCase{"WorkloadApiSocketTooLong",
                  BASE "workload_api_socket = \"/run/sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss\"\n", 3,
                  "workload_api_socket", "expected a unix socket path of at most 107 bytes"},
        ErrorCase{"WorkloadApiSocketEmpty", BASE "workload_api_socket = \"\"\n", 3,
                  "workload_api_socket", "expected a non-empty string"},
        ErrorCase{"UnknownWorkloadKey", BASE WORKLOAD "sigal = \"HUP\"\n", 7,
                  "workload[0].sigal",
                  "unknown key; known keys in [[workload]]: spiffe_id, dns, ips, ttl, cert, "
                  "key, key_type, owner, mode, on_renew, signal, pid_file"},
        ErrorCase{"WorkloadWithoutCert",
                  BASE "[[workload]]\nspiffe_id = \"spiffe://example.org/a\"\nkey = \"k\"\n",
                  3, "workload[0].cert", "required key is missing"},
        ErrorCase{"WorkloadSpiffeIdWithoutScheme",
                  BASE "[[workload]]\nspiffe_id = \"/a\"\ncert = \"c\"\nkey = \"k\"\n", 4,
                  "workload[0].spiffe_id", "expected a SPIFFE ID starting with \"spiffe://\""},
        ErrorCase{"WorkloadKeyIsCert",
                  BASE "[[workload]]\nspiffe_id = \"spiffe://e/a\"\ncert = \"c\"\nkey = \"c\"\n",
                  6, "workload[0].key", "expected a different file than cert"},
        ErrorCase{"TwoWorkloadsOneFile", BASE WORKLOAD WORKLOAD, 9, "workload[1].cert",
                  "expected a file no other workload writes (workload[0].cert writes it "
                  "too)"},
        ErrorCase{"DecimalMode", BASE WORKLOAD "mode = 640\n", 7, "workload[0].mode",
                  "expected a file mode of 3 or 4 octal digits like \"0640\" (or the integer "
                  "0o640), got integer 640"},
        ErrorCase{"NonOctalMode", BASE WORKLOAD "mode = \"0980\"\n", 7, "workload[0].mode",
                  "got \"0980\""},
        ErrorCase{"LongMode", BASE WORKLOAD "mode = \"00640\"\n", 7, "workload[0].mode",
                  "3 or 4 octal digits"},
        ErrorCase{"ModeTooLarge", BASE WORKLOAD "mode = 0o17777\n", 7, "workload[0].mode",
                  "octal digits"},
        ErrorCase{"UnknownSignal", BASE WORKLOAD "signal = \"KILL\"\npid_file = \"p\"\n", 7,
                  "workload[0].signal",
                  "expected one of HUP, INT, TERM, USR1, USR2, QUIT, got \"KILL\""},
        ErrorCase{"SignalWithoutPidFile", BASE WORKLOAD "signal = \"HUP\"\n", 3,
                  "workload[0].pid_file", "required when signal is set"},
        ErrorCase{"PidFileWithoutSignal", BASE WORKLOAD "pid_file = \"p\"\n", 7,
                  "workload[0].pid_file", "expected only together with signal"},
        ErrorCase{"BadOwner", BASE WORKLOAD "owner = \"a:b:c\"\n", 7, "workload[0].owner",
                  "expected \"user\" or \"user:group\""},
        ErrorCase{"WorkloadIpNotAnAddress", BASE WORKLOAD "ips = [\"10.0.0.0/8\"]\n", 7,
                  "workload[0].ips[0]", "expected an IP address"},
        ErrorCase{"WorkloadDnsNotStrings", BASE WORKLOAD "dns = [true]\n", 7,
                  "workload[0].dns[0]", "expected a string, got boolean true"},
        ErrorCase{"WorkloadIsATable", BASE "[workload]\ncert = \"c\"\n", 3, "workload",
                  "expected an array of tables ([[workload]])"}),
    CaseName);

#undef BASE
#undef WORKLOAD

// ---- both files ----

TEST(ConfigFileTest, MissingFileSaysCannotRead) {
  for (const char* file : {"ca.toml", "agent.toml"}) {
    testing::TempDir dir;
    std::string path = dir.File(file);
    std::optional<Error> error = LoadError(path);
    ASSERT_TRUE(error.has_value()) << file;
    EXPECT_EQ(error->code, ErrorCode::kConfig);
    EXPECT_EQ(error->message, path + ": cannot read: No such file or directory");
  }
}

TEST(ConfigFileTest, DirectorySaysCannotRead) {
  testing::TempDir dir;
  Result<CaConfig> cfg = LoadCaConfig(dir.path());
  ASSERT_FALSE(cfg.has_value());
  EXPECT_EQ(cfg.error().message, dir.path() + ": cannot read: Is a directory");
}

// A syntax error has no key: "<file>:<line>: <toml++'s description> (column N)".
TEST(ConfigFileTest, SyntaxErrorGivesLineAndDescription) {
  const struct {
    const char* file;
    const char* toml;
    int line;
    const char* description;
  } cases[] = {
      {"ca.toml", "trust_domain = \"example.org\"\n\n[ca\n", 3, "table header"},
      {"ca.toml", "trust_domain = \"a\"\ntrust_domain = \"b\"\n", 2, "trust_domain"},
      {"agent.toml", "server = \"https://a:1\"\nrenew_at = \n", 2, "expected value"},
      {"agent.toml", "server = \"https://a:1\"\nrefresh = \"1m\n", 2, "string"},
  };
  for (const auto& c : cases) {
    testing::TempDir dir;
    std::string path = WriteFile(dir, c.file, c.toml);
    std::optional<Error> error = LoadError(path);
    ASSERT_TRUE(error.has_value()) << c.toml;
    EXPECT_EQ(error->code, ErrorCode::kConfig);
    const std::string& message = error->message;
    EXPECT_EQ(message.rfind(path + ":" + std::to_string(c.line) + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(c.description), std::string::npos) << message;
    EXPECT_NE(message.find("(column "), std::string::npos) << message;
  }
}



}  // namespace config_test
}  // namespace mayfly
