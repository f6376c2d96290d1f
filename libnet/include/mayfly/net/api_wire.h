// The API's wire format, for both ends of it: error bodies and the statuses
// that go with each code, the certificate answers of enroll, renew and
// sign, and the JWT-SVID answer. The daemon writes these shapes and the agent and admin CLI read them
// here, so a code travels as a code and never has to be guessed from a
// status or a message.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/net/http_types.h"

namespace mayfly::net {

// The HTTP status for an error code: 400 for malformed input, 401
// unauthenticated and invalid_token, 403 forbidden and node_banned, 404,
// 409 conflict and already_exists, 413 too_large, 429 rate_limited, 503
// unavailable, 500 else.
int HttpStatusFor(ErrorCode code);

// {"error":{"code":"<ErrorCodeName>","message":"..."}}
std::string ErrorBody(ErrorCode code, std::string_view message);

// An error answer as a client reads it.
struct ApiError {
  Error error;          // the code from the body; message "<what>: HTTP <status> <code>: <message>"
  int retry_after = 0;  // seconds, from Retry-After (0 when absent)
};
// Reads a non-2xx `response`. The code is the body's when it names one this
// build knows, else derived from the status (a proxy's page, an older
// daemon): 401 unauthenticated, 403 forbidden, 429 rate_limited, other 4xx
// invalid_argument, and unavailable for the rest.
ApiError ReadApiError(const HttpResponse& response, std::string_view what);

// The certificate answer of /v1/enroll, /v1/renew and /v1/sign.
struct CertificateAnswer {
  std::string certificate;  // PEM leaf
  std::string chain;        // PEM intermediates
  std::string bundle;       // PEM roots
  std::string spiffe_id;
  std::string serial;       // lowercase hex
  std::string not_before;   // RFC 3339 UTC
  std::string not_after;
};
boost::json::object ToJson(const CertificateAnswer& answer);
// kUnavailable (naming `what`) when `body` is not such an answer or has no
// certificate: the server is not speaking this API.
[[nodiscard]] Result<CertificateAnswer> ParseCertificateAnswer(std::string_view body, std::string_view what);

// The answer of POST /v1/jwt: {"token": "<JWT-SVID>", "kid": "...",
// "expires_at": "<RFC 3339 UTC>"}, as the agent reads it.
struct JwtAnswer {
  std::string token;
  TimePoint expires_at;
};
// kInvalidArgument "<what>: the answer has no token and expires_at" when
// `body` is not such an answer: not a JSON object, no or an empty token, or
// an expires_at that is missing or not RFC 3339.
[[nodiscard]] Result<JwtAnswer> ParseJwtAnswer(std::string_view body, std::string_view what);

// Node recovery: a node whose certificate expired asks POST
// /v1/node/recover/challenge for {"challenge","expires_at"}, then POSTs
// /v1/node/recover {"cert","challenge","signature","csr"}, where
// `signature` is base64 of its old key's signature over RecoveryMessage.
inline constexpr std::string_view kRecoverChallengePath = "/v1/node/recover/challenge";
inline constexpr std::string_view kRecoverPath = "/v1/node/recover";
// What the old node key signs: a fixed label (so no signature made for
// anything else can serve here), the challenge (so no captured request can
// be replayed once it is spent) and the CSR of the new key (so a captured
// signature cannot get a certificate for another key).
std::string RecoveryMessage(std::string_view challenge, std::string_view csr_pem);

}  // namespace mayfly::net
