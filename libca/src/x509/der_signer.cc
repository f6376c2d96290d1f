// One prepared signing context per CA key, copied per signature.
#include "der_signer.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "der_writer.h"
#include "mayfly/keys.h"

namespace mayfly {
namespace {

// The AlgorithmIdentifier the signing context will produce.
Result<std::string> SignatureAlgorithmDer(EVP_MD_CTX* ctx) {
  unsigned char buf[256];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, buf, sizeof buf),
      OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_get_params(EVP_MD_CTX_get_pkey_ctx(ctx), params) != 1 || params[0].return_size == 0) {
    return OpensslError("reading the signature algorithm");
  }
  return std::string(reinterpret_cast<char*>(buf), params[0].return_size);
}

}  // namespace

Result<DerSigner> DerSigner::Create(const EVP_PKEY* key) {
  ClearOpensslErrors();
  DerSigner signer;
  signer.template_.reset(EVP_MD_CTX_new());
  const EVP_MD* digest = SigningDigest(key);
  const char* md = digest ? EVP_MD_get0_name(digest) : nullptr;
  if (!signer.template_ || EVP_DigestSignInit_ex(signer.template_.get(), nullptr, md, nullptr, nullptr,
                                                 const_cast<EVP_PKEY*>(key), nullptr) != 1) {
    return OpensslError("preparing the signing context");
  }
  auto alg = SignatureAlgorithmDer(signer.template_.get());
  if (!alg) return std::unexpected(alg.error());
  signer.algorithm_ = std::move(*alg);
  signer.max_signature_ = static_cast<size_t>(EVP_PKEY_get_size(key));
  return signer;
}

Result<std::string> DerSigner::Sign(std::string tbs, std::string_view what) const {
  ClearOpensslErrors();
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::string sig(max_signature_ + 1, '\0');  // leading 0: no unused bits
  size_t sig_len = max_signature_;
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), template_.get()) != 1) return OpensslError("signing " + std::string(what));
  // The copy is used once: without this flag OpenSSL duplicates the whole
  // signing context again to keep this one reusable.
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data() + 1), &sig_len,
                     reinterpret_cast<const unsigned char*>(tbs.data()), tbs.size()) != 1) {
    return OpensslError("signing " + std::string(what));
  }
  sig.resize(sig_len + 1);
  std::string content = std::move(tbs);
  content += algorithm_;
  der::AppendTlv(content, der::kBitString, sig);
  return der::Tlv(der::kSequence, content);
}

}  // namespace mayfly
