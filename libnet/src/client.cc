// The synchronous HTTP client: async Beast operations run to completion on a
// private io_context, so every step has a timeout.
#include "mayfly/net/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "mayfly/identity.h"
#include "mayfly/x509_util.h"
#include "http_message.h"

namespace mayfly::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using beast::error_code;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using UnixStream = beast::basic_stream<asio::local::stream_protocol>;

constexpr uint32_t kMaxResponseHeader = 64 * 1024;

// Starts one asynchronous operation and runs the private io_context until it
// completes; the stream's expiry bounds how long that takes.
template <class Start>
error_code RunStep(asio::io_context& ioc, Start&& start) {
  error_code result = asio::error::would_block;
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// The peer closed a connection we had kept open.
bool IsClosedByPeer(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated ||
         ec == http::error::end_of_stream;
}

}  // namespace

class HttpClient::Impl {
 public:
  virtual ~Impl() = default;

  const std::string& endpoint() const { return endpoint_; }
  const VerifiedServer& verified_server() const { return server_; }
  bool request_sent() const { return sent_; }

  Result<HttpResponse> Request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
    sent_ = false;
    auto req = BuildRequest(method, target, body, headers);
    if (!req) return std::unexpected(req.error());
    bool reused = IsOpen();
    if (reused && IsStale()) {  // the server closed it while we were idle
      Close();
      reused = false;
    }
    for (int attempt = 0;; ++attempt) {
      if (!IsOpen()) {
        if (auto r = Connect(); !r) {
          Close();
          return std::unexpected(r.error());
        }
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_response_body);
      parser.header_limit(kMaxResponseHeader);
      const char* step = "sending the request";
      sent_ = true;
      error_code ec = Write(*req);
      if (!ec) {
        step = "reading the response";
        ec = Read(parser);
      }
      if (!ec) {
        auto& res = parser.get();
        if (!res.keep_alive()) Close();
        return FromBeastResponse(res);
      }
      // A kept-alive connection the server closed just as we reused it: the
      // request never reached a handler, so it is safe to send again.
      const bool retry = reused && attempt == 0 && !parser.got_some() && IsClosedByPeer(ec);
      Close();
      if (!retry) return Fail(step, ec);
    }
  }

 protected:
  Impl(std::string endpoint, std::string host_header, std::string prefix,
       std::shared_ptr<ssl::context> tls, ClientOptions options)
      : tls_(std::move(tls)),
        options_(options),
        endpoint_(std::move(endpoint)),
        host_header_(std::move(host_header)),
        prefix_(std::move(prefix)) {}

  virtual Result<void> Connect() = 0;
  virtual void Close() = 0;
  virtual bool IsOpen() const = 0;
  virtual bool IsStale() = 0;
  virtual error_code Write(http::request<http::string_body>& req) = 0;
  virtual error_code Read(http::response_parser<http::string_body>& parser) = 0;

  // kUnavailable naming the endpoint, the step and the cause.
  std::unexpected<Error> Fail(std::string_view step, const error_code& ec,
                              std::string cause = "") const {
    if (cause.empty()) {
      if (ec == beast::error::timeout) {
        cause = "timed out after " + std::to_string(options_.timeout.count()) + "s";
      } else if (ec == asio::error::connection_refused) {
        cause = "connection refused";
      } else if (IsClosedByPeer(ec)) {
        cause = "the server closed the connection";
      } else {
        cause = ec.message();
      }
    }
    return MakeError(ErrorCode::kUnavailable, endpoint_ + ": " + std::string(step) + ": " + cause);
  }

  std::shared_ptr<ssl::context> tls_;  // first member: outlives any stream using it
  asio::io_context ioc_;
  ClientOptions options_;
  std::string endpoint_;
  VerifiedServer server_;  // of the current (or last) connection

 private:
  Result<http::request<http::string_body>> BuildRequest(
      const std::string& method, const std::string& target, const std::string& body,
      const std::vector<std::pair<std::string, std::string>>& headers) const {
    if (method.empty() || method.find_first_of(" \r\n") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid HTTP method " + QuoteForMessage(method));
    }
    if (target.empty() || target.front() != '/' || target.find_first_of(" \r\n") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the request target must be a path, not " + QuoteForMessage(target));
    }
    http::request<http::string_body> req;
    req.version(11);
    if (auto verb = http::string_to_verb(method); verb != http::verb::unknown) {
      req.method(verb);
    } else {
      req.method_string(method);
    }
    req.target(prefix_ + target);
    req.set(http::field::host, host_header_);
    req.set(http::field::user_agent, "mayfly");
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
      if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) {
        return MakeError(ErrorCode::kInvalidArgument, "invalid header " + QuoteForMessage(name));
      }
      has_content_type = has_content_type || beast::iequals(name, "content-type");
      req.set(name, value);
    }
    if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    return req;
  }

  std::string host_header_;
  std::string prefix_;
  bool sent_ = false;  // of the latest Request
};

