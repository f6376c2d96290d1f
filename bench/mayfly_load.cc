// mayfly-load: drives a running mayfly-ca the way a fleet does. N clients,
// each a node enrolled through the real API with its own join token, key and
// certificate, send /v1/sign (or /v1/renew) requests over mutual TLS, either
// on one kept-alive connection each or on a new connection per request.
// The clients are coroutines on one thread (Boost.Asio + Beast), with their
// CSRs made before the clock starts and the answers parsed and verified after
// it stops, so the generator takes as little as it can of the cores it shares
// with the daemon. Prints requests/s, p50/p99/p999 latency and errors, then
// verifies every certificate received against the CA's chain; exits 1 on any
// error response or any certificate that does not verify.
// --mode idle opens N connections as one node, makes one /v1/sign request on
// each, then holds them all open for --duration seconds (the daemon's memory
// with many idle mTLS clients); it prints "holding N idle connections" once
// they are all open. --mode storm enrolls --nodes nodes, then has each renew
// once on a new connection, as fast as --connections workers can.
// --mode ocsp enrolls one node, then N clients POST an OCSP request for its
// certificate to --ocsp-url over plain HTTP kept alive; every distinct
// answer is verified (signature, responder chain, "good") after the clock.
// --start-file makes it wait, once ready (nodes enrolled, keep-alive
// connections open), until that file exists: load processes against two
// daemons start their clocks together.
// --route jwt posts JWT-SVID requests ({"spiffe_id","audience"}) instead of
// CSRs; every token is verified after the clock against the JWT keys of
// the CA's SPIFFE bundle (GET /v1/bundle?format=spiffe).
// --peer cfssl drives Debian's `cfssl serve` instead, with the same clients,
// CSRs and verification: every client presents the --client-cert chain and
// key, and posts its CSRs to /api/v1/cfssl/sign. The comparison then differs
// only in the server.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "agent_cert_check.h"
#include "latency.h"
#include "load_ocsp.h"
#include "mayfly/csr.h"
#include "mayfly/clock.h"
#include "mayfly/file_util.h"
#include "mayfly/jwt_svid.h"
#include "mayfly/keys.h"
#include "mayfly/net/client.h"
#include "mayfly/net/tls_context.h"

namespace mayfly::load {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string server;
  std::string admin_socket;
  std::string ca_bundle;
  std::string spiffe_id = "spiffe://example.org/load";
  std::string node_prefix = "load-";
  std::string mode = "keepalive";  // or "new-connection", "idle"
  std::string route = "sign";      // or "renew", "jwt"
  int connections = 64;
  int duration = 10;
  int csr_pool = 16;
  double rate = 0;  // total requests/s to pace at; 0: as fast as answers come
  int nodes = 10000;  // storm mode
  std::string start_file;  // wait for it to exist before the clock starts
  std::string peer = "mayfly";  // or "cfssl"
  std::string client_cert;      // cfssl: the clients' chain (leaf first) ...
  std::string client_key;       // ... and key
  std::string ocsp_url;         // ocsp mode: http://host:port/path of the responder
};

bool DrivesCfssl(const Options& options) { return options.peer == "cfssl"; }

// One simulated node: its credentials and the request bodies it cycles
// through (distinct CSRs, made before the clock starts).
struct Node {
  std::string name;
  OsslPtr<EVP_PKEY> key;
  std::string chain_pem;
  std::vector<std::string> bodies;
  bool send_intermediates = false;  // cfssl builds the client's chain from what it sends
};

// What one worker saw.
struct Tally {
  std::vector<double> latencies_ms;
  std::vector<std::string> issued;  // the body of every 200, parsed after the clock stops
  uint64_t errors = 0;
  std::string first_error;
};

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "mayfly-load: " << message << "\n";
  std::exit(2);
}

