// The SPIFFE bundle: JWKs of the CA's roots and JWT signing keys.
#include "mayfly/spiffe_bundle.h"

#include <openssl/evp.h>

#include <boost/json.hpp>

#include "mayfly/jwk.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly {

Result<std::string> SpiffeBundleJson(const std::vector<const X509*>& roots, const std::vector<JwtAuthority>& jwt_keys,
                                     int64_t sequence) {
  namespace json = boost::json;
  json::array keys;
  for (const X509* root : roots) {
    const EVP_PKEY* key = X509_get0_pubkey(root);
    if (key == nullptr) return OpensslError("reading a root's public key");
    auto jwk = PublicJwk(key, "a root");
    if (!jwk) return std::unexpected(jwk.error());
    auto der = CertToDer(root);
    if (!der) return std::unexpected(der.error());
    // SPIFFE bundle: the X.509 authority's certificate in x5c (standard
    // base64 of the DER, RFC 7517 section 4.7), no kid for x509-svid keys.
    (*jwk)["use"] = "x509-svid";
    (*jwk)["x5c"] = json::array{json::string(Base64(*der))};
    keys.push_back(std::move(*jwk));
  }
  for (const JwtAuthority& authority : jwt_keys) {
    auto jwk = PublicJwk(authority.key, "a JWT signing key");
    if (!jwk) return std::unexpected(jwk.error());
    // JWT authorities are found by the kid of a token's header.
    (*jwk)["use"] = "jwt-svid";
    (*jwk)["kid"] = authority.kid;
    keys.push_back(std::move(*jwk));
  }
  return json::serialize(json::object{{"keys", std::move(keys)},
                                      {"spiffe_sequence", sequence},
                                      {"spiffe_refresh_hint", kSpiffeRefreshHint.count()}});
}

}  // namespace mayfly
