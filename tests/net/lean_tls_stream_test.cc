// LeanTlsStream driven directly (not through the server): round trips of
// every size across its 4 KiB read array, partial reads, the errors it
// reports when a client fails or stalls (which http_session.cc sorts into
// "peer gone" and real failures), and shutdown. The client is OpenSSL's own
// blocking SSL over a socket, on a thread of its own.
#include "lean_tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/socket.h>

#include <array>
#include <csignal>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>

#include "net/net_test_util.h"
#include "support/client_hello.h"

namespace mayfly::net::testing {
namespace lean_tls_stream_test {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Long enough never to fire in a passing test, short enough that a stream
// that hangs fails its test quickly.
constexpr milliseconds kGenerous{2000};
// The timeout the timeout cases wait out.
constexpr milliseconds kShort{200};

// Bytes that differ at every offset within a record, so that a byte lost,
// repeated or reordered anywhere shows.
std::string Payload(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + i / 251) % 251);
  return s;
}

// The client: an OpenSSL SSL on a blocking socket, running a script on its
// own thread. Socket timeouts bound every call, so a stream that never
// answers fails the test instead of hanging it.
class TlsPeer {
 public:
  TlsPeer(uint16_t port, SSL_CTX* ctx) : socket_(port, std::chrono::seconds(2)), ssl_(SSL_new(ctx)) {
    timeval tv{2, 0};
    ::setsockopt(socket_.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL_set_fd(ssl_.get(), socket_.fd());
  }
  ~TlsPeer() {
    if (thread_.joinable()) {
      // A failed test may leave the script blocked: end its socket first.
      ::shutdown(socket_.fd(), SHUT_RDWR);
      thread_.join();
    }
  }

  bool connected() const { return socket_.connected(); }
  void Start(std::function<void(TlsPeer&)> script) {
    thread_ = std::thread([this, script = std::move(script)] {
      // OpenSSL writes to the socket with write(): a server that has gone
      // must fail this client's write (EPIPE), not kill the test binary.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      script(*this);
    });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  // Script steps.
  bool Handshake() { return SSL_connect(ssl_.get()) == 1; }
  bool Write(std::string_view data) {
    return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  // Up to `size` bytes: fewer only on error or close.
  std::string Read(std::size_t size) {
    std::string out(size, '\0');
    std::size_t got = 0;
    while (got < size) {
      const int r = SSL_read(ssl_.get(), out.data() + got, static_cast<int>(size - got));
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  // True when the next record is the server's close_notify.
  bool ReadsCloseNotify() {
    char c;
    const int r = SSL_read(ssl_.get(), &c, 1);
    return r == 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_ZERO_RETURN;
  }
  void SendCloseNotify() { SSL_shutdown(ssl_.get()); }
  bool SendRaw(std::string_view bytes) { return socket_.Send(std::string(bytes)); }
  // Ends the TCP connection with a FIN and no close_notify.
  void CloseTcp() { ::shutdown(socket_.fd(), SHUT_WR); }
  // Waits, reading past TLS, until the server closes the socket.
  void WaitForServerClose() { socket_.ReadAll(); }

 private:
  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  RawSocket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::thread thread_;
};

// How a server operation ended: `done` false means it never completed.
struct Outcome {
  bool done = false;
  error_code ec;
  std::size_t bytes = 0;
  milliseconds took{0};
};

// Completion handler for both signatures, recording into an Outcome.
struct Record {
  Outcome* out;
  void operator()(error_code ec) const { operator()(ec, 0); }
  void operator()(error_code ec, std::size_t n) const {
    out->done = true;
    out->ec = ec;
    out->bytes = n;
  }
};

class LeanTlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = std::make_unique<NetPki>(NetPki::Make()); }
  static void TearDownTestSuite() { pki_.reset(); }

  void SetUp() override {
    server_ctx_ = pki_->ServerContext();
    client_ctx_ = pki_->ClientContext();
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
  }

  // A new server-side stream, and a client on it running `script` from its
  // first byte. The connection is queued before the accept, which therefore
  // cannot block. Null (the test has failed) if the client could not connect.
  std::unique_ptr<LeanTlsStream> Connect(std::function<void(TlsPeer&)> script) {
    peer_ = std::make_unique<TlsPeer>(acceptor_.local_endpoint().port(), client_ctx_->native_handle());
    EXPECT_TRUE(peer_->connected());
    if (!peer_->connected()) return nullptr;
    auto stream = std::make_unique<LeanTlsStream>(acceptor_.accept(), *server_ctx_);
    peer_->Start(std::move(script));
    return stream;
  }
  // The same with the handshake done on both sides (the client then runs
  // `script`); null (the test has failed) if it could not be.
  std::unique_ptr<LeanTlsStream> Established(std::function<void(TlsPeer&)> script) {
    auto stream = Connect([script = std::move(script)](TlsPeer& p) {
      ASSERT_TRUE(p.Handshake());
      script(p);
    });
    if (!stream) return nullptr;
    stream->next_layer().expires_after(kGenerous);
    const Outcome handshake = Handshake(*stream);
    EXPECT_TRUE(handshake.done && !handshake.ec) << handshake.ec.message();
    return handshake.done && !handshake.ec ? std::move(stream) : nullptr;
  }
  // Closes the server's socket, which ends a client waiting for that, and
  // waits for the client's script.
  void CloseAndJoin(std::unique_ptr<LeanTlsStream>& stream) {
    stream.reset();
    peer_->Join();
  }

  // Starts an operation and runs the io_context until it completes or
  // `limit` passes.
  template <class Initiate>
  Outcome Run(Initiate initiate, milliseconds limit = milliseconds(3000)) {
    Outcome out;
    const auto start = Clock::now();
    initiate(Record{&out});
    ioc_.restart();
    const auto deadline = start + limit;
    while (!out.done && ioc_.run_one_until(deadline) > 0) {
    }
    out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    return out;
  }

  Outcome Handshake(LeanTlsStream& s) {
    return Run([&](Record r) { s.async_handshake(r); });
  }
  Outcome ReadSome(LeanTlsStream& s, asio::mutable_buffer buffer) {
    return Run([&](Record r) { s.async_read_some(buffer, r); });
  }
  Outcome ReadExactly(LeanTlsStream& s, std::string& into) {
    return Run([&](Record r) { asio::async_read(s, asio::buffer(into), r); });
  }
  template <class ConstBufferSequence>
  Outcome WriteAll(LeanTlsStream& s, const ConstBufferSequence& buffers) {
    return Run([&](Record r) { asio::async_write(s, buffers, r); });
  }
  Outcome Shutdown(LeanTlsStream& s) {
    return Run([&](Record r) { s.async_shutdown(r); });
  }

  static inline std::unique_ptr<NetPki> pki_;
  std::shared_ptr<ssl::context> server_ctx_;
  std::shared_ptr<ssl::context> client_ctx_;
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_{ioc_};
  std::unique_ptr<TlsPeer> peer_;  // after ioc_: its thread ends before the stream's io_context goes
};

// ---- Round trips across the 4 KiB read array and TLS record sizes ----

struct EchoCase {
  const char* name;
  std::size_t size;
};

void PrintTo(const EchoCase& c, std::ostream* os) { *os << c.name; }

class LeanTlsStreamEchoTest : public LeanTlsStreamTest, public ::testing::WithParamInterface<EchoCase> {};

// What the client writes arrives byte for byte, and what the server writes
// back arrives the same, whatever the size relative to the 4 KiB socket
// reads, OpenSSL's 16 KiB records and the 64 KiB write batches.
TEST_P(LeanTlsStreamEchoTest, EchoesEveryByteInOrder) {
  const std::string payload = Payload(GetParam().size);
  auto stream = Established([&payload](TlsPeer& p) {
    ASSERT_TRUE(p.Write(payload));
    EXPECT_TRUE(p.Read(payload.size()) == payload) << "the echo differs";
  });
  ASSERT_TRUE(stream);
  std::string received(payload.size(), '\0');
  const Outcome read = ReadExactly(*stream, received);
  ASSERT_TRUE(read.done);
  ASSERT_FALSE(read.ec) << read.ec.message();
  EXPECT_EQ(read.bytes, payload.size());
  EXPECT_TRUE(received == payload) << "the server read differs";
  const Outcome wrote = WriteAll(*stream, asio::buffer(received));
  ASSERT_FALSE(wrote.ec) << wrote.ec.message();
  EXPECT_EQ(wrote.bytes, payload.size());
  peer_->Join();
}

INSTANTIATE_TEST_SUITE_P(Sizes, LeanTlsStreamEchoTest,
                         ::testing::Values(EchoCase{"OneByte", 1}, EchoCase{"Exactly4KiB", 4096},
                                           EchoCase{"FourKiBPlusOne", 4097}, EchoCase{"OneFullRecord", 16384},
                                           EchoCase{"SeveralRecords", 64 * 1024 + 7},
                                           EchoCase{"OneMiB", 1024 * 1024}),
                         [](const auto& info) { return std::string(info.param.name); });

// An HTTP response goes out as a header and a body buffer: both arrive, in
// order, from one write.
TEST_F(LeanTlsStreamTest, AWriteOfSeveralBuffersSendsThemInOrder) {
  const std::string header = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
  const std::string body = Payload(5000);
  auto stream = Established([&](TlsPeer& p) {
    EXPECT_TRUE(p.Read(header.size() + body.size()) == header + body);
  });
  ASSERT_TRUE(stream);
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(header), asio::const_buffer(), asio::buffer(body)};
  const Outcome wrote = Run([&](Record r) { stream->async_write_some(buffers, r); });
  ASSERT_TRUE(wrote.done);
  ASSERT_FALSE(wrote.ec) << wrote.ec.message();
  EXPECT_EQ(wrote.bytes, header.size() + body.size()) << "one write_some takes the whole sequence";
  peer_->Join();
}

// A read returns what has arrived instead of waiting to fill the buffer: an
// HTTP server reads a short request into a larger buffer.
TEST_F(LeanTlsStreamTest, AReadReturnsWhatArrivedWithoutWaitingToFillTheBuffer) {
  auto stream = Established([](TlsPeer& p) {
    ASSERT_TRUE(p.Write("0123456789"));
    EXPECT_EQ(p.Read(2), "ok");  // holds the connection open until the server answers
  });
  ASSERT_TRUE(stream);
  std::array<char, 100> buffer{};
  const Outcome read = ReadSome(*stream, asio::buffer(buffer));
  ASSERT_TRUE(read.done) << "waited for more than was sent";
  ASSERT_FALSE(read.ec) << read.ec.message();
  EXPECT_EQ(std::string(buffer.data(), read.bytes), "0123456789");
  ASSERT_FALSE(WriteAll(*stream, asio::buffer(std::string_view("ok"))).ec);
  peer_->Join();
}

// ---- Clients that fail or stall: the error reported, and no hang ----

// Where the server is when the client misbehaves.
enum class Phase {
  kHandshake,  // async_handshake
  kRead,       // async_read_some after a handshake and one request/response
};

struct FailureCase {
  const char* name;
  Phase phase;
  // What the client does then; afterwards its script waits for the server
  // to close, so that its own close cannot race the error being tested.
  void (*client)(TlsPeer&);
  milliseconds timeout;  // expires_after for the failing operation
  error_code expected;
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class LeanTlsStreamFailureTest : public LeanTlsStreamTest, public ::testing::WithParamInterface<FailureCase> {};

// An SSL error code as LeanTlsStream reports it (OpenSSL 3's packed value).
error_code SslError(int reason) {
  return error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, reason)), asio::error::get_ssl_category());
}

