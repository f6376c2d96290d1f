// Certificates in the store: batches, revocation, the CRL number, listing and paging.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace store_certs_test {

using testing::TempDir;

constexpr int64_t kNow = 1000;

CertRecord Cert(std::string serial, std::string spiffe_id, std::string node, int64_t not_after) {
  return {.serial = std::move(serial), .spiffe_id = std::move(spiffe_id), .node = std::move(node),
          .not_before = 10, .not_after = not_after, .issued_at = 10, .der = std::string(600, '\x30')};
}

class StoreCertsTest : public testing::StoreFixture {
 protected:
  void Insert(const std::vector<CertRecord>& certs) {
    auto r = store_->InsertCertificates(certs);
    ASSERT_TRUE(r) << r.error().ToString();
  }
  std::vector<std::string> Revoke(RevokeSelector which, int64_t now = kNow) {
    auto r = store_->Revoke(which, RevocationReason::kKeyCompromise, now, testing::kRevokeEvent);
    EXPECT_TRUE(r) << r.error().ToString();
    std::vector<std::string> serials = r.value_or(std::vector<std::string>{});
    std::sort(serials.begin(), serials.end());
    return serials;
  }
  std::optional<CertRecord> Get(const std::string& serial) { return store_->GetCertificate(serial).value(); }

};

TEST_P(StoreCertsTest, InsertedCertificateReadsBackWhole) {
  CertRecord cert = Cert("1f", "spiffe://example.org/web", "n1", 2000);
  cert.kind = CertKind::kNode;
  cert.issuer = "a1b2";
  Insert({cert});
  auto got = Get("1f");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->spiffe_id, cert.spiffe_id);
  EXPECT_EQ(got->node, "n1");
  EXPECT_EQ(got->kind, CertKind::kNode);
  EXPECT_EQ(got->issuer, "a1b2");
  EXPECT_EQ(got->not_before, 10);
  EXPECT_EQ(got->not_after, 2000);
  EXPECT_EQ(got->issued_at, 10);
  EXPECT_EQ(got->der, cert.der);
  EXPECT_FALSE(got->revoked_at);
  EXPECT_FALSE(Get("20"));
}

TEST_P(StoreCertsTest, DuplicateSerialFailsTheWholeBatch) {
  Insert({Cert("01", "spiffe://example.org/a", "n1", 2000)});
  auto r = store_->InsertCertificates(std::vector{Cert("02", "spiffe://example.org/a", "n1", 2000),
                                                  Cert("03", "spiffe://example.org/a", "n1", 2000),
                                                  Cert("01", "spiffe://example.org/b", "n1", 2000)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("01"), std::string::npos) << r.error().message;
  EXPECT_FALSE(Get("02"));
  EXPECT_FALSE(Get("03"));
  EXPECT_EQ(Get("01")->spiffe_id, "spiffe://example.org/a");

  auto twice = store_->InsertCertificates(std::vector{Cert("04", "spiffe://example.org/a", "", 9),
                                                      Cert("04", "spiffe://example.org/a", "", 9)});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->CountCertificates(std::nullopt, kNow).value(), 1);
}

TEST_P(StoreCertsTest, RevokeBySerial) {
  Insert({Cert("0a", "spiffe://example.org/a", "n1", 2000), Cert("0b", "spiffe://example.org/a", "n1", 500)});
  EXPECT_EQ(Revoke({.serial = "0a"}), std::vector<std::string>{"0a"});
  auto got = Get("0a");
  EXPECT_EQ(got->revoked_at, kNow);
  EXPECT_EQ(got->reason, RevocationReason::kKeyCompromise);
  EXPECT_TRUE(Revoke({.serial = "0a"}).empty()) << "already revoked";
  EXPECT_TRUE(Revoke({.serial = "0b"}).empty()) << "expired";
  EXPECT_FALSE(Get("0b")->revoked_at);
  auto unknown = store_->Revoke({.serial = "ff"}, RevocationReason::kUnspecified, kNow, testing::kRevokeEvent);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreCertsTest, RevokeBySpiffeIdTakesOnlyUnexpiredOnes) {
  Insert({Cert("01", "spiffe://example.org/a", "n1", 2000), Cert("02", "spiffe://example.org/a", "n2", 3000),
          Cert("03", "spiffe://example.org/a", "n1", 900), Cert("04", "spiffe://example.org/b", "n1", 2000)});
  EXPECT_EQ(Revoke({.spiffe_id = "spiffe://example.org/a"}), (std::vector<std::string>{"01", "02"}));
  EXPECT_FALSE(Get("04")->revoked_at);
  EXPECT_FALSE(Get("03")->revoked_at);
  EXPECT_TRUE(testing::BannedNodeNames(*store_).empty());
}

