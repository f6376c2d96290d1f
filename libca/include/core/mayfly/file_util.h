// Reading files, and writing them atomically with a given mode.
#pragma once

#include <string>
#include <sys/types.h>

#include "mayfly/error.h"

namespace mayfly {

// Reads a whole file. NotFound when it does not exist, kIo otherwise; the
// message names the path.
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);

// Who a written file belongs to; -1 leaves the writer's user or group.
struct FileOwner {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

// Replaces `path` with `data` so that a reader sees the old or the new file,
// never a torn one, and so that no symbolic link is followed in the
// directory, which others may be able to write: the directory is opened with
// O_NOFOLLOW, a temporary file with a random name is created in it with
// O_CREAT|O_EXCL|O_NOFOLLOW, given `owner` and then `mode` on its descriptor,
// written and fsynced, renamed over `path` relative to the directory, and the
// directory is fsynced. Nothing is ever done by path after the rename.
// Refused (kIo, nothing written) when the directory itself (the last
// component of its path; the components above it are trusted) or `path` is a
// symbolic link; the message names the link.
[[nodiscard]] Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                                           FileOwner owner = {});

// Creates `path` (and parents) if missing and sets it to `mode`.
[[nodiscard]] Result<void> EnsureDirectory(const std::string& path, mode_t mode);

// Refuses a private file (a key, a passphrase) or a directory holding them
// when its group or others have any access to it, with a message naming
// `what`, the path, its mode and the chmod that fixes it. A missing path
// passes: the caller's own read reports it.
[[nodiscard]] Result<void> CheckPrivate(const std::string& path, std::string_view what);

// Owns a file descriptor: closes it on scope exit.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  // Gives up ownership (to close it and check the result).
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// A string with errno's description, for messages.
std::string ErrnoString(int err);

// Writes all of `data` to `fd`, retrying short writes and EINTR; kIo naming
// `path` (or what the descriptor is) on failure.
[[nodiscard]] Result<void> WriteAll(int fd, std::string_view data, const std::string& path);

}  // namespace mayfly
