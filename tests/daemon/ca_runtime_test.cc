// CaRuntime: loading a CA, config entries, reloads and the server certificate.
#include "ca_runtime.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "api_fixture.h"
#include "mayfly/ca_layout.h"
#include "support/store_fixture.h"
#include "support/test_pki.h"

namespace mayfly::testing {
namespace ca_runtime_test {

class CaRuntimeTest : public ApiTest {};

TEST_F(CaRuntimeTest, ConfigEntriesAreSyncedIntoTheStore) {
  auto entries = rt_->store().ListEntries().value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].spiffe_id, "spiffe://example.org/ns/prod/web");
  EXPECT_EQ(entries[0].source, "config");
  EXPECT_EQ(entries[0].max_ttl, 7200);
  EXPECT_EQ(rt_->entries().Get()->size(), 2u);
}

TEST_F(CaRuntimeTest, ABadEntryIsAStartupErrorNamingIt) {
  Stop();
  CaConfig bad = config_;
  bad.entries.push_back(EntryConfig{.spiffe_id = "spiffe://example.org/mayfly/admin/x", .node = "n"});
  auto rt = CaRuntime::Load(bad, clock_);
  ASSERT_FALSE(rt);
  EXPECT_EQ(rt.error().code, ErrorCode::kConfig);
  EXPECT_NE(rt.error().message.find("entry[2]"), std::string::npos) << rt.error().message;
  EXPECT_NE(rt.error().message.find("spiffe://example.org/mayfly/admin/x"), std::string::npos);
  EXPECT_NE(rt.error().message.find("ca.toml"), std::string::npos);
}

TEST_F(CaRuntimeTest, MissingCaOrWrongPassphraseAreClearErrors) {
  Stop();
  CaConfig elsewhere = config_;
  elsewhere.state_dir = dir_.File("nothing-here");
  auto rt = CaRuntime::Load(elsewhere, clock_);
  ASSERT_FALSE(rt);
  EXPECT_EQ(rt.error().code, ErrorCode::kConfig);
  EXPECT_NE(rt.error().message.find("mayfly-ca init"), std::string::npos) << rt.error().message;

  WriteTextFile(dir_.File("wrong"), "not the passphrase\n");
  ASSERT_EQ(chmod(dir_.File("wrong").c_str(), 0600), 0);
  CaConfig wrong = config_;
  wrong.ca.key_passphrase_file = dir_.File("wrong");
  rt = CaRuntime::Load(wrong, clock_);
  ASSERT_FALSE(rt);
  EXPECT_NE(rt.error().message.find("intermediate key"), std::string::npos) << rt.error().message;
}

TEST_F(CaRuntimeTest, KeysOrStateOthersCanReadAreRefusedAtStart) {
  Stop();
  const CaPaths paths = CaPaths::For(config_.state_dir);
  struct Case {
    std::string path;
    mode_t bad_mode, good_mode;
    std::string what, fix;
  };
  const Case cases[] = {
      {paths.intermediate_key, 0640, 0600, "intermediate key", "chmod 600 "},
      {paths.root_key, 0604, 0600, "root key", "chmod 600 "},
      {config_.state_dir, 0750, 0700, "state_dir", "chmod 700 "},
      {paths.database, 0644, 0600, "database", "chmod 600 "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_EQ(chmod(c.path.c_str(), c.bad_mode), 0);
    auto rt = CaRuntime::Load(config_, clock_);
    ASSERT_FALSE(rt);
    EXPECT_EQ(rt.error().code, ErrorCode::kConfig);
    EXPECT_NE(rt.error().message.find(c.what + " " + c.path), std::string::npos) << rt.error().message;
    EXPECT_NE(rt.error().message.find(c.fix + c.path), std::string::npos) << rt.error().message;
    ASSERT_EQ(chmod(c.path.c_str(), c.good_mode), 0);
  }
  auto rt = CaRuntime::Load(config_, clock_);
  EXPECT_TRUE(rt) << rt.error().ToString();
}

TEST_F(CaRuntimeTest, ReloadReplacesConfigEntriesButKeepsApiOnes) {
  auto r = Post("/v1/admin/entries", {{"spiffe_id", "spiffe://example.org/api"}, {"node", "n"}}, AdminSocket());
  ASSERT_EQ(r.status, 201);
  CaConfig next = config_;
  next.entries = {EntryConfig{.spiffe_id = "spiffe://example.org/ns/prod/cache", .node = "cache-*"}};
  ASSERT_TRUE(rt_->Reload(next));
  auto entries = rt_->entries().Get();
  ASSERT_EQ(entries->size(), 2u);
  std::set<std::string> ids;
  for (const auto& e : *entries) ids.insert(e.spiffe_id);
  EXPECT_TRUE(ids.contains("spiffe://example.org/api"));
  EXPECT_TRUE(ids.contains("spiffe://example.org/ns/prod/cache"));

  // A bad reload changes nothing.
  next.entries.push_back(EntryConfig{.spiffe_id = "spiffe://other.org/x", .node = "n"});
  auto bad = rt_->Reload(next);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("entry[1]"), std::string::npos);
  EXPECT_EQ(rt_->entries().Get()->size(), 2u);
  EXPECT_EQ(rt_->store().ListEntries().value().size(), 2u);
}

TEST_F(CaRuntimeTest, ServerCertificateNamesTheCaAndServerNames) {
  auto server = rt_->IssueServerCertificate({"ca.internal", "127.0.0.1", "::1"});
  ASSERT_TRUE(server) << server.error().ToString();
  auto chain = CertsFromPem(server->cert_chain_pem).value();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(CertSpiffeId(chain[0].get()), "spiffe://example.org/mayfly/ca");
  EXPECT_TRUE(KeysMatch(X509_get0_pubkey(chain[0].get()), server->key.get()));
  EXPECT_EQ(CertToPem(chain[1].get()).value(), rt_->ca()->chain_pem);
  EXPECT_EQ(X509_check_host(chain[0].get(), "ca.internal", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(chain[0].get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(chain[0].get(), "::1", 0), 1);
  EXPECT_EQ(server->not_after, CertNotAfter(chain[0].get()));
  auto record = rt_->store().GetCertificate(server->serial).value();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->kind, CertKind::kServer);

  EXPECT_FALSE(rt_->IssueServerCertificate({}));
  auto bad = rt_->IssueServerCertificate({"bad name!"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidName);
}

TEST_F(CaRuntimeTest, RefreshSeesRevocationsMadeByAnotherDaemon) {
  TestNode node = Enroll("web-1");
  // Another daemon on the same database revokes the node.
  auto other = OpenStore({.sqlite_path = CaPaths::For(config_.state_dir).database}).value();
  ASSERT_TRUE(other->Revoke(RevokeSelector{.serial = node.serial}, RevocationReason::kUnspecified,
                            ToUnixSeconds(clock_.Now()), testing::kRevokeEvent));
  EXPECT_FALSE(rt_->revocations().IsRevoked(node.serial)) << "served from the cache until a refresh";
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_TRUE(rt_->revocations().IsRevoked(node.serial));
  EXPECT_EQ(Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, AsNode(node)).status, 401);
  // And expired revocations leave the cache.
  clock_.Advance(std::chrono::hours(25));
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_FALSE(rt_->revocations().IsRevoked(node.serial));
}

}  // namespace ca_runtime_test
}  // namespace mayfly::testing
