// The real daemon on 127.0.0.1 driven as a newcomer would: the admin CLI over
// the admin socket, curl and openssl for enrollment, issuance and revocation.
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include "mayfly/file_util.h"
#include "support/child_process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace serve_flow_test {

namespace json = boost::json;
const std::string kBinary = std::string(MAYFLY_BINARY_DIR) + "/daemon/mayfly-ca";

class ServeFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTextFile(Path("ca.toml"),
                           "trust_domain = \"example.org\"\n"
                           "state_dir = \"" + Path("ca") + "\"\n"
                           "listen = \"127.0.0.1:0\"\n"
                           "metrics_listen = \"127.0.0.1:0\"\n"
                           "admin_socket = \"" + Path("admin.sock") + "\"\n"
                           "server_names = [\"localhost\", \"127.0.0.1\"]\n"
                           "[ca]\nkey_passphrase_file = \"" + Path("pass") + "\"\n"
                           "[limits]\nmax_body = 8192\n"
                           "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-*\"\n"
                           "dns = [\"web.internal\"]\nttl = \"10m\"\n");
    auto init = testing::RunCommand(kBinary + " init --config " + Path("ca.toml"));
    ASSERT_EQ(init.status, 0) << init.output;
    daemon_ = testing::ChildProcess::Start({kBinary, "serve", "--config", Path("ca.toml")});
    ASSERT_TRUE(daemon_);
    auto ready = daemon_->WaitForLine("ready ");
    ASSERT_TRUE(ready) << daemon_->output();
    size_t at = ready->find("api=127.0.0.1:") + 14;
    api_ = "https://127.0.0.1:" + ready->substr(at, ready->find(' ', at) - at);
  }

  std::string Path(const std::string& name) const { return dir_.File(name); }

  testing::CommandResult Cli(const std::string& args) {
    return testing::RunCommand(kBinary + " --config " + Path("ca.toml") + " " + args);
  }

  // curl against the API; returns the HTTP status, the body lands in `out`.
  int Curl(const std::string& args, const std::string& out) {
    auto r = testing::RunCommand("curl -s -o " + Path(out) + " -w '%{http_code}' --cacert " + Path("ca/root.pem") +
                                 " " + args);
    return std::atoi(r.output.c_str());
  }
  int Post(const std::string& route, const json::object& body, const std::string& out, const std::string& creds = "") {
    testing::WriteTextFile(Path(out + ".req"), json::serialize(body));
    return Curl(creds + " -X POST --data @" + Path(out + ".req") + " " + api_ + route, out);
  }
  json::object ReadJson(const std::string& name) {
    return json::parse(ReadFile(Path(name)).value()).as_object();
  }
  std::string Csr(const std::string& name, const std::string& san = "") {
    return testing::OpensslCsr(Path(name + ".key"), Path(name + ".csr"), san);
  }
  // Enrolls node `name` through a fresh token; its cert+chain lands in <name>.pem.
  void Enroll(const std::string& name) {
    auto token = Cli("--json token create --node " + name);
    ASSERT_EQ(token.status, 0) << token.output;
    std::string t(json::parse(token.output).as_object().at("token").as_string());
    ASSERT_EQ(Post("/v1/enroll", {{"token", t}, {"csr", Csr(name)}}, name + ".json"), 200);
    auto cert = ReadJson(name + ".json");
    testing::WriteTextFile(Path(name + ".pem"), std::string(cert.at("certificate").as_string()) +
                                                   std::string(cert.at("chain").as_string()));
  }
  std::string NodeCreds(const std::string& name) {
    return "--cert " + Path(name + ".pem") + " --key " + Path(name + ".key");
  }
  std::string ErrorCode(const std::string& name) {
    return std::string(ReadJson(name).at("error").as_object().at("code").as_string());
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ChildProcess> daemon_;
  std::string api_;
};

