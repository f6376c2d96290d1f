// Two real daemons on one PostgreSQL database, as two CA hosts run them:
// one `init`, two `serve`s, and every promise holding across them. The
// daemons reach the database through a relay the test can cut, so "the
// database goes away" is a real dropped connection, not a mock.
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <regex>
#include <set>

#include "mayfly/clock.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/signature.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/child_process.h"
#include "support/lapse_watch.h"
#include "support/pg_test_schema.h"
#include "support/tcp_relay.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"
#include "support/wait.h"

namespace mayfly {
namespace ha_daemons_test {

namespace json = boost::json;
using namespace std::chrono_literals;
const std::string kBinary = std::string(MAYFLY_BINARY_DIR) + "/daemon/mayfly-ca";

// One `mayfly-ca serve` with its own state directory, admin socket and ports.
struct Instance {
  std::string name;
  std::string config;
  std::unique_ptr<testing::ChildProcess> process;
  std::string api;      // https://127.0.0.1:port
  std::string metrics;  // http://127.0.0.1:port
  std::string ocsp;     // http://127.0.0.1:port/ocsp (plain HTTP)
};

class HaDaemonsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::PgTestSchema::NotConfigured(); !why.empty()) {
      if (testing::PgTestSchema::Required()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    auto schema = testing::PgTestSchema::Create();
    ASSERT_TRUE(schema) << schema.error().ToString();
    schema_ = std::move(*schema);
    // postgresql://user@127.0.0.1:PORT/db?options=...: the daemons go through the relay.
    std::smatch m;
    const std::string url = schema_->url();
    ASSERT_TRUE(std::regex_search(url, m, std::regex(R"(127\.0\.0\.1:(\d+))"))) << url;
    relay_ = std::make_unique<testing::TcpRelay>(static_cast<uint16_t>(std::stoi(m[1])));
    ASSERT_TRUE(relay_->Start());
    url_ = m.prefix().str() + "127.0.0.1:" + std::to_string(relay_->port()) + m.suffix().str();
    testing::WriteTextFile(Path("pass"), "correct horse battery staple\n");
    ::chmod(Path("pass").c_str(), 0600);

    a_ = Configure("a");
    b_ = Configure("b");
    auto init = Cli(a_, "--json init");
    ASSERT_EQ(init.status, 0) << init.output;
    fingerprint_ = std::string(json::parse(init.output).as_object().at("ca_fingerprint").as_string());
    auto again = Cli(b_, "--json init");
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_TRUE(json::parse(again.output).as_object().at("existed").as_bool()) << again.output;
    Start(a_);
    Start(b_);
  }

  void TearDown() override {
    for (Instance* instance : {&a_, &b_}) {
      if (instance->process) instance->process->Stop(SIGTERM);
    }
  }

  std::string Path(const std::string& name) const { return dir_.File(name); }

  Instance Configure(const std::string& name) {
    Instance instance{.name = name, .config = Path("ca-" + name + ".toml")};
    testing::WriteTextFile(instance.config,
                           "trust_domain = \"example.org\"\n"
                           "state_dir = \"" + Path("state-" + name) + "\"\n"
                           "listen = \"127.0.0.1:0\"\n"
                           "metrics_listen = \"127.0.0.1:0\"\n"
                           "admin_socket = \"" + Path(name + ".sock") + "\"\n"
                           "server_names = [\"localhost\", \"127.0.0.1\"]\n"
                           "[ca]\nkey_passphrase_file = \"" + Path("pass") + "\"\n"
                           "[issuance]\nmin_ttl = \"10s\"\nnode_ttl = \"20s\"\nbackdate = \"1s\"\n"
                           "[ocsp]\nlisten = \"127.0.0.1:0\"\n"
                           "[store]\nbackend = \"postgresql\"\nurl = \"" + url_ + "\"\n"
                           "password_file = \"" + schema_->password_file() + "\"\n"
                           "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n");
    return instance;
  }

  void Start(Instance& instance) {
    instance.process = testing::ChildProcess::Start({kBinary, "serve", "--config", instance.config});
    ASSERT_TRUE(instance.process);
    auto ready = instance.process->WaitForLine("ready ");
    ASSERT_TRUE(ready) << instance.process->output();
    auto port_after = [&](const std::string& key) {
      size_t at = ready->find(key) + key.size();
      return ready->substr(at, ready->find_first_of(" \n", at) - at);
    };
    instance.api = "https://127.0.0.1:" + port_after("api=127.0.0.1:");
    instance.metrics = "http://127.0.0.1:" + port_after("metrics=127.0.0.1:");
    instance.ocsp = "http://127.0.0.1:" + port_after("ocsp=127.0.0.1:") + "/ocsp";
  }

