// The router's check of a caller's certificate in-process: its issuer is the
// one the TLS layer verified (PeerInfo::client_issuer_key_id), not its own
// AKI; recovery certificates count only for renewal; and the certificate
// must be valid at each request's time, not only at the handshake.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "support/test_pki.h"

namespace mayfly::testing {
namespace caller_certificate_test {

class CallerCertificateTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override { config.ca.auto_rotate = false; }

  // A peer whose handshake verified `pem` through the CA whose key id is
  // `issuer_key_id`.
  static net::PeerInfo Verified(const std::string& pem, std::string issuer_key_id) {
    net::PeerInfo peer = Anonymous();
    peer.SetClientCert(CertFromPem(pem).value(), std::move(issuer_key_id));
    return peer;
  }
  // A peer whose certificate verified only against the recovery store.
  static net::PeerInfo Recovery(const std::string& pem) {
    net::PeerInfo peer = Anonymous();
    peer.recovery_cert = CertFromPem(pem).value();
    return peer;
  }
  std::string ActiveKeyId() { return rt_->ca()->active->id(); }
  net::HttpResponse SignAs(const net::PeerInfo& peer) {
    return Post("/v1/sign", {{"csr", Csr(NewKey().get(), {"spiffe://example.org/ns/prod/db"})}}, peer.Share());
  }
  net::HttpResponse RenewAs(const net::PeerInfo& peer) {
    return Post("/v1/renew", {{"csr", Csr(NewKey().get())}}, peer.Share());
  }
  static std::string Message(const net::HttpResponse& r) {
    auto v = Json(r);
    return v.is_object() && v.as_object().contains("error") ? Str(v.at("error"), "message") : "";
  }

