// SubjectPublicKeyInfo of a generated key.
#include "mayfly/public_key.h"

namespace mayfly {

Result<SubjectPublicKey> PublicKeyOf(const EVP_PKEY* key) {
  ClearOpensslErrors();
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return OpensslError("encoding a public key");
  SubjectPublicKey out;
  out.spki_der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(out.spki_der.data());
  OsslPtr<X509_PUBKEY> pub(d2i_X509_PUBKEY(nullptr, &p, len));
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (!pub || X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr, pub.get()) != 1) {
    return OpensslError("reading a public key");
  }
  out.key_bits.assign(reinterpret_cast<const char*>(bits), static_cast<size_t>(bits_len));
  return out;
}

}  // namespace mayfly
