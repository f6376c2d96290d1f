// The per-connection HTTP/1.1 loop: handshake → wait → headers → body →
// handler → write → wait | close, with a timeout on every step.
#include <sys/socket.h>
#include <unistd.h>

#include "http_session.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "client_verification.h"
#include "http_message.h"
#include "lean_tls_stream.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/query.h"

namespace mayfly::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

using UnixStream = beast::basic_stream<asio::local::stream_protocol>;

// How long a closing connection may take to flush our close_notify, and to
// drain what a client still sends after an early error reply (so that our
// reply is not lost to a TCP reset); at most kLingerBytes are discarded.
constexpr std::chrono::seconds kCloseTimeout{1};
constexpr size_t kLingerBytes = 256 * 1024;
constexpr size_t kReadChunk = 4096;

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, LeanTlsStream>;

// End-of-connection conditions that need no reply and no log.
bool IsPeerGone(const error_code& ec) {
  // stream_truncated: the client closed TCP without a TLS close_notify, which
  // most HTTP clients do. It is harmless here: HTTP/1.1 messages carry their
  // own length, so a request cut short fails to parse (partial_message) and is
  // never acted on.
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout;
}

bool IsHttpError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

template <class Stream>
class HttpSession final : public SessionBase,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  template <class... StreamArgs>
  HttpSession(std::shared_ptr<Server::Core> core, Listener listener, std::string peer_ip,
              Admission::Entry* entry, std::shared_ptr<ssl::context> tls, StreamArgs&&... stream_args)
      : core_(std::move(core)),
        entry_(entry),
        tls_(std::move(tls)),
        stream_(std::forward<StreamArgs>(stream_args)...) {
    peer_.listener = listener;
    peer_.ip = std::move(peer_ip);
  }

  ~HttpSession() override { core_->RemoveSession(this, entry_); }

  void Start() {
    core_->AddSession(this, this->weak_from_this(), entry_);
    core_->counters().accepted++;
    // Called on the acceptor's strand: every step from here runs on ours.
    asio::dispatch(stream_.get_executor(), [self = Self()] { self->Begin(); });
  }

  void OnServerShutdown() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      // Only a connection with no request under way is cut; the others close
      // after their response (WriteResponse sees shutting_down()).
      if (self->state_ == State::kIdle || self->state_ == State::kHandshake) {
        self->Lowest().cancel();
      }
    });
  }

  void Evict() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      if (self->state_ == State::kClosing) return;
      // Closing the socket, not cancelling: whatever step is under way or
      // comes next (a completion already queued) fails at once, and the
      // table answers no to every later Enter, so the session cannot carry
      // on past this point. No TLS goodbye: this peer is being dropped.
      self->evicted_ = true;
      self->broken_ = true;
      self->Lowest().close();
    });
  }

 private:
  void Begin() {
    // Shutdown began before this connection's first step (nothing to cancel
    // yet), or it was evicted before it ran: close it here.
    if (core_->shutting_down() || !Enter(Admission::Stage::kHandshaking)) {
      broken_ = true;
      return Close(false);
    }
    options_ = core_->options();
    if constexpr (kIsTls<Stream>) {
      state_ = State::kHandshake;
      Lowest().expires_after(options_.handshake_timeout);
      stream_.async_handshake(beast::bind_front_handler(&HttpSession::OnHandshake, Self()));
    } else {
      WaitForRequest();
    }
  }

  enum class State { kStarting, kHandshake, kIdle, kReading, kHandling, kWriting, kClosing };

  // The session a request's Respond answers on, until it is taken.
  class PendingResponse {
   public:
    explicit PendingResponse(std::shared_ptr<HttpSession> session) : session_(std::move(session)) {}
    std::shared_ptr<HttpSession> Take() {
      std::lock_guard lock(mu_);
      return std::move(session_);
    }

   private:
    std::mutex mu_;
    std::shared_ptr<HttpSession> session_;
  };

  std::shared_ptr<HttpSession> Self() { return this->shared_from_this(); }
  auto& Lowest() { return beast::get_lowest_layer(stream_); }
  // Moves this connection to `stage` in the admission table; false when it
  // was evicted and must close.
  bool Enter(Admission::Stage stage) { return core_->admission().Enter(entry_, stage); }

  void OnHandshake(error_code ec) {
    if (ec) {
      if (!evicted_) core_->counters().handshake_failures++;
      broken_ = true;
      return Close(false);
    }
    // Read once: the certificate stays the connection's, and each request
    // checks its validity at that request's time.
    RecordClientCertificate(stream_.native_handle(), peer_);
    WaitForRequest();
  }

  // Waits for the first byte of the next request: header_timeout on a new
  // connection, idle_timeout between keep-alive requests. Only this wait
  // counts as idle for Shutdown.
  void WaitForRequest() {
    if (core_->shutting_down()) return Close(false);
    // A new connection stays handshaking until its first request's headers
    // are in; a kept-alive one is idle (oldest idle is evicted first).
    if (!Enter(first_request_ ? Admission::Stage::kHandshaking : Admission::Stage::kIdle)) {
      broken_ = true;
      return Close(false);
    }
    options_ = core_->options();
    state_ = State::kIdle;
    if (buffer_.size() > 0) {  // a pipelined request is already here
      header_deadline_ = Deadline(options_.header_timeout);
      return ReadHeader();
    }
    if (first_request_) {
      header_deadline_ = Deadline(options_.header_timeout);
      Lowest().expires_at(header_deadline_);
    } else {
      Lowest().expires_after(options_.idle_timeout);
    }
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&HttpSession::OnFirstBytes, Self()));
  }

  void OnFirstBytes(error_code ec, size_t n) {
    buffer_.commit(n);
    if (ec) {
      // Cancelled by Shutdown: still a healthy connection, so close politely.
      broken_ = !(ec == asio::error::operation_aborted && core_->shutting_down());
      return Close(false);
    }
    if (!first_request_) header_deadline_ = Deadline(options_.header_timeout);
    ReadHeader();
  }

  void ReadHeader() {
    state_ = State::kReading;
    options_ = core_->options();  // limits as of this request's arrival
    first_request_ = false;
    parser_.emplace();
    parser_->header_limit(Clamp32(options_.max_header));
    parser_->body_limit(options_.max_body);
    Lowest().expires_at(header_deadline_);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::OnHeader, Self()));
  }

  void OnHeader(error_code ec, size_t) {
    // A request with all its headers is under way: not to be evicted. Lost
    // the race to an eviction: close without a word.
    if (!Enter(Admission::Stage::kBusy)) {
      broken_ = true;
      return Close(false);
    }
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    // Beast already refuses a Content-Length over body_limit; this keeps the
    // 413 independent of that detail and never reads such a body.
    if (auto length = parser_->content_length(); length && *length > options_.max_body) {
      return SendTooLarge();
    }
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      Lowest().expires_after(options_.body_timeout);
      return http::async_write(stream_, *continue_,
                               beast::bind_front_handler(&HttpSession::OnContinue, Self()));
    }
    ReadBody();
  }

  void OnContinue(error_code ec, size_t) {
    continue_.reset();
    if (ec) {
      broken_ = true;
      return Close(false);
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(options_.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnBody, Self()));
  }

  void OnBody(error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    Dispatch();
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::body_limit) return SendTooLarge();
    if (ec == http::error::header_limit) {
      return SendError(431, ErrorCode::kTooLarge,
                       "request headers exceed " + std::to_string(options_.max_header) + " bytes");
    }
    if (IsHttpError(ec) && !IsPeerGone(ec)) {
      return SendError(400, ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message());
    }
    // The client left, timed out, or TLS failed: nothing to answer.
    broken_ = true;
    Close(false);
  }

  void SendTooLarge() {
    SendError(413, ErrorCode::kTooLarge,
              "request body exceeds " + std::to_string(options_.max_body) + " bytes");
  }

  // Answers a request the handler never sees, then closes: the rest of what
  // the client sent is not read as a request.
  void SendError(int status, ErrorCode code, const std::string& message) {
    core_->counters().rejected_requests++;
    close_after_ = true;
    linger_ = true;
    HttpResponse response;
    response.status = status;
    response.body = ErrorBody(code, message);
    WriteResponse(std::move(response));
  }

  void Dispatch() {
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    auto converted = FromBeastRequest(req);
    if (!converted) return SendError(400, ErrorCode::kInvalidArgument, converted.error().message);
    HttpRequest request = std::move(*converted);
    parser_.reset();
    request.peer = peer_.Share();
    state_ = State::kHandling;
    core_->counters().requests++;

    // The handler may respond from any thread: the write is posted back onto
    // this connection's strand. The first call takes the session out of the
    // shared slot, so a second call is a no-op and copies of Respond that a
    // handler keeps do not keep the connection alive.
    auto slot = std::make_shared<PendingResponse>(Self());
    Respond respond = [slot, ex = stream_.get_executor()](HttpResponse response) {
      std::shared_ptr<HttpSession> self = slot->Take();
      if (!self) return;
      asio::post(ex, [self, response = std::move(response)]() mutable {
        self->WriteResponse(std::move(response));
      });
    };
    try {
      core_->handler()(std::move(request), respond);
    } catch (const std::exception& e) {
      InternalError(respond, e.what());
    } catch (...) {
      InternalError(respond, "unknown exception");
    }
  }

  static void InternalError(const Respond& respond, std::string_view what) {
    HttpResponse response;
    response.status = 500;
    response.body = ErrorBody(ErrorCode::kInternal, "the request handler failed: " + std::string(what));
    respond(std::move(response));
  }

  void WriteResponse(HttpResponse response) {
    if (state_ == State::kClosing) return;
    state_ = State::kWriting;
    res_.emplace(ToBeastResponse(std::move(response), version_));
    res_->keep_alive(keep_alive_ && !close_after_ && !core_->shutting_down());
    res_->prepare_payload();
    Lowest().expires_after(options_.body_timeout);
    http::async_write(stream_, *res_, beast::bind_front_handler(&HttpSession::OnWrite, Self()));
  }

  void OnWrite(error_code ec, size_t) {
    bool keep_alive = res_->keep_alive();
    res_.reset();
    if (ec) {
      broken_ = true;
      return Close(false);
    }
    if (!keep_alive) return Close(linger_);
    WaitForRequest();
  }

  // Closes the connection. A healthy TLS connection first sends our
  // close_notify; `linger` then drains what the client may still be sending,
  // so that the kernel does not reset the connection before it read our reply.
  void Close(bool linger) {
    state_ = State::kClosing;
    // Leaving anyway: not worth evicting (the result does not matter).
    (void)Enter(Admission::Stage::kBusy);
    if constexpr (kIsTls<Stream>) {
      if (!broken_) {
        // Send our close_notify without waiting for the client's: marking it
        // as received makes SSL_shutdown complete after one write. Waiting
        // would hold the connection open for clients (most of them) that
        // never answer one.
        SSL_set_shutdown(stream_.native_handle(), SSL_RECEIVED_SHUTDOWN);
        Lowest().expires_after(kCloseTimeout);
        return stream_.async_shutdown(
            beast::bind_front_handler(&HttpSession::OnTlsShutdown, Self(), linger));
      }
    }
    FinishClose(linger);
  }

  void OnTlsShutdown(bool linger, error_code ec) {
    // Errors here (stream_truncated or a reset from a client that already
    // left, a timeout) change nothing: the connection is ending either way.
    if (ec) broken_ = true;
    FinishClose(linger);
  }

  void FinishClose(bool linger) {
    error_code ignored;
    Lowest().socket().shutdown(asio::socket_base::shutdown_send, ignored);
    if (!linger || broken_) return Lowest().close();
    Lowest().expires_after(kCloseTimeout);
    Discard();
  }

  void Discard() {
    Lowest().async_read_some(asio::buffer(discard_),
                             [self = Self()](error_code ec, size_t n) {
                               self->discarded_ += n;
                               if (ec || self->discarded_ > kLingerBytes) return self->Lowest().close();
                               self->Discard();
                             });
  }

  static std::chrono::steady_clock::time_point Deadline(std::chrono::seconds timeout) {
    return std::chrono::steady_clock::now() + timeout;
  }
  static uint32_t Clamp32(size_t v) {
    return static_cast<uint32_t>(std::min<size_t>(v, std::numeric_limits<uint32_t>::max()));
  }

  std::shared_ptr<Server::Core> core_;
  Admission::Entry* const entry_;      // null on the admin socket; given back in the destructor
  std::shared_ptr<ssl::context> tls_;  // outlives stream_, which refers to it
  Stream stream_;
  PeerInfo peer_;  // listener, address and (after the handshake) client certificate
  ServerOptions options_;
  State state_ = State::kStarting;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  std::chrono::steady_clock::time_point header_deadline_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool first_request_ = true;
  bool close_after_ = false;  // an error reply: close after writing it
  bool linger_ = false;
  bool broken_ = false;       // an I/O error or timeout: no TLS goodbye
  bool evicted_ = false;      // closed by Evict
  size_t discarded_ = 0;
  std::array<char, kReadChunk> discard_;
};

}  // namespace

