// The real daemon after `ca rotate --now --revoke-old`, over mutual TLS:
// whoever holds the revoked intermediate's key can mint leaves (with or
// without an AKI, naming an admin or a node) and none gets in; a leaf
// without an AKI is refused even from the active intermediate; a node's own
// recorded certificate still renews onto the new intermediate.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include <boost/json.hpp>

#include "mayfly/ca_layout.h"
#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"

namespace mayfly {
namespace revoked_intermediate_test {

namespace json = boost::json;

// A CA certificate and its key, read from the state directory as an
// attacker who stole them would have them.
struct StolenCa {
  OsslPtr<X509> cert;
  OsslPtr<EVP_PKEY> key;
};

// A client credential: the chain it presents and its key.
struct Credential {
  std::string chain_pem;
  OsslPtr<EVP_PKEY> key;
};

// What one request over mutual TLS came to: refused at the handshake (no
// status), or an HTTP status.
struct Outcome {
  bool handshake = false;
  int status = 0;
  std::string text;  // the body, or why the connection failed
};

std::ostream& operator<<(std::ostream& out, const Outcome& o) {
  return out << (o.handshake ? "HTTP " + std::to_string(o.status) : "no handshake") << ": " << o.text;
}

// Refused at the handshake or with 401; says which, for the test's log.
bool Refused(const Outcome& o) {
  std::cout << "[ refused? ] " << o << "\n";
  return !o.handshake || o.status == 401;
}

class RevokedIntermediateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("auto_rotate = false\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/db\"\nnode = \"node-1\"\n");
    ca_.Start();
  }
  void TearDown() override { ca_.Stop(); }

  std::string StateDir() const { return ca_.Path("ca"); }

  // The intermediate `ca init` made (the one a revoking rotation revokes).
  StolenCa FirstIntermediate() const {
    const CaPaths paths = CaPaths::For(StateDir());
    return Load(paths.intermediate_cert, paths.intermediate_key);
  }
  // The intermediate a rotation made: its key is the one other
  // intermediate-*.key file in the state directory; its certificate comes
  // with every issued leaf.
  StolenCa RotatedIntermediate(const std::string& chain_pem) const {
    std::string key_file;
    for (const auto& entry : std::filesystem::directory_iterator(StateDir())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("intermediate-") && name.ends_with(".key")) key_file = entry.path().string();
    }
    EXPECT_FALSE(key_file.empty());
    auto certs = CertsFromPem(chain_pem).value();
    StolenCa ca{std::move(certs.at(1)), LoadKey(key_file)};
    return ca;
  }
  StolenCa Load(const std::string& cert_file, const std::string& key_file) const {
    return StolenCa{LoadCertFile(cert_file).value(), LoadKey(key_file)};
  }
  OsslPtr<EVP_PKEY> LoadKey(const std::string& file) const {
    auto key = LoadKeyFile(file, ReadPassphraseFile(ca_.Path("pass")).value());
    EXPECT_TRUE(key) << key.error().ToString();
    return key ? std::move(*key) : nullptr;
  }

  // A leaf for `spiffe_id` minted with `ca`'s key; sent with `ca`'s
  // certificate as its chain.
  static Credential Forge(const StolenCa& ca, const std::string& spiffe_id, bool with_aki) {
    Credential forged{.key = GenerateKey(KeyType::kEcdsaP256).value()};
    forged.chain_pem = testing::MintLeaf(ca.cert.get(), ca.key.get(), forged.key.get(), spiffe_id, with_aki,
                                         SystemClock::Instance().Now()) +
                       CertToPem(ca.cert.get()).value();
    return forged;
  }

  // One request on a new connection, presenting `who` (or nothing).
  Outcome Call(const Credential* who, const std::string& method, const std::string& target,
               const std::string& body = "") {
    net::ClientTlsConfig tls;
    tls.trust_pem = ReadFile(ca_.Path("ca/root.pem")).value();
    if (who != nullptr) {
      tls.cert_chain_pem = who->chain_pem;
      tls.key = who->key.get();
    }
    auto client = net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext(tls).value()).value();
    auto r = client.Request(method, target, body);
    if (!r) return Outcome{.text = r.error().message};
    return Outcome{.handshake = true, .status = r->status, .text = r->body};
  }
  static std::string CsrBody(const std::vector<std::string>& uris = {}) {
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    return json::serialize(json::object{{"csr", MakeCsrPem(key.get(), uris, {}, {}).value()}});
  }
  Outcome Sign(const Credential& who) { return Call(&who, "POST", "/v1/sign", CsrBody({"spiffe://example.org/db"})); }
  Outcome Renew(const Credential& who) { return Call(&who, "POST", "/v1/renew", CsrBody()); }
  Outcome AdminCall(const Credential& who) { return Call(&who, "GET", "/v1/admin/certs"); }

  // Enrolls node-1 through the API; its certificate and chain, as an agent
  // keeps and presents them.
  Credential EnrollNode() {
    auto token = ca_.Cli("--json token create --node node-1");
    EXPECT_EQ(token.status, 0) << token.output;
    Credential node{.key = GenerateKey(KeyType::kEcdsaP256).value()};
    const std::string body = json::serialize(json::object{
        {"token", json::parse(token.output).at("token")},
        {"csr", MakeCsrPem(node.key.get(), {}, {}, {}).value()}});
    auto r = Call(nullptr, "POST", "/v1/enroll", body);
    EXPECT_EQ(r.status, 200) << r;
    if (r.status == 200) node.chain_pem = CertificateChain(r.text);
    return node;
  }
  static std::string CertificateChain(const std::string& response_body) {
    auto v = json::parse(response_body);
    return std::string(v.at("certificate").as_string()) + std::string(v.at("chain").as_string());
  }
  void RotateRevokingTheOld() {
    auto r = ca_.Cli("--json ca rotate --now --revoke-old");
    ASSERT_EQ(r.status, 0) << r.output;
  }

  testing::CaFixture ca_;
};