  // A leaf for `spiffe_id` signed with the key of the intermediate `ca
  // init` made but, unlike anything the CA issues, without an AKI.
  std::string LeafWithoutAki(const std::string& spiffe_id) {
    const CaPaths paths = CaPaths::For(config_.state_dir);
    auto issuer = CertFromPem(ReadFile(paths.intermediate_cert).value()).value();
    auto issuer_key =
        LoadKeyFile(paths.intermediate_key, ReadPassphraseFile(config_.ca.key_passphrase_file).value()).value();
    return MintLeaf(issuer.get(), issuer_key.get(), NewKey().get(), spiffe_id, false, clock_.Now());
  }
};

TEST_F(CallerCertificateTest, TheIssuerIsTheVerifiedOneNotTheCertificatesAki) {
  TestNode node = Enroll("db-1");
  EXPECT_EQ(SignAs(Verified(node.cert_pem, ActiveKeyId())).status, 200);
  // Verified through another CA than its AKI names: refused.
  auto mismatch = SignAs(Verified(node.cert_pem, std::string(40, 'a')));
  EXPECT_EQ(mismatch.status, 401) << mismatch.body;
  EXPECT_NE(Message(mismatch).find("authority key identifier"), std::string::npos) << mismatch.body;
  EXPECT_EQ(SignAs(Verified(node.cert_pem, "")).status, 401);
}

TEST_F(CallerCertificateTest, ALeafWithoutAnAkiIsRefusedEvenFromTheActiveIntermediate) {
  auto admin = Send("GET", "/v1/admin/certs", "",
                    Verified(LeafWithoutAki("spiffe://example.org/mayfly/admin/evil"), ActiveKeyId()));
  EXPECT_EQ(admin.status, 401) << admin.body;
  EXPECT_NE(Message(admin).find("no authority key identifier"), std::string::npos) << admin.body;
  Enroll("db-1");
  auto sign = SignAs(Verified(LeafWithoutAki("spiffe://example.org/mayfly/node/db-1"), ActiveKeyId()));
  EXPECT_EQ(sign.status, 401) << sign.body;
}

TEST_F(CallerCertificateTest, UnderARevokedIntermediateTheVerifiedIssuerDecides) {
  TestNode node = Enroll("db-1");
  const std::string old_key_id = ActiveKeyId();
  ASSERT_EQ(Post("/v1/admin/ca/rotate", {{"now", true}, {"revoke_old", true}}, AdminSocket()).status, 200);
  ASSERT_NE(ActiveKeyId(), old_key_id);
  EXPECT_TRUE(rt_->ca()->revoked_intermediates.contains(old_key_id));
  // The revoked intermediate is no longer a trust anchor; it stays only in
  // the recovery store.
  const std::string old_pem = DerToPem(rt_->ca()->Newest(CaRole::kIntermediate, CaState::kRevoked)->der, "CERTIFICATE");
  EXPECT_EQ(rt_->ca()->client_trust_pem.find(old_pem), std::string::npos);
  EXPECT_NE(rt_->ca()->client_recovery_pem.find(old_pem), std::string::npos);

  // A connection opened before the rotation: verified through the old one.
  const net::PeerInfo before = Verified(node.cert_pem, old_key_id);
  EXPECT_EQ(SignAs(before).status, 401);
  EXPECT_EQ(RenewAs(before).status, 200);
}

TEST_F(CallerCertificateTest, ARecoveryCertificateOnlyRenewsWhatTheCaRecorded) {
  TestNode node = Enroll("db-1");
  const std::string admin_pem = ReadFile(CaPaths::For(config_.state_dir).admin_cert).value();
  // Before any rotation nothing is revoked: a recovery certificate is
  // anonymous everywhere.
  EXPECT_EQ(RenewAs(Recovery(node.cert_pem)).status, 401);
  ASSERT_EQ(Post("/v1/admin/ca/rotate", {{"now", true}, {"revoke_old", true}}, AdminSocket()).status, 200);

  EXPECT_EQ(SignAs(Recovery(node.cert_pem)).status, 401);
  EXPECT_EQ(Send("GET", "/v1/admin/certs", "", Recovery(admin_pem)).status, 401);
  auto renewed = RenewAs(Recovery(node.cert_pem));
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  // The renewed certificate comes from the new intermediate and works.
  TestNode fresh{.name = "db-1", .cert_pem = Str(Json(renewed), "certificate")};
  EXPECT_EQ(SignAs(Verified(fresh.cert_pem, ActiveKeyId())).status, 200);
  // Never recorded: refused even to renew. So is a certificate of the new
  // intermediate presented as a recovery certificate.
  EXPECT_EQ(RenewAs(Recovery(LeafWithoutAki("spiffe://example.org/mayfly/node/db-1"))).status, 401);
  EXPECT_EQ(RenewAs(Recovery(fresh.cert_pem)).status, 401);
}

TEST_F(CallerCertificateTest, AnExpiredNodeCertificateIsRefusedAtTheNextRequest) {
  TestNode node = Enroll("db-1");
  const net::PeerInfo peer = AsNode(node);  // one connection, kept open
  EXPECT_EQ(SignAs(peer).status, 200);
  const TimePoint not_after = CertNotAfter(CertFromPem(node.cert_pem).value().get());
  clock_.Set(not_after);
  EXPECT_EQ(SignAs(peer).status, 200) << "valid through its notAfter second";
  clock_.Set(not_after + std::chrono::seconds(1));
  for (auto r : {SignAs(peer), RenewAs(peer)}) {
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "unauthenticated");
    EXPECT_NE(Message(r).find("the client certificate expired at " + FormatRfc3339(not_after)), std::string::npos)
        << r.body;
  }
}

TEST_F(CallerCertificateTest, ACertificateIsRefusedBeforeItsNotBefore) {
  TestNode node = Enroll("db-1");
  const TimePoint not_before = CertNotBefore(CertFromPem(node.cert_pem).value().get());
  clock_.Set(not_before - std::chrono::seconds(1));
  auto r = SignAs(AsNode(node));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(Message(r).find("not valid before"), std::string::npos) << r.body;
}

TEST_F(CallerCertificateTest, AnExpiredAdminCertificateIsRefused) {
  const net::PeerInfo admin = Admin();
  EXPECT_EQ(Send("GET", "/v1/admin/certs", "", admin.Share()).status, 200);
  clock_.Set(CertNotAfter(admin.client_cert.get()) + std::chrono::seconds(1));
  auto r = Send("GET", "/v1/admin/certs", "", admin.Share());
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(Message(r).find("expired"), std::string::npos) << r.body;
}

}  // namespace caller_certificate_test
}  // namespace mayfly::testing
