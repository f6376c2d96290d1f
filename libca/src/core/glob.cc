// Shell-style '*'/'?' matching for the node field of registration entries.
#include <string_view>

#include "mayfly/identity.h"

namespace mayfly {

// The classic two-cursor matcher: on a mismatch it only ever retries from the
// most recent '*', letting that star swallow one more character. Earlier stars
// never need revisiting, so "a*a*a*...b" costs O(pattern * text), not the
// exponential time of a recursive matcher.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  constexpr size_t kNone = std::string_view::npos;
  size_t p = 0;
  size_t t = 0;
  size_t star = kNone;   // position of the last '*' seen in pattern
  size_t resume = 0;     // text position that star currently matches up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != kNone) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace mayfly