TEST_F(RevokedIntermediateTest, LeavesMintedWithTheRevokedKeyGetNowhere) {
  const StolenCa stolen = FirstIntermediate();
  Credential node = EnrollNode();
  ASSERT_EQ(Sign(node).status, 200);
  RotateRevokingTheOld();

  for (bool with_aki : {false, true}) {
    SCOPED_TRACE(with_aki ? "with an AKI" : "without an AKI");
    const Credential admin = Forge(stolen, "spiffe://example.org/mayfly/admin/evil", with_aki);
    const Outcome certs = AdminCall(admin);
    EXPECT_TRUE(Refused(certs)) << certs;
    const Outcome token = Call(&admin, "POST", "/v1/admin/tokens", R"({"node":"evil"})");
    EXPECT_TRUE(Refused(token)) << token;
    const Credential forged_node = Forge(stolen, "spiffe://example.org/mayfly/node/node-1", with_aki);
    const Outcome sign = Sign(forged_node);
    EXPECT_TRUE(Refused(sign)) << sign;
    const Outcome renew = Renew(forged_node);
    EXPECT_TRUE(Refused(renew)) << renew;
  }
  // The node's own certificate from the revoked intermediate may not sign either.
  const Outcome sign = Sign(node);
  EXPECT_TRUE(Refused(sign)) << sign;
}

TEST_F(RevokedIntermediateTest, ALeafWithoutAnAkiIsRefusedFromTheActiveIntermediate) {
  const StolenCa active = FirstIntermediate();
  EnrollNode();
  // Minted like the CA does (with an AKI) for the admin init records, the
  // same key gets in: what refuses the leaf below is its missing AKI alone.
  const Outcome with_aki = AdminCall(Forge(active, "spiffe://example.org/mayfly/admin/admin", true));
  EXPECT_EQ(with_aki.status, 200) << with_aki;

  const Outcome admin = AdminCall(Forge(active, "spiffe://example.org/mayfly/admin/evil", false));
  EXPECT_EQ(admin.status, 401) << admin;
  EXPECT_NE(admin.text.find("no authority key identifier"), std::string::npos) << admin;
  const Outcome sign = Sign(Forge(active, "spiffe://example.org/mayfly/node/node-1", false));
  EXPECT_EQ(sign.status, 401) << sign;

  // The same after a rotation, from the new active intermediate.
  RotateRevokingTheOld();
  Credential node = EnrollNode();
  const StolenCa rotated = RotatedIntermediate(node.chain_pem);
  ASSERT_EQ(Sign(node).status, 200);
  const Outcome after = AdminCall(Forge(rotated, "spiffe://example.org/mayfly/admin/evil", false));
  EXPECT_EQ(after.status, 401) << after;
}

TEST_F(RevokedIntermediateTest, ANodesRecordedCertificateStillRenewsOntoTheNewIntermediate) {
  const std::string first_key_id = SubjectKeyIdHex(FirstIntermediate().cert.get());
  Credential node = EnrollNode();
  RotateRevokingTheOld();
  // Presented with its chain, as the agent does, and as the bare leaf.
  Credential bare{.chain_pem = CertToPem(CertsFromPem(node.chain_pem).value().at(0).get()).value()};
  ASSERT_EQ(EVP_PKEY_up_ref(node.key.get()), 1);
  bare.key.reset(node.key.get());
  for (const Credential* who : {&node, &bare}) {
    Credential fresh{.key = GenerateKey(KeyType::kEcdsaP256).value()};
    const std::string csr = MakeCsrPem(fresh.key.get(), {}, {}, {}).value();
    const Outcome renewed = Call(who, "POST", "/v1/renew", json::serialize(json::object{{"csr", csr}}));
    ASSERT_EQ(renewed.status, 200) << renewed;
    fresh.chain_pem = CertificateChain(renewed.text);
    auto certs = CertsFromPem(fresh.chain_pem).value();
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_NE(SubjectKeyIdHex(certs[1].get()), first_key_id);
    EXPECT_EQ(Sign(fresh).status, 200);
  }
}

}  // namespace revoked_intermediate_test
}  // namespace mayfly
