// File writes with mode and owner, hooks with a timeout, signals by pid file.
#include "agent_publish.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
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

Result<void> SignalPidFile(const std::string& pid_file, int signo) {
  auto text = ReadFile(pid_file);
  if (!text) return std::unexpected(text.error());
  char* end = nullptr;
  long pid = std::strtol(text->c_str(), &end, 10);
  if (pid <= 1 || end == text->c_str()) {
    return MakeError(ErrorCode::kInvalidArgument, pid_file + " does not hold a process id");
  }
  if (kill(static_cast<pid_t>(pid), signo) != 0) {
    return MakeError(ErrorCode::kIo, "signalling pid " + std::to_string(pid) + " from " + pid_file + ": " +
                                         ErrnoString(errno));
  }
  return Ok();
}

}  // namespace mayfly::agent
