// Key generation, policy and PEM encoding.
#include "mayfly/keys.h"

#include <openssl/pem.h>
#include <openssl/core_names.h>

#include <cstring>

#include "mayfly/file_util.h"

namespace mayfly {
namespace {

struct KeyTypeInfo {
  KeyType type;
  std::string_view name;
};
constexpr KeyTypeInfo kKeyTypes[] = {
    {KeyType::kEcdsaP256, "ecdsa-p256"}, {KeyType::kEcdsaP384, "ecdsa-p384"},
    {KeyType::kEd25519, "ed25519"},      {KeyType::kRsa2048, "rsa-2048"},
    {KeyType::kRsa3072, "rsa-3072"},     {KeyType::kRsa4096, "rsa-4096"},
};

// Passes the passphrase to OpenSSL's PEM reader without relying on a NUL
// terminator.
int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* u) {
  auto* pass = static_cast<const std::string_view*>(u);
  if (pass == nullptr || pass->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

Result<std::string> PemOut(const EVP_PKEY* key, const EVP_CIPHER* cipher,
                           std::string_view passphrase) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio) return OpensslError("allocating a BIO");
  ClearOpensslErrors();
  std::string_view pass = passphrase;
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key, cipher, nullptr, 0,
                                    cipher ? PassphraseCallback : nullptr,
                                    cipher ? &pass : nullptr) != 1) {
    return OpensslError("encoding a private key");
  }
  return BioToString(bio.get());
}

// The public exponent must be odd, 65537 <= e < 2^256 (FIPS 186-4 B.3.1):
// with e = 1 the padded digest is its own signature, so anyone could sign
// for the key, and small or even exponents are what the textbook attacks on
// RSA need. An even modulus is refused too (it factors at once). Further
// checks on the modulus (SP 800-56B's primality tests) cost milliseconds
// per request and are left out.
Result<void> CheckRsaPublicParts(const EVP_PKEY* key) {
  BIGNUM* e_raw = nullptr;
  BIGNUM* n_raw = nullptr;
  const bool read = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e_raw) == 1 &&
                    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n_raw) == 1;
  OsslPtr<BIGNUM> e(e_raw), n(n_raw);
  if (!read) {
    ClearOpensslErrors();
    return MakeError(ErrorCode::kWeakKey, "RSA key without a readable modulus and public exponent");
  }
  if (!BN_is_odd(e.get()) || BN_num_bits(e.get()) < 17 || BN_num_bits(e.get()) > 256) {
    std::string value = "of " + std::to_string(BN_num_bits(e.get())) + " bits";
    if (BN_num_bits(e.get()) <= 256) {
      char* dec = BN_bn2dec(e.get());
      if (dec != nullptr) value = dec;
      OPENSSL_free(dec);
    }
    return MakeError(ErrorCode::kWeakKey, "RSA public exponent " + value +
                                              " is not accepted (it must be odd, from 65537 to 2^256 - 1)");
  }
  if (!BN_is_odd(n.get())) return MakeError(ErrorCode::kWeakKey, "RSA modulus is even");
  return Ok();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  for (const auto& k : kKeyTypes) {
    if (k.type == type) return k.name;
  }
  return "unknown";
}

Result<KeyType> ParseKeyType(std::string_view name) {
  for (const auto& k : kKeyTypes) {
    if (k.name == name) return k.type;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown key type \"" + std::string(name) +
                       "\" (expected ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096)");
}

KeyFamily FamilyOf(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384: return KeyFamily::kEc;
    case KeyType::kEd25519: return KeyFamily::kEd25519;
    default: return KeyFamily::kRsa;
  }
}

Result<OsslPtr<EVP_PKEY>> GenerateKey(KeyType type) {
  ClearOpensslErrors();
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::kEcdsaP384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::kEd25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case KeyType::kRsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyType::kRsa3072: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072}); break;
    case KeyType::kRsa4096: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}); break;
  }
  if (key == nullptr) {
    return OpensslError("generating a " + std::string(KeyTypeName(type)) + " key");
  }
  return OsslPtr<EVP_PKEY>(key);
}

