// Hand-assembled CSRs, for what OpenSSL will not produce: strict-DER edge
// cases, an EC key at the point at infinity with a signature that verifies
// under it, a point in compressed form, RSA keys with weak exponents.
#pragma once

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mayfly/ossl_ptr.h"
#include "mayfly/public_key.h"

namespace mayfly::testing {

// One DER element (definite length, shortest form; contents < 64 KiB).
inline std::string DerTlv(uint8_t tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  if (content.size() < 0x80) {
    out.push_back(static_cast<char>(content.size()));
  } else if (content.size() <= 0xff) {
    out += {static_cast<char>(0x81), static_cast<char>(content.size())};
  } else {
    out += {static_cast<char>(0x82), static_cast<char>(content.size() >> 8), static_cast<char>(content.size() & 0xff)};
  }
  return out + content;
}

inline std::string DerOid(int nid) {
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// A non-negative INTEGER.
inline std::string DerInteger(const BIGNUM* n) {
  std::string bytes(static_cast<size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(bytes.data()));
  if (bytes.empty() || (static_cast<unsigned char>(bytes[0]) & 0x80) != 0) bytes.insert(bytes.begin(), '\0');
  return DerTlv(0x02, bytes);
}

// extensionRequest attribute ([0] IMPLICIT SET OF) holding these extensions.
inline std::string DerExtensionRequest(const std::string& extensions) {
  return DerTlv(0xa0, DerTlv(0x30, DerOid(NID_ext_req) + DerTlv(0x31, DerTlv(0x30, extensions))));
}

inline std::string DerSanExtension(const std::string& general_names_value) {
  return DerTlv(0x30, DerOid(NID_subject_alt_name) + DerTlv(0x04, general_names_value));
}

// The attributes of a request naming these URIs ("" for none).
inline std::string DerUriNames(const std::vector<std::string>& uris) {
  if (uris.empty()) return "";
  std::string names;
  for (const std::string& uri : uris) names += DerTlv(0x86, uri);
  return DerExtensionRequest(DerSanExtension(DerTlv(0x30, names)));
}

// An EC SubjectPublicKeyInfo on a named curve, the point as given.
inline std::string DerEcSpki(int curve_nid, const std::string& point) {
  return DerTlv(0x30, DerTlv(0x30, DerOid(NID_X9_62_id_ecPublicKey) + DerOid(curve_nid)) +
                          DerTlv(0x03, std::string(1, '\0') + point));
}

// CertificationRequestInfo: version 0, an empty subject, the key, attributes.
inline std::string DerRequestInfo(const std::string& spki, const std::string& attributes) {
  return DerTlv(0x30, DerTlv(0x02, std::string(1, '\0')) + DerTlv(0x30, "") + spki + attributes);
}

// CertificationRequest around `info` with this signature, RSA algorithms with
// their explicit NULL parameters.
inline std::string DerRequest(const std::string& info, int sig_nid, const std::string& signature) {
  const bool rsa = sig_nid == NID_sha256WithRSAEncryption || sig_nid == NID_sha384WithRSAEncryption ||
                   sig_nid == NID_sha512WithRSAEncryption;
  return DerTlv(0x30, info + DerTlv(0x30, DerOid(sig_nid) + (rsa ? std::string("\x05\x00", 2) : "")) +
                          DerTlv(0x03, std::string(1, '\0') + signature));
}

// CertificationRequest around `info`, signed by `key` with `md`.
inline std::string SignedRequest(const std::string& info, EVP_PKEY* key, const EVP_MD* md, int sig_nid) {
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key), 1);
  const auto* tbs = reinterpret_cast<const unsigned char*>(info.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, tbs, info.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, tbs, info.size()), 1);
  sig.resize(len);
  return DerRequest(info, sig_nid, sig);
}

// A DER request in PEM armour, as the API takes it.
inline std::string CsrPem(const std::string& der) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  EXPECT_GT(PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(der.size())),
            0);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The uncompressed point (0x04 || x || y) of an EC key, re-encoded in the
// compressed form (0x02 or 0x03 by the parity of y, then x).
inline std::string CompressedPoint(const EVP_PKEY* key) {
  const std::string point = PublicKeyOf(key).value().key_bits;
  EXPECT_EQ(point[0], '\x04');
  const size_t coordinate = (point.size() - 1) / 2;
  const bool odd_y = (static_cast<unsigned char>(point.back()) & 1) != 0;
  return std::string(1, odd_y ? '\x03' : '\x02') + point.substr(1, coordinate);
}

// A CSR for `key` (P-256) whose point is sent compressed, signed by `key`:
// the same key as the uncompressed SPKI, in another encoding.
inline std::string CompressedPointCsr(EVP_PKEY* key, const std::vector<std::string>& uris) {
  const std::string info = DerRequestInfo(DerEcSpki(NID_X9_62_prime256v1, CompressedPoint(key)), DerUriNames(uris));
  return SignedRequest(info, key, EVP_sha256(), NID_ecdsa_with_SHA256);
}

