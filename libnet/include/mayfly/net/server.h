// The HTTP/1.1 server behind every Mayfly listener: the mTLS API, the admin
// unix socket and the plain metrics port, with limits and graceful shutdown.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "mayfly/error.h"
#include "mayfly/identity.h"
#include "mayfly/net/http_types.h"

namespace mayfly::net {

namespace ssl = boost::asio::ssl;

struct ServerOptions {
  // Largest request body accepted; a larger one is answered 413 without being
  // read, and the connection closed.
  size_t max_body = 64 * 1024;
  // Largest request line + headers; larger is answered 431 and closed.
  size_t max_header = 16 * 1024;
  // The TLS handshake must complete within handshake_timeout; a request's
  // headers must arrive within header_timeout (on a new connection, counted
  // from the end of the handshake); its body within body_timeout, which also
  // bounds writing a response; a keep-alive connection may wait idle_timeout
  // for its next request. An expired timeout closes the connection.
  std::chrono::seconds handshake_timeout{5};
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{10};
  std::chrono::seconds idle_timeout{60};
  // TCP connections (API and metrics listeners together) open at once, and
  // from one source: an IPv4 address, or an IPv6 /64. At a limit, a new
  // connection closes the oldest one that has not yet sent its first
  // request's headers (a TLS handshake under way, or nothing sent at all),
  // else the one idle longest between requests; a source at its own limit
  // only closes its own. Only when every connection counted is busy with a
  // request is the new one turned away: a plain listener answers 503, the
  // TLS listener closes. The admin socket is exempt (an operator must reach a
  // daemon under a connection flood).
  int max_connections = 4096;
  int max_connections_per_ip = 256;
  // Clients allowed on the TLS API listener; empty = everyone. Others are
  // closed right after accept, before any TLS.
  std::vector<Cidr> allow_cidrs;
};

// Counters for /metrics. All since Create().
struct ServerStats {
  uint64_t accepted = 0;             // connections that got a session
  uint64_t refused_not_allowed = 0;  // peer outside allow_cidrs
  uint64_t refused_over_limit = 0;   // max_connections reached, every connection busy
  uint64_t refused_over_ip_limit = 0;  // max_connections_per_ip reached, all of them busy
  uint64_t evicted_handshaking = 0;  // closed for a new one before its first request
  uint64_t evicted_idle = 0;         // closed for a new one while idle between requests
  uint64_t handshake_failures = 0;   // TLS handshake failed or timed out
  uint64_t requests = 0;             // requests handed to the handler
  uint64_t rejected_requests = 0;    // answered 400/413/431 without the handler
};

// Runs on a caller-owned io_context, which any number of threads may run; each
// connection has its own strand. The handler is called on the connection's
// strand and may respond from any thread. Thread-safe.
class Server {
 public:
  // kInvalidArgument when the handler is empty.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Create(boost::asio::io_context& ioc,
                                                              ServerOptions options, Handler handler);
  // Closes the listeners; connections still open keep running until they end.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts the mTLS API listener on "ip:port" or "[ipv6]:port" (port 0 picks
  // one) and returns the bound port. Requests get peer.listener = kApi and,
  // when the client presented a certificate that verified, peer.client_cert.
  // kInvalidArgument for a bad address, kUnavailable when it cannot bind.
  [[nodiscard]] Result<uint16_t> ListenTls(const std::string& host_port,
                                           std::shared_ptr<ssl::context> tls);
  // Plain HTTP on a unix socket with this mode (peer.listener = kAdminSocket).
  // A stale socket file left by a dead process is removed first; a socket a
  // live server still answers on, or a file that is not a socket, is kIo.
  // Only the server's own uid and root are served; `refused`, when set, is
  // told the uid and pid of each other peer, whose connection is closed.
  [[nodiscard]] Result<void> ListenUnix(const std::string& path, mode_t mode = 0600,
                                        std::function<void(uint32_t uid, int32_t pid)> refused = {});
  // Plain HTTP on TCP (peer.listener = `kind`: kMetrics or kOcsp); returns
  // the bound port. allow_cidrs applies to kOcsp as to the TLS listener.
  [[nodiscard]] Result<uint16_t> ListenPlain(const std::string& host_port, Listener kind = Listener::kMetrics);

  // New TLS connections use this context from now on (server certificate
  // renewal); established ones keep theirs.
  void SetTlsContext(std::shared_ptr<ssl::context> tls);
  // New connections and requests use these limits (SIGHUP reload).
  void UpdateOptions(ServerOptions options);

  // Stops accepting, closes idle keep-alive connections, lets in-flight
  // requests finish (their responses carry Connection: close), then posts
  // `drained` to the io_context once every listener and connection has
  // closed. Calling it again adds another callback.
  void Shutdown(std::function<void()> drained);

  size_t active_connections() const;
  ServerStats stats() const;

  class Core;  // shared with the connections, which may outlive the Server

 private:
  explicit Server(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace mayfly::net