TEST_F(ServeFlowTest, EnrollSignRevokeAndTheCrlRefusesIt) {
  Enroll("node-1");
  EXPECT_EQ(std::string(ReadJson("node-1.json").at("spiffe_id").as_string()),
            "spiffe://example.org/mayfly/node/node-1");

  ASSERT_EQ(Post("/v1/sign", {{"csr", Csr("web", "URI:spiffe://example.org/web,DNS:web.internal")}, {"ttl", "5m"}},
                 "web.json", NodeCreds("node-1")),
            200)
      << ReadFile(Path("web.json")).value_or("");
  auto web = ReadJson("web.json");
  std::string serial(web.at("serial").as_string());
  testing::WriteTextFile(Path("web.pem"), std::string(web.at("certificate").as_string()));
  std::string verify = "openssl verify -x509_strict -purpose sslclient -CAfile " + Path("ca/root.pem") +
                       " -untrusted " + Path("ca/intermediate.pem") + " ";
  auto ok = testing::RunCommand(verify + Path("web.pem"));
  EXPECT_EQ(ok.status, 0) << ok.output;

  auto revoke = Cli("revoke --serial " + serial + " --reason keyCompromise");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  EXPECT_NE(revoke.output.find("Revoked 1"), std::string::npos) << revoke.output;

  ASSERT_EQ(Curl(api_ + "/v1/crl?format=pem", "crl.pem"), 200);
  auto refused = testing::RunCommand(verify + "-crl_check_all -CRLfile " + Path("crl.pem") + " " + Path("web.pem"));
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("certificate revoked"), std::string::npos) << refused.output;

  auto certs = Cli("--json certs --status revoked");
  ASSERT_EQ(certs.status, 0) << certs.output;
  EXPECT_NE(certs.output.find(serial), std::string::npos);
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->output();
}

TEST_F(ServeFlowTest, RefusalsGetTheDocumentedStatusAndCode) {
  Enroll("node-1");
  std::string web_csr = Csr("web", "URI:spiffe://example.org/web");

  EXPECT_EQ(Post("/v1/sign", {{"csr", web_csr}}, "nocert.json"), 401);
  EXPECT_EQ(ErrorCode("nocert.json"), "unauthenticated");

  EXPECT_EQ(Curl(NodeCreds("node-1") + " " + api_ + "/v1/admin/certs", "admin.json"), 403);
  EXPECT_EQ(ErrorCode("admin.json"), "forbidden");

  EXPECT_EQ(Post("/v1/sign", {{"csr", Csr("db", "URI:spiffe://example.org/db")}}, "db.json", NodeCreds("node-1")), 403);
  EXPECT_EQ(ErrorCode("db.json"), "forbidden");
  EXPECT_EQ(Post("/v1/sign", {{"csr", Csr("evil", "URI:spiffe://example.org/web,DNS:evil.example.com")}},
                 "evil.json", NodeCreds("node-1")),
            403);

  auto token = Cli("--json token create --node node-2");
  std::string t(json::parse(token.output).as_object().at("token").as_string());
  EXPECT_EQ(Post("/v1/enroll", {{"token", t}, {"csr", Csr("n2")}}, "first.json"), 200);
  EXPECT_EQ(Post("/v1/enroll", {{"token", t}, {"csr", Csr("n2b")}}, "replay.json"), 401);
  EXPECT_EQ(ErrorCode("replay.json"), "invalid_token");

  testing::WriteTextFile(Path("bad.req"), "{not json");
  EXPECT_EQ(Curl(NodeCreds("node-1") + " -X POST --data @" + Path("bad.req") + " " + api_ + "/v1/sign", "bad.json"), 400);
  EXPECT_EQ(Post("/v1/sign", {{"csr", "garbage"}}, "garbage.json", NodeCreds("node-1")), 400);
  EXPECT_EQ(ErrorCode("garbage.json"), "invalid_csr");
  testing::WriteTextFile(Path("big.req"), std::string(20000, 'x'));
  EXPECT_EQ(Curl(NodeCreds("node-1") + " -X POST --data @" + Path("big.req") + " " + api_ + "/v1/sign", "big.json"),
            413);

  // Revoking a node bans it: its renewals are refused until it re-enrolls.
  ASSERT_EQ(Cli("revoke --node node-1").status, 0);
  EXPECT_EQ(Post("/v1/renew", {{"csr", Csr("node-1-new")}}, "renew.json", NodeCreds("node-1")), 403);
  EXPECT_EQ(ErrorCode("renew.json"), "node_banned");
  EXPECT_NE(ReadFile(Path("renew.json"))->find("banned"), std::string::npos);
}

