// The API's JSON edge: strict request bodies, error bodies and statuses,
// certificate responses. Boost.JSON's throwing calls stay inside api_json.cc.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/issuer.h"
#include "mayfly/net/http_types.h"

namespace mayfly {

// A request body: one JSON object with no members outside an allowed set.
// Every error is kInvalidArgument naming the member and what was expected.
class JsonBody {
 public:
  // Malformed JSON, a non-object or an unknown member are errors.
  [[nodiscard]] static Result<JsonBody> Parse(std::string_view body,
                                              std::initializer_list<std::string_view> allowed);

  bool Has(std::string_view name) const;
  // A required string member; empty strings are refused.
  [[nodiscard]] Result<std::string> String(std::string_view name) const;
  // An optional string member (absent or null: nullopt); empty is refused.
  [[nodiscard]] Result<std::optional<std::string>> OptionalString(std::string_view name) const;
  // An optional boolean (absent or null: `fallback`).
  [[nodiscard]] Result<bool> Bool(std::string_view name, bool fallback) const;
  // An optional array of strings (absent or null: empty).
  [[nodiscard]] Result<std::vector<std::string>> StringArray(std::string_view name) const;

 private:
  explicit JsonBody(boost::json::object object) : object_(std::move(object)) {}
  boost::json::object object_;
};

// A decimal integer in [min, max] from a query parameter or path segment
// called `name`; kInvalidArgument otherwise.
[[nodiscard]] Result<int64_t> ParseIntParam(std::string_view text, std::string_view name, int64_t min,
                                            int64_t max);

// Refuses query parameters outside `allowed` (kInvalidArgument naming one).
[[nodiscard]] Result<void> CheckQueryParams(const std::map<std::string, std::string>& query,
                                            std::initializer_list<std::string_view> allowed);

// The HTTP status for an error code: 400 for malformed input, 401
// unauthenticated and invalid_token, 403 forbidden, 404, 409 conflict and
// already_exists, 413 too_large, 429 rate_limited, 503 unavailable, 500 else.
int HttpStatusFor(ErrorCode code);

net::HttpResponse JsonResponse(int status, const boost::json::value& body);
// {"error":{"code","message"}}; for a 5xx the message is generic (the real
// one goes to the log), and a positive retry_after adds Retry-After.
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
