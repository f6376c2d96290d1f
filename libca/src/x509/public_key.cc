// SubjectPublicKeyInfo of a generated key, and keys compared as keys.
#include "mayfly/public_key.h"

namespace mayfly {

Result<SubjectPublicKey> PublicKeyOf(const EVP_PKEY* key) {
  auto der = EncodeDer(key, i2d_PUBKEY, "a public key");
  if (!der) return std::unexpected(der.error());
  SubjectPublicKey out;
  out.spki_der = std::move(*der);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(out.spki_der.data());
  OsslPtr<X509_PUBKEY> pub(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(out.spki_der.size())));
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (!pub || X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr, pub.get()) != 1) {
    return OpensslError("reading a public key");
  }
  out.key_bits.assign(reinterpret_cast<const char*>(bits), static_cast<size_t>(bits_len));
  return out;
}

Result<OsslPtr<EVP_PKEY>> PublicKeyFromDer(std::string_view spki_der) {
  ClearOpensslErrors();
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  OsslPtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) return OpensslError("reading a SubjectPublicKeyInfo");
  return key;
}

Result<bool> SamePublicKey(std::string_view spki_der, const EVP_PKEY* key) {
  if (key == nullptr) return MakeError(ErrorCode::kCrypto, "comparing public keys: no key to compare with");
  auto other = PublicKeyFromDer(spki_der);
  if (!other) return WithContext(other.error(), "comparing public keys");
  const char* type = EVP_PKEY_get0_type_name(key);
  if (type == nullptr) return OpensslError("comparing public keys: a key without a type");
  if (!EVP_PKEY_is_a(other->get(), type)) return false;
  // 1: equal, 0: different; below 0 (not comparable) only on failure, as
  // the algorithms are the same.
  const int eq = EVP_PKEY_eq(other->get(), key);
  if (eq < 0) return OpensslError("comparing two " + std::string(type) + " public keys");
  return eq == 1;
}

}  // namespace mayfly
