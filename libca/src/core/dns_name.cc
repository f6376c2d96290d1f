// DNS names for certificate SANs: checked against the LDH rules and lowercased.
#include <string>
#include <string_view>

#include "mayfly/identity.h"

namespace mayfly {
namespace {

constexpr size_t kMaxNameLength = 253;
constexpr size_t kMaxLabelLength = 63;

bool IsLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<std::string> NormalizeDnsName(std::string_view name, bool allow_wildcard) {
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidName, "DNS name", name, rule);
  };
  if (name.empty()) return fail("is empty");
  if (name.size() > kMaxNameLength) {
    return fail("is longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  // A trailing dot would make the SAN differ from what clients compare it
  // with; refusing it is clearer than silently dropping it.
  if (name.back() == '.') return fail("must not end with '.'");

  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string_view rest = out;
  std::string_view last_label;
  size_t labels = 0;
  bool wildcard = false;
  while (true) {
    const size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (labels == 0 && label == "*") {
      if (!allow_wildcard) return fail("wildcards are not allowed here");
      wildcard = true;
    } else {
      if (label.empty()) return fail("must not contain empty labels");
      if (label.size() > kMaxLabelLength) {
        return fail("has a label longer than " + std::to_string(kMaxLabelLength) +
                    " characters");
      }
      for (char c : label) {
        if (c == '*') {
          return fail("'*' is allowed only as the whole first label (\"*.example.com\")");
        }
        if (!IsLdh(c)) {
          return fail("characters are limited to letters, digits, '-' and '.' (found " +
                      QuoteForMessage(std::string_view(&c, 1)) + ")");
        }
      }
      if (label.front() == '-' || label.back() == '-') {
        return fail("labels must not start or end with '-'");
      }
    }
    ++labels;
    last_label = label;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (wildcard && labels == 1) return fail("a wildcard needs a domain after \"*.\"");
  // Resolvers and URL parsers read a name whose last label is numeric as an
  // IPv4 address ("10.1.2.3", "host.0"): such a name belongs in an IP SAN.
  bool numeric = true;
  for (char c : last_label) numeric = numeric && IsDigit(c);
  if (numeric) return fail("looks like an IP address; use an IP SAN instead");
  return out;
}

}  // namespace mayfly