TEST_P(StoreCertsTest, RevokeByNodeBansItAndRevokesItsUnexpiredCertificates) {
  Insert({Cert("01", "spiffe://example.org/mayfly/node/n1", "n1", 2000),
          Cert("02", "spiffe://example.org/web", "n1", 2000), Cert("03", "spiffe://example.org/web", "n1", 999),
          Cert("04", "spiffe://example.org/web", "n2", 2000)});
  EXPECT_EQ(Revoke({.node = "n1"}), (std::vector<std::string>{"01", "02"}));
  EXPECT_FALSE(Get("03")->revoked_at);
  EXPECT_FALSE(Get("04")->revoked_at);
  auto node = store_->GetNode("n1").value();
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->banned);
  EXPECT_EQ(node->banned_at, kNow);
  EXPECT_EQ(node->enrolled_at, 0);
  // Banning again keeps the first time.
  EXPECT_TRUE(Revoke({.node = "n1"}, kNow + 5).empty());
  EXPECT_EQ(store_->GetNode("n1").value()->banned_at, kNow);
  EXPECT_EQ(testing::BannedNodeNames(*store_), std::vector<std::string>{"n1"});
  EXPECT_FALSE(store_->GetNode("n2").value());
}

// A request checked before `revoke --node` commits but signed after it must
// not leave the banned node with a valid certificate: the insert re-checks.
TEST_P(StoreCertsTest, ACertificateForABannedNodeIsNotRecorded) {
  Insert({Cert("01", "spiffe://example.org/mayfly/node/n1", "n1", 2000)});
  Revoke({.node = "n1"});
  auto r = store_->InsertCertificates(std::vector<CertRecord>{Cert("02", "spiffe://example.org/web", "n1", 2000)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNodeBanned);
  EXPECT_NE(r.error().message.find("n1 was banned"), std::string::npos) << r.error().message;
  EXPECT_FALSE(Get("02"));
  // Other nodes are not affected.
  Insert({Cert("03", "spiffe://example.org/web", "n2", 2000)});
  EXPECT_TRUE(Get("03"));
}

// Likewise for `revoke --serial` of the certificate a request came with: a
// renewal in flight must not hand a revoked node a fresh certificate.
TEST_P(StoreCertsTest, ACertificateRequestedWithARevokedCertificateIsNotRecorded) {
  Insert({Cert("01", "spiffe://example.org/mayfly/node/n1", "n1", 2000)});
  CertRecord renewal = Cert("02", "spiffe://example.org/mayfly/node/n1", "n1", 2000);
  renewal.caller_serial = "01";
  Revoke({.serial = "01"});
  auto r = store_->InsertCertificates(std::vector<CertRecord>{renewal});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message.find("01 was revoked"), std::string::npos) << r.error().message;
  EXPECT_FALSE(Get("02"));
  // With a valid caller certificate it is recorded.
  Insert({Cert("03", "spiffe://example.org/mayfly/node/n2", "n2", 2000)});
  renewal = Cert("04", "spiffe://example.org/mayfly/node/n2", "n2", 2000);
  renewal.caller_serial = "03";
  Insert({renewal});
  EXPECT_TRUE(Get("04"));
}