  testing::CommandResult Cli(const Instance& instance, const std::string& args) {
    return testing::RunCommand(kBinary + " --config " + instance.config + " " + args);
  }

  // curl; returns the HTTP status, the body lands in `out`.
  int Curl(const std::string& args, const std::string& out) {
    auto r = testing::RunCommand("curl -s -o " + Path(out) + " -w '%{http_code}' --cacert " +
                                 Path("state-a/root.pem") + " " + args);
    return std::atoi(r.output.c_str());
  }
  int Post(const Instance& to, const std::string& route, const json::object& body, const std::string& out,
           const std::string& creds = "") {
    testing::WriteTextFile(Path(out + ".req"), json::serialize(body));
    return Curl(creds + " -X POST --data @" + Path(out + ".req") + " " + to.api + route, out);
  }
  json::object ReadJson(const std::string& name) { return json::parse(ReadFile(Path(name)).value()).as_object(); }
  std::string ErrorCodeIn(const std::string& name) {
    return std::string(ReadJson(name).at("error").as_object().at("code").as_string());
  }
  std::string Csr(const std::string& name, const std::string& san = "") {
    return testing::OpensslCsr(Path(name + ".key"), Path(name + ".csr"), san);
  }
  std::string Token(const Instance& on, const std::string& node) {
    auto token = Cli(on, "--json token create --node " + node);
    EXPECT_EQ(token.status, 0) << token.output;
    return std::string(json::parse(token.output).as_object().at("token").as_string());
  }
  // Enrolls `node` at `at` with a token made on `token_on`; its certificate
  // and chain land in <node>.pem, its key in <node>.key.
  void Enroll(const Instance& token_on, const Instance& at, const std::string& node) {
    ASSERT_EQ(Post(at, "/v1/enroll", {{"token", Token(token_on, node)}, {"csr", Csr(node)}}, node + ".json"), 200)
        << ReadFile(Path(node + ".json")).value_or("");
    auto cert = ReadJson(node + ".json");
    testing::WriteTextFile(Path(node + ".pem"), std::string(cert.at("certificate").as_string()) +
                                                   std::string(cert.at("chain").as_string()));
  }
  std::string Creds(const std::string& node) { return "--cert " + Path(node + ".pem") + " --key " + Path(node + ".key"); }
  // Signs spiffe://example.org/web at `at` as `node`; the serial, or "" when refused.
  std::string SignWeb(const Instance& at, const std::string& node, const std::string& out) {
    if (Post(at, "/v1/sign", {{"csr", Csr(out, "URI:spiffe://example.org/web")}, {"ttl", "5m"}}, out + ".json",
             Creds(node)) != 200) {
      return "";
    }
    return std::string(ReadJson(out + ".json").at("serial").as_string());
  }
  // The text of `instance`'s current CRLs (openssl crl -text).
  std::string CrlText(const Instance& instance, const std::string& out) {
    if (Curl(instance.api + "/v1/crl", out) != 200) return "";
    return testing::RunCommand("openssl crl -inform DER -noout -text -in " + Path(out)).output;
  }
  int64_t CrlNumber(const Instance& instance, const std::string& out) {
    std::smatch m;
    const std::string text = CrlText(instance, out);
    if (!std::regex_search(text, m, std::regex(R"(X509v3 CRL Number:\s*\n\s*(\d+))"))) return -1;
    return std::stoll(m[1]);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PgTestSchema> schema_;
  std::unique_ptr<testing::TcpRelay> relay_;
  std::string url_;
  std::string fingerprint_;
  Instance a_, b_;
};

TEST_F(HaDaemonsTest, OneInitThenBothInstancesIssueUnderTheSameCa) {
  // The second init found the CA and made nothing: both serve one root.
  ASSERT_EQ(Curl(a_.api + "/v1/bundle", "bundle-a.pem"), 200);
  ASSERT_EQ(Curl(b_.api + "/v1/bundle", "bundle-b.pem"), 200);
  EXPECT_EQ(ReadFile(Path("bundle-a.pem")).value(), ReadFile(Path("bundle-b.pem")).value());
  EXPECT_NE(::access(Path("state-a/intermediate.key").c_str(), F_OK), 0);  // the keys live in the database only

  // Token on A, enrollment at B, issuance at A with B's node certificate.
  Enroll(a_, b_, "node-1");
  const std::string serial = SignWeb(a_, "node-1", "web");
  ASSERT_FALSE(serial.empty()) << ReadFile(Path("web.json")).value_or("");
  testing::WriteTextFile(Path("web.pem"), std::string(ReadJson("web.json").at("certificate").as_string()));
  auto verify = testing::RunCommand("openssl verify -CAfile " + Path("bundle-b.pem") + " -untrusted " +
                                    Path("node-1.pem") + " " + Path("web.pem"));
  EXPECT_EQ(verify.status, 0) << verify.output;
  // Each instance lists what the other issued.
  auto certs = Cli(b_, "--json certs");
  EXPECT_NE(certs.output.find(serial), std::string::npos) << certs.output;
}

TEST_F(HaDaemonsTest, ARevocationOnOneIsInTheOthersCrlAndEnforcedWithinTwoSeconds) {
  Enroll(a_, a_, "node-1");
  const std::string serial = SignWeb(b_, "node-1", "web");
  ASSERT_FALSE(serial.empty());
  (void)CrlText(b_, "before.crl");  // B has served a CRL without it

  ASSERT_EQ(Cli(a_, "revoke --serial " + serial).status, 0);
  const auto revoked_at = std::chrono::steady_clock::now();
  std::string upper = serial;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(testing::WaitUntil([&] { return CrlText(b_, "b.crl").find(upper) != std::string::npos; }, 2s, 50ms))
      << "B's CRL does not list " << serial << " 2 s after A revoked it";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - revoked_at);
  RecordProperty("revocation_to_other_crl_ms", std::to_string(took.count()));