namespace {

// The parts every transport shares: the stream, its buffer, timed I/O.
template <class Stream>
class StreamClient : public HttpClient::Impl {
 protected:
  using Impl::Impl;

  auto& Lowest() { return beast::get_lowest_layer(*stream_); }

  void Close() override {
    if (!stream_) return;
    // No TLS close_notify: the server does not wait for one, and HTTP
    // messages carry their own length, so nothing is left ambiguous.
    error_code ignored;
    Lowest().socket().close(ignored);
    stream_.reset();
    buffer_.clear();
  }

  bool IsOpen() const override { return stream_.has_value(); }

  // Between requests nothing should arrive; readable means the server closed
  // the connection (FIN or close_notify) or broke the protocol.
  bool IsStale() override {
    if (buffer_.size() > 0) return true;
    pollfd pfd{Lowest().socket().native_handle(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) != 0;
  }

  error_code Write(http::request<http::string_body>& req) override {
    Lowest().expires_after(options_.timeout);
    return RunStep(ioc_, [&](auto handler) { http::async_write(*stream_, req, std::move(handler)); });
  }

  error_code Read(http::response_parser<http::string_body>& parser) override {
    Lowest().expires_after(options_.timeout);
    return RunStep(ioc_, [&](auto handler) {
      http::async_read(*stream_, buffer_, parser, std::move(handler));
    });
  }

  // Connects the TCP layer to host:port.
  Result<void> ConnectTcp(const std::string& host, uint16_t port) {
    error_code ec;
    std::vector<tcp::endpoint> endpoints;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      endpoints.emplace_back(address, port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) return Fail("resolving " + host, ec);
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }
    Lowest().expires_after(options_.timeout);
    ec = RunStep(ioc_, [&](auto handler) { Lowest().async_connect(endpoints, std::move(handler)); });
    if (ec) return Fail("connecting", ec);
    // A request leaves in one write; Nagle would only delay the next one.
    error_code ignored;
    Lowest().socket().set_option(tcp::no_delay(true), ignored);
    return Ok();
  }

  std::optional<Stream> stream_;
  beast::flat_buffer buffer_;
};

class TlsClient final : public StreamClient<TlsStream> {
 public:
  TlsClient(std::string endpoint, std::string host_header, std::string prefix,
            std::shared_ptr<ssl::context> tls, ClientOptions options, std::string host, uint16_t port)
      : StreamClient(std::move(endpoint), std::move(host_header), std::move(prefix), std::move(tls),
                     options),
        host_(std::move(host)),
        port_(port) {}

 private:
  Result<void> Connect() override {
    stream_.emplace(ioc_, *tls_);
    SSL* ssl = stream_->native_handle();
    ClearOpensslErrors();
    error_code not_ip;
    asio::ip::make_address(host_, not_ip);
    if (!not_ip) {
      // An address literal is checked against the IP SANs; no SNI for it.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str()) != 1) {
        return OpensslError("expecting server address " + host_, ErrorCode::kInvalidArgument);
      }
    } else if (SSL_set_tlsext_host_name(ssl, host_.c_str()) != 1 ||
               SSL_set1_host(ssl, host_.c_str()) != 1) {
      return OpensslError("expecting server name " + host_, ErrorCode::kInvalidArgument);
    }
    if (auto r = ConnectTcp(host_, port_); !r) return r;
    Lowest().expires_after(options_.timeout);
    server_ = {};
    error_code ec = RunStep(ioc_, [&](auto handler) {
      stream_->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (!ec) return CheckServer(ssl);
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return Fail("TLS handshake", ec,
                  std::string("verifying the server's certificate failed: ") +
                      X509_verify_cert_error_string(verify));
    }
    return Fail("TLS handshake", ec);
  }

