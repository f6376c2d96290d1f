// LoadCaConfig: defaults, every key, the example file, and errors that name
// the file, the key, the line and what was expected.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "mayfly/config.h"
#include "support/config_cases.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace config_test {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::CaseName;
using testing::ErrorCase;
using testing::WriteFile;

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
  // The defaults docs/configuration.md promises.
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

class CaConfigErrorTest : public testing::ConfigErrorTest<&LoadCaConfig> {};

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

// ---- the file itself ----

TEST(ConfigFileTest, MissingFileSaysCannotRead) { testing::ExpectMissingFileSaysCannotRead<&LoadCaConfig>("ca.toml"); }

TEST(ConfigFileTest, DirectorySaysCannotRead) {
  testing::TempDir dir;
  Result<CaConfig> cfg = LoadCaConfig(dir.path());
  ASSERT_FALSE(cfg.has_value());
  EXPECT_EQ(cfg.error().message, dir.path() + ": cannot read: Is a directory");
}

TEST(ConfigFileTest, SyntaxErrorGivesLineAndDescription) {
  const testing::SyntaxErrorCase cases[] = {
      {"ca.toml", "trust_domain = \"example.org\"\n\n[ca\n", 3, "table header"},
      {"ca.toml", "trust_domain = \"a\"\ntrust_domain = \"b\"\n", 2, "trust_domain"},
  };
  for (const auto& c : cases) testing::ExpectSyntaxError<&LoadCaConfig>(c);
}

}  // namespace config_test
}  // namespace mayfly