// The TLS context a node connects with, trusting `root`.
std::shared_ptr<net::ssl::context> ClientContext(const Node& node, const std::string& root) {
  auto tls = net::MakeClientTlsContext({.trust_pem = root, .cert_chain_pem = node.chain_pem, .key = node.key.get(),
                                        .send_intermediates = node.send_intermediates});
  if (!tls) Die(tls.error().message);
  return *tls;
}

// The named string members of a JSON object answer, parsed once ("" for a
// missing member or an answer that is not an object).
std::vector<std::string> StringFields(const std::string& body, std::initializer_list<const char*> names) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  std::vector<std::string> out;
  for (const char* name : names) {
    const json::value* field = !ec && v.is_object() ? v.as_object().if_contains(name) : nullptr;
    out.push_back(field != nullptr && field->is_string() ? std::string(field->as_string()) : "");
  }
  return out;
}

// Leaf + chain of a certificate answer: Mayfly's {"certificate","chain"},
// or cfssl's {"success":true,"result":{"certificate"}}, which holds the leaf
// only: `intermediates` completes it.
std::string ChainOf(const std::string& body, const std::string& intermediates = "") {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::value* result = !ec && v.is_object() ? v.as_object().if_contains("result") : nullptr;
  if (result != nullptr) {
    return (result->is_object() ? StringFields(json::serialize(*result), {"certificate"})[0] : "") + intermediates;
  }
  auto f = StringFields(body, {"certificate", "chain"});
  return f[0] + f[1];
}

// The certificates of a PEM chain after its first (the leaf).
std::string AfterLeaf(const std::string& chain_pem) {
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----\n";
  const size_t end = chain_pem.find(kEnd);
  return end == std::string::npos ? "" : chain_pem.substr(end + kEnd.size());
}

// One signing request body of `options.peer`'s API for a CSR naming `uris`.
std::string SignBody(const Options& options, const std::vector<std::string>& uris) {
  auto key = GenerateKey(KeyType::kEcdsaP256).value();
  const std::string csr = MakeCsrPem(key.get(), uris, {}, {}).value();
  // cfssl copies the CSR's (empty) subject and marks the SAN non-critical,
  // which X.509 path validation refuses: the request names a CN instead.
  return json::serialize(DrivesCfssl(options) ? json::object{{"certificate_request", csr},
                                                             {"subject", json::object{{"CN", "mayfly-load"}}}}
                                              : json::object{{"csr", csr}});
}

// The audience every JWT-SVID is asked for, and checked against.
constexpr const char* kJwtAudience = "mayfly-load";

std::string JwtBody(const Options& options) {
  return json::serialize(json::object{{"spiffe_id", options.spiffe_id}, {"audience", json::array{kJwtAudience}}});
}

// A cfssl client: the credentials given on the command line (cfssl has no
// enrollment) and its CSRs.
Node CfsslClient(const Options& options, int index) {
  Node node;
  node.name = options.node_prefix + std::to_string(index);
  auto chain = ReadFile(options.client_cert);
  if (!chain) Die("--client-cert: " + chain.error().message);
  auto key = LoadKeyFile(options.client_key);
  if (!key) Die("--client-key: " + key.error().message);
  node.key = std::move(*key);
  node.chain_pem = *chain;
  node.send_intermediates = true;
  for (int i = 0; i < options.csr_pool; ++i) node.bodies.push_back(SignBody(options, {options.spiffe_id}));
  return node;
}

