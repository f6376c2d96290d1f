// Node recovery against the real daemon: an agent whose node certificate
// expired gets back without a join token; the CA refuses recovery after the
// window, for a banned or revoked node, with the off switch, for a replayed
// challenge and for a signature by another key.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <optional>

#include "mayfly/clock.h"
#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/signature.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/tcp_relay.h"
#include "support/wait.h"

namespace mayfly {
namespace node_recovery_test {

namespace json = boost::json;
using testing::kAgentBinary;
using testing::RunCommand;

constexpr const char* kNodeId = "spiffe://example.org/mayfly/node/node-1";

// The node certificate as the CA answered it, with its key.
struct Enrolled {
  std::string cert_pem;
  OsslPtr<EVP_PKEY> key;
};

class NodeRecoveryTest : public ::testing::Test {
 protected:
  // Node certificates live 3 s (1 s backdated), so tests wait seconds, not
  // hours, for one to expire.
  void StartCa(const std::string& window) {
    ca_.Init("[issuance]\nmin_ttl = \"1s\"\nnode_ttl = \"3s\"\nbackdate = \"1s\"\nnode_recovery_window = \"" +
             window + "\"\n");
    ca_.Start();
  }
  void TearDown() override { ca_.Stop(); }
  std::string Path(const std::string& name) const { return ca_.Path(name); }

  net::HttpClient Client() {
    net::ClientTlsConfig tls;
    tls.trust_pem = ReadFile(ca_.Path("ca/root.pem")).value();
    return net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext(tls).value()).value();
  }
  static std::string Csr(const EVP_PKEY* key) { return MakeCsrPem(key, {kNodeId}, {}, {}).value(); }

  // An agent (agent.toml, state in "agent") enrolled as node-1 with the
  // join token in "token".
  void EnrollAgent() {
    const std::string fingerprint = ca_.WriteToken("node-1", Path("token"));
    testing::WriteTextFile(Path("agent.toml"), ca_.AgentTomlHead(fingerprint));
    std::filesystem::create_directories(Path("out"));
    auto enrolled = Once();
    ASSERT_EQ(enrolled.status, 0) << enrolled.output;
  }
  testing::CommandResult Once() { return RunCommand(kAgentBinary + " once --config " + Path("agent.toml")); }

  // Enrolls node-1 over the API with a new join token.
  Enrolled Enroll() {
    ca_.WriteToken("node-1", Path("direct-token"));
    std::string token = ReadFile(Path("direct-token")).value();
    token.pop_back();
    Enrolled out{.key = GenerateKey(KeyType::kEcdsaP256).value()};
    auto response = Client().Request("POST", "/v1/enroll",
                                     json::serialize(json::object{{"token", token}, {"csr", Csr(out.key.get())}}));
    EXPECT_TRUE(response && response->status == 200) << (response ? response->body : response.error().ToString());
    auto answer = response ? net::ParseCertificateAnswer(response->body, "enroll") : Result<net::CertificateAnswer>{};
    if (answer) out.cert_pem = answer->certificate;
    return out;
  }
  // Waits (at most 10 s) until the certificate in `pem` has been expired for `past`.
  static bool WaitForExpiry(const std::string& pem, std::chrono::seconds past = std::chrono::seconds(0)) {
    auto cert = CertFromPem(pem);
    if (!cert) return false;
    const TimePoint not_after = CertNotAfter(cert->get());
    return testing::WaitUntil([&] { return SystemClock::Instance().Now() > not_after + past; },
                              std::chrono::seconds(10), std::chrono::milliseconds(100));
  }

  Result<net::HttpResponse> AskChallenge() {
    return Client().Request("POST", std::string(net::kRecoverChallengePath), "{}");
  }
  std::string Challenge() {
    auto response = AskChallenge();
    EXPECT_TRUE(response && response->status == 200) << (response ? response->body : response.error().ToString());
    if (!response || response->status != 200) return "";
    return std::string(json::parse(response->body).as_object().at("challenge").as_string());
  }
  // POST /v1/node/recover for `cert_pem` with a new key's CSR, signed by `signer`.
  net::HttpResponse Recover(const std::string& cert_pem, const EVP_PKEY* signer, const std::string& challenge) {
    auto fresh = GenerateKey(KeyType::kEcdsaP256).value();
    const std::string csr = Csr(fresh.get());
    const std::string signature = SignMessage(signer, net::RecoveryMessage(challenge, csr)).value();
    auto response = Client().Request(
        "POST", std::string(net::kRecoverPath),
        json::serialize(json::object{
            {"cert", cert_pem}, {"challenge", challenge}, {"signature", EncodeBase64(signature)}, {"csr", csr}}));
    EXPECT_TRUE(response) << response.error().ToString();
    return response ? *response : net::HttpResponse{};
  }
  static std::string Code(const net::HttpResponse& response) {
    return std::string(ErrorCodeName(net::ReadApiError(response, "recover").error.code));
  }
  std::string Audit() { return ca_.Cli("--json audit").output; }

