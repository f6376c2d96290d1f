// The one error model of Mayfly: Result<T> carries a value or a coded Error.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mayfly {

// Stable error codes. Their snake_case names (ErrorCodeName) appear in API
// error bodies and are asserted on by tests, so never rename one.
enum class ErrorCode {
  kInvalidArgument,   // a request or value is malformed
  kInvalidCsr,        // a CSR could not be parsed or its signature is wrong
  kWeakKey,           // a key type or size Mayfly does not accept
  kInvalidSpiffeId,   // not a SPIFFE ID per the spec, or a reserved path
  kInvalidName,       // a DNS name or IP address that is malformed
  kUnauthenticated,   // no or unknown caller credential
  kForbidden,         // the caller may not do this
  kNodeBanned,        // the calling node is banned until it re-enrolls with a new join token
  kInvalidToken,      // join token unknown, used or expired
  kRecoveryRefused,   // node recovery refused for good: the node needs a new join token
  kNotFound,
  kAlreadyExists,
  kConflict,
  kTooLarge,
  kRateLimited,
  kUnavailable,
  kConfig,            // configuration file missing or invalid
  kIo,                // file system errors
  kCrypto,            // OpenSSL failed
  kStore,             // the database failed
  kInternal,          // keep last: ErrorCodeFromName walks the codes up to it
};

std::string_view ErrorCodeName(ErrorCode code);
// The code named `name` (ErrorCodeName's inverse); nullopt for a name this
// build does not know.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

struct Error {
  ErrorCode code;
  std::string message;

  // "code: message", for logs and command-line output.
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for `return MakeError(ErrorCode::kX, "...")` in functions that
// return any Result<T>.
[[nodiscard]] inline std::unexpected<Error> MakeError(ErrorCode code,
                                                      std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Prefixes an error's message with context ("loading ca.toml: ...").
[[nodiscard]] inline std::unexpected<Error> WithContext(Error error,
                                                        std::string_view context) {
  error.message = std::string(context) + ": " + error.message;
  return std::unexpected<Error>(std::move(error));
}

// Result<void> helper: `return Ok();`.
[[nodiscard]] inline Result<void> Ok() { return {}; }

}  // namespace mayfly