Node Enroll(const Options& options, net::HttpClient& admin, const std::string& root, int index) {
  Node node;
  node.name = options.node_prefix + std::to_string(index);
  auto token = admin.Request("POST", "/v1/admin/tokens", json::serialize(json::object{{"node", node.name}}));
  if (!token || token->status != 200) {
    Die("creating a join token for " + node.name + ": " + (token ? token->body : token.error().message));
  }
  node.key = GenerateKey(KeyType::kEcdsaP256).value();
  auto anonymous = net::HttpClient::ForUrl(options.server, net::MakeClientTlsContext({.trust_pem = root}).value());
  if (!anonymous) Die(anonymous.error().message);
  const std::string body = json::serialize(json::object{
      {"token", StringFields(token->body, {"token"})[0]}, {"csr", MakeCsrPem(node.key.get(), {}, {}, {}).value()}});
  auto enrolled = anonymous->Request("POST", "/v1/enroll", body);
  if (!enrolled || enrolled->status != 200) {
    Die("enrolling " + node.name + ": " + (enrolled ? enrolled->body : enrolled.error().message));
  }
  node.chain_pem = ChainOf(enrolled->body);
  if (options.route == "jwt") {
    node.bodies.push_back(JwtBody(options));
    return node;
  }
  for (int i = 0; i < options.csr_pool; ++i) {
    node.bodies.push_back(SignBody(
        options, options.route == "sign" ? std::vector<std::string>{options.spiffe_id} : std::vector<std::string>{}));
  }
  return node;
}

using Stream = ssl::stream<beast::tcp_stream>;

// A new mutual-TLS connection to the daemon in `stream`.
asio::awaitable<void> Connect(std::optional<Stream>& stream, ssl::context& tls, const tcp::endpoint& server,
                              const std::string& host) {
  stream.emplace(co_await asio::this_coro::executor, tls);
  // The server certificate must name the address, as the agent checks.
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream->native_handle()), host.c_str());
  co_await beast::get_lowest_layer(*stream).async_connect(server, asio::use_awaitable);
  beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true));
  co_await stream->async_handshake(ssl::stream_base::client, asio::use_awaitable);
}

// One node's client: its requests, one after another, on one connection
// kept alive or on a new mutual-TLS connection each. All clients share one
// thread: 64 blocking threads on a 2-core machine would queue the daemon's
// own threads behind theirs and measure the scheduler, not the CA.
asio::awaitable<void> Drive(const Options& options, size_t index, const Node& node, ssl::context& tls,
                            const tcp::endpoint& server, const std::string& host, Clock::time_point until,
                            std::optional<Stream>& stream, Tally& tally) {
  auto ex = co_await asio::this_coro::executor;
  const bool keepalive = options.mode == "keepalive";
  const std::string target = DrivesCfssl(options) ? "/api/v1/cfssl/sign" : "/v1/" + options.route;
  beast::flat_buffer buffer;
  asio::steady_timer pace(ex);
  size_t next = 0;
  // Paced: each client sends every connections/rate seconds, so the latency
  // is measured at a known load rather than at saturation.
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.rate > 0 ? options.connections / options.rate : 0));
  // Clients spread over the interval, not all at its start.
  auto due = Clock::now() + interval * static_cast<int64_t>(index) / options.connections;
  while (Clock::now() < until) {
    if (options.rate > 0) {
      due += interval;
      pace.expires_at(due);
      co_await pace.async_wait(asio::use_awaitable);
    }
    const auto start = Clock::now();
    try {
      if (!stream || !keepalive) {
        co_await Connect(stream, tls, server, host);
        buffer.clear();
      }
      http::request<http::string_body> request{http::verb::post, target, 11};
      request.set(http::field::host, host);
      request.set(http::field::content_type, "application/json");
      request.keep_alive(keepalive);
      request.body() = node.bodies[next++ % node.bodies.size()];
      request.prepare_payload();
      co_await http::async_write(*stream, request, asio::use_awaitable);
      http::response<http::string_body> response;
      co_await http::async_read(*stream, buffer, response, asio::use_awaitable);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (response.result_int() != 200) {
        if (tally.errors++ == 0) tally.first_error = std::to_string(response.result_int()) + " " + response.body();
        stream.reset();
        continue;
      }
      tally.latencies_ms.push_back(ms);
      tally.issued.push_back(std::move(response.body()));
      if (!keepalive) stream.reset();  // the server closes it too (Connection: close)
    } catch (const boost::system::system_error& e) {
      if (tally.errors++ == 0) tally.first_error = e.what();
      stream.reset();
    }
  }
}

