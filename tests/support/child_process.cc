// Processes started by tests.
#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

namespace mayfly::testing {

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, const std::string& cwd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->out_fd_ = fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool ChildProcess::ReadSome(std::chrono::milliseconds timeout) {
  pollfd pfd{out_fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[4096];
  ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n <= 0) return false;
  buffer_.append(buf, static_cast<size_t>(n));
  output_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& prefix, std::chrono::milliseconds timeout) {
  return WaitFor([&](const std::string& line) { return line.rfind(prefix, 0) == 0; }, timeout);
}

std::optional<std::string> ChildProcess::WaitForLineContaining(const std::string& text,
                                                               std::chrono::milliseconds timeout) {
  return WaitFor([&](const std::string& line) { return line.find(text) != std::string::npos; }, timeout);
}

std::optional<std::string> ChildProcess::WaitFor(const std::function<bool(const std::string&)>& match,
                                                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (match(line)) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !ReadSome(left)) return std::nullopt;
  }
}

void ChildProcess::Signal(int signo) {
  if (!exited_) ::kill(pid_, signo);
}

int ChildProcess::Stop(int signo, std::chrono::milliseconds timeout) {
  if (exited_) return status_;
  ::kill(pid_, signo);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    ReadSome(std::chrono::milliseconds(50));  // drain output while waiting
  }
  while (ReadSome(std::chrono::milliseconds(0))) {
  }
  exited_ = true;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return status_;
}

}  // namespace mayfly::testing
