// LoadAgentConfig: defaults, every key, the example file, and errors that
// name the file, the key, the line and what was expected.
#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <optional>
#include <string>

#include "agent_config.h"
#include "mayfly/config.h"
#include "support/config_cases.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace agent_config_test {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::CaseName;
using testing::ErrorCase;
using testing::WriteFile;

constexpr const char* kDurationShape = R"(expected a duration like "90s", "10m", "1h" or "30d")";

// Compares part by part first, so that a failure says where they differ.
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
  // The defaults docs/configuration.md promises.
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

class AgentConfigErrorTest : public testing::ConfigErrorTest<&LoadAgentConfig> {};

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

// ---- the file itself ----

TEST(AgentConfigFileTest, MissingFileSaysCannotRead) {
  testing::ExpectMissingFileSaysCannotRead<&LoadAgentConfig>("agent.toml");
}

TEST(AgentConfigFileTest, SyntaxErrorGivesLineAndDescription) {
  const testing::SyntaxErrorCase cases[] = {
      {"agent.toml", "server = \"https://a:1\"\nrenew_at = \n", 2, "expected value"},
      {"agent.toml", "server = \"https://a:1\"\nrefresh = \"1m\n", 2, "string"},
  };
  for (const auto& c : cases) testing::ExpectSyntaxError<&LoadAgentConfig>(c);
}

}  // namespace agent_config_test
}  // namespace mayfly
