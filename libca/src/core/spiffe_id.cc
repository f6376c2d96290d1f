// SPIFFE IDs parsed strictly to the SPIFFE ID spec, and Mayfly's reserved names.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "mayfly/identity.h"

namespace mayfly {
namespace {

constexpr std::string_view kScheme = "spiffe://";
// SPIFFE-ID spec 2.3: implementations need not accept longer IDs, and RFC 3986
// caps the host, hence the trust domain, at 255 bytes.
constexpr size_t kMaxIdLength = 2048;
constexpr size_t kMaxTrustDomainLength = 255;
constexpr size_t kMaxNodeNameLength = 64;
constexpr std::string_view kReservedRoot = "/mayfly";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsTrustDomainChar(char c) {
  return IsLowerAlnum(c) || c == '.' || c == '-' || c == '_';
}
bool IsPathChar(char c) { return IsTrustDomainChar(c) || IsUpper(c); }

// " (found \"x\")", naming the character that broke a rule.
std::string CharNote(char c) {
  std::string quoted = QuoteForMessage(std::string_view(&c, 1));
  return " (found " + quoted + ")";
}

// The rule a trust domain name breaks, or "" when it is valid.
std::string TrustDomainProblem(std::string_view td) {
  if (td.empty()) return "trust domain is empty";
  if (td.find('@') != std::string_view::npos) {
    return "trust domain must not contain userinfo ('@')";
  }
  // The spec excludes IPv6 addresses; say so rather than call ':' a port.
  if (td.front() == '[') return "trust domain must not be an IP literal in brackets";
  if (td.find(':') != std::string_view::npos) {
    return "trust domain must not contain a port (':')";
  }
  if (td.find('%') != std::string_view::npos) {
    return "trust domain must not contain percent-encoded characters";
  }
  for (char c : td) {
    if (IsUpper(c)) return "trust domain must be lowercase" + CharNote(c);
    if (!IsTrustDomainChar(c)) {
      return "trust domain characters are limited to a-z, 0-9, '.', '-' and '_'" +
             CharNote(c);
    }
  }
  if (td.size() > kMaxTrustDomainLength) {
    return "trust domain is longer than " + std::to_string(kMaxTrustDomainLength) +
           " bytes";
  }
  return "";
}

// The rule a path ("" or "/a/b") breaks, or "" when it is valid.
std::string PathProblem(std::string_view path) {
  if (path.empty()) return "";
  if (path.front() != '/') return "path must be empty or start with '/'";
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) {
      return slash == std::string_view::npos ? "path must not end with '/'"
                                             : "path must not contain empty segments ('//')";
    }
    if (segment == "." || segment == "..") {
      return "path must not contain '.' or '..' segments";
    }
    for (char c : segment) {
      if (c == '%') return "path must not contain percent-encoded characters";
      if (!IsPathChar(c)) {
        return "path segment characters are limited to A-Z, a-z, 0-9, '.', '-' and '_'" +
               CharNote(c);
      }
    }
    if (slash == std::string_view::npos) return "";
    rest = rest.substr(slash + 1);
  }
}

std::unexpected<Error> InvalidId(std::string_view input, std::string_view rule) {
  return InvalidInputError(ErrorCode::kInvalidSpiffeId, "SPIFFE ID", input, rule);
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    auto lower = [](char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(a) == lower(b);
  });
}

// The name after `prefix` ("/node/") when the rest of `path` is exactly one
// valid node name, else "".
std::string_view NameAfter(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return {};
  std::string_view name = path.substr(prefix.size());
  if (name.find('/') != std::string_view::npos) return {};
  if (!ValidateNodeName(name).has_value()) return {};
  return name;
}

}  // namespace

