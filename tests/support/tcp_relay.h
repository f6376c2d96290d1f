// A TCP relay on 127.0.0.1 that tests can cut and resume: the database or a
// CA instance "goes away" (every connection dropped, nothing listening) and
// comes back on the same port, as after a network partition or a restart.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "mayfly/error.h"

namespace mayfly::testing {

class TcpRelay {
 public:
  // Listens on a free 127.0.0.1 port and relays each connection to
  // 127.0.0.1:target_port.
  [[nodiscard]] static Result<std::unique_ptr<TcpRelay>> Start(uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  // Stops listening and closes every relayed connection; returns once done.
  void Cut();
  // Listens on the same port again.
  [[nodiscard]] Result<void> Resume();
  // Connections accepted so far.
  uint64_t accepted() const;

 private:
  enum class Command { kNone, kCut, kResume, kStop };
  TcpRelay(uint16_t target_port, int listen_fd, uint16_t port);
  void Run();
  void Send(Command command);
  void CloseAll();

  const uint16_t target_port_;
  const uint16_t port_;
  int wake_[2] = {-1, -1};
  int listen_fd_;  // loop thread only after Start
  std::vector<std::pair<int, int>> pairs_;  // loop thread only
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  Command command_ = Command::kNone;  // guarded by mu_
  Error resume_error_{ErrorCode::kInternal, ""};  // guarded by mu_
  bool resume_failed_ = false;        // guarded by mu_
  uint64_t accepted_ = 0;             // guarded by mu_
  std::thread thread_;
};

}  // namespace mayfly::testing
