// The real daemon under a connection flood on its API listener
// (max_connections = 64): 200 connections that never send a byte, or send
// half a ClientHello and stall, reopened all the time, while a node keeps
// getting certificates over fresh mTLS connections within a second each;
// one address held to max_connections_per_ip; /metrics counting it all.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"
#include "support/ca_fixture.h"
#include "support/client_hello.h"
#include "support/wait.h"

namespace mayfly {
namespace connection_flood_test {

namespace json = boost::json;
using std::chrono::steady_clock;

// A connected TCP socket to 127.0.0.1:port (-1 when connect failed).
int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// An attacker on its own thread: opens `count` connections that send
// `first_bytes` (maybe none) and then nothing; when `churn`, keeps replacing
// the oldest with a new one every 10 ms, so all of them are reopened every
// count/100 seconds.
class Flood {
 public:
  Flood(uint16_t port, int count, std::string first_bytes, bool churn = true)
      : port_(port), count_(count), first_bytes_(std::move(first_bytes)), churn_(churn),
        thread_([this] { Loop(); }) {}
  ~Flood() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  int opened() const { return opened_.load(); }

 private:
  void Open() {
    const int fd = Connect(port_);
    if (fd < 0) return;
    if (!first_bytes_.empty()) (void)::send(fd, first_bytes_.data(), first_bytes_.size(), MSG_NOSIGNAL);
    fds_.push_back(fd);
    ++opened_;
  }
  void Loop() {
    while (!stop_ && static_cast<int>(fds_.size()) < count_) Open();
    while (!stop_ && churn_) {
      ::close(fds_.front());
      fds_.pop_front();
      Open();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the attacker's pace
    }
  }

  const uint16_t port_;
  const int count_;
  const std::string first_bytes_;
  const bool churn_;
  std::deque<int> fds_;  // the flood thread's
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0};
  std::thread thread_;
};

// A TLS connection without a client certificate that sent a request's
// headers and got the server's 100 Continue (so the server has the headers),
// but never sends the body: busy until body_timeout.
class BusyConnection {
 public:
  explicit BusyConnection(uint16_t port) : fd_(Connect(port)) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (fd_ < 0 || !ctx_) return;
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 || SSL_connect(ssl_.get()) != 1) return;
    const std::string head =
        "POST /v1/enroll HTTP/1.1\r\nHost: ca\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n";
    if (SSL_write(ssl_.get(), head.data(), static_cast<int>(head.size())) != static_cast<int>(head.size())) return;
    std::string reply;
    char buf[256];
    int n = 0;
    while (reply.find("\r\n\r\n") == std::string::npos && (n = SSL_read(ssl_.get(), buf, sizeof buf)) > 0) {
      reply.append(buf, static_cast<size_t>(n));
    }
    ok_ = reply.starts_with("HTTP/1.1 100 Continue");
  }
  ~BusyConnection() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  int fd_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool ok_ = false;
};

class ConnectionFloodTest : public ::testing::Test {
 protected:
  // Starts the daemon with these [limits] lines and enrolls node-1.
  void StartWith(const std::string& limits) {
    ca_.Init("[limits]\n" + limits +
             "[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n");
    ca_.Start();
    const std::string api = ca_.api();
    port_ = static_cast<uint16_t>(std::stoi(api.substr(api.rfind(':') + 1)));
    auto token = ca_.Cli("--json token create --node node-1");
    ASSERT_EQ(token.status, 0) << token.output;
    node_key_ = GenerateKey(KeyType::kEcdsaP256).value();
    auto enrolled = Client().Request(
        "POST", "/v1/enroll",
        json::serialize(json::object{{"token", json::parse(token.output).at("token")},
                                     {"csr", MakeCsrPem(node_key_.get(), {}, {}, {}).value()}}));
    ASSERT_TRUE(enrolled) << enrolled.error().ToString();
    ASSERT_EQ(enrolled->status, 200) << enrolled->body;
    const auto cert = json::parse(enrolled->body);
    node_chain_ = std::string(cert.at("certificate").as_string()) + std::string(cert.at("chain").as_string());
  }
  void TearDown() override { ca_.Stop(); }

  net::HttpClient Client(bool as_node = false) {
    net::ClientTlsConfig tls;
    tls.trust_pem = ReadFile(ca_.Path("ca/root.pem")).value();
    if (as_node) {
      tls.cert_chain_pem = node_chain_;
      tls.key = node_key_.get();
    }
    return net::HttpClient::ForUrl(ca_.api(), net::MakeClientTlsContext(tls).value(),
                                   net::ClientOptions{std::chrono::seconds(5)})
        .value();
  }

  // node-1 asks for a workload certificate on a new connection (a full
  // mTLS handshake); returns how long it took, or nullopt (with a test
  // failure) when it did not get one.
  std::optional<steady_clock::duration> SignOnce() {
    auto key = GenerateKey(KeyType::kEcdsaP256).value();
    const std::string body =
        json::serialize(json::object{{"csr", MakeCsrPem(key.get(), {"spiffe://example.org/web"}, {}, {}).value()}});
    auto node = Client(true);
    const auto start = steady_clock::now();
    auto res = node.Request("POST", "/v1/sign", body);
    const auto took = steady_clock::now() - start;
    EXPECT_TRUE(res) << res.error().ToString();
    if (!res) return std::nullopt;
    EXPECT_EQ(res->status, 200) << res->body;
    if (res->status != 200) return std::nullopt;
    return took;
  }

