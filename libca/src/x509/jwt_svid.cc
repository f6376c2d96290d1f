// JWT-SVIDs as compact JWS (RFC 7515) with ECDSA (RFC 7518 section 3.4).
#include "mayfly/jwt_svid.h"

#include <openssl/x509.h>

#include <algorithm>
#include <boost/json.hpp>

#include "mayfly/identity.h"
#include "mayfly/jwk.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

namespace json = boost::json;

std::unexpected<Error> Refused(const std::string& why) {
  return MakeError(ErrorCode::kUnauthenticated, "JWT-SVID refused: " + why);
}

// The digest and the width of r and s for a JWS ECDSA algorithm; nullptr
// for any other (none, HS*, RS*: this CA only signs ES256).
const EVP_MD* EcdsaDigest(std::string_view alg, size_t& width) {
  if (alg == "ES256") return width = 32, EVP_sha256();
  if (alg == "ES384") return width = 48, EVP_sha384();
  return nullptr;
}

// JWS carries an ECDSA signature as r || s, each left-padded to the curve's
// width; OpenSSL makes and checks the DER SEQUENCE.
Result<std::string> DerToRaw(const std::string& der, size_t width) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OsslPtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return OpensslError("reading the ECDSA signature");
  std::string raw(2 * width, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, static_cast<int>(width)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + width, static_cast<int>(width)) < 0) {
    return OpensslError("encoding the ECDSA signature");
  }
  return raw;
}

Result<std::string> RawToDer(std::string_view raw, size_t width) {
  if (raw.size() != 2 * width) return Refused("the signature has the wrong length");
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  OsslPtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(in, static_cast<int>(width), nullptr);
  BIGNUM* s = BN_bin2bn(in + width, static_cast<int>(width), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return OpensslError("reading the signature");
  }
  return EncodeDer(sig.get(), i2d_ECDSA_SIG, "the signature");
}

// A JSON object from one base64url part of the token.
Result<json::object> DecodePart(std::string_view part, const char* what) {
  auto bytes = DecodeBase64Url(part);
  if (!bytes) return Refused(std::string("the ") + what + " is not base64url");
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) return Refused(std::string("the ") + what + " is not a JSON object");
  return std::move(v.as_object());
}

const json::string* StringMember(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr ? v->if_string() : nullptr;
}

}  // namespace

std::map<std::string, const EVP_PKEY*, std::less<>> JwtAuthorities::View() const {
  std::map<std::string, const EVP_PKEY*, std::less<>> view;
  for (const auto& [kid, key] : keys) view.emplace(kid, key.get());
  return view;
}

Result<JwtAuthorities> JwtAuthoritiesFromBundle(std::string_view spiffe_bundle_json) {
  boost::system::error_code ec;
  json::value bundle = json::parse(spiffe_bundle_json, ec);
  const json::value* listed = !ec && bundle.is_object() ? bundle.as_object().if_contains("keys") : nullptr;
  if (listed == nullptr || !listed->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "the SPIFFE bundle is not a JWKS (no \"keys\" array)");
  }
  JwtAuthorities authorities;
  json::array kept;
  for (const json::value& key : listed->as_array()) {
    const json::object* jwk = key.if_object();
    if (jwk == nullptr || StringMember(*jwk, "use") == nullptr || *StringMember(*jwk, "use") != "jwt-svid") continue;
    const json::string* kid = StringMember(*jwk, "kid");
    if (kid == nullptr || kid->empty()) return MakeError(ErrorCode::kInvalidArgument, "a jwt-svid key without a kid");
    auto public_key = PublicKeyFromJwk(*jwk);
    if (!public_key) return WithContext(public_key.error(), "JWT key " + std::string(*kid));
    authorities.keys.emplace(std::string(*kid), std::move(*public_key));
    kept.push_back(key);
  }
  authorities.jwks_json = json::serialize(json::object{{"keys", std::move(kept)}});
  return authorities;
}

Result<OsslPtr<EVP_PKEY>> GenerateJwtKey() { return GenerateKey(KeyType::kEcdsaP256); }

