// File writes with mode and owner, hooks with a timeout, signals by pid file.
#include "agent_publish.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "mayfly/file_util.h"

namespace mayfly::agent {

namespace {

// A numeric id short enough that stoul cannot throw.
bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

Result<uid_t> LookUpUser(const std::string& name) {
  if (IsNumber(name)) return static_cast<uid_t>(std::stoul(name));
  struct passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) return MakeError(ErrorCode::kConfig, "owner: no user named " + name);
  return pw->pw_uid;
}

Result<gid_t> LookUpGroup(const std::string& name) {
  if (IsNumber(name)) return static_cast<gid_t>(std::stoul(name));
  struct group* gr = getgrnam(name.c_str());
  if (gr == nullptr) return MakeError(ErrorCode::kConfig, "owner: no group named " + name);
  return gr->gr_gid;
}

}  // namespace

Result<FileOwner> ResolveOwner(const std::string& owner) {
  FileOwner ids;
  if (owner.empty()) return ids;
  const size_t colon = owner.find(':');
  auto uid = LookUpUser(owner.substr(0, colon));
  if (!uid) return std::unexpected(uid.error());
  ids.uid = *uid;
  if (colon != std::string::npos) {
    auto gid = LookUpGroup(owner.substr(colon + 1));
    if (!gid) return std::unexpected(gid.error());
    ids.gid = *gid;
  }
  return ids;
}

Result<void> EnsureParentDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (parent.empty() || std::filesystem::is_directory(parent, ec)) return Ok();
  return EnsureDirectory(parent.string(), 0755);
}

Result<void> WriteWorkloadFiles(const WorkloadConfig& workload, const std::string& key_pem,
                                const std::string& cert_pem) {
  auto owner = ResolveOwner(workload.owner);
  if (!owner) return std::unexpected(owner.error());
  if (auto r = EnsureParentDirectory(workload.key); !r) return r;
  if (auto r = EnsureParentDirectory(workload.cert); !r) return r;
  const mode_t mode = static_cast<mode_t>(workload.mode);
  if (auto r = WriteFileAtomic(workload.key, key_pem, mode, *owner); !r) return r;
  return WriteFileAtomic(workload.cert, cert_pem, mode, *owner);
}

Result<void> RunHook(const std::string& command, const std::vector<std::pair<std::string, std::string>>& env,
                     std::chrono::seconds timeout) {
  pid_t pid = fork();
  if (pid < 0) return MakeError(ErrorCode::kIo, "starting hook: fork: " + ErrnoString(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout kills everything it started
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Hooks are short; checking every 10 ms only while one runs keeps this
  // simple without a SIGCHLD handler.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return MakeError(ErrorCode::kIo, "waiting for hook: " + ErrnoString(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return MakeError(ErrorCode::kUnavailable, "hook `" + command + "` timed out after " +
                                                    std::to_string(timeout.count()) + "s and was killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok();
  return MakeError(ErrorCode::kUnavailable, "hook `" + command + "` " + DescribeExit(status));
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "was killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "ended with wait status " + std::to_string(wait_status);
}

namespace {

// The real uid of process `pid`, from /proc/<pid>/status.
Result<uid_t> ProcessUid(pid_t pid) {
  auto status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  if (!status) return MakeError(ErrorCode::kNotFound, "no process " + std::to_string(pid) + " is running");
  const size_t at = status->find("\nUid:");
  if (at == std::string::npos) return MakeError(ErrorCode::kIo, "no Uid in /proc/" + std::to_string(pid) + "/status");
  return static_cast<uid_t>(std::strtoul(status->c_str() + at + 5, nullptr, 10));
}

// The pid a pid file holds, after checking who could have written it.
Result<pid_t> ReadPidFile(const std::string& pid_file, uid_t owner_uid) {
  // O_NONBLOCK: a FIFO put there must not hang the agent (it is refused below).
  UniqueFd fd(open(pid_file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file +
                                                  " is a symbolic link; refusing to follow it (configure the file "
                                                  "the service writes)");
    }
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     "reading pid_file " + pid_file + ": " + ErrnoString(err));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return MakeError(ErrorCode::kIo, "checking pid_file " + pid_file + ": " + ErrnoString(errno));
  }
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file + " is not a regular file");
  if (st.st_uid != 0 && st.st_uid != owner_uid) {
    return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file + " is owned by uid " + std::to_string(st.st_uid) +
                                                ", neither root nor the workload's owner; refusing to trust it");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file +
                                                " is writable by its group or others; refusing to trust it "
                                                "(Fix: chmod go-w " + pid_file + ")");
  }
  std::string text(32, '\0');
  const ssize_t n = read(fd.get(), text.data(), text.size());
  if (n < 0) return MakeError(ErrorCode::kIo, "reading pid_file " + pid_file + ": " + ErrnoString(errno));
  text.resize(static_cast<size_t>(n));
  const size_t digits = text.find_first_not_of("0123456789");
  const bool only_space = digits == std::string::npos || text.find_first_not_of(" \t\r\n", digits) == std::string::npos;
  const size_t length = digits == std::string::npos ? text.size() : digits;
  if (length == 0 || length > 9 || !only_space || text.size() == 32) {
    return MakeError(ErrorCode::kInvalidArgument, "pid_file " + pid_file + " does not hold a process id");
  }
  const pid_t pid = static_cast<pid_t>(std::stol(text.substr(0, length)));
  if (pid <= 1 || pid == getpid() || pid == getppid()) {
    return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file + " names pid " + std::to_string(pid) +
                                                " (init, the agent or its parent); refusing to signal it");
  }
  if (st.st_uid != 0) {
    auto uid = ProcessUid(pid);
    if (!uid) return WithContext(uid.error(), "pid_file " + pid_file);
    if (*uid != st.st_uid) {
      return MakeError(ErrorCode::kForbidden, "pid_file " + pid_file + " (owned by uid " +
                                                  std::to_string(st.st_uid) + ") names pid " + std::to_string(pid) +
                                                  ", which runs as uid " + std::to_string(*uid) +
                                                  "; refusing to signal it");
    }
  }
  return pid;
}

}  // namespace

Result<void> SignalPidFile(const std::string& pid_file, int signo, const std::string& owner) {
  auto ids = ResolveOwner(owner);
  if (!ids) return std::unexpected(ids.error());
  auto pid = ReadPidFile(pid_file, ids->uid);  // uid -1 (no owner): only root's files
  if (!pid) return std::unexpected(pid.error());
  if (kill(*pid, signo) != 0) {
    return MakeError(ErrorCode::kIo, "signalling pid " + std::to_string(*pid) + " from " + pid_file + ": " +
                                         ErrnoString(errno));
  }
  return Ok();
}

}  // namespace mayfly::agent
