// The real agent against a stand-in CA (an HTTPS server in the test, its
// certificate under the agent's trusted root) that answers /v1/sign and
// /v1/renew with bad certificates: each is refused before anything is
// written or run, and the working files stay.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <set>

#include "mayfly/crl.h"
#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "net/net_test_util.h"
#include "support/ca_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace answer_check_test {

using net::testing::NetPki;
using net::testing::RunningServer;
using testing::kAgentBinary;
using testing::RunCommand;
using testing::TempDir;

constexpr char kNodeId[] = "spiffe://example.org/mayfly/node/node-1";
constexpr char kWebId[] = "spiffe://example.org/web";

// What the stand-in CA puts in an answer for the CSR's key: leaf + chain.
struct Answer {
  std::string certificate;
  std::string chain;
};
using AnswerFor = std::function<Answer(const EVP_PKEY* csr_key, const std::string& asked_id, NetPki& pki)>;

std::string Pem(const X509* cert) { return CertToPem(cert).value(); }

// The answers under test, table-driven.
struct Case {
  const char* name;
  AnswerFor answer;
  const char* error;  // "" for the good answer
};

Answer Good(const EVP_PKEY* key, const std::string& id, NetPki& pki) {
  std::vector<std::string> dns;
  if (id == kWebId) dns = {"web.internal"};
  return {pki.pki->IssueFor(key, id, dns).Pem(), Pem(pki.pki->intermediate.get())};
}

// A good answer, but issued as if at `at` (for an hour).
Answer IssuedAt(NetPki& pki, TimePoint at, const EVP_PKEY* key, const std::string& id) {
  const TimePoint now = pki.pki->clock.Now();
  pki.pki->clock.Set(at);
  Answer answer = Good(key, id, pki);
  pki.pki->clock.Set(now);
  return answer;
}

const Case kCases[] = {
    {"Good", Good, ""},
    {"AnotherSpiffeId",
     [](const EVP_PKEY* key, const std::string& id, NetPki& pki) {
       const std::string other = id == kWebId ? "spiffe://example.org/other" : "spiffe://example.org/mayfly/node/other";
       return Answer{pki.pki->IssueFor(key, other, {"web.internal"}).Pem(), Pem(pki.pki->intermediate.get())};
     },
     "is not what was asked for: it names [spiffe://example.org/"},
    {"AnotherKey",
     [](const EVP_PKEY*, const std::string& id, NetPki& pki) {
       auto other_key = GenerateKey(KeyType::kEcdsaP256).value();
       return Good(other_key.get(), id, pki);
     },
     "is not for the key this agent sent in its CSR"},
    {"UntrustedIssuer",
     [](const EVP_PKEY* key, const std::string& id, NetPki&) {
       static auto stranger = NetPki::Make();  // another root, unknown to the agent
       return Good(key, id, stranger);
     },
     "refusing the CA's answer: the issued certificate does not verify"},
    {"OtherDnsNames",
     [](const EVP_PKEY* key, const std::string& id, NetPki& pki) {
       std::vector<std::string> dns;
       if (id != kWebId) dns = {"node.internal"};
       return Answer{pki.pki->IssueFor(key, id, dns).Pem(), Pem(pki.pki->intermediate.get())};
     },
     "is not what was asked for: its DNS names ["},
    {"NotValidYet",
     [](const EVP_PKEY* key, const std::string& id, NetPki& pki) {
       return IssuedAt(pki, pki.pki->clock.Now() + std::chrono::hours(1), key, id);
     },
     "is valid only from"},
    {"Expired",
     [](const EVP_PKEY* key, const std::string& id, NetPki& pki) {
       return IssuedAt(pki, pki.pki->clock.Now() - std::chrono::hours(2), key, id);
     },
     "expired at"},
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class AnswerCheckTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ca_ = NetPki::Make();
    server_ = std::make_unique<RunningServer>([this](net::HttpRequest request, net::Respond respond) {
      Handle(std::move(request), std::move(respond));
    });
    port_ = server_->server().ListenTls("127.0.0.1:0", ca_.ServerContext()).value();
    ASSERT_EQ(mkdir(Path("agent").c_str(), 0700), 0);
    ASSERT_EQ(mkdir(Path("out").c_str(), 0755), 0);
    testing::WriteTextFile(Path("root.pem"), ca_.root_pem);
  }
  void TearDown() override { server_->Stop(); }

  std::string Path(const std::string& name) const { return dir_.File(name); }

  // A key and certificate pair for `id`, issued `age` ago for an hour (due
  // for renewal at renew_at 0.5 once age passes 30 minutes).
  void WritePair(const std::string& id, std::vector<std::string> dns, std::chrono::minutes age,
                 const std::string& key_path, const std::string& cert_path) {
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    const TimePoint now = ca_.pki->clock.Now();
    ca_.pki->clock.Set(now - age);
    const std::string leaf = ca_.pki->IssueFor(key.get(), id, std::move(dns)).Pem();
    ca_.pki->clock.Set(now);
    ASSERT_TRUE(WriteFileAtomic(key_path, PrivateKeyToPem(key.get()).value(), 0600));
    ASSERT_TRUE(WriteFileAtomic(cert_path, leaf + Pem(ca_.pki->intermediate.get()), 0600));
  }

  // agent.toml for the stand-in CA, with the web workload or without.
  void WriteConfig(bool with_workload) {
    std::string toml = "server = \"https://127.0.0.1:" + std::to_string(port_) + "\"\n"
                       "ca_bundle = \"" + Path("root.pem") + "\"\n"
                       "state_dir = \"" + Path("agent") + "\"\n";
    if (with_workload) {
      toml += "[[workload]]\nspiffe_id = \"" + std::string(kWebId) + "\"\ndns = [\"web.internal\"]\n"
              "cert = \"" + Path("out/web.pem") + "\"\nkey = \"" + Path("out/web.key") + "\"\n"
              "on_renew = \"echo renewed >> " + Path("hook.log") + "\"\n";
    }
    testing::WriteTextFile(Path("agent.toml"), toml);
  }

  testing::CommandResult Once() { return RunCommand(kAgentBinary + " once --config " + Path("agent.toml")); }

  std::set<std::string> Listing(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(Path(dir))) names.insert(e.path().filename().string());
    return names;
  }

  void Handle(net::HttpRequest request, net::Respond respond) {
    net::HttpResponse response;
    response.content_type = "application/x-pem-file";
    if (request.path == "/v1/bundle") {
      response.body = ca_.root_pem;
    } else if (request.path == "/v1/intermediates") {
      response.body = Pem(ca_.pki->intermediate.get());
    } else if (request.path == "/v1/crl") {
      const TimePoint now = ca_.pki->clock.Now();
      response.body = BuildCrl(ca_.pki->intermediate.get(), ca_.pki->intermediate_key.get(),
                               {.number = 1, .this_update = now, .next_update = now + std::chrono::hours(1)})
                          .value()
                          .pem;
    } else if (request.method == "POST" && (request.path == "/v1/sign" || request.path == "/v1/renew")) {
      response.content_type = "application/json";
      auto body = net::testing::ParseJson(request.body);
      auto csr = Csr::Parse(std::string(body["csr"].as_string()));
      EXPECT_TRUE(csr) << csr.error().ToString();
      const std::string& spki = csr->public_key().spki_der;
      const unsigned char* der = reinterpret_cast<const unsigned char*>(spki.data());
      OsslPtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &der, static_cast<long>(spki.size())));
      const std::string asked = request.path == "/v1/sign" ? kWebId : kNodeId;
      Answer answer = (request.path == "/v1/sign" ? sign_ : renew_)(key.get(), asked, ca_);
      auto leaf = CertFromPem(answer.certificate).value();
      response.body = boost::json::serialize(boost::json::object{
          {"certificate", answer.certificate}, {"chain", answer.chain}, {"bundle", ca_.root_pem},
          {"spiffe_id", CertSpiffeId(leaf.get())}, {"serial", CertSerialHex(leaf.get())},
          {"not_after", FormatRfc3339(CertNotAfter(leaf.get()))}});
      ++answered_;
    } else {
      response.status = 404;
      response.content_type = "application/json";
      response.body = R"({"error":{"code":"not_found","message":"no such route"}})";
    }
    respond(std::move(response));
  }

  TempDir dir_;
  NetPki ca_;
  std::unique_ptr<RunningServer> server_;
  uint16_t port_ = 0;
  AnswerFor sign_ = Good;
  AnswerFor renew_ = Good;
  std::atomic<int> answered_{0};
};

