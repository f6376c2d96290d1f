// Strict JSON request bodies and query parameters.
#include "mayfly/net/json_body.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "mayfly/identity.h"

namespace mayfly::net {
namespace {

std::unexpected<Error> FieldError(std::string_view name, std::string_view expected) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "field \"" + std::string(name) + "\" must be " + std::string(expected));
}

}  // namespace

Result<JsonBody> JsonBody::Parse(std::string_view body, std::initializer_list<std::string_view> allowed) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 8;  // our bodies are flat; deep nesting is only an attack
  boost::json::value value = boost::json::parse(body, ec, {}, options);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON: " + ec.message());
  }
  if (!value.is_object()) return MakeError(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  boost::json::object& object = value.as_object();
  for (const auto& member : object) {
    const std::string_view key = member.key();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field " + QuoteForMessage(key, 64));
    }
  }
  return JsonBody(std::move(object));
}

bool JsonBody::Has(std::string_view name) const {
  const auto* v = object_.if_contains(name);
  return v != nullptr && !v->is_null();
}

Result<std::string> JsonBody::String(std::string_view name) const {
  const auto* v = object_.if_contains(name);
  if (v == nullptr) return MakeError(ErrorCode::kInvalidArgument, "missing field \"" + std::string(name) + "\"");
  if (!v->is_string() || v->as_string().empty()) return FieldError(name, "a non-empty string");
  return std::string(v->as_string());
}

Result<std::optional<std::string>> JsonBody::OptionalString(std::string_view name) const {
  if (!Has(name)) return std::nullopt;
  auto s = String(name);
  if (!s) return std::unexpected(s.error());
  return std::optional<std::string>(std::move(*s));
}

Result<bool> JsonBody::Bool(std::string_view name, bool fallback) const {
  if (!Has(name)) return fallback;
  const auto& v = object_.at(name);
  if (!v.is_bool()) return FieldError(name, "true or false");
  return v.as_bool();
}

Result<std::vector<std::string>> JsonBody::StringArray(std::string_view name) const {
  std::vector<std::string> out;
  if (!Has(name)) return out;
  const auto& v = object_.at(name);
  if (!v.is_array()) return FieldError(name, "an array of strings");
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return FieldError(name, "an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<int64_t> ParseIntParam(std::string_view text, std::string_view name, int64_t min, int64_t max) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return MakeError(ErrorCode::kInvalidArgument, "\"" + std::string(name) + "\" must be an integer from " +
                                                      std::to_string(min) + " to " + std::to_string(max) +
                                                      ", not " + QuoteForMessage(text, 32));
  }
  return value;
}

Result<void> CheckQueryParams(const std::map<std::string, std::string>& query,
                              std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : query) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown query parameter " + QuoteForMessage(key, 64));
    }
  }
  return Ok();
}

}  // namespace mayfly::net
