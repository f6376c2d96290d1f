// The daemon's JSON edge: responses, error answers and certificate answers
// (their shapes from libnet's api_wire.h). Boost.JSON's throwing calls stay
// inside api_json.cc.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/issuer.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/http_types.h"
#include "mayfly/net/json_body.h"

namespace mayfly {

// The request side of the wire lives in libnet (json_body.h), the status of
// each error code in api_wire.h; the handlers name them unqualified.
using net::CheckQueryParams;
using net::HttpStatusFor;
using net::JsonBody;
using net::ParseIntParam;

net::HttpResponse JsonResponse(int status, const boost::json::value& body);
// {"error":{"code","message"}}; for a 5xx the message is generic (the real
// one goes to the log), and a positive retry_after adds Retry-After.
// Seconds a client is asked to wait (Retry-After) while the store does not
// answer: about when the daemon next checks it.
inline constexpr int kStoreRetryAfterSeconds = 2;

net::HttpResponse ErrorResponse(const Error& error, int retry_after = 0);

// The certificate response of enroll, renew and sign.
boost::json::object CertificateJson(const IssuedCert& cert, const std::string& spiffe_id,
                                    const std::string& chain_pem, const std::string& bundle_pem);

// Serialises without throwing (out of memory aside).
std::string JsonText(const boost::json::value& value);

// Parses JSON text that the daemon wrote itself (an audit detail); null when
// it is not JSON.
boost::json::value ParseOwnJson(std::string_view text);

}  // namespace mayfly
