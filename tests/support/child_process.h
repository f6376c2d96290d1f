// A real process started by a test, with its output readable line by line,
// stopped and reaped when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mayfly::testing {

class ChildProcess {
 public:
  // Starts argv[0] with these arguments in `cwd` (empty: the test's), stdout
  // and stderr merged into a pipe the test reads.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv, const std::string& cwd = "");
  ~ChildProcess();  // SIGKILL if still running, then reap

  // Reads output until a line starting with `prefix` arrives; returns it, or
  // nullopt on timeout or exit. Every line read is kept in output().
  std::optional<std::string> WaitForLine(const std::string& prefix,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Like WaitForLine, for a line containing `text` anywhere.
  std::optional<std::string> WaitForLineContaining(const std::string& text,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `signo` and waits for the exit; returns the exit status (or -signal).
  int Stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void Signal(int signo);
  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

 private:
  ChildProcess() = default;
  bool ReadSome(std::chrono::milliseconds timeout);
  std::optional<std::string> WaitFor(const std::function<bool(const std::string&)>& match,
                                     std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::string output_;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace mayfly::testing
