// A server-side TLS stream over a beast::tcp_stream that holds almost no
// memory while idle (internal to libnet).
//
// Why not asio::ssl::stream: each one keeps two zero-filled 17 KiB buffers
// and a 2 x 17 KiB BIO pair for its whole life, about 68 KiB per connection
// before OpenSSL's own state; a daemon holding thousands of idle keep-alive
// agents pays that for nothing. Here OpenSSL reads through a BIO from one
// 4 KiB array and writes into a string that is released once sent, and
// SSL_MODE_RELEASE_BUFFERS (set on the context) lets OpenSSL drop its record
// buffers between records.
//
// One operation at a time (handshake, read, write or shutdown), as an HTTP/1
// server runs them. Timeouts are the tcp_stream's (expires_after on the
// lowest layer): every wait is one of its reads or writes.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <string>

namespace mayfly::net {

class LeanTlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;
  using error_code = boost::system::error_code;

  // A server-side SSL from `ctx` on this socket; the context must outlive it.
  LeanTlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& ctx);
  LeanTlsStream(const LeanTlsStream&) = delete;
  LeanTlsStream& operator=(const LeanTlsStream&) = delete;

  executor_type get_executor() { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  // Null only when SSL_new failed (out of memory): every operation then fails.
  SSL* native_handle() { return ssl_.get(); }

  template <class Handler>
  auto async_handshake(Handler&& handler) {
    return Start<false>([](SSL* ssl) { return SSL_do_handshake(ssl); }, false, std::forward<Handler>(handler));
  }

  // Sends our close_notify (and waits for the peer's unless the caller
  // marked it received with SSL_set_shutdown).
  template <class Handler>
  auto async_shutdown(Handler&& handler) {
    return Start<false>([](SSL* ssl) { return SSL_shutdown(ssl); }, true, std::forward<Handler>(handler));
  }

  template <class MutableBufferSequence, class Handler>
  auto async_read_some(const MutableBufferSequence& buffers, Handler&& handler) {
    const boost::asio::mutable_buffer first = FirstNonEmpty<boost::asio::mutable_buffer>(buffers);
    return Start<true>(
        [first](SSL* ssl) {
          return first.size() == 0 ? 0 : SSL_read(ssl, first.data(), ClampInt(first.size()));
        },
        false, std::forward<Handler>(handler), first.size() == 0);
  }

  // Encrypts the whole sequence (up to kMaxWrite bytes) before one socket
  // write: an HTTP response's header and body leave in one segment, not in
  // small records that Nagle and delayed ACKs would hold back.
  template <class ConstBufferSequence, class Handler>
  auto async_write_some(const ConstBufferSequence& buffers, Handler&& handler) {
    const bool empty = boost::asio::buffer_size(buffers) == 0;
    return Start<true>(
        [buffers](SSL* ssl) {
          int total = 0;
          for (auto it = boost::asio::buffer_sequence_begin(buffers);
               it != boost::asio::buffer_sequence_end(buffers) && total < kMaxWrite; ++it) {
            const boost::asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            const int r = SSL_write(ssl, b.data(), ClampInt(std::min<std::size_t>(b.size(), kMaxWrite - total)));
            if (r <= 0) return total > 0 ? total : r;
            total += r;
          }
          return total;
        },
        false, std::forward<Handler>(handler), empty);
  }

  // The BIO's side (lean_tls_stream.cc): OpenSSL takes received bytes and
  // hands over bytes to send.
  int TakeInput(char* out, int size);
  void AddOutput(const char* in, int size);

 private:
  struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  static constexpr int kMaxWrite = 64 * 1024;
  static int ClampInt(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, 1 << 30)); }

  template <class Buffer, class Sequence>
  static Buffer FirstNonEmpty(const Sequence& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
         ++it) {
      Buffer b(*it);
      if (b.size() > 0) return b;
    }
    return Buffer();
  }

  // After a socket read (reading_) or write of n bytes.
  void Transferred(std::size_t n);
  // Drops what is left to send and gives its memory back.
  void ReleaseOutput();

  // Steps `op` until it completes: first sends what OpenSSL wrote, reads
  // when it wants input, and completes with (error, bytes) or (error).
  template <bool kWithSize, class Op>
  struct Stepper {
    LeanTlsStream* s;
    Op op;
    bool shutdown;
    bool empty;  // a zero-length read or write: completes at once
    bool done = false;
    bool resumed = false;  // an asynchronous step ran: completing now is not inline
    int result = 0;
    error_code final_ec{};

    template <class Self>
    void Complete(Self& self, error_code ec) {
      if (!resumed) {
        // Done without waiting: the handler must not run inside the
        // initiating call, so finish from the executor.
        resumed = true;
        done = true;
        final_ec = ec;
        return boost::asio::post(s->next_.get_executor(), std::move(self));
      }
      if constexpr (kWithSize) {
        self.complete(ec, result > 0 ? static_cast<std::size_t>(result) : 0);
      } else {
        self.complete(ec);
      }
    }

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
      if (ec) {
        // The socket failed or timed out. A peer that closed TCP without a
        // close_notify reads as stream_truncated, as with Asio's stream.
        if (ec == boost::asio::error::eof) ec = boost::asio::ssl::error::stream_truncated;
        s->reading_ = false;
        s->ReleaseOutput();
        result = 0;
        return Complete(self, ec);
      }
      s->Transferred(n);
      if (empty || !s->ssl_) {
        if (!s->ssl_) final_ec = boost::asio::error::no_memory;
        return Complete(self, final_ec);
      }
      while (true) {
        if (!s->output_.empty()) {
          // Whatever OpenSSL produced goes out before anything else.
          resumed = true;
          return s->next_.async_write_some(boost::asio::buffer(s->output_), std::move(self));
        }
        if (done) return Complete(self, final_ec);
        ERR_clear_error();
        const int r = op(s->ssl_.get());
        if (r > 0) {
          done = true;
          result = r;
          continue;  // send what it wrote, then complete
        }
        // SSL_shutdown returns 0 once our close_notify is written and the
        // peer's not yet received: send ours, then call it again to wait.
        if (shutdown && r == 0) continue;
        const int err = SSL_get_error(s->ssl_.get(), r);
        if (err == SSL_ERROR_WANT_READ) {
          if (!s->output_.empty()) continue;  // what it wrote first (e.g. ServerHello)
          s->reading_ = true;
          resumed = true;
          return s->next_.async_read_some(boost::asio::buffer(s->input_), std::move(self));
        }
        done = true;
        result = 0;
        if (err == SSL_ERROR_ZERO_RETURN) {
          final_ec = boost::asio::error::eof;
        } else if (const unsigned long e = ERR_get_error(); e != 0) {
          final_ec = error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
        } else {
          final_ec = boost::asio::ssl::error::stream_truncated;
        }
      }
    }
  };

  // async_compose takes the handler by lvalue reference and moves from it.
  template <bool kWithSize, class Op, class Handler>
  auto Start(Op op, bool shutdown, Handler&& handler, bool empty = false) {
    using Signature = std::conditional_t<kWithSize, void(error_code, std::size_t), void(error_code)>;
    return boost::asio::async_compose<Handler, Signature>(Stepper<kWithSize, Op>{this, op, shutdown, empty},
                                                          handler, next_);
  }

  next_layer_type next_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::array<char, 4096> input_{};  // the last socket read
  std::size_t input_pos_ = 0;       // how much of it OpenSSL took
  std::size_t input_len_ = 0;
  std::string output_;              // what OpenSSL wrote, not yet sent
  bool reading_ = false;            // the pending socket operation is a read
};

}  // namespace mayfly::net
