// Message signatures by a key pair, and base64 for carrying them in JSON.
#include "mayfly/signature.h"

#include <openssl/evp.h>

#include "mayfly/keys.h"

namespace mayfly {
namespace {

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// OpenSSL's DigestSign/Verify take a non-const key but only read it.
EVP_PKEY* Mutable(const EVP_PKEY* key) { return const_cast<EVP_PKEY*>(key); }

}  // namespace

Result<std::string> SignMessage(const EVP_PKEY* key, std::string_view message) {
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ClearOpensslErrors();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, SigningDigest(key), nullptr, Mutable(key)) != 1) {
    return OpensslError("preparing a signature");
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(message), message.size()) != 1) {
    return OpensslError("sizing a signature");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, Bytes(message),
                     message.size()) != 1) {
    return OpensslError("signing");
  }
  signature.resize(len);
  return signature;
}

Result<bool> VerifyMessage(const EVP_PKEY* key, std::string_view message, std::string_view signature) {
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ClearOpensslErrors();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, SigningDigest(key), nullptr, Mutable(key)) != 1) {
    return OpensslError("preparing a signature check");
  }
  const int ok = EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message), message.size());
  // A signature that does not verify leaves its reasons on the queue.
  ClearOpensslErrors();
  return ok == 1;
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace mayfly