void StartTlsSession(std::shared_ptr<Server::Core> core, asio::ip::tcp::socket socket,
                     std::shared_ptr<ssl::context> tls, std::string peer_ip, Admission::Entry* entry) {
  ssl::context& ctx = *tls;
  auto session = std::make_shared<HttpSession<LeanTlsStream>>(std::move(core), Listener::kApi,
                                                          std::move(peer_ip), entry, std::move(tls),
                                                          std::move(socket), ctx);
  session->Start();
}

void StartPlainSession(std::shared_ptr<Server::Core> core, asio::ip::tcp::socket socket, Listener kind,
                       std::string peer_ip, Admission::Entry* entry) {
  auto session = std::make_shared<HttpSession<beast::tcp_stream>>(
      std::move(core), kind, std::move(peer_ip), entry, nullptr, std::move(socket));
  session->Start();
}

void StartUnixSession(std::shared_ptr<Server::Core> core,
                      asio::local::stream_protocol::socket socket) {
  // The socket's mode is not the only guard: its peer must be the daemon's
  // own uid or root, checked on every connection (a file mode can be
  // loosened, or the socket reached through an open descriptor).
  ucred cred{};
  socklen_t len = sizeof cred;
  const bool known = getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  if (!known || (cred.uid != 0 && cred.uid != getuid())) {
    error_code ignored;
    socket.close(ignored);
    if (auto refused = core->unix_refused(); refused && known) refused(cred.uid, cred.pid);
    return;
  }
  auto session = std::make_shared<HttpSession<UnixStream>>(
      std::move(core), Listener::kAdminSocket, std::string(), nullptr, nullptr, std::move(socket));
  session->Start();
}

}  // namespace mayfly::net
