// The daemon killed with SIGKILL, again and again, while clients sign and an
// operator revokes: nothing a client was given is ever lost.
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace crash_safety_test {

namespace json = boost::json;

constexpr int kRounds = 10;
constexpr int kClients = 4;
constexpr size_t kCertsPerRound = 40;

std::string NewCsr(const std::vector<std::string>& uris) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  return MakeCsrPem(key.get(), uris, {}, {}).value();
}

// The CRL's number and serials, from the DER the daemon serves.
struct CrlSeen {
  int64_t number = -1;
  std::set<std::string> serials;
};
CrlSeen ParseCrl(const std::string& der) {
  CrlSeen seen;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (crl == nullptr) return seen;
  if (auto* n = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr))) {
    seen.number = ASN1_INTEGER_get(n);
    ASN1_INTEGER_free(n);
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    seen.serials.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  X509_CRL_free(crl);
  return seen;
}

class CrashSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[limits]\nsign_per_node_per_minute = 100000\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n");
    ca_.Start();
    root_ = ReadFile(ca_.Path("ca/root.pem")).value();
    // Enroll node-1 through the API, as an agent would.
    const std::string token = [&] {
      ca_.WriteToken("node-1", ca_.Path("token"));
      std::string t = ReadFile(ca_.Path("token")).value();
      return t.substr(0, t.find('\n'));
    }();
    node_key_ = GenerateKey(KeyType::kEcdsaP256).value();
    auto anonymous = net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext({.trust_pem = root_}).value());
    ASSERT_TRUE(anonymous);
    auto r = anonymous->Request(
        "POST", "/v1/enroll",
        json::serialize(json::object{{"token", token}, {"csr", MakeCsrPem(node_key_.get(), {}, {}, {}).value()}}));
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    auto cert = json::parse(r->body).as_object();
    node_chain_ = std::string(cert.at("certificate").as_string()) + std::string(cert.at("chain").as_string());
  }

  // Signs until `stop`, recording every serial the daemon answered with.
  void SignLoop(std::atomic<bool>& stop) {
    auto tls = net::MakeClientTlsContext({.trust_pem = root_, .cert_chain_pem = node_chain_, .key = node_key_.get()});
    auto client = net::HttpClient::ForUrl(ca_.api(), *tls, {.timeout = std::chrono::seconds(5)});
    if (!client) return;
    const std::string body = json::serialize(json::object{{"csr", NewCsr({"spiffe://example.org/web"})}});
    while (!stop) {
      auto r = client->Request("POST", "/v1/sign", body);
      std::lock_guard lock(mu_);
      if (!r) break;  // the daemon is gone
      if (r->status != 200) {
        unexpected_.push_back(std::to_string(r->status) + " " + r->body);
        break;
      }
      received_.push_back(std::string(json::parse(r->body).as_object().at("serial").as_string()));
      changed_.notify_all();
    }
    std::lock_guard lock(mu_);
    --active_;
    changed_.notify_all();
  }

  size_t Received() {
    std::lock_guard lock(mu_);
    return received_.size();
  }

  // Waits until `n` certificates have been received in all; false when the
  // clients stopped or failed first, or after 60 s.
  bool AwaitReceived(size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(60),
                      [&] { return received_.size() >= n || !unexpected_.empty() || active_ == 0; });
    return received_.size() >= n && unexpected_.empty();
  }

  CrlSeen FetchCrl() {
    auto client = net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext({.trust_pem = root_}).value());
    auto r = client->Request("GET", "/v1/crl");
    EXPECT_TRUE(r && r->status == 200);
    return r ? ParseCrl(r->body) : CrlSeen{};
  }

  testing::CaFixture ca_;
  std::string root_, node_chain_;
  OsslPtr<EVP_PKEY> node_key_;
  std::mutex mu_;
  std::condition_variable changed_;
  int active_ = 0;  // clients still signing
  std::vector<std::string> received_;
  std::vector<std::string> unexpected_;
};

TEST_F(CrashSafetyTest, SigkillUnderSignLoadLosesNothing) {
  std::set<std::string> acknowledged_revocations;
  int64_t crl_number = FetchCrl().number;
  ASSERT_GE(crl_number, 1);
  int kills = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<bool> stop{false};
    const size_t target = Received() + kCertsPerRound;
    std::vector<std::thread> clients;
    {
      std::lock_guard lock(mu_);
      active_ = kClients;
    }
    for (int i = 0; i < kClients; ++i) clients.emplace_back([&] { SignLoop(stop); });
    // An operator revokes one of the certificates just handed out, mid-load.
    auto stop_clients = [&] {
      stop = true;
      for (auto& t : clients) t.join();
    };
    if (!AwaitReceived(target - kCertsPerRound / 2)) {
      stop_clients();
      FAIL() << "the clients stopped early: " << (unexpected_.empty() ? "no certificate" : unexpected_.front());
    }
    std::string victim;
    {
      std::lock_guard lock(mu_);
      if (!received_.empty()) victim = received_.back();
    }
    auto revoke = ca_.Cli("revoke --serial " + victim);
    if (revoke.status != 0) {
      stop_clients();
      FAIL() << revoke.output;
    }
    acknowledged_revocations.insert(victim);
    const bool enough = AwaitReceived(target);
    // Killed while requests are in flight and commits under way.
    ca_.daemon()->Signal(SIGKILL);
    EXPECT_EQ(ca_.daemon()->Stop(SIGKILL), -SIGKILL);
    ++kills;
    stop_clients();
    ASSERT_TRUE(unexpected_.empty()) << unexpected_.front();
    ASSERT_TRUE(enough) << "the clients stopped before " << target << " certificates";

    ca_.Start();
    const CrlSeen crl = FetchCrl();
    EXPECT_GE(crl.number, crl_number) << "the CRL number went backwards after kill " << kills;
    crl_number = crl.number;
    for (const std::string& serial : acknowledged_revocations) {
      EXPECT_TRUE(crl.serials.contains(serial)) << serial << " was revoked before kill " << kills;
    }
  }
  // Every issuance committed with its audit event: the chain is whole.
  auto audit = ca_.Cli("audit verify");
  EXPECT_EQ(audit.status, 0) << audit.output;
  ca_.Stop();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(ca_.Path("ca/ca.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::set<std::string> stored;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT serial FROM certificates", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) stored.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  std::string integrity;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  if (sqlite3_step(stmt) == SQLITE_ROW) integrity = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  EXPECT_EQ(integrity, "ok");
  const std::set<std::string> unique(received_.begin(), received_.end());
  EXPECT_EQ(unique.size(), received_.size()) << "a serial was handed out twice";
  size_t missing = 0;
  for (const std::string& serial : received_) missing += stored.contains(serial) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "certificates clients received but the database lost";
  EXPECT_GE(received_.size(), kRounds * kCertsPerRound);
  std::cout << "kills survived: " << kills << ", certificates received: " << received_.size()
            << ", lost: " << missing << ", revocations kept: " << acknowledged_revocations.size() << "\n";
}

}  // namespace crash_safety_test
}  // namespace mayfly