  // Records what the chain OpenSSL verified proves (its leaf's SPIFFE ID, its
  // root) and holds it against options_.server_identity. Only the verified
  // chain counts: the certificates a server sends are its own claim.
  Result<void> CheckServer(SSL* ssl) {
    STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
    const bool verified = SSL_get_verify_result(ssl) == X509_V_OK && chain != nullptr && sk_X509_num(chain) > 0;
    if (verified) {
      server_.spiffe_id = CertSpiffeId(sk_X509_value(chain, 0));
      server_.root_der = CertToDer(sk_X509_value(chain, sk_X509_num(chain) - 1)).value_or("");
    }
    if (!options_.server_identity) return Ok();
    const ServerIdentity& expected = *options_.server_identity;
    if (!verified) {
      return Fail("TLS verification failed", {}, "the server's certificate was not verified; expected " +
                                                     expected.ToString());
    }
    auto id = SpiffeId::Parse(server_.spiffe_id);
    if (id && id->ToString() == server_.spiffe_id && id->path() == expected.path &&
        (expected.trust_domain.empty() || id->trust_domain() == expected.trust_domain)) {
      return Ok();
    }
    const std::string presented =
        server_.spiffe_id.empty() ? "no single URI SAN" : QuoteForMessage(server_.spiffe_id);
    const char* who = expected.path == kCaSpiffePath ? "the CA" : "the expected server";
    return Fail("TLS verification failed", {},
                std::string("the server is not ") + who + ": it presents " + presented + ", expected " +
                    expected.ToString());
  }

  std::string host_;
  uint16_t port_;
};

class TcpClient final : public StreamClient<beast::tcp_stream> {
 public:
  TcpClient(std::string endpoint, std::string host_header, std::string prefix, ClientOptions options,
            std::string host, uint16_t port)
      : StreamClient(std::move(endpoint), std::move(host_header), std::move(prefix), nullptr, options),
        host_(std::move(host)),
        port_(port) {}

 private:
  Result<void> Connect() override {
    stream_.emplace(ioc_);
    return ConnectTcp(host_, port_);
  }

  std::string host_;
  uint16_t port_;
};

class UnixClient final : public StreamClient<UnixStream> {
 public:
  UnixClient(std::string path, ClientOptions options)
      : StreamClient(path, "localhost", "", nullptr, options), path_(std::move(path)) {}

 private:
  Result<void> Connect() override {
    stream_.emplace(ioc_);
    Lowest().expires_after(options_.timeout);
    error_code ec = RunStep(ioc_, [&](auto handler) {
      Lowest().async_connect(asio::local::stream_protocol::endpoint(path_), std::move(handler));
    });
    if (ec) return Fail("connecting", ec);
    return Ok();
  }

  std::string path_;
};

}  // namespace

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::ForUrl(const std::string& base_url, std::shared_ptr<ssl::context> tls,
                                      ClientOptions options) {
  auto bad = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidArgument, "server URL", base_url, rule);
  };
  std::string_view rest = base_url;
  bool https;
  if (rest.starts_with("https://")) {
    https = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    https = false;
    rest.remove_prefix(7);
  } else {
    return bad("expected https://host:port");
  }
  size_t slash = rest.find('/');
  std::string authority(rest.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.find_first_of("?# \r\n") != std::string::npos) return bad("no query or fragment allowed");
  // The port is optional in a URL: add the scheme's default when absent.
  size_t bracket = authority.rfind(']');
  size_t colon = authority.rfind(':');
  bool has_port = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  auto hp = ParseHostPort(has_port ? authority : authority + (https ? ":443" : ":80"), false);
  if (!hp) return bad(hp.error().message);
  std::string endpoint(base_url);
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  if (!https) {
    if (options.server_identity) {
      return MakeError(ErrorCode::kInvalidArgument,
                       base_url + ": plain HTTP cannot prove the server is " + options.server_identity->ToString());
    }
    return HttpClient(std::make_unique<TcpClient>(endpoint, authority, prefix, options, hp->host, hp->port));
  }
  if (!tls) return MakeError(ErrorCode::kInvalidArgument, base_url + " needs a TLS context");
  return HttpClient(std::make_unique<TlsClient>(endpoint, authority, prefix, std::move(tls), options,
                                                hp->host, hp->port));
}

Result<HttpClient> HttpClient::ForUnixSocket(const std::string& path, ClientOptions options) {
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "the admin socket path is empty");
  return HttpClient(std::make_unique<UnixClient>(path, options));
}

Result<HttpResponse> HttpClient::Request(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  return impl_->Request(method, target, body, headers);
}

const std::string& HttpClient::endpoint() const { return impl_->endpoint(); }

const VerifiedServer& HttpClient::verified_server() const { return impl_->verified_server(); }

bool HttpClient::request_sent() const { return impl_->request_sent(); }

Result<ServerIdentity> CaIdentityOf(const std::string& chain_pem, const std::string& what) {
  auto leaf = CertFromPem(chain_pem);
  if (!leaf) return WithContext(leaf.error(), what);
  auto id = SpiffeId::Parse(CertSpiffeId(leaf->get()));
  if (!id) return WithContext(id.error(), what + " carries no single SPIFFE ID");
  return ServerIdentity{.trust_domain = id->trust_domain()};
}

std::string ServerIdentity::ToString() const {
  return "spiffe://" + (trust_domain.empty() ? std::string("<any trust domain>") : trust_domain) + path;
}

}  // namespace mayfly::net