  // A node revoked (and banned) on A is refused by B within 2 s.
  ASSERT_EQ(Cli(a_, "revoke --node node-1").status, 0);
  EXPECT_TRUE(testing::WaitUntil([&] { return SignWeb(b_, "node-1", "after").empty(); }, 2s, 50ms))
      << "B still signs for a node A banned";
  auto refused = ReadJson("after.json");
  EXPECT_TRUE(refused.contains("error")) << json::serialize(refused);
}

TEST_F(HaDaemonsTest, OneTokenEnrollsOnceWhateverInstanceEachTryReaches) {
  const std::string token = Token(a_, "node-race");
  const std::string csr1 = Csr("race1"), csr2 = Csr("race2");
  testing::WriteTextFile(Path("race-a.req"), json::serialize(json::object{{"token", token}, {"csr", csr1}}));
  testing::WriteTextFile(Path("race-b.req"), json::serialize(json::object{{"token", token}, {"csr", csr2}}));
  auto post = [&](const Instance& at, const std::string& out) {
    return Curl("-X POST --data @" + Path(out + ".req") + " " + at.api + "/v1/enroll", out);
  };
  auto first = std::async(std::launch::async, [&] { return post(a_, "race-a"); });
  auto second = std::async(std::launch::async, [&] { return post(b_, "race-b"); });
  std::multiset<int> statuses{first.get(), second.get()};
  EXPECT_EQ(statuses.count(200), 1u);
  const std::string loser = ReadJson("race-a").contains("error") ? "race-a" : "race-b";
  EXPECT_EQ(ErrorCodeIn(loser), "invalid_token");
}

// A node recovery challenge handed out by one instance is accepted by the
// other and spent there: the same request sent to the first is refused.
TEST_F(HaDaemonsTest, ARecoveryChallengeFromOneIsSpentOnceAtTheOther) {
  Enroll(a_, a_, "node-away");
  auto cert = CertFromPem(ReadFile(Path("node-away.pem")).value()).value();
  const TimePoint not_after = CertNotAfter(cert.get());
  ASSERT_TRUE(testing::WaitUntil([&] { return SystemClock::Instance().Now() > not_after; }, 30s, 200ms));
  ASSERT_EQ(Post(a_, std::string(net::kRecoverChallengePath), {}, "challenge.json"), 200);
  const std::string challenge(ReadJson("challenge.json").at("challenge").as_string());
  const std::string csr = Csr("node-away-new");
  auto key = LoadKeyFile(Path("node-away.key")).value();
  const std::string signature = SignMessage(key.get(), net::RecoveryMessage(challenge, csr)).value();
  const json::object body{{"cert", CertToPem(cert.get()).value()}, {"challenge", challenge},
                          {"signature", EncodeBase64(signature)}, {"csr", csr}};
  ASSERT_EQ(Post(b_, std::string(net::kRecoverPath), body, "recovered.json"), 200)
      << ReadFile(Path("recovered.json")).value_or("");
  EXPECT_EQ(Post(a_, std::string(net::kRecoverPath), body, "replayed.json"), 401);
  EXPECT_EQ(ErrorCodeIn("replayed.json"), "unauthenticated");
}

TEST_F(HaDaemonsTest, ConcurrentWritersOnBothKeepOneAuditChainAndRisingCrlNumbers) {
  Enroll(a_, a_, "node-1");
  const int64_t before = std::max(CrlNumber(a_, "a0.crl"), CrlNumber(b_, "b0.crl"));
  std::vector<std::future<std::vector<std::string>>> writers;
  for (const Instance* at : {&a_, &b_}) {
    writers.push_back(std::async(std::launch::async, [this, at] {
      std::vector<std::string> serials;
      for (int i = 0; i < 8; ++i) serials.push_back(SignWeb(*at, "node-1", at->name + std::to_string(i)));
      return serials;
    }));
  }
  std::vector<std::string> serials;
  for (auto& w : writers) {
    for (auto& s : w.get()) serials.push_back(s);
  }
  for (const auto& s : serials) ASSERT_FALSE(s.empty());
  // Revocations on both: every CRL signed after is numbered above every one before.
  ASSERT_EQ(Cli(a_, "revoke --serial " + serials[0]).status, 0);
  ASSERT_EQ(Cli(b_, "revoke --serial " + serials[1]).status, 0);
  const int64_t a_after = CrlNumber(a_, "a1.crl"), b_after = CrlNumber(b_, "b1.crl");
  EXPECT_GT(a_after, before);
  EXPECT_GT(b_after, before);
  EXPECT_NE(a_after, b_after);  // one sequence: no number is used twice

  auto verify = Cli(b_, "audit verify");
  EXPECT_EQ(verify.status, 0) << verify.output;
  auto events = Cli(a_, "--json audit --limit 1000");
  ASSERT_EQ(events.status, 0) << events.output;
  for (const auto& s : serials) EXPECT_NE(events.output.find(s), std::string::npos) << s;
}

TEST_F(HaDaemonsTest, WithTheDatabaseAwayBothAnswer503AndServeAgainWhenItReturns) {
  Enroll(a_, a_, "node-1");
  const uint16_t db_port = relay_->port();
  relay_->Kill();
  for (Instance* instance : {&a_, &b_}) {
    EXPECT_TRUE(testing::WaitUntil([&] { return Curl(instance->metrics + "/healthz", "health") == 503; }, 5s, 50ms))
        << instance->name;
  }
  // Issuing answers 503 with Retry-After; what is served from memory (the
  // bundle, the CRL) still is: both processes stay up.
  auto headers = testing::RunCommand("curl -s -D - -o " + Path("down.json") + " --cacert " + Path("state-a/root.pem") +
                                     " " + Creds("node-1") + " -X POST --data '{\"csr\":" +
                                     json::serialize(json::value(Csr("down", "URI:spiffe://example.org/web"))) + "}' " +
                                     b_.api + "/v1/sign");
  EXPECT_NE(headers.output.find("HTTP/1.1 503"), std::string::npos) << headers.output;
  EXPECT_NE(headers.output.find("Retry-After: "), std::string::npos) << headers.output;
  EXPECT_EQ(ErrorCodeIn("down.json"), "unavailable");
  EXPECT_EQ(Curl(a_.api + "/v1/bundle", "bundle.pem"), 200);
  EXPECT_EQ(Curl(b_.api + "/v1/crl", "down.crl"), 200);

  ASSERT_TRUE(relay_->Start(db_port));
  const auto back = std::chrono::steady_clock::now();
  for (Instance* instance : {&a_, &b_}) {
    EXPECT_TRUE(testing::WaitUntil([&] { return !SignWeb(*instance, "node-1", "back-" + instance->name).empty(); },
                                   5s, 100ms))
        << instance->name << " does not issue 5 s after the database came back";
    EXPECT_TRUE(testing::WaitUntil([&] { return Curl(instance->metrics + "/healthz", "health") == 200; }, 5s, 50ms))
        << instance->name;
  }
  RecordProperty("serving_again_ms",
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - back)
                                    .count()));
  // One log line for going away, one for coming back, not one per request.
  for (Instance* instance : {&a_, &b_}) {
    EXPECT_EQ(testing::CountOf(instance->process->output(), "the store does not answer"), 1)
        << instance->process->output();
    EXPECT_EQ(testing::CountOf(instance->process->output(), "the store answers again"), 1);
  }
}

