// A real process started by a test, with its output readable line by line,
// stopped and reaped when the test ends.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mayfly::testing {

class ChildProcess {
 public:
  // Starts argv[0] with these arguments in `cwd` (empty: the test's), stdout
  // and stderr merged into a pipe that a thread of the test drains all the
  // time, so a chatty process never blocks on a full pipe.
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
  // Everything the process wrote so far.
  std::string output() const;

 private:
  ChildProcess() = default;
  void ReadLoop();
  void StopReader();
  std::optional<std::string> WaitFor(const std::function<bool(const std::string&)>& match,
                                     std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable more_;
  std::string buffer_;   // not yet matched by a WaitFor, guarded by mu_
  std::string output_;   // guarded by mu_
  bool eof_ = false;     // guarded by mu_
  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace mayfly::testing