TEST_P(AnswerCheckTest, SignAnswer) {
  const Case& c = GetParam();
  WritePair(kNodeId, {}, std::chrono::minutes(0), Path("agent/node.key"), Path("agent/node.pem"));
  // A working pair, due for renewal, so the agent asks /v1/sign.
  WritePair(kWebId, {"web.internal"}, std::chrono::minutes(40), Path("out/web.key"), Path("out/web.pem"));
  WriteConfig(true);
  sign_ = c.answer;
  const std::string key = ReadFile(Path("out/web.key")).value(), cert = ReadFile(Path("out/web.pem")).value();

  auto r = Once();
  EXPECT_EQ(answered_.load(), 1) << r.output;
  EXPECT_EQ(Listing("out"), (std::set<std::string>{"web.key", "web.pem"})) << "no temporary or other file";
  if (*c.error == '\0') {
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(ReadFile(Path("out/web.pem")).value(), cert);
    EXPECT_EQ(ReadFile(Path("hook.log")).value_or(""), "renewed\n");
    return;
  }
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
  EXPECT_EQ(ReadFile(Path("out/web.key")).value(), key);
  EXPECT_EQ(ReadFile(Path("out/web.pem")).value(), cert);
  EXPECT_FALSE(std::filesystem::exists(Path("hook.log"))) << "a refused answer runs no hook";
}

TEST_P(AnswerCheckTest, RenewAnswer) {
  const Case& c = GetParam();
  // A node certificate due for renewal; no workloads.
  WritePair(kNodeId, {}, std::chrono::minutes(40), Path("agent/node.key"), Path("agent/node.pem"));
  WriteConfig(false);
  renew_ = c.answer;
  const std::string key = ReadFile(Path("agent/node.key")).value(), cert = ReadFile(Path("agent/node.pem")).value();

  auto r = Once();
  EXPECT_EQ(answered_.load(), 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(Path("agent/node.key.next")));
  if (*c.error == '\0') {
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(ReadFile(Path("agent/node.pem")).value(), cert);
    EXPECT_NE(ReadFile(Path("agent/node.key")).value(), key);
    return;
  }
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
  EXPECT_EQ(ReadFile(Path("agent/node.key")).value(), key);
  EXPECT_EQ(ReadFile(Path("agent/node.pem")).value(), cert);
  // The node still starts: its pair is whole.
  renew_ = Good;
  auto again = Once();
  EXPECT_EQ(again.status, 0) << again.output;
}

INSTANTIATE_TEST_SUITE_P(Answers, AnswerCheckTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace answer_check_test
}  // namespace mayfly
