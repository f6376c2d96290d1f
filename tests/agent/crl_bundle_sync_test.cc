// SyncCrlAndBundle against a test CA over real TLS: a server whose
// certificate carries spiffe://example.org/mayfly/ca (issued by a test PKI)
// serves bundles and CRLs; the agent's trusted roots and kept CRL change only
// as rotation allows. Bundles never drop trusted roots except the way a
// rotation does, and CRL numbers never go back.
#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "agent_ca_client.h"
#include "agent_crl_sync.h"
#include "mayfly/crl.h"
#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "net/net_test_util.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace crl_bundle_sync_test {

using net::testing::NetPki;

class CrlBundleSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = NetPki::Make();
    other_root_ = CertToPem(testing::TestPki::Make()->root.get()).value();
    server_ = std::make_unique<net::testing::RunningServer>([this](net::HttpRequest request, net::Respond respond) {
      std::lock_guard lock(mu_);
      net::HttpResponse response;
      response.content_type = "application/x-pem-file";
      if (request.path == "/v1/bundle") response.body = bundle_;
      else if (request.path == "/v1/crl") response.body = crl_;
      else if (request.path == "/v1/intermediates") response.body = CertToPem(pki_.pki->intermediate.get()).value();
      else response.status = 404;
      respond(std::move(response));
    });
    auto port = server_->server().ListenTls("127.0.0.1:0", pki_.ServerContext());
    ASSERT_TRUE(port) << port.error().ToString();
    url_ = "https://127.0.0.1:" + std::to_string(*port);
    config_.state_dir = dir_.File("state");
    config_.bundle_path = dir_.File("out/bundle.pem");
    config_.crl_path = dir_.File("out/crl.pem");
    ASSERT_TRUE(EnsureDirectory(config_.state_dir, 0700));
    paths_ = std::make_unique<agent::StatePaths>(config_.state_dir);
  }

  // The agent trusts `roots`, as kept in state_dir and published.
  void Trust(const std::string& roots) {
    trust_pem_ = roots;
    ASSERT_TRUE(WriteFileAtomic(paths_->trust, roots, 0644));
  }

  void Serve(const std::string& bundle, const std::string& crl) {
    std::lock_guard lock(mu_);
    bundle_ = bundle;
    crl_ = crl;
  }

  Result<agent::SyncOutcome> Sync() {
    agent::ServerPool servers({url_}, SystemClock::Instance());
    auto client = agent::CaClient::Create(servers, trust_pem_, pki_.client_chain_pem, pki_.client_key.get());
    if (!client) return std::unexpected(client.error());
    return agent::SyncCrlAndBundle(*client, config_, *paths_, trust_pem_, {});
  }

  // A CRL with this number from the intermediate (or the root), revoking
  // `serials`.
  std::string Crl(int64_t number, bool by_root = false, std::vector<std::string> serials = {}) {
    CrlSpec spec{.number = number, .this_update = pki_.pki->clock.Now(),
                 .next_update = pki_.pki->clock.Now() + std::chrono::hours(1)};
    for (auto& s : serials) spec.revoked.push_back({.serial = s, .revoked_at = pki_.pki->clock.Now()});
    const auto& pki = *pki_.pki;
    auto crl = by_root ? BuildCrl(pki.root.get(), pki.root_key.get(), spec)
                       : BuildCrl(pki.intermediate.get(), pki.intermediate_key.get(), spec);
    EXPECT_TRUE(crl) << crl.error().ToString();
    return crl ? crl->pem : "";
  }

  std::string File(const std::string& path) const { return ReadFile(path).value_or(""); }

  NetPki pki_;
  std::string other_root_;  // a root of another PKI
  testing::TempDir dir_;
  AgentConfig config_;
  std::unique_ptr<agent::StatePaths> paths_;
  std::string trust_pem_;
  std::mutex mu_;
  std::string bundle_, crl_;  // what the server serves, guarded by mu_
  std::unique_ptr<net::testing::RunningServer> server_;
  std::string url_;
};

TEST_F(CrlBundleSyncTest, ABundleWithNoneOfTheTrustedRootsIsRefused) {
  Trust(pki_.root_pem);
  Serve(pki_.root_pem, Crl(5));
  ASSERT_TRUE(Sync());
  ASSERT_EQ(File(config_.bundle_path), pki_.root_pem);

  Serve(other_root_, Crl(6));
  auto refused = Sync();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("it holds none of the roots this agent trusts"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(trust_pem_, pki_.root_pem);
  EXPECT_EQ(File(paths_->trust), pki_.root_pem);
  EXPECT_EQ(File(config_.bundle_path), pki_.root_pem);
}

TEST_F(CrlBundleSyncTest, ARotationsBundlesAreAccepted) {
  // prepare --root: the new root joins beside the old one.
  Trust(pki_.root_pem);
  Serve(pki_.root_pem + other_root_, Crl(5));
  auto added = Sync();
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_TRUE(added->trust_changed);
  EXPECT_EQ(File(config_.bundle_path), pki_.root_pem + other_root_);

  // retire: the root the CA no longer chains to leaves.
  Serve(pki_.root_pem, Crl(6));
  auto dropped = Sync();
  ASSERT_TRUE(dropped) << dropped.error().ToString();
  EXPECT_TRUE(dropped->trust_changed);
  EXPECT_EQ(trust_pem_, pki_.root_pem);
  EXPECT_EQ(File(config_.bundle_path), pki_.root_pem);
}

TEST_F(CrlBundleSyncTest, ABundleThatDropsTheRootTheCaChainsToIsRefused) {
  Trust(pki_.root_pem + other_root_);
  Serve(other_root_, Crl(5));
  auto refused = Sync();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("without holding the root the CA's own certificate chains to"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(trust_pem_, pki_.root_pem + other_root_);
  EXPECT_EQ(File(paths_->trust), pki_.root_pem + other_root_);
}

TEST_F(CrlBundleSyncTest, ACrlWithALowerNumberThanTheKeptOneIsRefused) {
  Trust(pki_.root_pem);
  const std::string current = Crl(5, false, {"aa"}) + Crl(1, true);
  Serve(pki_.root_pem, current);
  auto first = Sync();
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(File(config_.crl_path), current);

  // An older CRL of the intermediate (it does not list "aa" yet): refused,
  // naming the issuer and both numbers; the kept and published files stay.
  Serve(pki_.root_pem, Crl(4) + Crl(1, true));
  auto refused = Sync();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  const std::string issuer = NameText(X509_get_subject_name(pki_.pki->intermediate.get()));
  EXPECT_NE(refused.error().message.find("CRL of " + issuer + ": its CRL number 4 is lower than 5"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(File(paths_->crl), current);
  EXPECT_EQ(File(config_.crl_path), current);

  // The same numbers again: the same CRLs. Then a newer one. Numbers are
  // compared per issuer: the root's 1 is not held against the
  // intermediate's 6.
  Serve(pki_.root_pem, current);
  ASSERT_TRUE(Sync());
  const std::string newer = Crl(6, false, {"aa", "bb"}) + Crl(1, true);
  Serve(pki_.root_pem, newer);
  auto accepted = Sync();
  ASSERT_TRUE(accepted) << accepted.error().ToString();
  EXPECT_TRUE(accepted->crl_written);
  EXPECT_EQ(File(config_.crl_path), newer);
}

}  // namespace crl_bundle_sync_test
}  // namespace mayfly
