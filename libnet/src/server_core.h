// What the server's listeners and connections share: options, the TLS context,
// the handler, the connection registry, counters and the shutdown state.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "admission.h"
#include "mayfly/net/server.h"

namespace mayfly::net {

// A connection as the registry sees it.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called from any thread when the server starts draining: the session
  // closes at once if it is waiting for a request, else after its response.
  virtual void OnServerShutdown() = 0;
  // Called from any thread once the admission table chose this connection
  // to make room for a new one: it closes at once, on its own executor.
  virtual void Evict() = 0;
};

// An accepting socket, closable from any thread.
class ListenerBase {
 public:
  virtual ~ListenerBase() = default;
  virtual void Close() = 0;
};

class Server::Core : public std::enable_shared_from_this<Server::Core> {
 public:
  Core(boost::asio::io_context& ioc, ServerOptions options, Handler handler)
      : ioc_(ioc), options_(std::move(options)), handler_(std::move(handler)) {}

  boost::asio::io_context& ioc() { return ioc_; }
  const Handler& handler() const { return handler_; }

  ServerOptions options() const {
    std::lock_guard lock(mu_);
    return options_;
  }
  void set_options(ServerOptions options) {
    std::lock_guard lock(mu_);
    options_ = std::move(options);
  }
  std::shared_ptr<ssl::context> tls_context() const {
    std::lock_guard lock(mu_);
    return tls_;
  }
  void set_tls_context(std::shared_ptr<ssl::context> tls) {
    std::lock_guard lock(mu_);
    tls_ = std::move(tls);
  }
  bool shutting_down() const { return shutting_down_.load(); }
  // Told of each admin socket peer refused for its uid (Server::ListenUnix).
  std::function<void(uint32_t, int32_t)> unix_refused() const {
    std::lock_guard lock(mu_);
    return unix_refused_;
  }
  void set_unix_refused(std::function<void(uint32_t, int32_t)> refused) {
    std::lock_guard lock(mu_);
    unix_refused_ = std::move(refused);
  }

  // Connection registry; a session adds itself once it is owned by a
  // shared_ptr and removes itself in its destructor, giving back its
  // admission entry (null on the admin socket).
  void AddSession(SessionBase* session, std::weak_ptr<SessionBase> weak, Admission::Entry* entry);
  void RemoveSession(SessionBase* session, Admission::Entry* entry);
  size_t active_connections() const;

  // A new TCP connection from `peer_key` under the current limits: its
  // admission entry, or null when it is to be turned away (counted). A
  // connection displaced to make room is counted and told to close.
  Admission::Entry* Admit(const std::string& peer_key, const ServerOptions& options);
  Admission& admission() { return admission_; }

  // Listener bookkeeping: Shutdown closes them, and drains only once every
  // accept loop has ended.
  void AddListener(std::weak_ptr<ListenerBase> listener);
  void ListenerEnded();

  void Shutdown(std::function<void()> drained);
  void CloseListeners();

  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> refused_not_allowed{0};
    std::atomic<uint64_t> refused_over_limit{0};
    std::atomic<uint64_t> refused_over_ip_limit{0};
    std::atomic<uint64_t> evicted_handshaking{0};
    std::atomic<uint64_t> evicted_idle{0};
    std::atomic<uint64_t> handshake_failures{0};
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> rejected_requests{0};
  };
  Counters& counters() { return counters_; }

 private:
  // Posts the drained callbacks once nothing is left open. Call without mu_.
  void MaybeDrained();

  boost::asio::io_context& ioc_;
  mutable std::mutex mu_;
  ServerOptions options_;
  std::shared_ptr<ssl::context> tls_;
  std::function<void(uint32_t, int32_t)> unix_refused_;
  const Handler handler_;
  std::atomic<bool> shutting_down_{false};
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  std::vector<std::weak_ptr<ListenerBase>> listeners_;
  int open_listeners_ = 0;
  std::vector<std::function<void()>> drained_;
  Admission admission_;
  Counters counters_;
};

}  // namespace mayfly::net
