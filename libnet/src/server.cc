// The server's listeners: binding, the accept loops with the allow-list and
// admission (admission.h), and graceful shutdown.
#include "mayfly/net/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>

#include "http_session.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/query.h"
#include "server_core.h"

namespace mayfly::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using LocalProtocol = asio::local::stream_protocol;
using boost::system::error_code;

// A failing accept (EMFILE, ENFILE, ENOBUFS) is retried after this pause
// instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};
// A refused connection gets this long to take our 503 and go.
constexpr std::chrono::seconds kRefuseTimeout{1};

// The client's address, IPv4-mapped IPv6 shown as IPv4; unspecified when
// the socket has no peer any more.
asio::ip::address PeerAddress(const tcp::socket& socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

// The source max_connections_per_ip counts: an IPv4 address, or the /64 of
// an IPv6 one, the block a single host or LAN is usually given (counting
// single IPv6 addresses would let one host take any number).
std::string PeerKey(const asio::ip::address& address) {
  if (!address.is_v6()) return address.to_string();
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

bool Allowed(const std::vector<Cidr>& allow, const std::string& ip) {
  if (allow.empty()) return true;
  auto parsed = ParseIpAddress(ip);
  if (!parsed) return false;
  for (const auto& cidr : allow) {
    if (cidr.Contains(*parsed)) return true;
  }
  return false;
}

// Answers a connection refused for the connection limits with a fixed 503
// and closes it, draining briefly what it sent so the reply is not lost to a
// reset.
template <class Protocol>
class Refusal : public std::enable_shared_from_this<Refusal<Protocol>> {
 public:
  explicit Refusal(typename Protocol::socket socket) : stream_(std::move(socket)) {
    std::string body = ErrorBody(ErrorCode::kUnavailable, "too many connections");
    reply_ = "HTTP/1.1 503 Service Unavailable\r\nServer: mayfly\r\n"
             "Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  void Start() {
    stream_.expires_after(kRefuseTimeout);
    asio::async_write(stream_, asio::buffer(reply_),
                      [self = this->shared_from_this()](error_code ec, size_t) {
                        if (ec) return;
                        self->stream_.socket().shutdown(asio::socket_base::shutdown_send, ec);
                        self->Drain();
                      });
  }

 private:
  void Drain() {
    stream_.async_read_some(asio::buffer(sink_), [self = this->shared_from_this()](error_code ec, size_t) {
      if (!ec) self->Drain();
    });
  }

  beast::basic_stream<Protocol> stream_;
  std::string reply_;
  std::array<char, 1024> sink_;
};

// Answers a refused connection with a fixed 503 and closes it, draining
// (within kRefuseTimeout) what it sent so the reply is not lost to a reset.
template <class Protocol>
void RefuseBusy(typename Protocol::socket socket) {
  std::make_shared<Refusal<Protocol>>(std::move(socket))->Start();
}

// One accepting socket and its accept loop, on its own strand.
template <class Protocol>
class Acceptor final : public ListenerBase,
                       public std::enable_shared_from_this<Acceptor<Protocol>> {
 public:
  Acceptor(std::shared_ptr<Server::Core> core, Listener kind)
      : core_(std::move(core)),
        kind_(kind),
        strand_(asio::make_strand(core_->ioc())),
        acceptor_(strand_),
        retry_(strand_) {}

  typename Protocol::acceptor& acceptor() { return acceptor_; }
  void set_unix_path(std::string path, ino_t inode) {
    unix_path_ = std::move(path);
    unix_inode_ = inode;
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(core_->ioc()),
                           [self = this->shared_from_this()](error_code ec,
                                                             typename Protocol::socket socket) {
                             self->OnAccept(ec, std::move(socket));
                           });
  }

  void Close() override {
    asio::post(strand_, [self = this->shared_from_this()] {
      error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
      self->RemoveSocketFile();
    });
  }

 private:
  void OnAccept(error_code ec, typename Protocol::socket socket) {
    if (!acceptor_.is_open()) return core_->ListenerEnded();
    if (ec) {
      retry_.expires_after(kAcceptRetry);
      retry_.async_wait([self = this->shared_from_this()](error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) return self->Accept();
        self->core_->ListenerEnded();
      });
      return;
    }
    Dispatch(std::move(socket));
    Accept();
  }

  void Dispatch(typename Protocol::socket socket) {
    ServerOptions options = core_->options();
    if constexpr (std::is_same_v<Protocol, tcp>) {
      const asio::ip::address address = PeerAddress(socket);
      std::string ip = address.is_unspecified() ? "" : address.to_string();
      // The allow-list is checked before any TLS work is spent on the peer.
      if ((kind_ == Listener::kApi || kind_ == Listener::kOcsp) && !Allowed(options.allow_cidrs, ip)) {
        core_->counters().refused_not_allowed++;
        return;  // the socket closes as it goes out of scope
      }
      std::shared_ptr<ssl::context> tls;
      if (kind_ == Listener::kApi && !(tls = core_->tls_context())) return;
      Admission::Entry* entry = core_->Admit(PeerKey(address), options);
      if (entry == nullptr) {
        // A TLS client cannot read a plain reply: it is just closed.
        if (kind_ != Listener::kApi) RefuseBusy<tcp>(std::move(socket));
        return;
      }
      // Each answer leaves in one write: Nagle would only hold it back
      // waiting for the client's delayed ACK of the previous one.
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (kind_ == Listener::kApi) {
        StartTlsSession(core_, std::move(socket), std::move(tls), std::move(ip), entry);
      } else {
        StartPlainSession(core_, std::move(socket), kind_, std::move(ip), entry);
      }
    } else {
      StartUnixSession(core_, std::move(socket));
    }
  }

  // Removes our unix socket file, unless another process replaced it since.
  void RemoveSocketFile() {
    if (unix_path_.empty()) return;
    struct stat st;
    if (::lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == unix_inode_) {
      ::unlink(unix_path_.c_str());
    }
    unix_path_.clear();
  }

  std::shared_ptr<Server::Core> core_;
  const Listener kind_;
  asio::strand<asio::io_context::executor_type> strand_;
  typename Protocol::acceptor acceptor_;
  asio::steady_timer retry_;
  std::string unix_path_;
  ino_t unix_inode_ = 0;
};

