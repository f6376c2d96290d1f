// Strict checks of workload selectors: a selector the agent could never match
// (a typo, a relative path) would silently make its entry unusable.
#include "mayfly/selector.h"

#include <algorithm>
#include <array>

namespace mayfly {
namespace {

bool IsDecimalId(std::string_view v) {
  // Up to 10 digits and within uint32: uids and gids are 32-bit.
  if (v.empty() || v.size() > 10 || !std::ranges::all_of(v, [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  if (v.size() > 1 && v[0] == '0') return false;
  return std::stoull(std::string(v)) <= 0xFFFFFFFFull;
}

// POSIX portable user and group names, as useradd accepts them.
bool IsAccountName(std::string_view v) {
  if (v.empty() || v.size() > 32 || v[0] == '-') return false;
  return std::ranges::all_of(v, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '$';
  });
}

bool IsAbsolutePath(std::string_view v) {
  if (v.size() < 2 || v[0] != '/' || v.back() == '/') return false;
  if (v.find('\0') != std::string_view::npos || v.find("//") != std::string_view::npos) return false;
  // No "." or ".." components: the agent compares the kernel's resolved path.
  size_t start = 1;
  while (start <= v.size()) {
    size_t end = v.find('/', start);
    if (end == std::string_view::npos) end = v.size();
    std::string_view part = v.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool IsSha256Hex(std::string_view v) {
  return v.size() == 64 && std::ranges::all_of(v, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// systemd unit names: a name, then a type suffix such as ".service".
bool IsUnitName(std::string_view v) {
  const size_t dot = v.rfind('.');
  if (v.empty() || v.size() > 255 || dot == 0 || dot == std::string_view::npos || dot + 1 == v.size()) return false;
  return std::ranges::all_of(v, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
           c == '_' || c == '.' || c == '\\' || c == '@';
  });
}

struct Form {
  std::string_view prefix;
  bool (*ok)(std::string_view);
  std::string_view expected;
};

constexpr std::array kForms = {
    Form{"unix:uid:", IsDecimalId, "a decimal uid (0 to 4294967295)"},
    Form{"unix:gid:", IsDecimalId, "a decimal gid (0 to 4294967295)"},
    Form{"unix:user:", IsAccountName, "a user name ([A-Za-z0-9_.$-], at most 32, not starting with '-')"},
    Form{"unix:group:", IsAccountName, "a group name ([A-Za-z0-9_.$-], at most 32, not starting with '-')"},
    Form{"unix:path:", IsAbsolutePath, "an absolute path to an executable, without '.', '..', '//' or a trailing '/'"},
    Form{"unix:sha256:", IsSha256Hex, "64 lowercase hex digits (the executable's SHA-256)"},
    Form{"systemd:unit:", IsUnitName, "a systemd unit name with its type, e.g. \"web.service\""},
};

}  // namespace

std::string SelectorProblem(std::string_view selector) {
  const std::string quoted = "selector \"" + std::string(selector) + "\"";
  for (const Form& form : kForms) {
    if (!selector.starts_with(form.prefix)) continue;
    if (form.ok(selector.substr(form.prefix.size()))) return "";
    return quoted + ": after \"" + std::string(form.prefix) + "\" expected " + std::string(form.expected);
  }
  return quoted + ": expected one of " + std::string(kSelectorForms);
}

Result<void> ValidateSelectors(std::span<const std::string> selectors) {
  for (size_t i = 0; i < selectors.size(); ++i) {
    if (std::string problem = SelectorProblem(selectors[i]); !problem.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(problem));
    }
    if (std::find(selectors.begin(), selectors.begin() + static_cast<std::ptrdiff_t>(i), selectors[i]) !=
        selectors.begin() + static_cast<std::ptrdiff_t>(i)) {
      return MakeError(ErrorCode::kInvalidArgument, "selector \"" + selectors[i] + "\" is given twice");
    }
  }
  return Ok();
}

}  // namespace mayfly