Result<std::string> JwtKeyId(const EVP_PKEY* key) {
  auto pub = PublicKeyOf(key);
  if (!pub) return std::unexpected(pub.error());
  return Sha256Hex(pub->spki_der).substr(0, 32);
}

Result<std::string> SignJwtSvid(const EVP_PKEY* key, std::string_view kid, const JwtSvidClaims& claims) {
  if (claims.subject.empty() || claims.audience.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a JWT-SVID needs a subject and at least one audience");
  }
  const std::string header = json::serialize(json::object{{"alg", "ES256"}, {"kid", kid}, {"typ", "JWT"}});
  json::object payload{{"sub", claims.subject},
                       {"aud", json::array(claims.audience.begin(), claims.audience.end())},
                       {"exp", claims.expires_at},
                       {"iat", claims.issued_at}};
  const std::string input = Base64Url(header) + "." + Base64Url(json::serialize(payload));
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  ClearOpensslErrors();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return OpensslError("signing a JWT-SVID");
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return OpensslError("signing a JWT-SVID");
  }
  der.resize(len);
  auto raw = DerToRaw(der, 32);
  if (!raw) return std::unexpected(raw.error());
  return input + "." + Base64Url(*raw);
}

Result<JwtSvidClaims> VerifyJwtSvid(std::string_view token, std::string_view audience,
                                    const std::map<std::string, const EVP_PKEY*, std::less<>>& keys, int64_t now) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Refused("not a compact JWS (three parts separated by dots)");
  }
  auto header = DecodePart(token.substr(0, first), "header");
  if (!header) return std::unexpected(header.error());
  auto payload = DecodePart(token.substr(first + 1, second - first - 1), "payload");
  if (!payload) return std::unexpected(payload.error());
  const json::string* alg = StringMember(*header, "alg");
  const json::string* kid = StringMember(*header, "kid");
  size_t width = 0;
  const EVP_MD* md = alg != nullptr ? EcdsaDigest(*alg, width) : nullptr;
  if (md == nullptr) return Refused("the algorithm is not ES256 or ES384");
  if (kid == nullptr) return Refused("the header names no key (kid)");
  const auto key = keys.find(std::string_view(*kid));
  if (key == keys.end()) return Refused("the key " + std::string(*kid) + " is not in the bundle");
  auto signature = DecodeBase64Url(token.substr(second + 1));
  if (!signature) return Refused("the signature is not base64url");
  auto der = RawToDer(*signature, width);
  if (!der) return std::unexpected(der.error());
  const std::string_view input = token.substr(0, second);
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ClearOpensslErrors();
  const bool valid =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, const_cast<EVP_PKEY*>(key->second)) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()), der->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ClearOpensslErrors();
  if (!valid) return Refused("the signature does not verify");

  JwtSvidClaims claims;
  const json::string* sub = StringMember(*payload, "sub");
  if (sub == nullptr || !SpiffeId::Parse(*sub)) return Refused("\"sub\" is not a SPIFFE ID");
  claims.subject = std::string(*sub);
  const json::value* exp = payload->if_contains("exp");
  if (exp == nullptr || !exp->is_number()) return Refused("there is no \"exp\"");
  boost::system::error_code ec;
  claims.expires_at = exp->to_number<int64_t>(ec);
  if (ec) return Refused("\"exp\" is not a whole number of seconds");
  if (claims.expires_at <= now) return Refused("it expired at " + FormatRfc3339(FromUnixSeconds(claims.expires_at)));
  if (const json::value* iat = payload->if_contains("iat"); iat != nullptr && iat->is_number()) {
    claims.issued_at = iat->to_number<int64_t>(ec);
  }
  const json::value* aud = payload->if_contains("aud");
  if (aud != nullptr && aud->is_string()) {
    claims.audience.emplace_back(aud->as_string());
  } else if (aud != nullptr && aud->is_array()) {
    for (const json::value& a : aud->as_array()) {
      if (const json::string* s = a.if_string()) claims.audience.emplace_back(*s);
    }
  }
  if (std::find(claims.audience.begin(), claims.audience.end(), audience) == claims.audience.end()) {
    return Refused("it is not for the audience " + std::string(audience));
  }
  return claims;
}

}  // namespace mayfly
