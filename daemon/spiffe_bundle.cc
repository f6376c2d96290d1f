// JWKs of the CA's roots (RFC 7517 and 7518), with OpenSSL's key accessors.
#include "spiffe_bundle.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <boost/json.hpp>

#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

namespace json = boost::json;

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RFC 7515 appendix C: base64url without padding.
std::string Base64Url(std::string_view bytes) {
  std::string out = Base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

// A big-endian unsigned parameter of `key`, left-padded to `width` bytes (0: minimal).
Result<std::string> BnParam(const EVP_PKEY* key, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return OpensslError(std::string("reading the key's ") + name);
  OsslPtr<BIGNUM> bn(raw);
  std::string out(static_cast<size_t>(width > 0 ? width : BN_num_bytes(bn.get())), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) < 0) {
    return OpensslError(std::string("encoding the key's ") + name);
  }
  return out;
}

// The public key of `cert` as JWK members (kty and its parameters).
Result<json::object> PublicJwk(const X509* cert) {
  const EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return OpensslError("reading a root's public key");
  json::object jwk;
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) != 1) {
      return OpensslError("reading a root's curve");
    }
    const std::string_view g = group;
    const char* crv = g == "prime256v1" || g == "P-256" ? "P-256" : g == "secp384r1" || g == "P-384" ? "P-384" : nullptr;
    if (crv == nullptr) return MakeError(ErrorCode::kInvalidArgument, "a root's curve " + std::string(g) + " has no JWK name");
    const int width = std::string_view(crv) == "P-256" ? 32 : 48;
    auto x = BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, width);
    auto y = BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, width);
    if (!x || !y) return std::unexpected((!x ? x : y).error());
    jwk = {{"kty", "EC"}, {"crv", crv}, {"x", Base64Url(*x)}, {"y", Base64Url(*y)}};
  } else if (EVP_PKEY_is_a(key, "RSA")) {
    auto n = BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0);
    auto e = BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n || !e) return std::unexpected((!n ? n : e).error());
    jwk = {{"kty", "RSA"}, {"n", Base64Url(*n)}, {"e", Base64Url(*e)}};
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return OpensslError("reading a root's Ed25519 key");
    jwk = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64Url(std::string_view(reinterpret_cast<char*>(raw), len))}};
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "a root's key type has no JWK form");
  }
  return jwk;
}

}  // namespace

Result<std::string> SpiffeBundleJson(const std::vector<const X509*>& roots, int64_t sequence) {
  json::array keys;
  for (const X509* root : roots) {
    auto jwk = PublicJwk(root);
    if (!jwk) return std::unexpected(jwk.error());
    auto der = CertToDer(root);
    if (!der) return std::unexpected(der.error());
    // SPIFFE bundle: the X.509 authority's certificate in x5c (standard
    // base64 of the DER, RFC 7517 section 4.7), no kid for x509-svid keys.
    (*jwk)["use"] = "x509-svid";
    (*jwk)["x5c"] = json::array{json::string(Base64(*der))};
    keys.push_back(std::move(*jwk));
  }
  return json::serialize(json::object{{"keys", std::move(keys)},
                                      {"spiffe_sequence", sequence},
                                      {"spiffe_refresh_hint", kSpiffeRefreshHint.count()}});
}

}  // namespace mayfly