// A CSR whose EC public key is the point at infinity (the one-byte encoding
// 0x00), with an ECDSA signature that verifies under it and needs no
// private key: with Q = O, verification computes R = u1*G + u2*Q = u1*G,
// and s = e makes u1 = e/s = 1, so r = x(G) mod n passes. P-256 with
// SHA-256 or P-384 with SHA-384 (digest as long as the order: no truncation).
inline std::string InfinityPointCsr(int curve_nid, const std::vector<std::string>& uris) {
  const bool p256 = curve_nid == NID_X9_62_prime256v1;
  const std::string info = DerRequestInfo(DerEcSpki(curve_nid, std::string(1, '\0')), DerUriNames(uris));
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int hash_len = 0;
  EXPECT_EQ(EVP_Digest(info.data(), info.size(), hash, &hash_len, p256 ? EVP_sha256() : EVP_sha384(), nullptr), 1);
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(curve_nid), EC_GROUP_free);
  OsslPtr<BIGNUM> gx(BN_new()), gy(BN_new()), e(BN_bin2bn(hash, static_cast<int>(hash_len), nullptr));
  EXPECT_TRUE(group && gx && gy && e);
  EXPECT_EQ(EC_POINT_get_affine_coordinates(group.get(), EC_GROUP_get0_generator(group.get()), gx.get(), gy.get(),
                                            nullptr), 1);
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  // x(G) < n on both curves; e < 2^bits(n) < 2n, so one subtraction reduces it.
  EXPECT_LT(BN_cmp(gx.get(), n), 0);
  if (BN_cmp(e.get(), n) >= 0) {
    EXPECT_EQ(BN_sub(e.get(), e.get(), n), 1);
  }
  const std::string signature = DerTlv(0x30, DerInteger(gx.get()) + DerInteger(e.get()));
  return DerRequest(info, p256 ? NID_ecdsa_with_SHA256 : NID_ecdsa_with_SHA384, signature);
}

// An RSA public key (n, e) from its parts.
inline OsslPtr<EVP_PKEY> RsaPublicKey(const BIGNUM* n, const BIGNUM* e) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  EXPECT_TRUE(build && OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
              OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e) == 1);
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(build.get()),
                                                                 OSSL_PARAM_free);
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  EXPECT_TRUE(ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
              EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) == 1);
  return OsslPtr<EVP_PKEY>(key);
}

// A fresh RSA key pair with public exponent `e` (odd, > 1).
inline OsslPtr<EVP_PKEY> RsaKeyWithExponent(int bits, const BIGNUM* e) {
  OsslPtr<EVP_PKEY_CTX> gen(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* made = nullptr;
  EXPECT_TRUE(gen && EVP_PKEY_keygen_init(gen.get()) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(gen.get(), bits) == 1 &&
              EVP_PKEY_CTX_set1_rsa_keygen_pubexp(gen.get(), const_cast<BIGNUM*>(e)) == 1 &&
              EVP_PKEY_keygen(gen.get(), &made) == 1);
  return OsslPtr<EVP_PKEY>(made);
}

// A CSR for an RSA key (a modulus of `bits` with public exponent `e`) and a
// sha256WithRSAEncryption signature. With e = 1 the signature is the padded
// digest itself (m^1 = m), which verifies with no private key at all. Other
// exponents get a real key where OpenSSL can make one (e odd), else (e even:
// no private exponent exists) the padded digest, which cannot verify: the
// key must be refused before the signature is looked at.
inline std::string RsaExponentCsr(int bits, const BIGNUM* e) {
  if (BN_is_odd(e) && !BN_is_one(e) && BN_num_bits(e) <= 64) {
    OsslPtr<EVP_PKEY> keypair = RsaKeyWithExponent(bits, e);
    const std::string info = DerRequestInfo(PublicKeyOf(keypair.get()).value().spki_der, "");
    return SignedRequest(info, keypair.get(), EVP_sha256(), NID_sha256WithRSAEncryption);
  }
  // Any odd modulus of the right size will do: the one of a fresh key.
  OsslPtr<EVP_PKEY> other(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  BIGNUM* n = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(other.get(), OSSL_PKEY_PARAM_RSA_N, &n), 1);
  OsslPtr<BIGNUM> modulus(n);
  OsslPtr<EVP_PKEY> key = RsaPublicKey(modulus.get(), e);
  const std::string info = DerRequestInfo(PublicKeyOf(key.get()).value().spki_der, "");
  // EMSA-PKCS1-v1_5: 00 01 FF..FF 00 DigestInfo(SHA-256).
  static const std::string kSha256Prefix("\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20",
                                         19);
  unsigned char hash[32];
  EXPECT_EQ(EVP_Digest(info.data(), info.size(), hash, nullptr, EVP_sha256(), nullptr), 1);
  const std::string t = kSha256Prefix + std::string(reinterpret_cast<char*>(hash), sizeof hash);
  const size_t k = static_cast<size_t>(bits) / 8;
  const std::string em = std::string("\x00\x01", 2) + std::string(k - t.size() - 3, '\xff') + '\0' + t;
  return DerRequest(info, NID_sha256WithRSAEncryption, em);
}

}  // namespace mayfly::testing
