// Names of the stable error codes.
#include "mayfly/error.h"

namespace mayfly {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidCsr: return "invalid_csr";
    case ErrorCode::kWeakKey: return "weak_key";
    case ErrorCode::kInvalidSpiffeId: return "invalid_spiffe_id";
    case ErrorCode::kInvalidName: return "invalid_name";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNodeBanned: return "node_banned";
    case ErrorCode::kInvalidToken: return "invalid_token";
    case ErrorCode::kRecoveryRefused: return "recovery_refused";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kConfig: return "config_error";
    case ErrorCode::kIo: return "io_error";
    case ErrorCode::kCrypto: return "crypto_error";
    case ErrorCode::kStore: return "store_error";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

std::string Error::ToString() const {
  return std::string(ErrorCodeName(code)) + ": " + message;
}

}  // namespace mayfly