TEST_F(HaDaemonsTest, AnAgentWithBothServersKeepsItsCertificatesFreshWhenOneIsKilled) {
  testing::WriteTextFile(Path("token"), Token(a_, "node-agent") + "\n");
  testing::WriteTextFile(Path("agent.toml"),
                         "servers = [\"" + a_.api + "\", \"" + b_.api + "\"]\n"
                         "ca_fingerprint = \"" + fingerprint_ + "\"\n"
                         "join_token_file = \"" + Path("token") + "\"\n"
                         "state_dir = \"" + Path("agent") + "\"\n"
                         "crl_path = \"" + Path("out/crl.pem") + "\"\n"
                         "refresh = \"1s\"\n"
                         "[[workload]]\nspiffe_id = \"spiffe://example.org/web\"\nttl = \"10s\"\n"
                         "cert = \"" + Path("web.pem") + "\"\nkey = \"" + Path("web.key") + "\"\n");
  auto agent = testing::ChildProcess::Start({testing::kAgentBinary, "run", "--config", Path("agent.toml")});
  ASSERT_TRUE(agent);
  ASSERT_TRUE(agent->WaitForLineContaining("enrolled with " + a_.api)) << agent->output();
  testing::LapseWatch watch(Path("web.pem"));
  ASSERT_TRUE(watch.WaitForRenewals(1, 20s)) << agent->output();

  // A dies as a lost host does, in the middle of the agent's renewal loop.
  a_.process->Signal(SIGKILL);
  a_.process.reset();
  ASSERT_TRUE(watch.WaitForRenewals(3, 40s)) << agent->output();
  EXPECT_EQ(watch.lapses(), std::vector<std::string>{});
  EXPECT_NE(agent->output().find("CA server " + a_.api + " is down"), std::string::npos) << agent->output();

  // Every certificate the agent was handed, A's included, is in the store.
  auto certs = Cli(b_, "--json certs --spiffe-id spiffe://example.org/web --limit 1000");
  ASSERT_EQ(certs.status, 0) << certs.output;
  for (const std::string& serial : watch.serials()) EXPECT_NE(certs.output.find(serial), std::string::npos) << serial;
  EXPECT_EQ(agent->Stop(SIGTERM), 0) << agent->output();
}