  // Enrolls node-1, runs `revoke` (with the certificate's serial appended
  // when it ends in --serial), waits for the certificate to expire and asks
  // to recover it: 403 recovery_refused saying `why`, audited, and that a
  // new join token is needed.
  void ExpectRefusedAfterRevoke(const std::string& revoke, const std::string& why) {
    Enrolled node = Enroll();
    ASSERT_FALSE(node.cert_pem.empty());
    const std::string serial = CertSerialHex(CertFromPem(node.cert_pem).value().get());
    auto revoked = ca_.Cli(revoke.ends_with("--serial") ? revoke + " " + serial : revoke);
    ASSERT_EQ(revoked.status, 0) << revoked.output;
    ASSERT_TRUE(WaitForExpiry(node.cert_pem));
    auto refused = Recover(node.cert_pem, node.key.get(), Challenge());
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(Code(refused), "recovery_refused") << refused.body;
    EXPECT_NE(refused.body.find(why), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("new join token"), std::string::npos) << refused.body;
    EXPECT_NE(Audit().find("\"recovery_refused\""), std::string::npos);
  }

  testing::CaFixture ca_;
};

TEST_F(NodeRecoveryTest, AnAgentRecoversItsExpiredNodeCertificateWithoutAToken) {
  StartCa("30d");
  EnrollAgent();
  if (HasFatalFailure()) return;
  const std::string old_pem = ReadFile(Path("agent/node.pem")).value();
  const std::string old_key = ReadFile(Path("agent/node.key")).value();
  // No token to fall back on: only recovery can bring the node back.
  std::filesystem::remove(Path("token"));
  ASSERT_TRUE(WaitForExpiry(old_pem));

  auto recovered = Once();
  ASSERT_EQ(recovered.status, 0) << recovered.output;
  EXPECT_NE(recovered.output.find("recovered with"), std::string::npos) << recovered.output;
  const std::string new_pem = ReadFile(Path("agent/node.pem")).value();
  auto new_cert = CertFromPem(new_pem).value();
  auto old_cert = CertFromPem(old_pem).value();
  EXPECT_NE(CertSerialHex(new_cert.get()), CertSerialHex(old_cert.get()));
  EXPECT_EQ(CertSpiffeId(new_cert.get()), kNodeId);
  EXPECT_GT(CertNotAfter(new_cert.get()), SystemClock::Instance().Now());
  EXPECT_NE(ReadFile(Path("agent/node.key")).value(), old_key) << "recovery must use a new key";
  struct stat st{};
  ASSERT_EQ(stat(Path("agent/node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const std::string audit = Audit();
  EXPECT_NE(audit.find("\"recover\""), std::string::npos) << audit;
  EXPECT_NE(audit.find(CertSerialHex(old_cert.get())), std::string::npos) << audit;
  auto metrics = net::HttpClient::ForUrl(ca_.metrics_url(), nullptr).value().Request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("mayfly_issuances_total{route=\"recover\",result=\"ok\"} 1"), std::string::npos)
      << metrics->body;
}

// `mayfly-agent run` whose CA was unreachable across its node certificate's
// expiry recovers in a later pass, once the CA answers again.
TEST_F(NodeRecoveryTest, ARunningAgentRecoversOnceTheCaIsBack) {
  StartCa("30d");
  const std::string api = ca_.api();
  testing::TcpRelay relay(static_cast<uint16_t>(std::stoi(api.substr(api.rfind(':') + 1))));
  ASSERT_TRUE(relay.Start());
  std::string head = ca_.AgentTomlHead(ca_.WriteToken("node-1", Path("token")));
  head.replace(head.find(api), api.size(), relay.url());
  testing::WriteTextFile(Path("agent.toml"), head);
  std::filesystem::create_directories(Path("out"));
  auto agent = testing::ChildProcess::Start({kAgentBinary, "run", "--config", Path("agent.toml")});
  ASSERT_TRUE(agent);
  ASSERT_TRUE(agent->WaitForLineContaining("enrolled with")) << agent->output();
  // Cut at once, long before the first renewal is due (half the lifetime):
  // no renewal is in flight, so the certificate on disk is the node's latest.
  const uint16_t port = relay.port();
  relay.Kill();
  std::filesystem::remove(Path("token"));
  ASSERT_TRUE(WaitForExpiry(ReadFile(Path("agent/node.pem")).value()));
  ASSERT_TRUE(relay.Start(port));
  ASSERT_TRUE(agent->WaitForLineContaining("recovered with")) << agent->output();
  auto cert = CertFromPem(ReadFile(Path("agent/node.pem")).value()).value();
  EXPECT_GT(CertNotAfter(cert.get()), SystemClock::Instance().Now());
  EXPECT_EQ(agent->Stop(SIGTERM), 0) << agent->output();
}

TEST_F(NodeRecoveryTest, AfterTheWindowTheAgentNeedsANewToken) {
  StartCa("1s");
  EnrollAgent();
  if (HasFatalFailure()) return;
  const std::string old_pem = ReadFile(Path("agent/node.pem")).value();
  ASSERT_TRUE(WaitForExpiry(old_pem, std::chrono::seconds(2)));

  // The used token is still in the file: the agent says a new one is needed.
  auto refused = Once();
  EXPECT_NE(refused.status, 0) << refused.output;
  EXPECT_NE(refused.output.find("refused to recover"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("node_recovery_window"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("new join token"), std::string::npos) << refused.output;
  EXPECT_EQ(ReadFile(Path("agent/node.pem")).value(), old_pem);

  // A new token: the agent falls back on it.
  ca_.WriteToken("node-1", Path("token"));
  auto enrolled_again = Once();
  ASSERT_EQ(enrolled_again.status, 0) << enrolled_again.output;
  EXPECT_NE(ReadFile(Path("agent/node.pem")).value(), old_pem);
}

TEST_F(NodeRecoveryTest, AChallengeRecoversOnceAndOnlyWithTheNodeKey) {
  StartCa("30d");
  Enrolled node = Enroll();
  ASSERT_FALSE(node.cert_pem.empty());
  ASSERT_TRUE(WaitForExpiry(node.cert_pem));

  // A signature by another key is refused, and leaves the challenge unspent.
  const std::string challenge = Challenge();
  auto other = GenerateKey(KeyType::kEcdsaP256).value();
  auto forged = Recover(node.cert_pem, other.get(), challenge);
  EXPECT_EQ(forged.status, 401) << forged.body;
  EXPECT_EQ(Code(forged), "unauthenticated") << forged.body;

  auto ok = Recover(node.cert_pem, node.key.get(), challenge);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(net::ParseCertificateAnswer(ok.body, "recover").value().spiffe_id, kNodeId);

  // The same challenge again (a replayed request): refused.
  auto replayed = Recover(node.cert_pem, node.key.get(), challenge);
  EXPECT_EQ(replayed.status, 401) << replayed.body;
  EXPECT_EQ(Code(replayed), "unauthenticated") << replayed.body;
  // A fresh challenge does not bring back a superseded certificate either.
  auto superseded = Recover(node.cert_pem, node.key.get(), Challenge());
  EXPECT_EQ(superseded.status, 403) << superseded.body;
  EXPECT_EQ(Code(superseded), "recovery_refused") << superseded.body;
  EXPECT_NE(Audit().find("\"unauthenticated\""), std::string::npos);
}

TEST_F(NodeRecoveryTest, ABannedNodeIsRefused) {
  StartCa("30d");
  ExpectRefusedAfterRevoke("revoke --node node-1", "is banned");
}

TEST_F(NodeRecoveryTest, ARevokedNodeCertificateIsRefused) {
  StartCa("30d");
  ExpectRefusedAfterRevoke("revoke --serial", "is revoked");
}

TEST_F(NodeRecoveryTest, AZeroWindowTurnsRecoveryOff) {
  StartCa("0s");
  auto response = AskChallenge();
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 403) << response->body;
  EXPECT_EQ(Code(*response), "recovery_refused") << response->body;
  EXPECT_NE(response->body.find("node_recovery_window"), std::string::npos) << response->body;
}

}  // namespace node_recovery_test
}  // namespace mayfly
