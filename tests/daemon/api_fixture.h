// A CA made with InitCa in a temporary directory, a CaRuntime on a manual
// clock and an ApiService, plus helpers that drive it with built requests.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api_service.h"
#include "ca_runtime.h"
#include "mayfly/ca_init.h"
#include "mayfly/ca_layout.h"
#include "mayfly/file_util.h"
#include "mayfly/csr.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "support/temp_dir.h"

namespace mayfly::testing {

// "" when `chain_pem` (leaf first) verifies strictly to one of `roots_pem`
// at `at`, else OpenSSL's reason.
inline std::string VerifyAt(const std::string& chain_pem, const std::string& roots_pem, TimePoint at) {
  auto chain = CertsFromPem(chain_pem);
  auto roots = CertsFromPem(roots_pem);
  if (!chain || !roots) return "unparseable PEM";
  OsslPtr<X509_STORE> store(X509_STORE_new());
  for (auto& root : *roots) X509_STORE_add_cert(store.get(), root.get());
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain->size(); ++i) sk_X509_push(untrusted.get(), X509_dup((*chain)[i].get()));
  OsslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), (*chain)[0].get(), untrusted.get());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(ToUnixSeconds(at)));
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

// A node enrolled through the service itself: its key and certificate.
struct TestNode {
  std::string name;
  OsslPtr<EVP_PKEY> key;
  std::string cert_pem;
  std::string serial;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.trust_domain = "example.org";
    config_.state_dir = dir_.File("state");
    config_.ca.key_passphrase_file = dir_.File("passphrase");
    config_.path = dir_.File("ca.toml");
    config_.issuance.node_ttl = std::chrono::hours(24);
    config_.limits.sign_per_node_per_minute = 1000;
    config_.limits.enroll_per_ip_per_minute = 1000;
    config_.entries = {
        EntryConfig{.spiffe_id = "spiffe://example.org/ns/prod/web", .node = "web-*",
                    .dns = {"web.internal"}, .ips = {"10.0.0.1"}, .ttl = std::chrono::hours(2)},
        EntryConfig{.spiffe_id = "spiffe://example.org/ns/prod/db", .node = "db-1"},
    };
    Customize(config_);
    auto init = InitCa(config_, clock_);
    ASSERT_TRUE(init) << init.error().ToString();
    fingerprint_ = init->root_fingerprint;
    Start();
  }

  void TearDown() override { Stop(); }

  // Lets a test change the config before the CA is made.
  virtual void Customize(CaConfig&) {}

  void Start() {
    auto rt = CaRuntime::Load(config_, clock_);
    ASSERT_TRUE(rt) << rt.error().ToString();
    rt_ = std::move(*rt);
    store_worker_ = std::make_unique<StoreWorker>();
    api_ = std::make_unique<ApiService>(*rt_, *store_worker_);
  }
  void Stop() {
    api_.reset();
    store_worker_.reset();  // runs what is queued while the runtime is there
    rt_.reset();
  }

  // Sends one request and waits for its answer.
  net::HttpResponse Send(const std::string& method, const std::string& path, const std::string& body,
                         net::PeerInfo peer, std::map<std::string, std::string> query = {},
                         std::map<std::string, std::string> headers = {}) {
    net::HttpRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.query = std::move(query);
    request.headers = std::move(headers);
    request.peer = std::move(peer);
    auto promise = std::make_shared<std::promise<net::HttpResponse>>();
    auto future = promise->get_future();
    api_->Handle(std::move(request), [promise](net::HttpResponse r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << method << " " << path << ": no answer";
      return net::HttpResponse{.status = 0};
    }
    return future.get();
  }
  net::HttpResponse Post(const std::string& path, const boost::json::value& body, net::PeerInfo peer) {
    return Send("POST", path, boost::json::serialize(body), std::move(peer));
  }

  static net::PeerInfo Anonymous(std::string ip = "192.0.2.10") {
    net::PeerInfo peer;
    peer.ip = std::move(ip);
    return peer;
  }
  static net::PeerInfo AdminSocket() {
    net::PeerInfo peer;
    peer.listener = net::Listener::kAdminSocket;
    return peer;
  }
  static net::PeerInfo Metrics() {
    net::PeerInfo peer;
    peer.listener = net::Listener::kMetrics;
    peer.ip = "127.0.0.1";
    return peer;
  }
  static net::PeerInfo WithCert(const std::string& pem, std::string ip = "192.0.2.20") {
    net::PeerInfo peer;
    peer.ip = std::move(ip);
    auto cert = CertFromPem(pem);
    EXPECT_TRUE(cert) << cert.error().ToString();
    // As the TLS layer records a certificate whose chain it verified: every
    // certificate these tests present as verified comes from the CA, so its
    // verified issuer is the CA its AKI names.
    if (cert) {
      std::string issuer = AuthorityKeyIdHex(cert->get());
      peer.SetClientCert(std::move(*cert), std::move(issuer));
    }
    return peer;
  }
  net::PeerInfo Admin() {
    auto pem = ReadFile(CaPaths::For(config_.state_dir).admin_cert);
    EXPECT_TRUE(pem);
    return WithCert(pem.value_or(""));
  }
  static net::PeerInfo AsNode(const TestNode& node) { return WithCert(node.cert_pem); }

  static boost::json::value Json(const net::HttpResponse& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.body;
    return v;
  }
  static std::string ErrorCodeOf(const net::HttpResponse& r) {
    auto v = Json(r);
    if (!v.is_object() || !v.as_object().contains("error")) return "";
    return std::string(v.at("error").at("code").as_string());
  }
  static std::string Str(const boost::json::value& v, std::string_view key) {
    return std::string(v.at(key).as_string());
  }
  static std::string Header(const net::HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  static OsslPtr<EVP_PKEY> NewKey() { return GenerateKey(KeyType::kEcdsaP256).value(); }
  static std::string Csr(const EVP_PKEY* key, std::vector<std::string> uris = {}, std::vector<std::string> dns = {},
                         std::vector<std::string> ips = {}) {
    return MakeCsrPem(key, uris, dns, ips).value();
  }

  std::string CreateToken(const std::string& node, std::string ttl = "") {
    boost::json::object body{{"node", node}};
    if (!ttl.empty()) body["ttl"] = ttl;
    auto r = Post("/v1/admin/tokens", body, AdminSocket());
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return "";
    return Str(Json(r), "token");
  }

  // Enrolls `name` with a fresh token and key, failing the test on error.
  TestNode Enroll(const std::string& name) {
    TestNode node{.name = name, .key = NewKey()};
    const std::string token = CreateToken(name);
    auto r = Post("/v1/enroll", {{"token", token}, {"csr", Csr(node.key.get())}}, Anonymous());
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status == 200) {
      node.cert_pem = Str(Json(r), "certificate");
      node.serial = Str(Json(r), "serial");
    }
    return node;
  }

  net::HttpResponse Sign(const TestNode& node, const std::string& csr, std::string ttl = "") {
    boost::json::object body{{"csr", csr}};
    if (!ttl.empty()) body["ttl"] = ttl;
    return Post("/v1/sign", body, AsNode(node));
  }

  // Parses the DER CRL served now.
  OsslPtr<X509_CRL> CurrentCrl() {
    auto r = Send("GET", "/v1/crl", "", Anonymous());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/pkix-crl");
    const auto* p = reinterpret_cast<const unsigned char*>(r.body.data());
    return OsslPtr<X509_CRL>(d2i_X509_CRL(nullptr, &p, static_cast<long>(r.body.size())));
  }
  static int64_t CrlNumber(X509_CRL* crl) {
    OsslPtr<ASN1_STRING> n(static_cast<ASN1_STRING*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
    int64_t v = -1;
    EXPECT_TRUE(n && ASN1_INTEGER_get_int64(&v, n.get()) == 1);
    return v;
  }
  // The serials `crl` lists, added to `into`.
  static void AddRevokedSerials(X509_CRL* crl, std::set<std::string>& into) {
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      into.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    }
  }
  static bool CrlLists(X509_CRL* crl, const std::string& serial) {
    std::set<std::string> serials;
    AddRevokedSerials(crl, serials);
    return serials.contains(serial);
  }
  // Every serial listed by any CRL the CA publishes (`?format=pem`: each
  // intermediate's, then each root's).
  std::set<std::string> AllRevokedSerials() {
    auto r = Send("GET", "/v1/crl", "", Anonymous(), {{"format", "pem"}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> serials;
    OsslPtr<BIO> bio(BIO_new_mem_buf(r.body.data(), static_cast<int>(r.body.size())));
    while (OsslPtr<X509_CRL> crl{PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)}) {
      AddRevokedSerials(crl.get(), serials);
    }
    ERR_clear_error();  // the end of the PEM stream
    return serials;
  }

  // Rows in a table, read straight from the database (the store has no count
  // for every table, and tests must see what is really there).
  int64_t CountRows(const std::string& table) {
    sqlite3* db = nullptr;
    const std::string path = CaPaths::For(config_.state_dir).database;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    const std::string sql = "SELECT count(*) FROM " + table;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      n = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  }
  struct Counts {
    int64_t certs, nodes, tokens, entries, revoked;
    bool operator==(const Counts&) const = default;
  };
  Counts Snapshot() {
    return Counts{CountRows("certificates"), CountRows("nodes"), CountRows("join_tokens"), CountRows("entries"),
                  CountRows("certificates WHERE revoked_at IS NOT NULL")};
  }

  TempDir dir_;
  ManualClock clock_{SystemClock::Instance().Now()};
  CaConfig config_;
  std::string fingerprint_;
  std::unique_ptr<CaRuntime> rt_;
  std::unique_ptr<StoreWorker> store_worker_;
  std::unique_ptr<ApiService> api_;
};

}  // namespace mayfly::testing
