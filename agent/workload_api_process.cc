// The Workload API process seen from the agent: its socket, fork, exec and
// restarts.
#include "workload_api_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent_publish.h"
#include "mayfly/file_util.h"

namespace mayfly::agent {

namespace asio = boost::asio;

namespace {

constexpr auto kMaxRestartDelay = std::chrono::seconds(30);
constexpr const char* kProgram = "mayfly-workload-api";

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kConfig, "workload_api_socket " + path + ": longer than a unix socket path may be");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<void> Fail(const std::string& path, const std::string& what) {
  return MakeError(ErrorCode::kConfig, "workload_api_socket " + path + ": " + what);
}

// Removes a socket file no process listens on any more; refuses anything
// else at that path.
Result<void> RemoveStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return Fail(path, ErrnoString(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return Fail(path, "exists and is not a socket; expected a path the agent may create");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return Fail(path, "socket: " + ErrnoString(errno));
  const bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(probe);
  if (live) return Fail(path, "another process is serving on it (a running agent?)");
  if (unlink(path.c_str()) != 0) return Fail(path, "removing the stale socket: " + ErrnoString(errno));
  return Ok();
}

// The child's half of Start(): becomes the mayfly-workload-api program
// beside this one, handing it the listening socket.
[[noreturn]] void ExecWorkloadApi(const std::string& config_path, int listen_fd, pid_t parent) {
  // It dies with the agent (kept across exec): no orphan serves identities.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(1);
  std::array<char, 4096> self{};
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string program = n > 0 ? std::string(self.data(), static_cast<size_t>(n)) : std::string();
  program = program.substr(0, program.rfind('/') + 1) + kProgram;
  // The listening socket is the one descriptor it inherits on purpose.
  const int fd = dup(listen_fd);
  const std::string fd_text = std::to_string(fd);
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  execl(program.c_str(), kProgram, "--config", config_path.c_str(), "--listen-fd", fd_text.c_str(),
        static_cast<char*>(nullptr));
  std::fprintf(stderr, "mayfly-agent: workload API: cannot run %s: %s\n", program.c_str(),
               ErrnoString(errno).c_str());
  _exit(127);
}

}  // namespace

Result<int> ListenOnWorkloadSocket(const std::string& path) {
  auto addr = UnixAddress(path);
  if (!addr) return std::unexpected(addr.error());
  if (auto r = RemoveStaleSocket(path, *addr); !r) return std::unexpected(r.error());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(Fail(path, "socket: " + ErrnoString(errno)).error());
  auto fail = [&](const std::string& what) {
    const int err = errno;
    close(fd);
    return std::unexpected(Fail(path, what + ": " + ErrnoString(err)).error());
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) return fail("cannot create the socket");
  if (chmod(path.c_str(), 0666) != 0) return fail("chmod 0666");
  if (listen(fd, SOMAXCONN) != 0) return fail("listen");
  return fd;
}

Result<std::unique_ptr<WorkloadApiProcess>> WorkloadApiProcess::Open(asio::io_context& ioc,
                                                                     const AgentConfig& config) {
  auto fd = ListenOnWorkloadSocket(config.workload_api_socket);
  if (!fd) return std::unexpected(fd.error());
  return std::unique_ptr<WorkloadApiProcess>(new WorkloadApiProcess(ioc, config, *fd));
}

WorkloadApiProcess::~WorkloadApiProcess() {
  Stop();
  close(listen_fd_);
  unlink(config_.workload_api_socket.c_str());
}

void WorkloadApiProcess::Start() {
  stopping_ = false;
  spdlog::default_logger()->flush();  // nothing buffered is written twice
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    spdlog::error("workload API: fork: {}", ErrnoString(errno));
    return Exited();
  }
  if (pid == 0) ExecWorkloadApi(config_.path, listen_fd_, parent);
  pid_ = pid;
  started_ = std::chrono::steady_clock::now();
  Watch();
}

void WorkloadApiProcess::Watch() {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) {
    spdlog::error("workload API: pidfd_open: {}", ErrnoString(errno));
    return;
  }
  pidfd_.emplace(ioc_, pidfd);
  pidfd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (!ec && pid_ > 0) Exited();
  });
}

void WorkloadApiProcess::Exited() {
  if (pid_ > 0) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    // Exit 0 is its answer to a SIGTERM, which under systemd reaches every
    // process of the unit at once: the agent's own stop follows.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      spdlog::info("workload API: the process stopped");
    } else {
      spdlog::error("workload API: the process {}; restarting it", DescribeExit(status));
    }
    pid_ = -1;
    pidfd_.reset();
    // A process that served for a while starts the backoff again.
    if (std::chrono::steady_clock::now() - started_ > std::chrono::minutes(1)) failures_ = 0;
  }
  if (stopping_) return;
  ++failures_;
  const auto delay = std::min<std::chrono::steady_clock::duration>(
      std::chrono::seconds(1LL << std::min(failures_ - 1, 5)), kMaxRestartDelay);
  restart_.expires_after(delay);
  restart_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopping_) Start();
  });
}

void WorkloadApiProcess::Reload(const AgentConfig& config) {
  if (config.workload_api_socket != config_.workload_api_socket) {
    spdlog::warn("workload API: workload_api_socket changed to {}; it takes effect when the agent restarts",
                 config.workload_api_socket);
  }
  AgentConfig next = config;
  next.workload_api_socket = config_.workload_api_socket;
  if (next == config_) return;
  config_ = std::move(next);
  Stop();
  Start();
}

void WorkloadApiProcess::Stop() {
  stopping_ = true;
  restart_.cancel();
  if (pid_ <= 0) return;
  pidfd_.reset();
  kill(pid_, SIGTERM);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace mayfly::agent