std::unexpected<Error> BindError(std::string_view what, const std::string& where,
                                 const error_code& ec) {
  return MakeError(ErrorCode::kUnavailable,
                   std::string(what) + " " + where + ": " + ec.message());
}

// Opens, binds and starts listening on a TCP address.
Result<std::shared_ptr<Acceptor<tcp>>> BindTcp(const std::shared_ptr<Server::Core>& core,
                                               const std::string& host_port, Listener kind) {
  auto hp = ParseHostPort(host_port, true);
  if (!hp) return std::unexpected(hp.error());
  error_code ec;
  auto address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    // A name ("localhost"): resolve it, taking the first address.
    tcp::resolver resolver(core->ioc());
    auto results = resolver.resolve(hp->host, std::to_string(hp->port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) return BindError("cannot resolve", host_port, ec);
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, hp->port);
  auto acceptor = std::make_shared<Acceptor<tcp>>(core, kind);
  auto& a = acceptor->acceptor();
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return BindError("cannot listen on", host_port, ec);
  return acceptor;
}

// Removes a unix socket file no live server answers on. A file that is not a
// socket is never removed.
Result<void> RemoveStaleSocket(asio::io_context& ioc, const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return MakeError(ErrorCode::kIo, "cannot inspect " + path + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return MakeError(ErrorCode::kIo, path + " exists and is not a socket; refusing to replace it");
  }
  LocalProtocol::socket probe(ioc);
  error_code ec;
  probe.connect(LocalProtocol::endpoint(path), ec);
  if (!ec) return MakeError(ErrorCode::kIo, path + " is in use by a running server");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return MakeError(ErrorCode::kIo, "cannot remove stale socket " + path + ": " + std::strerror(errno));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(asio::io_context& ioc, ServerOptions options,
                                               Handler handler) {
  if (!handler) return MakeError(ErrorCode::kInvalidArgument, "the server needs a handler");
  auto core = std::make_shared<Core>(ioc, std::move(options), std::move(handler));
  return std::unique_ptr<Server>(new Server(std::move(core)));
}

Server::~Server() { core_->CloseListeners(); }

Result<uint16_t> Server::ListenTls(const std::string& host_port, std::shared_ptr<ssl::context> tls) {
  if (!tls) return MakeError(ErrorCode::kInvalidArgument, "the TLS listener needs a TLS context");
  if (core_->shutting_down()) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
  auto acceptor = BindTcp(core_, host_port, Listener::kApi);
  if (!acceptor) return std::unexpected(acceptor.error());
  core_->set_tls_context(std::move(tls));
  uint16_t port = (*acceptor)->acceptor().local_endpoint().port();
  core_->AddListener(*acceptor);
  (*acceptor)->Accept();
  return port;
}

Result<uint16_t> Server::ListenPlain(const std::string& host_port, Listener kind) {
  if (core_->shutting_down()) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
  auto acceptor = BindTcp(core_, host_port, kind);
  if (!acceptor) return std::unexpected(acceptor.error());
  uint16_t port = (*acceptor)->acceptor().local_endpoint().port();
  core_->AddListener(*acceptor);
  (*acceptor)->Accept();
  return port;
}

Result<void> Server::ListenUnix(const std::string& path, mode_t mode,
                                std::function<void(uint32_t uid, int32_t pid)> refused) {
  if (core_->shutting_down()) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
  core_->set_unix_refused(std::move(refused));
  if (auto r = RemoveStaleSocket(core_->ioc(), path); !r) return r;
  auto acceptor = std::make_shared<Acceptor<LocalProtocol>>(core_, Listener::kAdminSocket);
  auto& a = acceptor->acceptor();
  error_code ec;
  a.open(LocalProtocol(), ec);
  if (!ec) a.bind(LocalProtocol::endpoint(path), ec);
  if (ec) return BindError("cannot bind", path, ec);
  // The mode is set between bind and listen: until listen() nobody can
  // connect, so there is no window with the umask's looser mode.
  struct stat st;
  if (::chmod(path.c_str(), mode) != 0 || ::stat(path.c_str(), &st) != 0) {
    std::string cause = std::strerror(errno);
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kIo, "cannot set the mode of " + path + ": " + cause);
  }
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return BindError("cannot listen on", path, ec);
  }
  acceptor->set_unix_path(path, st.st_ino);
  core_->AddListener(acceptor);
  acceptor->Accept();
  return Ok();
}

void Server::SetTlsContext(std::shared_ptr<ssl::context> tls) {
  if (tls) core_->set_tls_context(std::move(tls));
}

void Server::UpdateOptions(ServerOptions options) { core_->set_options(std::move(options)); }

void Server::Shutdown(std::function<void()> drained) { core_->Shutdown(std::move(drained)); }

size_t Server::active_connections() const { return core_->active_connections(); }

ServerStats Server::stats() const {
  auto& c = core_->counters();
  return ServerStats{.accepted = c.accepted.load(),
                     .refused_not_allowed = c.refused_not_allowed.load(),
                     .refused_over_limit = c.refused_over_limit.load(),
                     .refused_over_ip_limit = c.refused_over_ip_limit.load(),
                     .evicted_handshaking = c.evicted_handshaking.load(),
                     .evicted_idle = c.evicted_idle.load(),
                     .handshake_failures = c.handshake_failures.load(),
                     .requests = c.requests.load(),
                     .rejected_requests = c.rejected_requests.load()};
}

}  // namespace mayfly::net
