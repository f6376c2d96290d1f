// A poll loop relaying bytes both ways; commands arrive through a pipe.
#include "support/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mayfly::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

Result<int> Listen(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = Loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return MakeError(ErrorCode::kIo, "relay: listening on 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
  return fd;
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies what `from` has to `to`; false at end of stream or on an error.
bool Pump(int from, int to) {
  char buffer[65536];
  ssize_t n = ::read(from, buffer, sizeof buffer);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    ssize_t w = ::write(to, buffer + sent, static_cast<size_t>(n - sent));
    if (w <= 0) return false;
    sent += w;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpRelay>> TcpRelay::Start(uint16_t target_port) {
  auto fd = Listen(0);
  if (!fd) return std::unexpected(fd.error());
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<TcpRelay>(new TcpRelay(target_port, *fd, ntohs(addr.sin_port)));
}

TcpRelay::TcpRelay(uint16_t target_port, int listen_fd, uint16_t port)
    : target_port_(target_port), port_(port), listen_fd_(listen_fd) {
  if (::pipe2(wake_, O_CLOEXEC) != 0) std::abort();
  thread_ = std::thread([this] { Run(); });
}

TcpRelay::~TcpRelay() {
  Send(Command::kStop);
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

uint64_t TcpRelay::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

void TcpRelay::Send(Command command) {
  std::unique_lock lock(mu_);
  command_ = command;
  char byte = 1;
  if (::write(wake_[1], &byte, 1) != 1) std::abort();
  done_cv_.wait(lock, [&] { return command_ == Command::kNone; });
}

void TcpRelay::Cut() { Send(Command::kCut); }

Result<void> TcpRelay::Resume() {
  Send(Command::kResume);
  std::lock_guard lock(mu_);
  if (resume_failed_) return std::unexpected(resume_error_);
  return Ok();
}

void TcpRelay::CloseAll() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  for (auto [a, b] : pairs_) {
    ::close(a);
    ::close(b);
  }
  pairs_.clear();
}

void TcpRelay::Run() {
  while (true) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
    if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
    const size_t first_pair = fds.size();
    for (auto [a, b] : pairs_) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::abort();
    }
    if (fds[0].revents != 0) {
      char byte;
      (void)::read(wake_[0], &byte, 1);
      std::lock_guard lock(mu_);
      switch (command_) {
        case Command::kStop:
          CloseAll();
          command_ = Command::kNone;
          done_cv_.notify_all();
          return;
        case Command::kCut:
          CloseAll();
          break;
        case Command::kResume: {
          auto fd = listen_fd_ >= 0 ? Result<int>(listen_fd_) : Listen(port_);
          resume_failed_ = !fd;
          if (fd) listen_fd_ = *fd; else resume_error_ = fd.error();
          break;
        }
        case Command::kNone:
          break;
      }
      command_ = Command::kNone;
      done_cv_.notify_all();
      continue;  // the descriptor lists changed
    }
    const size_t polled = pairs_.size();
    if (first_pair == 2 && fds[1].revents != 0) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int server = Connect(target_port_);
        if (server < 0) {
          ::close(client);
        } else {
          pairs_.emplace_back(client, server);
          std::lock_guard lock(mu_);
          ++accepted_;
        }
      }
    }
    std::vector<std::pair<int, int>> kept;
    for (size_t i = 0; i < polled; ++i) {
      const pollfd& a = fds[first_pair + 2 * i];
      const pollfd& b = fds[first_pair + 2 * i + 1];
      bool open = true;
      if (a.revents != 0) open = Pump(a.fd, b.fd);
      if (open && b.revents != 0) open = Pump(b.fd, a.fd);
      if (open) {
        kept.push_back(pairs_[i]);
      } else {
        ::close(pairs_[i].first);
        ::close(pairs_[i].second);
      }
    }
    // Pairs accepted above are past the polled ones: keep them too.
    for (size_t i = polled; i < pairs_.size(); ++i) kept.push_back(pairs_[i]);
    pairs_.swap(kept);
  }
}

}  // namespace mayfly::testing