std::string QuoteForMessage(std::string_view text, size_t max_len) {
  std::string out = "\"";
  const size_t shown = std::min(text.size(), max_len);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (text.size() > shown) {
    out += "... (" + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

std::unexpected<Error> InvalidInputError(ErrorCode code, std::string_view what,
                                         std::string_view input, std::string_view rule) {
  return MakeError(code, "invalid " + std::string(what) + " " + QuoteForMessage(input) + ": " +
                             std::string(rule));
}

Result<SpiffeId> SpiffeId::Parse(std::string_view text) {
  if (text.empty()) return InvalidId(text, "is empty");
  // Checked first so that no later rule spends time on a huge input.
  if (text.size() > kMaxIdLength) {
    return InvalidId(text, "is longer than " + std::to_string(kMaxIdLength) + " bytes");
  }
  if (!text.starts_with(kScheme)) {
    if (StartsWithIgnoringCase(text, kScheme)) {
      return InvalidId(text, "scheme must be lowercase \"spiffe\"");
    }
    if (StartsWithIgnoringCase(text, "spiffe:")) {
      return InvalidId(text, "scheme \"spiffe\" must be followed by \"://\"");
    }
    return InvalidId(text, "must start with \"spiffe://\"");
  }
  std::string_view rest = text.substr(kScheme.size());
  // A '?' or '#' anywhere ends the URI's path, so it is a query or fragment
  // whether it comes in the trust domain or the path.
  if (size_t pos = rest.find_first_of("?#"); pos != std::string_view::npos) {
    return InvalidId(text, rest[pos] == '?' ? "must not have a query ('?')"
                                            : "must not have a fragment ('#')");
  }
  const size_t slash = rest.find('/');
  std::string_view td = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (std::string problem = TrustDomainProblem(td); !problem.empty()) {
    return InvalidId(text, problem);
  }
  if (std::string problem = PathProblem(path); !problem.empty()) {
    return InvalidId(text, problem);
  }
  return SpiffeId(std::string(td), std::string(path));
}

Result<SpiffeId> SpiffeId::FromParts(std::string_view trust_domain, std::string_view path) {
  std::string text = std::string(kScheme) + std::string(trust_domain) + std::string(path);
  if (text.size() > kMaxIdLength) {
    return InvalidId(text, "is longer than " + std::to_string(kMaxIdLength) + " bytes");
  }
  if (std::string problem = TrustDomainProblem(trust_domain); !problem.empty()) {
    return InvalidId(text, problem);
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return InvalidId(text, "path must not contain '?' or '#'");
  }
  if (std::string problem = PathProblem(path); !problem.empty()) {
    return InvalidId(text, problem);
  }
  return SpiffeId(std::string(trust_domain), std::string(path));
}

bool SpiffeId::IsReserved() const {
  return path_ == kReservedRoot ||
         (path_.size() > kReservedRoot.size() && path_.starts_with(kReservedRoot) &&
          path_[kReservedRoot.size()] == '/');
}

Result<void> ValidateTrustDomain(std::string_view td) {
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidSpiffeId, "trust domain", td, rule);
  };
  if (td.find("://") != std::string_view::npos) {
    return fail("give the trust domain name alone, without \"spiffe://\"");
  }
  if (std::string problem = TrustDomainProblem(td); !problem.empty()) return fail(problem);
  return Ok();
}

Result<void> ValidateNodeName(std::string_view name) {
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidName, "node name", name, rule);
  };
  if (name.empty()) return fail("is empty");
  if (name.size() > kMaxNodeNameLength) {
    return fail("is longer than " + std::to_string(kMaxNodeNameLength) + " characters");
  }
  if (name == "." || name == "..") return fail("must not be \".\" or \"..\"");
  for (char c : name) {
    if (!IsTrustDomainChar(c)) {
      return fail("characters are limited to a-z, 0-9, '.', '-' and '_'" + CharNote(c));
    }
  }
  return Ok();
}

Result<SpiffeId> NodeSpiffeId(std::string_view td, std::string_view node) {
  if (auto ok = ValidateNodeName(node); !ok) return std::unexpected(ok.error());
  return SpiffeId::FromParts(td, std::string(kReservedRoot) + "/node/" + std::string(node));
}

Result<SpiffeId> AdminSpiffeId(std::string_view td, std::string_view admin) {
  if (auto ok = ValidateNodeName(admin); !ok) return std::unexpected(ok.error());
  return SpiffeId::FromParts(td, std::string(kReservedRoot) + "/admin/" + std::string(admin));
}

ClassifiedId ClassifyId(const SpiffeId& id) {
  if (!id.IsReserved()) return {IdentityKind::kWorkload, ""};
  std::string_view under = std::string_view(id.path()).substr(kReservedRoot.size());
  if (std::string_view name = NameAfter(under, "/node/"); !name.empty()) {
    return {IdentityKind::kNode, std::string(name)};
  }
  if (std::string_view name = NameAfter(under, "/admin/"); !name.empty()) {
    return {IdentityKind::kAdmin, std::string(name)};
  }
  return {IdentityKind::kOtherReserved, ""};
}

}  // namespace mayfly