// Each process prepares at its own pace; the script starts them together.
void AwaitStartFile(const Options& options) {
  if (options.start_file.empty()) return;
  std::printf("ready; waiting for %s\n", options.start_file.c_str());
  std::fflush(stdout);
  while (!std::filesystem::exists(options.start_file)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

// Checks one answer kept in a tally.
using Verifier = std::function<Result<void>(const std::string& body)>;

// Mayfly's and cfssl's certificate answers, verified to `root`.
Verifier CertificateVerifier(const std::string& root, const std::string& intermediates = "") {
  return [root, intermediates](const std::string& body) {
    return agent::VerifyIssued(ChainOf(body, intermediates), root);
  };
}

// JWT-SVID answers, verified against the JWT keys of the CA's SPIFFE
// bundle, fetched once (before the clock) by a node's own connection.
Verifier JwtVerifier(const Options& options, const std::string& root, const Node& node) {
  auto client = net::HttpClient::ForUrl(options.server, ClientContext(node, root));
  if (!client) Die(client.error().message);
  auto bundle = client->Request("GET", "/v1/bundle?format=spiffe", "");
  if (!bundle || bundle->status != 200) Die("fetching the SPIFFE bundle: " + (bundle ? bundle->body : bundle.error().message));
  auto authorities = JwtAuthoritiesFromBundle(bundle->body);
  if (!authorities) Die("the SPIFFE bundle: " + authorities.error().message);
  auto keys = std::make_shared<JwtAuthorities>(std::move(*authorities));
  return [keys, id = options.spiffe_id](const std::string& body) -> Result<void> {
    auto claims = VerifyJwtSvid(StringFields(body, {"token"})[0], kJwtAudience, keys->View(),
                                ToUnixSeconds(SystemClock::Instance().Now()));
    if (!claims) return std::unexpected(claims.error());
    if (claims->subject != id) return MakeError(ErrorCode::kInternal, "token for " + claims->subject + ", not " + id);
    return {};
  };
}

// Prints throughput, latency and errors over all tallies, then verifies
// every answer kept; 0 when there was no error at all.
int Report(const std::vector<Tally>& tallies, double seconds, const Verifier& verify,
           std::string_view answers = "certificates") {
  std::vector<double> all;
  uint64_t errors = 0;
  std::string first_error;
  for (const Tally& t : tallies) {
    all.insert(all.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    errors += t.errors;
    if (first_error.empty()) first_error = t.first_error;
  }
  std::sort(all.begin(), all.end());
  // Verified after the clock stops, so the check does not load the CA's CPUs.
  uint64_t bad = 0;
  std::string first_bad;
  for (const Tally& t : tallies) {
    for (const std::string& body : t.issued) {
      if (auto r = verify(body); !r && bad++ == 0) {
        first_bad = r.error().message;
      }
    }
  }
  std::printf("%-22s %12.0f req/s\n", "throughput", static_cast<double>(all.size()) / seconds);
  std::printf("%-22s %12.2f ms\n", "latency p50", Percentile(all, 0.50));
  std::printf("%-22s %12.2f ms\n", "latency p99", Percentile(all, 0.99));
  std::printf("%-22s %12.2f ms\n", "latency p999", Percentile(all, 0.999));
  std::printf("%-22s %12.2f ms\n", "latency max", all.empty() ? 0.0 : all.back());
  std::printf("%-22s %12zu\n", std::string(answers).c_str(), all.size());
  std::printf("%-22s %12llu\n", "errors", static_cast<unsigned long long>(errors));
  std::printf("%-22s %12llu\n", "not verifying", static_cast<unsigned long long>(bad));
  if (errors > 0) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  if (bad > 0) std::fprintf(stderr, "first answer that does not verify: %s\n", first_bad.c_str());
  return errors == 0 && bad == 0 && !all.empty() ? 0 : 1;
}

// One OCSP client: the same request, POSTed over one plain-HTTP connection
// kept alive. Answers to a serial are signed once and served from memory, so
// each distinct answer is kept (and verified after the clock stops) and the
// rest only compared with it.
asio::awaitable<void> DriveOcsp(const std::string& request, const tcp::endpoint& server, const std::string& host,
                                const std::string& target, Clock::time_point until, Tally& tally) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  beast::flat_buffer buffer;
  bool connected = false;
  while (Clock::now() < until) {
    const auto start = Clock::now();
    try {
      if (!connected) {
        co_await stream.async_connect(server, asio::use_awaitable);
        stream.socket().set_option(tcp::no_delay(true));
        buffer.clear();
        connected = true;
      }
      http::request<http::string_body> req{http::verb::post, target, 11};
      req.set(http::field::host, host);
      req.set(http::field::content_type, "application/ocsp-request");
      req.body() = request;
      req.prepare_payload();
      co_await http::async_write(stream, req, asio::use_awaitable);
      http::response<http::string_body> response;
      co_await http::async_read(stream, buffer, response, asio::use_awaitable);
      if (response.result_int() != 200) {
        if (tally.errors++ == 0) tally.first_error = std::to_string(response.result_int()) + " " + response.body();
        continue;
      }
      tally.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (std::find(tally.issued.begin(), tally.issued.end(), response.body()) == tally.issued.end()) {
        tally.issued.push_back(std::move(response.body()));
      }
    } catch (const boost::system::system_error& e) {
      if (tally.errors++ == 0) tally.first_error = e.what();
      beast::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
    }
  }
}

// OCSP over keep-alive: one node enrolled for a certificate to ask about,
// then `connections` clients asking about it as fast as answers come.
int RunOcsp(const Options& options, const Node& node, const std::string& root) {
  constexpr std::string_view kScheme = "http://";
  const std::string_view url = options.ocsp_url;
  const size_t path_at = url.find('/', kScheme.size());
  const auto hp = net::ParseHostPort(url.substr(kScheme.size(), path_at - kScheme.size()), false);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hp ? hp->host : "", ec);
  if (!url.starts_with(kScheme) || !hp || ec) {
    Die("--ocsp-url must be http://<IP address>:<port>/<path>, got " + options.ocsp_url);
  }
  const std::string target = path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at));
  auto request = MakeOcspRequest(node.chain_pem);
  if (!request) Die("building the OCSP request: " + request.error().message);

  asio::io_context ioc(1);
  std::vector<Tally> tallies(static_cast<size_t>(options.connections));
  AwaitStartFile(options);
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(options.duration);
  for (Tally& tally : tallies) {
    asio::co_spawn(ioc, DriveOcsp(*request, tcp::endpoint(address, hp->port), hp->host, target, until, tally),
                   asio::detached);
  }
  ioc.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("mode ocsp, POST %s, %d connections, %.1f s\n", options.ocsp_url.c_str(), options.connections, seconds);
  return Report(
      tallies, seconds,
      [&](const std::string& body) { return VerifyOcspResponse(body, *request, node.chain_pem, root); }, "answers");
}