// A revocation made on A reaches B's OCSP answers, already cached as good,
// within 2 s (B's store follower empties the answers it no longer trusts).
TEST_F(HaDaemonsTest, ARevocationOnOneReachesTheOthersOcspAnswersWithinTwoSeconds) {
  auto ask = [&](const Instance& instance) {
    return testing::RunCommand("openssl ocsp -no_nonce -issuer " + Path("state-a/intermediate.pem") + " -cert " +
                               Path("state-a/admin.pem") + " -url " + instance.ocsp + " -CAfile " +
                               Path("state-a/root.pem") + " 2>&1")
        .output;
  };
  std::string out = ask(b_);
  ASSERT_NE(out.find("admin.pem: good"), std::string::npos) << out;
  ASSERT_NE(out.find("Response verify OK"), std::string::npos) << out;
  auto serial = testing::RunCommand("openssl x509 -noout -serial -in " + Path("state-a/admin.pem"));
  std::string hex = serial.output.substr(serial.output.find('=') + 1);
  hex.erase(hex.find_last_not_of("\r\n") + 1);
  auto revoke = Cli(a_, "revoke --serial " + hex);
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        out = ask(b_);
        return out.find("admin.pem: revoked") != std::string::npos;
      },
      2s))
      << out;
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
}

}  // namespace ha_daemons_test
}  // namespace mayfly
