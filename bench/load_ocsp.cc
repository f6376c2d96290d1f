// OCSP requests and answers for mayfly-load, with OpenSSL's own OCSP code.
#include "load_ocsp.h"

#include <openssl/ocsp.h>

#include <vector>

#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly::load {
namespace {

Result<std::vector<OsslPtr<X509>>> LeafAndIssuer(const std::string& chain_pem) {
  auto certs = CertsFromPem(chain_pem);
  if (!certs) return std::unexpected(certs.error());
  if (certs->size() < 2) return MakeError(ErrorCode::kInvalidArgument, "the chain has no issuer after its leaf");
  return certs;
}

}  // namespace

Result<std::string> MakeOcspRequest(const std::string& chain_pem) {
  auto certs = LeafAndIssuer(chain_pem);
  if (!certs) return std::unexpected(certs.error());
  OsslPtr<OCSP_REQUEST> request(OCSP_REQUEST_new());
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), (*certs)[0].get(), (*certs)[1].get());
  if (!request || id == nullptr || OCSP_request_add0_id(request.get(), id) == nullptr) {
    OCSP_CERTID_free(id);
    return OpensslError("building the OCSP request");
  }
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(request.get(), &der);
  if (len <= 0) return OpensslError("encoding the OCSP request");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<void> VerifyOcspResponse(const std::string& response, const std::string& request,
                                const std::string& chain_pem, const std::string& root_pem) {
  auto certs = LeafAndIssuer(chain_pem);
  if (!certs) return std::unexpected(certs.error());
  auto roots = CertsFromPem(root_pem);
  if (!roots) return std::unexpected(roots.error());
  const auto* p = reinterpret_cast<const unsigned char*>(response.data());
  OsslPtr<OCSP_RESPONSE> parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
  if (!parsed) return OpensslError("reading the OCSP response");
  if (const int status = OCSP_response_status(parsed.get()); status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("OCSP response status ") + OCSP_response_status_str(status));
  }
  OsslPtr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(parsed.get()));
  OsslPtr<X509_STORE> store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  if (!basic || !store || !untrusted) return OpensslError("reading the OCSP response");
  for (const auto& root : *roots) X509_STORE_add_cert(store.get(), root.get());
  for (size_t i = 1; i < certs->size(); ++i) {
    if (sk_X509_push(untrusted.get(), (*certs)[i].get()) > 0) X509_up_ref((*certs)[i].get());
  }
  if (OCSP_basic_verify(basic.get(), untrusted.get(), store.get(), 0) != 1) {
    return OpensslError("verifying the OCSP response's signature and responder");
  }
  const auto* q = reinterpret_cast<const unsigned char*>(request.data());
  OsslPtr<OCSP_REQUEST> req(d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(request.size())));
  if (!req || OCSP_request_onereq_count(req.get()) != 1) return OpensslError("reading the OCSP request");
  OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0));
  int status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (OCSP_resp_find_status(basic.get(), id, &status, &reason, &revoked_at, &this_update, &next_update) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "the OCSP response does not answer for the certificate asked about");
  }
  if (status != V_OCSP_CERTSTATUS_GOOD) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("OCSP status ") + OCSP_cert_status_str(status));
  }
  if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) return OpensslError("OCSP response validity");
  return Ok();
}

}  // namespace mayfly::load
