// Atomic file replacement and whole-file reads.
#include "mayfly/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace mayfly {
UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo, "writing " + path + ": " + ErrnoString(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

std::string ErrnoString(int err) { return std::strerror(err); }

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     "reading " + path + ": " + ErrnoString(err));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo, "reading " + path + ": " + ErrnoString(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// 64 random bits in hex: a temporary name no one can plant in advance.
std::string RandomSuffix() {
  std::random_device rd;
  const uint64_t bits = (uint64_t{rd()} << 32) | rd();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

bool IsSymlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, FileOwner owner) {
  const std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  const std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return MakeError(ErrorCode::kInvalidArgument, "writing " + path + ": not a file name");
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP || (err == ENOTDIR && IsSymlink(dir))) {
      return MakeError(ErrorCode::kIo, "directory " + dir + " is a symbolic link; refusing to write " + name +
                                           " through it (configure the directory it points to)");
    }
    return MakeError(ErrorCode::kIo, "opening directory " + dir + ": " + ErrnoString(err));
  }
  // A link here would be replaced, not followed (renameat does not follow
  // it); refusing says plainly that someone put it there.
  struct stat st {};
  if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return MakeError(ErrorCode::kIo, path + " is a symbolic link; refusing to replace it (remove the link, or "
                                            "configure the file it points to)");
  }
  const std::string tmp_name = name + ".tmp." + RandomSuffix();
  const std::string tmp = dir + "/" + tmp_name;
  UniqueFd fd(::openat(dir_fd.get(), tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    return MakeError(ErrorCode::kIo, "creating " + tmp + ": " + ErrnoString(errno));
  }
  auto fail = [&](Error e) {
    ::unlinkat(dir_fd.get(), tmp_name.c_str(), 0);
    return std::unexpected(std::move(e));
  };
  // Owner first: chown clears the set-id bits of the mode. open() applied
  // the umask; the caller's mode is the contract.
  if ((owner.uid != static_cast<uid_t>(-1) || owner.gid != static_cast<gid_t>(-1)) &&
      ::fchown(fd.get(), owner.uid, owner.gid) != 0) {
    return fail({ErrorCode::kIo, "chown " + std::to_string(static_cast<long long>(owner.uid)) + ":" +
                                     std::to_string(static_cast<long long>(owner.gid)) + " " + tmp + ": " +
                                     ErrnoString(errno)});
  }
  if (::fchmod(fd.get(), mode) != 0) {
    return fail({ErrorCode::kIo, "chmod " + tmp + ": " + ErrnoString(errno)});
  }
  if (auto r = WriteAll(fd.get(), data, tmp); !r) return fail(r.error());
  if (::fsync(fd.get()) != 0) {
    return fail({ErrorCode::kIo, "syncing " + tmp + ": " + ErrnoString(errno)});
  }
  if (::close(fd.Release()) != 0) {
    return fail({ErrorCode::kIo, "closing " + tmp + ": " + ErrnoString(errno)});
  }
  if (::renameat(dir_fd.get(), tmp_name.c_str(), dir_fd.get(), name.c_str()) != 0) {
    return fail({ErrorCode::kIo, "renaming " + tmp + " to " + path + ": " + ErrnoString(errno)});
  }
  if (::fsync(dir_fd.get()) != 0) {
    return MakeError(ErrorCode::kIo, "syncing directory " + dir + ": " + ErrnoString(errno));
  }
  return Ok();
}

Result<void> EnsureDirectory(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, "creating directory " + path + ": " + ec.message());
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return MakeError(ErrorCode::kIo, "chmod " + path + ": " + ErrnoString(errno));
  }
  return Ok();
}

Result<void> CheckPrivate(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return MakeError(ErrorCode::kIo, "checking " + std::string(what) + " " + path + ": " + ErrnoString(errno));
  }
  const mode_t mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return Ok();
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
  const bool dir = S_ISDIR(st.st_mode);
  return MakeError(ErrorCode::kConfig, std::string(what) + " " + path + " is open to its group or others (mode " +
                                           octal + "); refusing to use it. Fix: chmod " + (dir ? "700 " : "600 ") +
                                           path);
}

}  // namespace mayfly