TEST_P(StoreCertsTest, RevokeNeedsExactlyOneNonEmptySelector) {
  for (const RevokeSelector& which :
       {RevokeSelector{}, RevokeSelector{.serial = "01", .node = "n1"}, RevokeSelector{.node = ""}}) {
    auto r = store_->Revoke(which, RevocationReason::kUnspecified, kNow, testing::kRevokeEvent);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_P(StoreCertsTest, RevokedListOmitsExpiredAndFiltersByIssuer) {
  CertRecord short_lived = Cert("01", "spiffe://example.org/a", "n1", 1500);
  CertRecord other_issuer = Cert("02", "spiffe://example.org/a", "n1", 5000);
  other_issuer.issuer = "old";
  CertRecord long_lived = Cert("03", "spiffe://example.org/a", "n1", 5000);
  Insert({short_lived, other_issuer, long_lived, Cert("04", "spiffe://example.org/a", "n1", 5000)});
  Revoke({.serial = "01"});
  Revoke({.serial = "02"});
  Revoke({.serial = "03"});
  const auto serials = [](const std::vector<RevokedCert>& revoked) {
    std::vector<std::string> out;
    for (const RevokedCert& r : revoked) out.push_back(r.serial);
    return out;
  };
  EXPECT_EQ(serials(store_->ListRevokedUnexpired("", kNow).value()),
            (std::vector<std::string>{"01", "02", "03"}));
  EXPECT_EQ(serials(store_->ListRevokedUnexpired("", 2000).value()), (std::vector<std::string>{"02", "03"}));
  auto old = store_->ListRevokedUnexpired("old", 2000).value();
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].serial, "02");
  EXPECT_EQ(old[0].revoked_at, kNow);
  EXPECT_EQ(old[0].reason, RevocationReason::kKeyCompromise);
  EXPECT_EQ(old[0].not_after, 5000);
}

TEST_P(StoreCertsTest, CrlNumberNeverGoesBackAcrossReopen) {
  EXPECT_EQ(store_->NextCrlNumber().value(), 1);
  EXPECT_EQ(store_->NextCrlNumber().value(), 2);
  Reopen();
  EXPECT_EQ(store_->NextCrlNumber().value(), 3);
}

TEST_P(StoreCertsTest, ListAndCountFilter) {
  Insert({Cert("0a", "spiffe://example.org/a", "n1", 2000), Cert("0b", "spiffe://example.org/a", "n2", 500),
          Cert("0c", "spiffe://example.org/b", "n1", 2000), Cert("0d", "spiffe://example.org/b", "n2", 2000)});
  Revoke({.serial = "0c"});
  struct Case {
    std::optional<std::string> spiffe_id, node;
    std::optional<CertStatus> status;
    std::vector<std::string> want;  // newest first
  };
  const Case cases[] = {
      {{}, {}, {}, {"0d", "0c", "0b", "0a"}},
      {{}, {}, CertStatus::kValid, {"0d", "0a"}},
      {{}, {}, CertStatus::kRevoked, {"0c"}},
      {{}, {}, CertStatus::kExpired, {"0b"}},
      {"spiffe://example.org/a", {}, {}, {"0b", "0a"}},
      {{}, "n1", {}, {"0c", "0a"}},
      {"spiffe://example.org/b", {}, CertStatus::kValid, {"0d"}},
      {{}, "n2", CertStatus::kExpired, {"0b"}},
      {"spiffe://example.org/b", "n1", {}, {"0c"}},
      {"spiffe://example.org/none", {}, {}, {}},
  };
  for (const Case& c : cases) {
    auto page = store_->ListCertificates(
        {.spiffe_id = c.spiffe_id, .node = c.node, .status = c.status, .now = kNow});
    ASSERT_TRUE(page) << page.error().ToString();
    std::vector<std::string> got;
    for (const CertRecord& cert : page->certs) {
      got.push_back(cert.serial);
      EXPECT_TRUE(cert.der.empty());
    }
    EXPECT_EQ(got, c.want) << c.spiffe_id.value_or("-") << " " << c.node.value_or("-");
    EXPECT_FALSE(page->next_cursor);
    if (!c.spiffe_id && !c.node) {
      EXPECT_EQ(store_->CountCertificates(c.status, kNow).value(), std::ssize(c.want));
    }
  }
}

