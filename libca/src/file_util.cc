// Atomic file replacement and whole-file reads.
#include "mayfly/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace mayfly {
namespace {

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { int fd = fd_; fd_ = -1; return fd; }

 private:
  int fd_;
};

}  // namespace

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

namespace {

Result<void> FsyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return MakeError(ErrorCode::kIo, "syncing directory " + dir + ": " + ErrnoString(errno));
  }
  return Ok();
}

}  // namespace

std::string ErrnoString(int err) { return std::strerror(err); }

Result<std::string> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                             mode_t mode) {
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(rd());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    return MakeError(ErrorCode::kIo, "creating " + tmp + ": " + ErrnoString(errno));
  }
  // open() applies the umask; the caller's mode is the contract.
  auto fail = [&](Error e) { ::unlink(tmp.c_str()); return std::unexpected(std::move(e)); };
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
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail({ErrorCode::kIo, "renaming " + tmp + " to " + path + ": " + ErrnoString(errno)});
  }
  return FsyncDirectoryOf(path);
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