TEST_F(ServeFlowTest, HostileBodiesAndCsrsGetTheDocumentedErrors) {
  Enroll("node-1");
  const std::string creds = NodeCreds("node-1") + " -X POST --data @";
  // JSON nested far deeper than any request needs, within max_body.
  testing::WriteTextFile(Path("deep.req"), std::string(4000, '[') + std::string(4000, ']'));
  EXPECT_EQ(Curl(creds + Path("deep.req") + " " + api_ + "/v1/sign", "deep.json"), 400);
  EXPECT_EQ(ErrorCode("deep.json"), "invalid_argument");
  // A CSR asking for more names than any workload has.
  std::string sans = "URI:spiffe://example.org/web";
  for (int i = 0; i < 100; ++i) sans += ",DNS:n" + std::to_string(i) + ".web.internal";
  EXPECT_EQ(Post("/v1/sign", {{"csr", Csr("many", sans)}}, "many.json", NodeCreds("node-1")), 400);
  EXPECT_EQ(ErrorCode("many.json"), "invalid_csr");
  EXPECT_NE(ReadFile(Path("many.json"))->find("at most 64"), std::string::npos);
  // 10 000 names do not even fit the body limit: refused unread.
  std::string huge = "URI:spiffe://example.org/web";
  for (int i = 0; i < 10000; ++i) huge += ",DNS:a" + std::to_string(i) + ".x";
  testing::WriteTextFile(Path("huge.cnf"), "[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=" + huge + "\n");
  auto made = testing::RunCommand("openssl req -new -key " + Path("many.key") + " -subj / -config " + Path("huge.cnf") +
                                  " -reqexts ext -out " + Path("huge.csr"));
  ASSERT_EQ(made.status, 0) << made.output;
  testing::WriteTextFile(Path("huge.req"), json::serialize(json::object{{"csr", ReadFile(Path("huge.csr")).value()}}));
  EXPECT_EQ(Curl(creds + Path("huge.req") + " " + api_ + "/v1/sign", "huge.json"), 413);
  EXPECT_EQ(ErrorCode("huge.json"), "too_large");
  // Every extension a CSR may ask for is ignored: the leaf is what the CA
  // decides, never a CA itself, never for code signing.
  const std::string odd = Csr("odd", "URI:spiffe://example.org/web -addext basicConstraints=critical,CA:TRUE,pathlen:5 "
                                     "-addext keyUsage=critical,keyCertSign,cRLSign "
                                     "-addext extendedKeyUsage=codeSigning,OCSPSigning "
                                     "-addext 'nameConstraints=permitted;DNS:evil.example'");
  ASSERT_EQ(Post("/v1/sign", {{"csr", odd}}, "odd.json", NodeCreds("node-1")), 200)
      << ReadFile(Path("odd.json")).value_or("");
  testing::WriteTextFile(Path("odd.pem"), std::string(ReadJson("odd.json").at("certificate").as_string()));
  auto text = testing::RunCommand("openssl x509 -noout -text -in " + Path("odd.pem"));
  EXPECT_NE(text.output.find("CA:FALSE"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("Certificate Sign"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("Code Signing"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("evil.example"), std::string::npos) << text.output;
}

TEST_F(ServeFlowTest, AnIssuanceIsAuditedBeforeItIsAnsweredAndAuditVerifyFindsEdits) {
  Enroll("node-1");
  ASSERT_EQ(Post("/v1/sign", {{"csr", Csr("web", "URI:spiffe://example.org/web")}}, "web.json", NodeCreds("node-1")),
            200);
  const std::string serial(ReadJson("web.json").at("serial").as_string());
  // The issue event commits with the certificate, so it is listed at once.
  auto audit = Cli("--json audit --limit 1000");
  ASSERT_EQ(audit.status, 0) << audit.output;
  bool found = false;
  const json::value events = json::parse(audit.output);
  for (const auto& e : events.as_object().at("events").as_array()) {
    const auto& o = e.as_object();
    if (o.at("type").as_string() == "issue" && o.at("detail").as_object().at("serial").as_string() == serial) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << audit.output;

  auto intact = Cli("audit verify");
  EXPECT_EQ(intact.status, 0) << intact.output;
  EXPECT_NE(intact.output.find("audit chain intact"), std::string::npos) << intact.output;

  // An operator with write access to the database rewrites history.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path("ca/ca.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  EXPECT_EQ(sqlite3_exec(db, "UPDATE audit_events SET subject = 'someone else' WHERE id = 2", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto broken = Cli("audit verify");
  EXPECT_EQ(broken.status, 1) << broken.output;
  EXPECT_NE(broken.output.find("audit chain broken at event 2"), std::string::npos) << broken.output;
  auto as_json = Cli("--json audit verify");
  EXPECT_EQ(as_json.status, 1);
  auto report = json::parse(as_json.output).as_object();
  EXPECT_FALSE(report.at("intact").as_bool());
  EXPECT_EQ(report.at("first_bad_id").as_int64(), 2);
  EXPECT_EQ(report.at("events").as_int64(), 2);  // read up to the bad one
}

TEST_F(ServeFlowTest, AJoinTokenReplayedConcurrentlyEnrollsExactlyOnce) {
  auto token = Cli("--json token create --node node-race");
  ASSERT_EQ(token.status, 0) << token.output;
  const std::string t(json::parse(token.output).as_object().at("token").as_string());
  constexpr int kClients = 16;
  for (int i = 0; i < kClients; ++i) {
    testing::WriteTextFile(Path("race" + std::to_string(i) + ".req"),
                           json::serialize(json::object{{"token", t}, {"csr", Csr("race" + std::to_string(i))}}));
  }
  // Every client starts before any answer comes back: one shell, all in the
  // background, each writing its status code.
  std::string script = "cd " + Path("") + " && for i in $(seq 0 " + std::to_string(kClients - 1) +
                       "); do curl -s -o race$i.json -w '%{http_code}\\n' --cacert ca/root.pem -X POST "
                       "--data @race$i.req " + api_ + "/v1/enroll > race$i.code & done; wait";
  auto run = testing::RunCommand("(" + script + ")");
  ASSERT_EQ(run.status, 0) << run.output;
  int ok = 0, refused = 0;
  for (int i = 0; i < kClients; ++i) {
    const std::string code = ReadFile(Path("race" + std::to_string(i) + ".code")).value_or("");
    if (code == "200\n") ++ok;
    if (code == "401\n" && ErrorCode("race" + std::to_string(i) + ".json") == "invalid_token") ++refused;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, kClients - 1);
  auto certs = Cli("--json certs --node node-race");
  ASSERT_EQ(certs.status, 0) << certs.output;
  EXPECT_EQ(json::parse(certs.output).as_object().at("certificates").as_array().size(), 1u) << certs.output;
}

TEST_F(ServeFlowTest, SighupReloadsAndSigtermExitsCleanly) {
  daemon_->Signal(SIGHUP);
  EXPECT_TRUE(daemon_->WaitForLineContaining("reloaded")) << daemon_->output();
  // The daemon still serves after the reload.
  EXPECT_EQ(Curl(api_ + "/v1/bundle", "bundle.pem"), 200);
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->output();
}

}  // namespace serve_flow_test
}  // namespace mayfly
