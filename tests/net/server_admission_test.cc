// The connection limits on a real Server: silent and stalled connections
// make room for real clients, idle keep-alive connections only after them,
// a new connection is turned away only when every one is busy, one source
// is held to its own limit, and a stalled handshake is cut at
// handshake_timeout.
#include <gtest/gtest.h>

#include <optional>

#include "net/net_test_util.h"
#include "support/client_hello.h"

namespace mayfly::net::testing {
namespace server_admission_test {

class ServerAdmissionTest : public TlsServerTest {
 protected:
  // `n` connections that never send a byte, each through admission.
  static std::vector<std::unique_ptr<RawSocket>> Silent(RunningServer& server, uint16_t port, int n) {
    const uint64_t before = server.server().stats().accepted;
    std::vector<std::unique_ptr<RawSocket>> sockets;
    for (int i = 0; i < n; ++i) sockets.push_back(std::make_unique<RawSocket>(port));
    EXPECT_TRUE(WaitFor([&] { return server.server().stats().accepted == before + n; }));
    return sockets;
  }
};

TEST_F(ServerAdmissionTest, SilentConnectionsMakeRoomForARealClientOldestFirst) {
  ServerOptions options;
  options.max_connections = 4;
  RunningServer server(EchoHandler, options);
  const uint16_t port = Listen(server);
  auto silent = Silent(server, port, 10);
  EXPECT_EQ(server.server().stats().evicted_handshaking, 6u);
  EXPECT_TRUE(WaitFor([&] { return server.server().active_connections() == 4; }));

  auto res = Client(port).Request("GET", "/");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  auto stats = server.server().stats();
  EXPECT_EQ(stats.evicted_handshaking, 7u);
  EXPECT_EQ(stats.evicted_idle, 0u);
  EXPECT_EQ(stats.refused_over_limit, 0u);
  EXPECT_EQ(stats.handshake_failures, 0u) << "an eviction is not a failed handshake";
  // The oldest went first: the server closed the first, the newest is open.
  silent[0]->ReadAll();
  EXPECT_EQ(silent[0]->last_read(), 0);
}

TEST_F(ServerAdmissionTest, AnIdleKeepAliveConnectionIsEvictedOnlyWhenNoneIsHandshaking) {
  ServerOptions options;
  options.max_connections = 2;
  RunningServer server(EchoHandler, options);
  const uint16_t port = Listen(server);
  auto kept = Client(port);
  ASSERT_TRUE(kept.Request("GET", "/a").has_value());  // now idle, kept alive
  auto first = Silent(server, port, 1);
  auto second = Silent(server, port, 1);  // takes the place of `first`, not of `kept`
  EXPECT_EQ(server.server().stats().evicted_handshaking, 1u);
  ASSERT_TRUE(kept.Request("GET", "/b").has_value());
  EXPECT_EQ(server.server().stats().accepted, 3u) << "/b came on the kept connection";

  // A new client takes the place of `second`; the next one finds only idle
  // connections, and the least recently used, `kept`, goes.
  auto other = Client(port);
  ASSERT_TRUE(other.Request("GET", "/c").has_value());
  EXPECT_EQ(server.server().stats().evicted_handshaking, 2u);
  ASSERT_TRUE(kept.Request("GET", "/d").has_value());  // `kept` is now the most recent
  auto third = Client(port);
  ASSERT_TRUE(third.Request("GET", "/e").has_value());
  EXPECT_EQ(server.server().stats().evicted_idle, 1u);
  // `other` was evicted: the client reconnects by itself and is served.
  const uint64_t accepted = server.server().stats().accepted;
  ASSERT_TRUE(other.Request("GET", "/f").has_value());
  EXPECT_EQ(server.server().stats().accepted, accepted + 1);
}

// A request held by the handler keeps its connection busy.
struct Held {
  std::thread thread;
  std::optional<Result<HttpResponse>> result;
};

TEST_F(ServerAdmissionTest, WhenEveryConnectionIsBusyATlsClientIsClosedAndAPlainOneGets503) {
  ServerOptions options;
  options.max_connections = 1;
  DeferredHandler deferred;
  RunningServer server(deferred.handler(), options);
  const uint16_t tls_port = Listen(server);
  const uint16_t plain_port = server.server().ListenPlain("127.0.0.1:0").value();
  Held held;
  held.thread = std::thread([&] { held.result = Client(tls_port).Request("GET", "/hold"); });
  Respond respond = deferred.Take();

  auto refused = Client(tls_port).Request("GET", "/");
  ASSERT_FALSE(refused.has_value());
  RawSocket plain(plain_port);
  const std::string reply = plain.ReadAll();
  EXPECT_EQ(reply.substr(0, reply.find("\r\n")), "HTTP/1.1 503 Service Unavailable");
  EXPECT_NE(reply.find("\"code\":\"unavailable\""), std::string::npos) << reply;
  EXPECT_EQ(server.server().stats().refused_over_limit, 2u);
  EXPECT_EQ(server.server().stats().evicted_handshaking + server.server().stats().evicted_idle, 0u);

  respond(HttpResponse{});
  held.thread.join();
  ASSERT_TRUE(held.result && held.result->has_value());
  EXPECT_EQ((*held.result)->status, 200);
}

TEST_F(ServerAdmissionTest, OneSourceIsHeldToItsOwnLimit) {
  ServerOptions options;
  options.max_connections = 100;
  options.max_connections_per_ip = 2;
  DeferredHandler deferred;
  RunningServer server(deferred.handler(), options);
  const uint16_t port = Listen(server);
  Held a, b;
  a.thread = std::thread([&] { a.result = Client(port).Request("GET", "/a"); });
  Respond respond_a = deferred.Take();
  // Silent connections of the same source only displace each other.
  auto silent = Silent(server, port, 3);
  EXPECT_EQ(server.server().stats().evicted_handshaking, 2u);
  b.thread = std::thread([&] { b.result = Client(port).Request("GET", "/b"); });
  Respond respond_b = deferred.Take();
  // Both of 127.0.0.1's connections are busy: a third is turned away,
  // although the server as a whole has room.
  auto refused = Client(port).Request("GET", "/c");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(server.server().stats().refused_over_ip_limit, 1u);
  EXPECT_EQ(server.server().stats().refused_over_limit, 0u);

  respond_a(HttpResponse{});
  respond_b(HttpResponse{});
  a.thread.join();
  b.thread.join();
  EXPECT_TRUE(a.result && a.result->has_value());
  EXPECT_TRUE(b.result && b.result->has_value());
}

TEST_F(ServerAdmissionTest, AStalledClientHelloIsCutAtTheHandshakeTimeout) {
  ServerOptions options;
  options.handshake_timeout = std::chrono::seconds(1);
  options.header_timeout = std::chrono::seconds(30);
  RunningServer server(EchoHandler, options);
  RawSocket raw(Listen(server));
  const std::string partial = mayfly::testing::PartialClientHello();
  ASSERT_FALSE(partial.empty());
  ASSERT_TRUE(raw.Send(partial));
  const auto start = std::chrono::steady_clock::now();
  raw.ReadAll();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(raw.last_read(), 0) << "closed by the server, not by our read timeout";
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_TRUE(WaitFor([&] { return server.server().stats().handshake_failures == 1; }));
}

}  // namespace server_admission_test
}  // namespace mayfly::net::testing
