// Waiting in tests for what another process or thread does, where there is
// no event to wait on (files written, a counter moved): poll a condition
// until it holds or time runs out.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <thread>

namespace mayfly::testing {

inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                      std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// How many times `what` occurs in `text` (PEM blocks in a file, say).
inline int CountOf(std::string_view text, std::string_view what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace mayfly::testing
