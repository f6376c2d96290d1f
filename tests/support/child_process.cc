// Processes started by tests.
#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace mayfly::testing {

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, const std::string& cwd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    // Dies with the test binary even when it aborts (a sanitizer report, a
    // crash) before its fixtures' destructors run. Tests start processes
    // from gtest's main thread, whose exit is the binary's.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
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
  child->reader_ = std::thread([raw = child.get()] { raw->ReadLoop(); });
  return child;
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  StopReader();
  if (out_fd_ >= 0) ::close(out_fd_);
}

void ChildProcess::ReadLoop() {
  char buf[4096];
  for (;;) {
    pollfd pfd{out_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 100);
    if (ready == 0) {
      // Hooks the process started may hold the pipe open after it exits.
      if (stop_reading_) break;
      continue;
    }
    const ssize_t n = ready < 0 ? -1 : ::read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (n <= 0) {
      eof_ = true;
      more_.notify_all();
      return;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    output_.append(buf, static_cast<size_t>(n));
    more_.notify_all();
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  more_.notify_all();
}

void ChildProcess::StopReader() {
  stop_reading_ = true;
  if (reader_.joinable()) reader_.join();
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (match(line)) return line;
    }
    if (eof_) return std::nullopt;
    if (more_.wait_until(lock, deadline) == std::cv_status::timeout && buffer_.find('\n') == std::string::npos) {
      return std::nullopt;
    }
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
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Whatever it wrote before exiting is read before the reader stops.
  {
    std::unique_lock lock(mu_);
    more_.wait_for(lock, std::chrono::milliseconds(500), [this] { return eof_; });
  }
  StopReader();
  exited_ = true;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return status_;
}

}  // namespace mayfly::testing
