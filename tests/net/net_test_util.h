// Shared by the libnet tests: a PKI with server and client credentials, an
// echo handler, a handler that answers when the test says, a server on its
// own threads, and blocking raw sockets.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/server.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"
#include "support/test_pki.h"

namespace mayfly::net::testing {

using mayfly::testing::TestPki;

inline constexpr char kClientId[] = "spiffe://example.org/mayfly/node/web-1";

// A CA with a server certificate for 127.0.0.1 and a node client certificate.
struct NetPki {
  std::unique_ptr<TestPki> pki;
  std::string root_pem;
  OsslPtr<EVP_PKEY> server_key;
  std::string server_chain_pem;  // leaf + intermediate
  OsslPtr<EVP_PKEY> client_key;
  std::string client_chain_pem;  // leaf + intermediate

  static NetPki Make(std::vector<std::string> server_dns = {"localhost"}) {
    NetPki n;
    n.pki = TestPki::Make();
    n.root_pem = CertToPem(n.pki->root.get()).value();
    std::string intermediate_pem = CertToPem(n.pki->intermediate.get()).value();
    n.server_key = GenerateKey(KeyType::kEcdsaP256).value();
    auto spki = PublicKeyOf(n.server_key.get()).value();
    LeafSpec spec;
    spec.public_key = &spki;
    spec.spiffe_id = "spiffe://example.org/mayfly/ca";
    spec.dns = std::move(server_dns);
    spec.ips = {ParseIpAddress("127.0.0.1").value()};
    spec.ttl = std::chrono::hours(1);
    n.server_chain_pem = n.pki->issuer->Issue(spec).value().Pem() + intermediate_pem;
    n.client_key = GenerateKey(KeyType::kEcdsaP256).value();
    n.client_chain_pem = n.pki->IssueFor(n.client_key.get(), kClientId).Pem() + intermediate_pem;
    return n;
  }

  std::shared_ptr<ssl::context> ServerContext(std::string min_version = "1.3") const {
    // The server builds client chains from its trust alone: the
    // intermediate the client sends is not used.
    ServerTlsConfig config{server_chain_pem, server_key.get(), root_pem + CertToPem(pki->intermediate.get()).value(),
                           std::move(min_version)};
    return MakeServerTlsContext(config).value();
  }
  std::shared_ptr<ssl::context> ClientContext(bool with_cert = true) const {
    ClientTlsConfig config;
    config.trust_pem = root_pem;
    if (with_cert) {
      config.cert_chain_pem = client_chain_pem;
      config.key = client_key.get();
    }
    return MakeClientTlsContext(config).value();
  }
};

// Answers every request with a JSON description of it.
inline void EchoHandler(HttpRequest request, Respond respond) {
  boost::json::object o;
  o["method"] = request.method;
  o["path"] = request.path;
  boost::json::object query;
  for (const auto& [k, v] : request.query) query[k] = v;
  o["query"] = std::move(query);
  boost::json::object headers;
  for (const auto& [k, v] : request.headers) headers[k] = v;
  o["headers"] = std::move(headers);
  o["body"] = request.body;
  o["listener"] = static_cast<int>(request.peer.listener);
  o["ip"] = request.peer.ip;
  o["client_id"] = request.peer.client_spiffe_id;
  o["has_cert"] = request.peer.client_cert != nullptr;
  HttpResponse response;
  response.body = boost::json::serialize(o);
  response.headers.emplace_back("X-Echo", "1");
  respond(std::move(response));
}

inline boost::json::object ParseJson(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return value.as_object();
}

// Hands each request's Respond to the test, which answers when it likes.
class DeferredHandler {
 public:
  Handler handler() {
    return [this](HttpRequest request, Respond respond) {
      std::lock_guard lock(mu_);
      pending_.push_back({std::move(request.path), std::move(respond)});
      cv_.notify_all();
    };
  }
  // Waits for the next request and takes its Respond.
  Respond Take(std::string* path = nullptr) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !pending_.empty(); }));
    if (pending_.empty()) return [](HttpResponse) {};
    auto [p, respond] = std::move(pending_.front());
    pending_.pop_front();
    if (path) *path = p;
    return respond;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, Respond>> pending_;
};

// A Server running on two threads; stops cleanly (drained) on destruction.
class RunningServer {
 public:
  explicit RunningServer(Handler handler = EchoHandler, ServerOptions options = {})
      : work_(boost::asio::make_work_guard(ioc_)) {
    server_ = Server::Create(ioc_, std::move(options), std::move(handler)).value();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~RunningServer() {
    if (!stopped_) Stop();
  }

  Server& server() { return *server_; }
  boost::asio::io_context& ioc() { return ioc_; }

  // Shuts the server down, waits for `drained`, then stops the threads.
  void Stop() {
    stopped_ = true;
    std::promise<void> drained;
    server_->Shutdown([&drained] { drained.set_value(); });
    EXPECT_EQ(drained.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<Server> server_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

// A test of the TLS listener: the PKI, a listener on a RunningServer, and
// HttpClients presenting the node certificate (or none).
class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = NetPki::Make(); }

  uint16_t Listen(RunningServer& server) {
    auto port = server.server().ListenTls("127.0.0.1:0", pki_.ServerContext());
    EXPECT_TRUE(port.has_value()) << port.error().ToString();
    return port.value_or(0);
  }
  HttpClient Client(uint16_t port, bool with_cert = true) {
    return HttpClient::ForUrl("https://127.0.0.1:" + std::to_string(port), pki_.ClientContext(with_cert),
                              ClientOptions{std::chrono::seconds(5)})
        .value();
  }

  NetPki pki_;
};

// Polls `condition` until it holds or `limit` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A blocking TCP connection to 127.0.0.1:port, for speaking raw HTTP.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port, std::chrono::seconds read_timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(read_timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Everything until the peer closes (or the read timeout).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    last_read_ = n;
    return out;
  }
  // 0 after ReadAll means the peer closed; -1 a timeout or error.
  ssize_t last_read() const { return last_read_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  ssize_t last_read_ = 0;
};

}  // namespace mayfly::net::testing