TEST_P(LeanTlsStreamFailureTest, ReportsTheErrorPromptly) {
  const FailureCase& c = GetParam();
  std::unique_ptr<LeanTlsStream> stream;
  if (c.phase == Phase::kHandshake) {
    stream = Connect([&c](TlsPeer& p) {
      c.client(p);
      p.WaitForServerClose();
    });
  } else {
    stream = Established([&c](TlsPeer& p) {
      ASSERT_TRUE(p.Write("ping"));
      // Reading the answer also takes the session ticket sent after the
      // handshake: nothing is left unread to turn our close into a reset.
      ASSERT_EQ(p.Read(4), "pong");
      c.client(p);
      p.WaitForServerClose();
    });
    ASSERT_TRUE(stream);
    std::string ping(4, '\0');
    ASSERT_FALSE(ReadExactly(*stream, ping).ec);
    ASSERT_FALSE(WriteAll(*stream, asio::buffer(std::string_view("pong"))).ec);
  }
  ASSERT_TRUE(stream);
  stream->next_layer().expires_after(c.timeout);
  std::array<char, 100> buffer{};
  const Outcome out = c.phase == Phase::kHandshake ? Handshake(*stream) : ReadSome(*stream, asio::buffer(buffer));
  ASSERT_TRUE(out.done) << "hung";
  EXPECT_EQ(out.ec, c.expected) << out.ec.message() << " (" << out.ec.category().name() << ")";
  EXPECT_EQ(out.bytes, 0u);
  EXPECT_LT(out.took, c.timeout + milliseconds(500));
  CloseAndJoin(stream);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LeanTlsStreamFailureTest,
    ::testing::Values(
        // A client that leaves mid-handshake is a disconnect, which the
        // session logs as nothing (IsPeerGone), not a handshake failure.
        FailureCase{"ClosesMidHandshake", Phase::kHandshake,
                    [](TlsPeer& p) {
                      ASSERT_TRUE(p.SendRaw(mayfly::testing::PartialClientHello()));
                      p.CloseTcp();
                    },
                    kGenerous, asio::ssl::error::stream_truncated},
        // Plain HTTP sent to the TLS port is a TLS error OpenSSL names.
        FailureCase{"SendsHttpInsteadOfAClientHello", Phase::kHandshake,
                    [](TlsPeer& p) { ASSERT_TRUE(p.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); }, kGenerous,
                    SslError(SSL_R_HTTP_REQUEST)},
        FailureCase{"SendsGarbageInsteadOfAClientHello", Phase::kHandshake,
                    [](TlsPeer& p) { ASSERT_TRUE(p.SendRaw(std::string(64, '\x16'))); }, kGenerous,
                    SslError(SSL_R_WRONG_VERSION_NUMBER)},
        FailureCase{"SendsNothingDuringTheHandshake", Phase::kHandshake, [](TlsPeer&) {}, kShort,
                    boost::beast::error::timeout},
        FailureCase{"StallsMidClientHello", Phase::kHandshake,
                    [](TlsPeer& p) { ASSERT_TRUE(p.SendRaw(mayfly::testing::PartialClientHello())); }, kShort,
                    boost::beast::error::timeout},
        // Most HTTP clients close without a close_notify: stream_truncated,
        // as asio::ssl::stream reports it, which the session treats as an
        // ordinary disconnect.
        FailureCase{"ClosesWithoutCloseNotifyMidRead", Phase::kRead, [](TlsPeer& p) { p.CloseTcp(); }, kGenerous,
                    asio::ssl::error::stream_truncated},
        FailureCase{"SendsCloseNotifyMidRead", Phase::kRead, [](TlsPeer& p) { p.SendCloseNotify(); }, kGenerous,
                    asio::error::eof},
        FailureCase{"SendsNothingMidRead", Phase::kRead, [](TlsPeer&) {}, kShort, boost::beast::error::timeout}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- Shutdown ----

// Without SSL_set_shutdown, async_shutdown sends our close_notify and waits
// for the client's (lean_tls_stream.h).
TEST_F(LeanTlsStreamTest, ShutdownCompletesWhenTheClientAnswersCloseNotify) {
  auto stream = Established([](TlsPeer& p) {
    EXPECT_TRUE(p.ReadsCloseNotify());
    p.SendCloseNotify();
    p.WaitForServerClose();
  });
  ASSERT_TRUE(stream);
  const Outcome out = Shutdown(*stream);
  ASSERT_TRUE(out.done) << "hung";
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(SSL_get_shutdown(stream->native_handle()), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  CloseAndJoin(stream);
}

TEST_F(LeanTlsStreamTest, ShutdownTimesOutWhenTheClientNeverAnswersCloseNotify) {
  auto stream = Established([](TlsPeer& p) {
    EXPECT_TRUE(p.ReadsCloseNotify());
    p.WaitForServerClose();  // and never answers
  });
  ASSERT_TRUE(stream);
  stream->next_layer().expires_after(kShort);
  const Outcome out = Shutdown(*stream);
  ASSERT_TRUE(out.done) << "hung";
  EXPECT_EQ(out.ec, boost::beast::error::timeout) << out.ec.message();
  EXPECT_LT(out.took, kShort + milliseconds(500));
  CloseAndJoin(stream);
}

// How the session closes (http_session.cc Close): with the client's
// close_notify marked as received, shutdown completes once ours is sent,
// long before the timeout, and the client does receive it.
TEST_F(LeanTlsStreamTest, ShutdownMarkedReceivedCompletesOnceCloseNotifyIsSent) {
  auto stream = Established([](TlsPeer& p) {
    EXPECT_TRUE(p.ReadsCloseNotify());
    p.WaitForServerClose();
  });
  ASSERT_TRUE(stream);
  SSL_set_shutdown(stream->native_handle(), SSL_RECEIVED_SHUTDOWN);
  const Outcome out = Shutdown(*stream);
  ASSERT_TRUE(out.done) << "hung";
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_LT(out.took, kGenerous / 2);
  CloseAndJoin(stream);
}

}  // namespace lean_tls_stream_test
}  // namespace mayfly::net::testing