// Pages through `filter` and returns every serial seen, in order.
std::vector<std::string> ListAll(Store& store, CertFilter filter, int* pages) {
  std::vector<std::string> serials;
  *pages = 0;
  while (true) {
    auto page = store.ListCertificates(filter);
    EXPECT_TRUE(page) << page.error().ToString();
    if (!page) return serials;
    ++*pages;
    EXPECT_LE(std::ssize(page->certs), filter.limit);
    for (const CertRecord& cert : page->certs) serials.push_back(cert.serial);
    if (!page->next_cursor) return serials;
    EXPECT_EQ(std::ssize(page->certs), filter.limit);
    filter.cursor = page->next_cursor;
  }
}

TEST_P(StoreCertsTest, PagingVisitsEveryCertificateOnceNewestFirst) {
  // Enough valid certificates that they are listed by walking ids down, and
  // few enough expired ones that they are sorted from the status index: both
  // ways must page alike.
  constexpr int kCount = 25000;
  std::vector<CertRecord> certs;
  std::vector<std::string> want_valid, want_all;
  for (int i = 0; i < kCount; ++i) {
    const bool valid = i % 5 != 0;
    certs.push_back(Cert(std::to_string(100000 + i), "spiffe://example.org/w" + std::to_string(i % 3),
                         "n" + std::to_string(i % 7), valid ? 2000 : 500));
    want_all.push_back(certs.back().serial);
  }
  std::reverse(want_all.begin(), want_all.end());
  Insert(certs);
  for (const std::string& serial : want_all) {
    if ((std::stoi(serial) - 100000) % 5 != 0) want_valid.push_back(serial);
  }
  CertFilter filter;
  filter.now = kNow;
  filter.limit = 997;
  int pages = 0;
  EXPECT_EQ(ListAll(*store_, filter, &pages), want_all);
  EXPECT_EQ(pages, 26);
  filter.status = CertStatus::kValid;
  EXPECT_EQ(ListAll(*store_, filter, &pages), want_valid);
  filter.status = CertStatus::kExpired;
  filter.limit = 1000;
  EXPECT_EQ(ListAll(*store_, filter, &pages).size(), kCount / 5);
  filter.status.reset();
  filter.node = "n3";
  filter.limit = 100;
  const auto by_node = ListAll(*store_, filter, &pages);
  EXPECT_EQ(std::set<std::string>(by_node.begin(), by_node.end()).size(), by_node.size());
  EXPECT_EQ(std::ssize(by_node), std::count_if(certs.begin(), certs.end(), [](const CertRecord& c) {
              return c.node == "n3";
            }));
}

// A measurement for the log, not an assertion: the cost per row of
// InsertCertificates at group-commit batch sizes, fsync included.
TEST_P(StoreCertsTest, LimitIsClampedAndCursorChecked) {
  std::vector<CertRecord> certs;
  for (int i = 0; i < 1005; ++i) certs.push_back(Cert("c" + std::to_string(i), "spiffe://example.org/a", "", 9));
  Insert(certs);
  CertFilter filter;
  filter.limit = 0;
  EXPECT_EQ(store_->ListCertificates(filter).value().certs.size(), 1u);
  filter.limit = 5000;
  EXPECT_EQ(store_->ListCertificates(filter).value().certs.size(), 1000u);
  for (const char* bad : {"", "abc", "-3", "0", "12x"}) {
    filter.cursor = bad;
    auto page = store_->ListCertificates(filter);
    ASSERT_FALSE(page) << bad;
    EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreCertsTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_certs_test
}  // namespace mayfly
