// A TCP listener on 127.0.0.1 for fail-over tests: it relays each connection
// byte for byte to a real server (a second address of one daemon), or
// accepts and closes at once (an instance that is down but whose port is
// open); it counts the connections it accepts and can be killed (every
// connection reset, the port closed) and started again on the same port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mayfly::testing {

class TcpRelay {
 public:
  // target_port 0: accept and close every connection.
  explicit TcpRelay(uint16_t target_port) : target_port_(target_port) {}
  ~TcpRelay() { Kill(); }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  // Listens on 127.0.0.1:`port` (0: any free port); false when it cannot.
  bool Start(uint16_t port = 0) {
    Kill();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = Loopback(port);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      return false;
    }
    port_ = ntohs(addr.sin_port);
    listener_ = fd;
    stop_ = false;
    acceptor_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

  // Like a killed process: the port closes and every open connection is
  // reset. Start() opens it again.
  void Kill() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
    std::vector<std::thread> pipes;
    {
      std::lock_guard lock(mu_);
      pipes.swap(pipes_);
    }
    for (std::thread& t : pipes) t.join();
  }

  // Relays from now on to `target_port` (0: accepts and closes).
  void SetTarget(uint16_t target_port) { target_port_ = target_port; }

  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  // Closed with a reset (SO_LINGER 0), as the kernel does for a dead process.
  static void Reset(int fd) {
    linger hard{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd);
  }

  void AcceptLoop() {
    while (!stop_) {
      pollfd pfd{listener_, POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      ++accepted_;
      const uint16_t target = target_port_;
      if (target == 0) {
        Reset(client);
        continue;
      }
      std::lock_guard lock(mu_);
      pipes_.emplace_back([this, client, target] { Pipe(client, target); });
    }
  }

  // Copies bytes both ways until either side closes or the relay is killed.
  void Pipe(int client, uint16_t target) {
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (server >= 0) ::close(server);
      Reset(client);
      return;
    }
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      pollfd pfds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(pfds, 2, 20) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (pfds[i].revents == 0) continue;
        ssize_t n = ::read(pfds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          open = false;
          break;
        }
        const int to = i == 0 ? server : client;
        for (ssize_t done = 0; done < n;) {
          ssize_t w = ::send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
          if (w <= 0) {
            open = false;
            break;
          }
          done += w;
        }
      }
    }
    if (stop_) {  // killed
      Reset(client);
      Reset(server);
    } else {  // one side closed: let the other read what was relayed first
      ::close(client);
      ::close(server);
    }
  }

  std::atomic<uint16_t> target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  uint16_t port_ = 0;
  int listener_ = -1;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pipes_;  // guarded by mu_
};

}  // namespace mayfly::testing