Result<KeyType> ClassifyKey(const EVP_PKEY* key) {
  if (key == nullptr) return MakeError(ErrorCode::kWeakKey, "no public key");
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, &len) != 1) {
      ClearOpensslErrors();
      return MakeError(ErrorCode::kWeakKey, "EC key without a named curve");
    }
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256") return KeyType::kEcdsaP256;
    if (g == "secp384r1" || g == "P-384") return KeyType::kEcdsaP384;
    return MakeError(ErrorCode::kWeakKey,
                     "EC curve " + std::string(g) + " is not accepted (use P-256 or P-384)");
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits < 2048) {
      return MakeError(ErrorCode::kWeakKey,
                       "RSA key of " + std::to_string(bits) + " bits is too small (minimum 2048)");
    }
    if (bits > kMaxRsaBits) {
      return MakeError(ErrorCode::kWeakKey, "RSA key of " + std::to_string(bits) +
                                                " bits is too large (maximum 8192)");
    }
    if (auto r = CheckRsaPublicParts(key); !r) return std::unexpected(r.error());
    if (bits >= 4096) return KeyType::kRsa4096;
    if (bits >= 3072) return KeyType::kRsa3072;
    return KeyType::kRsa2048;
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return MakeError(ErrorCode::kWeakKey,
                   std::string("key type ") + (name ? name : "unknown") +
                       " is not accepted (use ECDSA P-256/P-384, Ed25519 or RSA >= 2048)");
}

Result<std::string> PrivateKeyToPem(const EVP_PKEY* key) { return PemOut(key, nullptr, {}); }

Result<std::string> PrivateKeyToDer(const EVP_PKEY* key) {
  ClearOpensslErrors();
  OsslPtr<PKCS8_PRIV_KEY_INFO> info(EVP_PKEY2PKCS8(key));
  if (!info) return OpensslError("encoding a private key as PKCS#8");
  const int size = i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr);
  if (size <= 0) return OpensslError("encoding a private key as PKCS#8");
  std::string der(static_cast<size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &out) != size) {
    OPENSSL_cleanse(der.data(), der.size());
    return OpensslError("encoding a private key as PKCS#8");
  }
  return der;
}

Result<std::string> PrivateKeyToEncryptedPem(const EVP_PKEY* key, std::string_view passphrase) {
  if (passphrase.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "refusing to encrypt a key with an empty passphrase");
  }
  return PemOut(key, EVP_aes_256_cbc(), passphrase);
}

Result<OsslPtr<EVP_PKEY>> PrivateKeyFromPem(std::string_view pem,
                                            std::optional<std::string_view> passphrase) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError("allocating a BIO");
  ClearOpensslErrors();
  std::string_view pass = passphrase.value_or(std::string_view());
  // Without a passphrase the callback refuses, so an encrypted key fails
  // instead of prompting on the terminal.
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback,
                                          passphrase ? &pass : nullptr);
  if (key == nullptr) {
    return OpensslError(passphrase ? "reading the private key (wrong passphrase or not a key)"
                                   : "reading the private key (not a PEM key, or encrypted)");
  }
  return OsslPtr<EVP_PKEY>(key);
}

Result<void> SaveKeyFile(const std::string& path, const EVP_PKEY* key,
                         std::optional<std::string_view> passphrase) {
  auto pem = passphrase ? PrivateKeyToEncryptedPem(key, *passphrase) : PrivateKeyToPem(key);
  if (!pem) return WithContext(pem.error(), "saving " + path);
  auto written = WriteFileAtomic(path, *pem, 0600);
  OPENSSL_cleanse(pem->data(), pem->size());
  return written;
}

Result<OsslPtr<EVP_PKEY>> LoadKeyFile(const std::string& path,
                                      std::optional<std::string_view> passphrase) {
  auto pem = ReadFile(path);
  if (!pem) return std::unexpected(pem.error());
  auto key = PrivateKeyFromPem(*pem, passphrase);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key) return WithContext(key.error(), path);
  return key;
}

Result<std::string> ReadPassphraseFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return WithContext(text.error(), "key passphrase file");
  std::string pass = text->substr(0, text->find_first_of("\r\n"));
  OPENSSL_cleanse(text->data(), text->size());
  if (pass.empty()) {
    return MakeError(ErrorCode::kConfig, "key passphrase file " + path + " is empty");
  }
  return pass;
}

Result<Passphrase> Passphrase::Read(const std::string& path) {
  auto text = ReadPassphraseFile(path);
  if (!text) return WithContext(text.error(), "reading the CA key passphrase");
  return Passphrase(std::move(*text));
}

Passphrase::~Passphrase() { OPENSSL_cleanse(text_.data(), text_.size()); }

const EVP_MD* SigningDigest(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return nullptr;
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256) return FetchedDigest("SHA384");
  return FetchedDigest("SHA256");
}

const EVP_MD* FetchedDigest(std::string_view name) {
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (name == "SHA1") return sha1;
  if (name == "SHA256") return sha256;
  if (name == "SHA384") return sha384;
  if (name == "SHA512") return sha512;
  return nullptr;
}

bool KeysMatch(const EVP_PKEY* a, const EVP_PKEY* b) {
  ClearOpensslErrors();
  bool match = a != nullptr && b != nullptr && EVP_PKEY_eq(a, b) == 1;
  ClearOpensslErrors();
  return match;
}

}  // namespace mayfly