  // While `flood` runs, node-1 gets ten certificates, each within 1 s, with
  // the flood reopening connections between them.
  void IssuanceWithstands(const Flood& flood) {
    // Until the flood holds its 200 connections and the daemon has made
    // room for them: 136 evicted on the way.
    ASSERT_TRUE(testing::WaitUntil([&] { return Metric("mayfly_connections_evicted_total{reason=\"handshaking\"}") >= 136; }))
        << Metrics();
    for (int i = 0; i < 10; ++i) {
      const int opened = flood.opened();
      auto took = SignOnce();
      ASSERT_TRUE(took) << "request " << i;
      EXPECT_LT(*took, std::chrono::seconds(1)) << "request " << i;
      ASSERT_TRUE(testing::WaitUntil([&] { return flood.opened() >= opened + 10; }));
    }
    const std::string metrics = Metrics();
    EXPECT_EQ(Metric("mayfly_connections_refused_total{reason=\"max_connections\"}"), 0) << metrics;
    EXPECT_GE(Metric("mayfly_connections_evicted_total{reason=\"handshaking\"}"), 136 + 100) << metrics;
  }

  // /metrics, over one kept-alive connection to the metrics listener.
  std::string Metrics() {
    if (!metrics_) metrics_.emplace(net::HttpClient::ForUrl(ca_.metrics_url(), nullptr).value());
    auto res = metrics_->Request("GET", "/metrics");
    return res && res->status == 200 ? res->body : "";
  }
  // One series' value ("name{label=\"v\"}"), -1 when absent.
  int64_t Metric(const std::string& series) {
    const std::string text = Metrics();
    const size_t line = text.find("\n" + series + " ");
    return line == std::string::npos ? -1 : std::stoll(text.substr(line + series.size() + 2));
  }

  testing::CaFixture ca_;
  uint16_t port_ = 0;
  OsslPtr<EVP_PKEY> node_key_;
  std::string node_chain_;
  std::optional<net::HttpClient> metrics_;
};

TEST_F(ConnectionFloodTest, SilentConnectionsDoNotStopIssuance) {
  StartWith("max_connections = 64\n");
  Flood flood(port_, 200, "");
  IssuanceWithstands(flood);
}

TEST_F(ConnectionFloodTest, StalledTlsHandshakesDoNotStopIssuance) {
  StartWith("max_connections = 64\n");
  const std::string partial = testing::PartialClientHello();
  ASSERT_FALSE(partial.empty());
  Flood flood(port_, 200, partial);
  IssuanceWithstands(flood);
}

TEST_F(ConnectionFloodTest, OneAddressIsHeldToMaxConnectionsPerIp) {
  StartWith("max_connections = 64\nmax_connections_per_ip = 4\nbody_timeout = \"60s\"\n");
  // Four requests from 127.0.0.1 under way (their bodies unfinished).
  std::vector<std::unique_ptr<BusyConnection>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(std::make_unique<BusyConnection>(port_));
    ASSERT_TRUE(busy.back()->ok()) << i;
  }
  // The fifth is turned away at once, though the daemon has room for 60
  // more: not even a TLS handshake.
  auto refused = Client(true).Request("GET", "/v1/bundle");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("https://127.0.0.1:"), std::string::npos) << refused.error().ToString();
  // The admin socket is not counted.
  EXPECT_EQ(ca_.Cli("--json certs").status, 0);

  busy.clear();
  auto took = SignOnce();
  ASSERT_TRUE(took);
  EXPECT_LT(*took, std::chrono::seconds(1));
  const std::string metrics = Metrics();
  EXPECT_EQ(Metric("mayfly_connections_refused_total{reason=\"max_connections_per_ip\"}"), 1) << metrics;
  EXPECT_EQ(Metric("mayfly_connections_refused_total{reason=\"max_connections\"}"), 0) << metrics;
}

TEST_F(ConnectionFloodTest, AtThePerIpLimitSilentConnectionsAreDisplacedNotRefused) {
  StartWith("max_connections = 64\nmax_connections_per_ip = 4\n");
  Metrics();  // one kept-alive, idle metrics connection from here on
  Flood flood(port_, 20, "", false);
  // The metrics connection is 127.0.0.1's too: 3 places left for the flood,
  // so at least 17 displaced, each one of the flood's (handshaking before
  // idle), never the metrics connection.
  ASSERT_TRUE(testing::WaitUntil([&] { return Metric("mayfly_connections_evicted_total{reason=\"handshaking\"}") >= 17; }))
      << Metrics();
  auto took = SignOnce();
  ASSERT_TRUE(took);
  EXPECT_LT(*took, std::chrono::seconds(1));
  const std::string metrics = Metrics();
  EXPECT_EQ(Metric("mayfly_connections_refused_total{reason=\"max_connections_per_ip\"}"), 0) << metrics;
  EXPECT_EQ(Metric("mayfly_connections_evicted_total{reason=\"idle\"}"), 0) << metrics;
}

}  // namespace connection_flood_test
}  // namespace mayfly
