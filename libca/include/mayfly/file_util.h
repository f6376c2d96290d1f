// Reading files, and writing them atomically with a given mode.
#pragma once

#include <string>
#include <sys/types.h>

#include "mayfly/error.h"

namespace mayfly {

// Reads a whole file. NotFound when it does not exist, kIo otherwise; the
// message names the path.
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);

// Replaces `path` with `data` so that a reader sees the old or the new file,
// never a torn one: write a temporary file in the same directory with `mode`,
// fsync it, rename it over `path`, fsync the directory.
[[nodiscard]] Result<void> WriteFileAtomic(const std::string& path,
                                           std::string_view data, mode_t mode);

// Creates `path` (and parents) if missing and sets it to `mode`.
[[nodiscard]] Result<void> EnsureDirectory(const std::string& path, mode_t mode);

// Refuses a private file (a key, a passphrase) or a directory holding them
// when its group or others have any access to it, with a message naming
// `what`, the path, its mode and the chmod that fixes it. A missing path
// passes: the caller's own read reports it.
[[nodiscard]] Result<void> CheckPrivate(const std::string& path, std::string_view what);

// A string with errno's description, for messages.
std::string ErrnoString(int err);

// Writes all of `data` to `fd`, retrying short writes and EINTR; kIo naming
// `path` (or what the descriptor is) on failure.
[[nodiscard]] Result<void> WriteAll(int fd, std::string_view data, const std::string& path);

}  // namespace mayfly
