// The daemon's JSON responses (their shapes are api_wire.h's).
#include "api_json.h"

#include <boost/json.hpp>

#include "mayfly/identity.h"
#include "mayfly/x509_util.h"

namespace mayfly {

std::string JsonText(const boost::json::value& value) { return boost::json::serialize(value); }

net::HttpResponse JsonResponse(int status, const boost::json::value& body) {
  net::HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = JsonText(body);
  response.body += '\n';
  return response;
}

net::HttpResponse ErrorResponse(const Error& error, int retry_after) {
  const int status = HttpStatusFor(error.code);
  // Internal failures (store, crypto, I/O) are logged in full; the client
  // learns only that it was not its fault.
  // kUnavailable here is the store not answering: the client may retry
  // (here or at another instance); where the database is stays private.
  const bool unavailable = error.code == ErrorCode::kUnavailable;
  const std::string message = unavailable    ? "the CA's database is unavailable; retry later"
                              : status >= 500 ? "internal error; see the CA's log"
                                              : error.message;
  net::HttpResponse response{.status = status, .content_type = "application/json",
                             .body = net::ErrorBody(error.code, message) + "\n"};
  if (unavailable && retry_after <= 0) retry_after = kStoreRetryAfterSeconds;
  if (retry_after > 0) response.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return response;
}

boost::json::object CertificateJson(const IssuedCert& cert, const std::string& spiffe_id,
                                    const std::string& chain_pem, const std::string& bundle_pem) {
  return net::ToJson(net::CertificateAnswer{.certificate = cert.Pem(),
                                           .chain = chain_pem,
                                           .bundle = bundle_pem,
                                           .spiffe_id = spiffe_id,
                                           .serial = cert.serial,
                                           .not_before = FormatRfc3339(cert.not_before),
                                           .not_after = FormatRfc3339(cert.not_after)});
}

boost::json::value ParseOwnJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return nullptr;
  return value;
}

}  // namespace mayfly
