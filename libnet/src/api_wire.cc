// The API's error, certificate and JWT-SVID shapes, written and read in one place.
#include "mayfly/net/api_wire.h"

#include <boost/json.hpp>

#include <charconv>

#include "mayfly/x509_util.h"

namespace mayfly::net {
namespace {

namespace json = boost::json;

std::string Member(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

ErrorCode CodeForStatus(int status) {
  if (status == 401) return ErrorCode::kUnauthenticated;
  if (status == 403) return ErrorCode::kForbidden;
  if (status == 429) return ErrorCode::kRateLimited;
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  return ErrorCode::kUnavailable;
}

}  // namespace

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidCsr:
    case ErrorCode::kWeakKey:
    case ErrorCode::kInvalidSpiffeId:
    case ErrorCode::kInvalidName:
      return 400;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kInvalidToken:
      return 401;
    case ErrorCode::kForbidden:
    case ErrorCode::kNodeBanned:
    case ErrorCode::kRecoveryRefused:
      return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnavailable: return 503;
    default: return 500;
  }
}

std::string ErrorBody(ErrorCode code, std::string_view message) {
  return json::serialize(json::object{{"error", {{"code", ErrorCodeName(code)}, {"message", message}}}});
}

ApiError ReadApiError(const HttpResponse& response, std::string_view what) {
  std::string code_name, message;
  boost::system::error_code ec;
  const json::value v = json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      code_name = Member(e->as_object(), "code");
      message = Member(e->as_object(), "message");
    }
  }
  ApiError out;
  out.error.code = ErrorCodeFromName(code_name).value_or(CodeForStatus(response.status));
  out.error.message = std::string(what) + ": HTTP " + std::to_string(response.status) +
                      (code_name.empty() ? "" : " " + code_name) + (message.empty() ? "" : ": " + message);
  for (const auto& [name, value] : response.headers) {
    if (name != "retry-after") continue;
    int seconds = 0;
    const auto [end, parse_ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (parse_ec == std::errc() && end == value.data() + value.size() && seconds > 0) out.retry_after = seconds;
  }
  return out;
}

json::object ToJson(const CertificateAnswer& answer) {
  return json::object{{"certificate", answer.certificate}, {"chain", answer.chain},
                      {"bundle", answer.bundle},           {"spiffe_id", answer.spiffe_id},
                      {"serial", answer.serial},           {"not_before", answer.not_before},
                      {"not_after", answer.not_after}};
}

Result<CertificateAnswer> ParseCertificateAnswer(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kUnavailable, std::string(what) + ": the answer is not JSON");
  const json::object& o = v.as_object();
  CertificateAnswer answer{Member(o, "certificate"), Member(o, "chain"),      Member(o, "bundle"),
                           Member(o, "spiffe_id"),   Member(o, "serial"),     Member(o, "not_before"),
                           Member(o, "not_after")};
  if (answer.certificate.empty()) {
    return MakeError(ErrorCode::kUnavailable, std::string(what) + ": the answer has no certificate");
  }
  return answer;
}

Result<JwtAnswer> ParseJwtAnswer(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const std::string token = o != nullptr ? Member(*o, "token") : std::string();
  auto expires_at = o != nullptr ? ParseRfc3339(Member(*o, "expires_at"))
                                 : Result<TimePoint>(MakeError(ErrorCode::kInvalidArgument, "no expires_at"));
  if (token.empty() || !expires_at) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(what) + ": the answer has no token and expires_at");
  }
  return JwtAnswer{token, *expires_at};
}

std::string RecoveryMessage(std::string_view challenge, std::string_view csr_pem) {
  // The challenge is fixed-size hex, with no newline, so the CSR's bytes
  // start at one place only.
  std::string message = "mayfly node recovery v1\n";
  message += challenge;
  message += '\n';
  message += csr_pem;
  return message;
}

}  // namespace mayfly::net
