// The public routes: the trust bundle and the CRL with conditional GET.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include <openssl/core_names.h>

#include <boost/json.hpp>

#include "mayfly/crl.h"
#include "mayfly/ocsp.h"
#include "mayfly/x509_util.h"

namespace mayfly::testing {
namespace api_public_test {

class ApiPublicTest : public ApiTest {};

TEST_F(ApiPublicTest, BundleIsTheRootPem) {
  auto r = Send("GET", "/v1/bundle", "", Anonymous());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-pem-file");
  EXPECT_EQ(r.body, ReadFile(CaPaths::For(config_.state_dir).root_cert).value());
  EXPECT_EQ(r.body, rt_->ca()->bundle_pem);
  EXPECT_EQ(rt_->ca()->client_trust_pem, rt_->ca()->bundle_pem + rt_->ca()->chain_pem);
}

// The SPIFFE bundle format: the root as a JWK whose coordinates are the
// root's key and whose x5c is the root, checked with OpenSSL; then the JWT key.
TEST_F(ApiPublicTest, BundleInTheSpiffeFormatIsTheRootAsAJwk) {
  auto r = Send("GET", "/v1/bundle", "", Anonymous(), {{"format", "spiffe"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const boost::json::object bundle = boost::json::parse(r.body).as_object();
  EXPECT_GT(bundle.at("spiffe_sequence").as_int64(), 0);
  EXPECT_EQ(bundle.at("spiffe_refresh_hint").as_int64(), 300);
  const auto& keys = bundle.at("keys").as_array();
  // The root, then the JWT key (api_jwt_test.cc checks tokens against it).
  ASSERT_EQ(keys.size(), 2u) << r.body;
  EXPECT_EQ(keys[1].at("use"), "jwt-svid");
  EXPECT_EQ(keys[1].at("crv"), "P-256");
  EXPECT_EQ(keys[1].at("kid").as_string().size(), 32u);
  EXPECT_FALSE(keys[1].as_object().contains("x5c"));
  const auto& jwk = keys[0].as_object();
  EXPECT_EQ(jwk.at("use"), "x509-svid");
  EXPECT_EQ(jwk.at("kty"), "EC");
  EXPECT_EQ(jwk.at("crv"), "P-256");

  auto root = CertFromPem(rt_->ca()->bundle_pem).value();
  EXPECT_EQ(DecodeBase64(jwk.at("x5c").as_array().at(0).as_string()).value(), CertToDer(root.get()).value());
  // x || y, from base64url, is the root's uncompressed point after its 0x04.
  auto from_url = [](std::string s) {
    for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
    return DecodeBase64(s).value();
  };
  unsigned char point[65];
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(X509_get0_pubkey(root.get()), OSSL_PKEY_PARAM_PUB_KEY, point,
                                            sizeof point, &len),
            1);
  ASSERT_EQ(len, 65u);
  EXPECT_EQ(from_url(std::string(jwk.at("x").as_string())) + from_url(std::string(jwk.at("y").as_string())),
            std::string(reinterpret_cast<char*>(point) + 1, 64));

  // Conditional GET like the PEM bundle; an unknown format is refused.
  auto again = Send("GET", "/v1/bundle", "", Anonymous(), {{"format", "spiffe"}},
                    {{"if-none-match", Header(r, "ETag")}});
  EXPECT_EQ(again.status, 304);
  auto bad = Send("GET", "/v1/bundle", "", Anonymous(), {{"format", "jwks"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("spiffe"), std::string::npos) << bad.body;
}

TEST_F(ApiPublicTest, CrlDerAndPemWithEtags) {
  auto der = Send("GET", "/v1/crl", "", Anonymous());
  ASSERT_EQ(der.status, 200);
  EXPECT_EQ(der.content_type, "application/pkix-crl");
  const std::string etag = Header(der, "ETag");
  EXPECT_EQ(etag.size(), 66u);
  EXPECT_EQ(etag.front(), '"');

  auto pem = Send("GET", "/v1/crl", "", Anonymous(), {{"format", "pem"}});
  ASSERT_EQ(pem.status, 200);
  EXPECT_EQ(pem.content_type, "application/x-pem-file");
  const std::string root_crl = ReadFile(CaPaths::For(config_.state_dir).root_crl).value();
  EXPECT_TRUE(pem.body.ends_with(root_crl));
  auto first = CrlFromPem(pem.body).value();
  EXPECT_EQ(CrlToDer(first.get()).value(), der.body) << "the intermediate's CRL comes first";
  EXPECT_NE(Header(pem, "ETag"), etag);

  auto again = Send("GET", "/v1/crl", "", Anonymous(), {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Header(again, "ETag"), etag);
  again = Send("GET", "/v1/crl", "", Anonymous(), {{"format", "pem"}}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 200) << "a DER tag does not match the PEM body";

  ASSERT_TRUE(rt_->crl().Regenerate());
  again = Send("GET", "/v1/crl", "", Anonymous(), {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 200) << "a new CRL has a new tag";
  EXPECT_NE(Header(again, "ETag"), etag);

  EXPECT_EQ(Send("GET", "/v1/crl", "", Anonymous(), {{"format", "txt"}}).status, 400);
}

TEST_F(ApiPublicTest, CrlTimesFollowTheConfig) {
  auto snapshot = rt_->crl().Current();
  EXPECT_EQ(snapshot->next_update - snapshot->this_update, config_.crl.next_update);
  const int64_t number = snapshot->number;
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(rt_->Refresh());
  EXPECT_EQ(rt_->crl().Current()->number, number + 1);
  EXPECT_EQ(rt_->crl().Current()->this_update, std::chrono::floor<Seconds>(clock_.Now()));
}

TEST_F(ApiPublicTest, CrlNumberNeverGoesBackAcrossRestarts) {
  const int64_t number = rt_->crl().Current()->number;
  Stop();
  Start();
  EXPECT_GT(rt_->crl().Current()->number, number);
}

}  // namespace api_public_test
}  // namespace mayfly::testing
