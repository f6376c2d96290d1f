// Owning smart pointers for OpenSSL objects, and the error-queue helpers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mayfly/error.h"

namespace mayfly {

template <typename T>
struct OsslDeleter;

#define MAYFLY_OSSL_DELETER(Type, free_fn)            \
  template <>                                         \
  struct OsslDeleter<Type> {                          \
    void operator()(Type* p) const { free_fn(p); }    \
  }

MAYFLY_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
MAYFLY_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
MAYFLY_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
MAYFLY_OSSL_DELETER(EVP_MD, EVP_MD_free);
MAYFLY_OSSL_DELETER(X509, X509_free);
MAYFLY_OSSL_DELETER(X509_REQ, X509_REQ_free);
MAYFLY_OSSL_DELETER(X509_CRL, X509_CRL_free);
MAYFLY_OSSL_DELETER(X509_REVOKED, X509_REVOKED_free);
MAYFLY_OSSL_DELETER(X509_NAME, X509_NAME_free);
MAYFLY_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
MAYFLY_OSSL_DELETER(X509_PUBKEY, X509_PUBKEY_free);
MAYFLY_OSSL_DELETER(X509_STORE, X509_STORE_free);
MAYFLY_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
MAYFLY_OSSL_DELETER(X509_ALGOR, X509_ALGOR_free);
MAYFLY_OSSL_DELETER(BIO, BIO_free_all);
MAYFLY_OSSL_DELETER(BIGNUM, BN_free);
// ASN1_INTEGER, ASN1_TIME, ASN1_OCTET_STRING, ASN1_BIT_STRING and
// ASN1_ENUMERATED are all ASN1_STRING in C, so one deleter serves them.
MAYFLY_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free);
MAYFLY_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free);
MAYFLY_OSSL_DELETER(GENERAL_NAME, GENERAL_NAME_free);
MAYFLY_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
MAYFLY_OSSL_DELETER(NAME_CONSTRAINTS, NAME_CONSTRAINTS_free);
MAYFLY_OSSL_DELETER(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
MAYFLY_OSSL_DELETER(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
MAYFLY_OSSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free);
MAYFLY_OSSL_DELETER(DIST_POINT, DIST_POINT_free);
MAYFLY_OSSL_DELETER(CRL_DIST_POINTS, CRL_DIST_POINTS_free);
MAYFLY_OSSL_DELETER(AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free);
MAYFLY_OSSL_DELETER(OSSL_LIB_CTX, OSSL_LIB_CTX_free);
MAYFLY_OSSL_DELETER(ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free);
MAYFLY_OSSL_DELETER(OCSP_REQUEST, OCSP_REQUEST_free);
MAYFLY_OSSL_DELETER(OCSP_RESPONSE, OCSP_RESPONSE_free);
MAYFLY_OSSL_DELETER(OCSP_BASICRESP, OCSP_BASICRESP_free);
MAYFLY_OSSL_DELETER(OCSP_CERTID, OCSP_CERTID_free);
MAYFLY_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
MAYFLY_OSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);

#undef MAYFLY_OSSL_DELETER

template <typename T>
using OsslPtr = std::unique_ptr<T, OsslDeleter<T>>;

// Owns a STACK_OF(X509) and the certificates in it.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Owns a STACK_OF(X509) that only borrows its certificates (an "untrusted"
// list for X509_STORE_CTX_init): freed without them.
struct X509BorrowedStackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509BorrowedStackPtr = std::unique_ptr<STACK_OF(X509), X509BorrowedStackDeleter>;

// Empties OpenSSL's thread-local error queue. Call before an operation whose
// failure you inspect, so a stale entry is not mistaken for its cause.
void ClearOpensslErrors();

// Drains the error queue into one line ("what: lib reason; lib reason").
std::string DrainOpensslErrors(std::string_view what);

// An Error with code kCrypto (or `code`) whose message is what failed plus the
// drained OpenSSL queue.
[[nodiscard]] std::unexpected<Error> OpensslError(
    std::string_view what, ErrorCode code = ErrorCode::kCrypto);

// Reads everything written into a memory BIO.
std::string BioToString(BIO* bio);

// The DER encoding of `obj` by OpenSSL's i2d function for its type (i2d_X509,
// i2d_X509_NAME, ...), in a string; the buffer OpenSSL allocates is freed
// here. kCrypto naming `what` when encoding fails.
template <typename T, typename I2d>
[[nodiscard]] Result<std::string> EncodeDer(const T* obj, I2d i2d, std::string_view what) {
  ClearOpensslErrors();
  unsigned char* buf = nullptr;
  const int len = i2d(obj, &buf);
  if (len <= 0) return OpensslError("encoding " + std::string(what));
  std::string out(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return out;
}

}  // namespace mayfly
