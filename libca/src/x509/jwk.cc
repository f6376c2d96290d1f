// JWKs with OpenSSL's key accessors; base64 with EVP_EncodeBlock.
#include "mayfly/jwk.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "mayfly/ocsp.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {
namespace {

// A big-endian unsigned parameter of `key`, left-padded to `width` bytes (0: minimal).
Result<std::string> BnParam(const EVP_PKEY* key, const char* name, int width, std::string_view what) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return OpensslError("reading " + std::string(what) + "'s " + name);
  }
  OsslPtr<BIGNUM> bn(raw);
  std::string out(static_cast<size_t>(width > 0 ? width : BN_num_bytes(bn.get())), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) < 0) {
    return OpensslError("encoding " + std::string(what) + "'s " + name);
  }
  return out;
}

}  // namespace

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64Url(std::string_view bytes) {
  std::string out = Base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> DecodeBase64Url(std::string_view text) {
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '+' || c == '/' || c == '=') return MakeError(ErrorCode::kInvalidArgument, "not base64url");
    standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  if (standard.size() % 4 == 1) return MakeError(ErrorCode::kInvalidArgument, "not base64url");
  while (standard.size() % 4 != 0) standard.push_back('=');
  auto decoded = DecodeBase64(standard);
  if (!decoded) return MakeError(ErrorCode::kInvalidArgument, "not base64url");
  return decoded;
}

Result<boost::json::object> PublicJwk(const EVP_PKEY* key, std::string_view what) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) != 1) {
      return OpensslError("reading " + std::string(what) + "'s curve");
    }
    const std::string_view g = group;
    const char* crv = g == "prime256v1" || g == "P-256" ? "P-256" : g == "secp384r1" || g == "P-384" ? "P-384" : nullptr;
    if (crv == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(what) + "'s curve " + std::string(g) + " has no JWK name");
    }
    const int width = std::string_view(crv) == "P-256" ? 32 : 48;
    auto x = BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, width, what);
    auto y = BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, width, what);
    if (!x || !y) return std::unexpected((!x ? x : y).error());
    return boost::json::object{{"kty", "EC"}, {"crv", crv}, {"x", Base64Url(*x)}, {"y", Base64Url(*y)}};
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    auto n = BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0, what);
    auto e = BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0, what);
    if (!n || !e) return std::unexpected((!n ? n : e).error());
    return boost::json::object{{"kty", "RSA"}, {"n", Base64Url(*n)}, {"e", Base64Url(*e)}};
  }
  if (EVP_PKEY_is_a(key, "ED25519")) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return OpensslError("reading " + std::string(what) + "'s Ed25519 key");
    return boost::json::object{
        {"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64Url(std::string_view(reinterpret_cast<char*>(raw), len))}};
  }
  return MakeError(ErrorCode::kInvalidArgument, std::string(what) + "'s key type has no JWK form");
}

Result<OsslPtr<EVP_PKEY>> PublicKeyFromJwk(const boost::json::object& jwk) {
  auto member = [&](std::string_view name) -> std::string_view {
    const boost::json::value* v = jwk.if_contains(name);
    const boost::json::string* s = v != nullptr ? v->if_string() : nullptr;
    return s != nullptr ? std::string_view(*s) : std::string_view();
  };
  const std::string_view crv = member("crv");
  const size_t width = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 0;
  if (member("kty") != "EC" || width == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "a JWK that is not an EC P-256 or P-384 key");
  }
  auto x = DecodeBase64Url(member("x"));
  auto y = DecodeBase64Url(member("y"));
  if (!x || !y || x->size() != width || y->size() != width) {
    return MakeError(ErrorCode::kInvalidArgument, "a JWK whose x or y is not a " + std::string(crv) + " coordinate");
  }
  // The uncompressed point, 0x04 || x || y (SEC 1 section 2.3.3).
  std::string point = "\x04" + *x + *y;
  char group[16] = {};
  std::string_view(crv == "P-256" ? "P-256" : "P-384").copy(group, sizeof group - 1);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  ClearOpensslErrors();
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ClearOpensslErrors();
    return MakeError(ErrorCode::kInvalidArgument, "a JWK whose point is not on " + std::string(crv));
  }
  return OsslPtr<EVP_PKEY>(raw);
}

}  // namespace mayfly