int HoldIdle(const Options& options, const Node& node, const std::string& root) {
  auto tls = ClientContext(node, root);
  std::vector<net::HttpClient> held;
  for (int i = 0; i < options.connections; ++i) {
    auto client = net::HttpClient::ForUrl(options.server, tls);
    if (!client) Die(client.error().message);
    auto r = client->Request("POST", "/v1/" + options.route, node.bodies[static_cast<size_t>(i) % node.bodies.size()]);
    if (!r || r->status != 200) Die("connection " + std::to_string(i) + ": " + (r ? r->body : r.error().message));
    held.push_back(std::move(*client));
  }
  std::printf("holding %zu idle connections for %d s\n", held.size(), options.duration);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(options.duration));
  return 0;
}

// The renewal storm: `nodes` distinct nodes, enrolled first by
// `connections` workers, then each renewing once on a new connection, as a
// fleet does after the CA comes back or a mass re-issue. Prints the time the
// storm took and the slowest renewal.
int Storm(const Options& given, const std::string& root) {
  Options options = given;
  options.route = "renew";  // the CSRs made at enrollment name no workload
  options.csr_pool = 1;
  std::vector<Node> nodes(static_cast<size_t>(options.nodes));
  std::atomic<int> next{0};
  auto enroll_worker = [&] {
    auto admin = net::HttpClient::ForUnixSocket(options.admin_socket);
    if (!admin) Die(admin.error().message);
    for (int i = next++; i < options.nodes; i = next++) nodes[static_cast<size_t>(i)] = Enroll(options, *admin, root, i);
  };
  std::vector<std::thread> workers;
  const auto enroll_start = Clock::now();
  for (int w = 0; w < options.connections; ++w) workers.emplace_back(enroll_worker);
  for (auto& w : workers) w.join();
  workers.clear();
  std::printf("enrolled %d nodes in %.1f s\n", options.nodes,
              std::chrono::duration<double>(Clock::now() - enroll_start).count());

  std::vector<Tally> tallies(static_cast<size_t>(options.connections));
  next = 0;
  AwaitStartFile(options);
  const auto start = Clock::now();
  for (int w = 0; w < options.connections; ++w) {
    workers.emplace_back([&, w] {
      Tally& tally = tallies[static_cast<size_t>(w)];
      for (int i = next++; i < options.nodes; i = next++) {
        const Node& node = nodes[static_cast<size_t>(i)];
        const auto sent = Clock::now();
        auto client = net::HttpClient::ForUrl(options.server, ClientContext(node, root));
        if (!client) Die(client.error().message);
        auto r = client->Request("POST", "/v1/renew", node.bodies[0]);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        if (!r || r->status != 200) {
          if (tally.errors++ == 0) tally.first_error = r ? std::to_string(r->status) + " " + r->body : r.error().message;
          continue;
        }
        tally.latencies_ms.push_back(ms);
        tally.issued.push_back(std::move(r->body));
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("renewal storm: %d nodes renewed once each on a new connection, %d workers, %.1f s\n", options.nodes,
              options.connections, seconds);
  return Report(tallies, seconds, CertificateVerifier(root));
}

int Run(const Options& options) {
  auto root = ReadFile(options.ca_bundle);
  if (!root) Die(root.error().message);
  std::vector<Node> nodes;
  if (DrivesCfssl(options)) {
    if (options.mode != "keepalive" && options.mode != "new-connection") {
      Die("--peer cfssl drives the keepalive and new-connection modes only");
    }
    for (int i = 0; i < options.connections; ++i) nodes.push_back(CfsslClient(options, i));
  } else {
    if (options.admin_socket.empty()) Die("--admin-socket is required to enroll the nodes");
    auto admin = net::HttpClient::ForUnixSocket(options.admin_socket);
    if (!admin) Die(admin.error().message);
    if (options.mode == "idle") return HoldIdle(options, Enroll(options, *admin, *root, 0), *root);
    if (options.mode == "storm") return Storm(options, *root);
    if (options.mode == "ocsp") return RunOcsp(options, Enroll(options, *admin, *root, 0), *root);
    for (int i = 0; i < options.connections; ++i) nodes.push_back(Enroll(options, *admin, *root, i));
  }

  // The server's address, from the URL "https://host:port".
  constexpr std::string_view kScheme = "https://";
  const std::string_view url = options.server;
  const auto hp = net::ParseHostPort(url.substr(url.starts_with(kScheme) ? kScheme.size() : 0), false);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hp ? hp->host : "", ec);
  if (!url.starts_with(kScheme) || !hp || ec) Die("--server must be https://<IP address>:<port>, got " + options.server);
  const std::string host = hp->host;
  const tcp::endpoint server(address, hp->port);
  std::vector<std::shared_ptr<ssl::context>> contexts;
  for (const Node& node : nodes) {
    contexts.push_back(ClientContext(node, *root));
  }

  asio::io_context ioc(1);
  std::vector<Tally> tallies(nodes.size());
  std::vector<std::optional<Stream>> streams(nodes.size());  // destroyed before the io_context
  if (options.mode == "keepalive") {
    // Connected before the clock starts: 64 handshakes at once would put
    // ~200 ms of handshakes into the first requests' latency, which is the
    // new-connection mode's figure, not keep-alive's.
    for (size_t i = 0; i < nodes.size(); ++i) {
      asio::co_spawn(ioc, Connect(streams[i], *contexts[i], server, host), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
    }
    try {
      ioc.run();
    } catch (const std::exception& e) {
      Die(std::string("connecting: ") + e.what());
    }
    ioc.restart();
  }
  AwaitStartFile(options);
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(options.duration);
  for (size_t i = 0; i < nodes.size(); ++i) {
    asio::co_spawn(ioc, Drive(options, i, nodes[i], *contexts[i], server, host, until, streams[i], tallies[i]),
                   asio::detached);
  }
  ioc.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::printf("mode %s, %s route %s, %d connections, %.1f s\n", options.mode.c_str(), options.peer.c_str(),
              DrivesCfssl(options) ? "/api/v1/cfssl/sign" : ("/v1/" + options.route).c_str(), options.connections,
              seconds);
  if (options.route == "jwt") return Report(tallies, seconds, JwtVerifier(options, *root, nodes.front()), "tokens");
  return Report(tallies, seconds,
                CertificateVerifier(*root, DrivesCfssl(options) ? AfterLeaf(nodes.front().chain_pem) : ""));
}

}  // namespace
}  // namespace mayfly::load

int main(int argc, char** argv) {
  mayfly::load::Options options;
  CLI::App app{"mayfly-load: N mTLS nodes driving a running mayfly-ca"};
  app.add_option("--server", options.server, "API URL, e.g. https://127.0.0.1:8443")->required();
  app.add_option("--admin-socket", options.admin_socket, "The daemon's admin socket (join tokens; mayfly only)");
  app.add_option("--ca-bundle", options.ca_bundle, "Root PEM to trust")->required();
  app.add_option("--connections", options.connections, "Concurrent clients, one node each (default 64)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration", options.duration, "Seconds of load (default 10)")->check(CLI::Range(1, 3600));
  app.add_option("--mode", options.mode, "keepalive, new-connection, idle, storm or ocsp")
      ->check(CLI::IsMember({"keepalive", "new-connection", "idle", "storm", "ocsp"}));
  app.add_option("--ocsp-url", options.ocsp_url,
                 "ocsp: the responder, http://IP:port/path (an enrolled node's certificate is asked about)");
  app.add_option("--nodes", options.nodes, "storm: distinct nodes renewing once each (default 10000)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--route", options.route, "sign, renew or jwt (keepalive and new-connection modes)")
      ->check(CLI::IsMember({"sign", "renew", "jwt"}));
  app.add_option("--spiffe-id", options.spiffe_id, "SPIFFE ID the nodes sign for (needs an entry)");
  app.add_option("--node-prefix", options.node_prefix, "Node names: <prefix><n> (default load-)");
  app.add_option("--rate", options.rate, "Pace to this many requests/s in all (default: unpaced)")
      ->check(CLI::PositiveNumber);
  app.add_option("--csr-pool", options.csr_pool, "Distinct CSRs per client (default 16)")->check(CLI::Range(1, 4096));
  app.add_option("--start-file", options.start_file,
                 "Once ready, wait until this file exists before starting the clock");
  app.add_option("--peer", options.peer, "The CA under load: mayfly (default) or cfssl (`cfssl serve`)")
      ->check(CLI::IsMember({"mayfly", "cfssl"}));
  app.add_option("--client-cert", options.client_cert, "cfssl: every client's certificate chain (PEM, leaf first)");
  app.add_option("--client-key", options.client_key, "cfssl: every client's key (PEM)");
  CLI11_PARSE(app, argc, argv);
  return mayfly::load::Run(options);
}
