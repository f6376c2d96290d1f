// The plain listeners and the HTTP rules every listener shares: limits,
// malformed requests, timeouts, the unix socket, shutdown and late responses.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "net/net_test_util.h"
#include "support/temp_dir.h"

namespace mayfly::net::testing {
namespace server_http_test {

using mayfly::testing::TempDir;

std::string Status(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }
std::string Body(const std::string& reply) {
  size_t end = reply.find("\r\n\r\n");
  return end == std::string::npos ? "" : reply.substr(end + 4);
}

HttpClient PlainClient(uint16_t port) {
  return HttpClient::ForUrl("http://127.0.0.1:" + std::to_string(port), nullptr,
                            ClientOptions{std::chrono::seconds(5)})
      .value();
}

TEST(ServerHttpTest, AnOversizedBodyGets413WithoutBeingRead) {
  ServerOptions options;
  options.max_body = 1024;
  RunningServer server(EchoHandler, options);
  uint16_t port = server.server().ListenPlain("127.0.0.1:0").value();
  RawSocket raw(port);
  ASSERT_TRUE(raw.connected());
  // Only the headers are sent: the reply must come without the body.
  ASSERT_TRUE(raw.Send("POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(raw.last_read(), 0) << "the server must close the connection";
  EXPECT_EQ(Status(reply), "HTTP/1.1 413 Payload Too Large");
  auto body = ParseJson(Body(reply));
  EXPECT_EQ(body["error"].as_object()["code"], "too_large");
  EXPECT_EQ(server.server().stats().requests, 0u);
}

TEST(ServerHttpTest, AChunkedBodyOverTheLimitGets413) {
  ServerOptions options;
  options.max_body = 16;
  RunningServer server(EchoHandler, options);
  auto client = PlainClient(server.server().ListenPlain("127.0.0.1:0").value());
  auto ok = client.Request("POST", "/", "0123456789");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  RawSocket raw(server.server().ListenPlain("127.0.0.1:0").value());
  ASSERT_TRUE(raw.Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n"));
  EXPECT_EQ(Status(raw.ReadAll()), "HTTP/1.1 413 Payload Too Large");
}

TEST(ServerHttpTest, GarbageGets400InTheErrorShape) {
  RunningServer server;
  RawSocket raw(server.server().ListenPlain("127.0.0.1:0").value());
  ASSERT_TRUE(raw.Send("THIS IS NOT HTTP\r\n\r\n"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(Status(reply), "HTTP/1.1 400 Bad Request");
  EXPECT_NE(reply.find("Server: mayfly"), std::string::npos);
  auto body = ParseJson(Body(reply));
  EXPECT_EQ(body["error"].as_object()["code"], "invalid_argument");
  EXPECT_TRUE(body["error"].as_object()["message"].is_string());
}

TEST(ServerHttpTest, MalformedQueryAndAbsoluteTargetsGet400) {
  RunningServer server;
  uint16_t port = server.server().ListenPlain("127.0.0.1:0").value();
  auto client = PlainClient(port);
  for (const char* target : {"/v1/crl?format=%zz", "/v1/crl?a=1&a=2"}) {
    auto res = client.Request("GET", target);
    ASSERT_TRUE(res.has_value()) << target;
    EXPECT_EQ(res->status, 400) << target;
  }
  RawSocket raw(port);
  ASSERT_TRUE(raw.Send("GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(Status(raw.ReadAll()), "HTTP/1.1 400 Bad Request");
}

TEST(ServerHttpTest, OversizedHeadersGet431) {
  ServerOptions options;
  options.max_header = 1024;
  RunningServer server(EchoHandler, options);
  RawSocket raw(server.server().ListenPlain("127.0.0.1:0").value());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(Status(reply), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(ParseJson(Body(reply))["error"].as_object()["code"], "too_large");
}

TEST(ServerHttpTest, ASlowHeaderIsCutOffByTheHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = std::chrono::seconds(1);
  RunningServer server(EchoHandler, options);
  RawSocket raw(server.server().ListenPlain("127.0.0.1:0").value());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finished
  auto start = std::chrono::steady_clock::now();
  std::string reply = raw.ReadAll();
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply, "");
  EXPECT_EQ(raw.last_read(), 0) << "closed by the server, not by our read timeout";
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(ServerHttpTest, ASlowBodyIsCutOffByTheBodyTimeout) {
  ServerOptions options;
  options.body_timeout = std::chrono::seconds(1);
  RunningServer server(EchoHandler, options);
  RawSocket raw(server.server().ListenPlain("127.0.0.1:0").value());
  // Headers promptly, then 10 of the 100 promised bytes, then nothing.
  ASSERT_TRUE(raw.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
  auto start = std::chrono::steady_clock::now();
  std::string reply = raw.ReadAll();
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply, "") << "a request cut short is never handled";
  EXPECT_EQ(raw.last_read(), 0) << "closed by the server, not by our read timeout";
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(ServerHttpTest, ThePlainListenerServesMetricsRequests) {
  RunningServer server;
  auto client = PlainClient(server.server().ListenPlain("127.0.0.1:0").value());
  auto res = client.Request("GET", "/metrics");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  auto echo = ParseJson(res->body);
  EXPECT_EQ(echo["listener"], static_cast<int>(Listener::kMetrics));
  EXPECT_EQ(echo["ip"], "127.0.0.1");
  EXPECT_EQ(echo["has_cert"], false);
}

TEST(ServerHttpTest, TheUnixSocketHasMode0600AndServesRequests) {
  TempDir dir;
  std::string path = dir.File("admin.sock");
  RunningServer server;
  ASSERT_TRUE(server.server().ListenUnix(path).has_value());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto client = HttpClient::ForUnixSocket(path).value();
  auto res = client.Request("POST", "/v1/admin/tokens", R"({"node":"web-1"})");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  auto echo = ParseJson(res->body);
  EXPECT_EQ(echo["listener"], static_cast<int>(Listener::kAdminSocket));
  EXPECT_EQ(echo["ip"], "");
  EXPECT_EQ(echo["body"], R"({"node":"web-1"})");
  // A second server must not steal a socket that is alive.
  RunningServer other;
  auto stolen = other.server().ListenUnix(path);
  ASSERT_FALSE(stolen.has_value());
  EXPECT_NE(stolen.error().message.find("in use"), std::string::npos);
  server.Stop();
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file is removed at shutdown";
}

TEST(ServerHttpTest, AStaleSocketFileIsReplacedButOtherFilesAreNot) {
  TempDir dir;
  std::string path = dir.File("admin.sock");
  {  // a socket file left behind by a process that is gone
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  RunningServer server;
  ASSERT_TRUE(server.server().ListenUnix(path, 0660).has_value());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660);
  ASSERT_TRUE(HttpClient::ForUnixSocket(path).value().Request("GET", "/").has_value());

  std::string file = dir.File("not-a-socket");
  mayfly::testing::WriteTextFile(file, "keep me");
  auto r = server.server().ListenUnix(file);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(::stat(file.c_str(), &st), 0);
}

TEST(ServerHttpTest, RespondMayBeCalledFromAnotherThread) {
  DeferredHandler deferred;
  RunningServer server(deferred.handler());
  auto client = PlainClient(server.server().ListenPlain("127.0.0.1:0").value());
  std::thread worker([&] {
    for (int i = 0; i < 2; ++i) {
      std::string path;
      Respond respond = deferred.Take(&path);
      HttpResponse response;
      response.status = 201;
      response.body = "late " + path;
      respond(response);
      respond(response);  // a second call is ignored
    }
  });
  auto first = client.Request("GET", "/one");
  auto second = client.Request("GET", "/two");
  worker.join();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(first->body, "late /one");
  EXPECT_EQ(second->body, "late /two");
  EXPECT_EQ(server.server().stats().accepted, 1u);
}

TEST(ServerHttpTest, ShutdownDrainsAnInFlightRequestThenCallsDrained) {
  DeferredHandler deferred;
  RunningServer server(deferred.handler());
  uint16_t port = server.server().ListenPlain("127.0.0.1:0").value();
  auto idle = PlainClient(port);  // a keep-alive connection with nothing in flight
  std::thread idle_request([&] { EXPECT_TRUE(idle.Request("GET", "/idle").has_value()); });
  Respond idle_respond = deferred.Take();
  idle_respond(HttpResponse{});
  idle_request.join();

  std::promise<Result<HttpResponse>> result;
  std::thread in_flight([&] {
    auto client = PlainClient(port);
    result.set_value(client.Request("POST", "/slow", "{}"));
  });
  Respond respond = deferred.Take();

  std::promise<void> drained;
  auto drained_future = drained.get_future();
  server.server().Shutdown([&] { drained.set_value(); });
  // The idle connection is closed at once; the in-flight one is kept.
  EXPECT_TRUE(WaitFor([&] { return server.server().active_connections() == 1; }));
  EXPECT_EQ(drained_future.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_FALSE(RawSocket(port).connected()) << "no longer accepting";

  std::thread late([&] {
    HttpResponse response;
    response.body = "done";
    respond(response);
  });
  late.join();
  auto res = result.get_future().get();
  in_flight.join();
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->body, "done");
  bool close = false;
  for (const auto& [name, value] : res->headers) close = close || (name == "connection" && value == "close");
  EXPECT_TRUE(close) << "a draining server ends keep-alive";
  EXPECT_EQ(drained_future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(server.server().active_connections(), 0u);
  server.Stop();  // a second Shutdown: its callback runs too
}

TEST(ServerHttpTest, AThrowingHandlerGets500) {
  RunningServer server([](HttpRequest, Respond) { throw std::runtime_error("boom"); });
  auto res = PlainClient(server.server().ListenPlain("127.0.0.1:0").value()).Request("GET", "/");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ParseJson(res->body)["error"].as_object()["code"], "internal");
}

TEST(ServerHttpTest, UpdatedLimitsApplyToTheNextRequest) {
  RunningServer server;
  auto client = PlainClient(server.server().ListenPlain("127.0.0.1:0").value());
  std::string body(2048, 'x');
  ASSERT_EQ(client.Request("POST", "/", body).value().status, 200);
  ServerOptions smaller;
  smaller.max_body = 1024;
  server.server().UpdateOptions(smaller);
  ASSERT_EQ(client.Request("POST", "/", body).value().status, 413);
}

TEST(ServerHttpTest, ListenRefusesBadAddresses) {
  RunningServer server;
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", "::1:80", "no-such-host.invalid:80"}) {
    auto r = server.server().ListenPlain(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
  uint16_t port = server.server().ListenPlain("127.0.0.1:0").value();
  auto again = server.server().ListenPlain("127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
}

}  // namespace server_http_test
}  // namespace mayfly::net::testing
