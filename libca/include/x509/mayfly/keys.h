// Private keys: the accepted types, generation, PEM (plain and encrypted).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

enum class KeyType { kEcdsaP256, kEcdsaP384, kEd25519, kRsa2048, kRsa3072, kRsa4096 };

// "ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096".
std::string_view KeyTypeName(KeyType type);
[[nodiscard]] Result<KeyType> ParseKeyType(std::string_view name);

// The family a public key belongs to, after the policy accepted it.
enum class KeyFamily { kEc, kEd25519, kRsa };
KeyFamily FamilyOf(KeyType type);

// The largest RSA modulus accepted, to bound the cost of one verify.
inline constexpr int kMaxRsaBits = 8192;

[[nodiscard]] Result<OsslPtr<EVP_PKEY>> GenerateKey(KeyType type);

// Checks a key against the policy (P-256, P-384, Ed25519, RSA 2048..8192
// bits with an odd modulus and an odd public exponent from 65537 to
// 2^256 - 1) and says which it is; kWeakKey names what was wrong. RSA keys of other sizes
// than 2048/3072/4096 report the nearest smaller accepted type.
[[nodiscard]] Result<KeyType> ClassifyKey(const EVP_PKEY* key);

// Unencrypted PKCS#8 PEM, for keys that live on the host using them.
[[nodiscard]] Result<std::string> PrivateKeyToPem(const EVP_PKEY* key);
// Unencrypted PKCS#8 DER, for keys handed over in memory (the Workload
// API); the caller wipes it.
[[nodiscard]] Result<std::string> PrivateKeyToDer(const EVP_PKEY* key);
// PKCS#8 encrypted with AES-256-CBC under a PBKDF2-derived key (PBES2).
[[nodiscard]] Result<std::string> PrivateKeyToEncryptedPem(const EVP_PKEY* key,
                                                           std::string_view passphrase);
// Reads a PEM private key; an encrypted one needs `passphrase` (a wrong or
// missing passphrase is kCrypto with a message saying so).
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> PrivateKeyFromPem(
    std::string_view pem, std::optional<std::string_view> passphrase = std::nullopt);

// Writes a key file atomically with mode 0600; encrypted when a passphrase is
// given.
[[nodiscard]] Result<void> SaveKeyFile(const std::string& path, const EVP_PKEY* key,
                                       std::optional<std::string_view> passphrase);
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> LoadKeyFile(
    const std::string& path, std::optional<std::string_view> passphrase = std::nullopt);

// Reads a passphrase file: the first line, without its line ending. Refuses an
// empty passphrase.
[[nodiscard]] Result<std::string> ReadPassphraseFile(const std::string& path);

// The CA key passphrase, read with ReadPassphraseFile (errors say so) and
// wiped from memory when it goes.
class Passphrase {
 public:
  [[nodiscard]] static Result<Passphrase> Read(const std::string& path);
  Passphrase(Passphrase&& other) noexcept : text_(std::move(other.text_)) {}
  Passphrase(const Passphrase&) = delete;
  Passphrase& operator=(const Passphrase&) = delete;
  ~Passphrase();
  std::string_view get() const { return text_; }

 private:
  explicit Passphrase(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// The digest a CA key signs with: SHA-384 for P-384, none (nullptr) for
// Ed25519, SHA-256 otherwise.
const EVP_MD* SigningDigest(const EVP_PKEY* key);

// "SHA1", "SHA256", "SHA384" or "SHA512" fetched once per process (nullptr
// for any other name). Passing EVP_sha256() and the like to EVP_Digest
// fetches the implementation again on every call, under the provider
// store's locks.
const EVP_MD* FetchedDigest(std::string_view name);

// True when the two keys form a pair (a certificate's public key and a
// private key).
bool KeysMatch(const EVP_PKEY* a, const EVP_PKEY* b);

}  // namespace mayfly
