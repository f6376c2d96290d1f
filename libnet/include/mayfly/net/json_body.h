// The API's request side of the wire: strict JSON request bodies and query
// parameters. Boost.JSON's throwing calls stay inside json_body.cc.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"

namespace mayfly::net {

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

}  // namespace mayfly::net
