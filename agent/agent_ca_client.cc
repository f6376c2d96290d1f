// Trust on first contact and the agent's calls to the CA API.
#include "agent_ca_client.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "mayfly/file_util.h"
#include "mayfly/identity.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/tls_context.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace json = boost::json;

namespace {

// The agent's client options; `ca` is who the CA must prove to be (unset only
// for the unverified first contact, which pins a root instead).
net::ClientOptions Options(std::optional<net::ServerIdentity> ca) {
  return {.timeout = std::chrono::seconds(10), .max_response_body = 16 * 1024 * 1024,
          .server_identity = std::move(ca)};
}

// A context that completes the handshake whatever the server presents: used
// only to fetch the bundle that the pin then checks.
Result<std::shared_ptr<net::ssl::context>> UnverifiedContext() {
  try {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    ctx->set_verify_mode(net::ssl::verify_none);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    return ctx;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kCrypto, std::string("making a TLS context: ") + e.what());
  }
}

bool FingerprintMatches(const std::string& actual, const std::string& pinned) {
  return actual.size() == pinned.size() && CRYPTO_memcmp(actual.data(), pinned.data(), actual.size()) == 0;
}

// What a proxy without a backend (502, 504) or an instance that cannot act
// now (503: its database is away, it is overloaded or shutting down) says:
// not the CA's decision, so another server may give one.
bool IsUnavailableStatus(int status) { return status == 502 || status == 503 || status == 504; }

// The root of `bundle_pem` whose SHA-256 is `pinned`, as PEM; kForbidden
// naming `server` when there is none.
Result<std::string> PinnedRoot(const std::string& bundle_pem, const std::string& pinned, const std::string& server) {
  auto roots = CertsFromPem(bundle_pem);
  if (!roots) return WithContext(roots.error(), "first contact: the CA's bundle");
  for (const auto& root : *roots) {
    auto fp = CertFingerprint(root.get());
    if (fp && FingerprintMatches(*fp, pinned)) return CertToPem(root.get());
  }
  return MakeError(ErrorCode::kForbidden, "first contact: no root in the bundle of " + server +
                                              " matches ca_fingerprint " + pinned + "; refusing to trust it");
}

Result<std::string> FirstContact(const AgentConfig& config, const StatePaths& paths, ServerPool& pool) {
  auto ctx = UnverifiedContext();
  if (!ctx) return std::unexpected(ctx.error());
  Error last{ErrorCode::kUnavailable, "first contact: no server to ask"};
  for (size_t i : pool.Candidates()) {
    auto client = net::HttpClient::ForUrl(pool.url(i), *ctx, Options(std::nullopt));
    if (!client) return std::unexpected(client.error());
    auto response = client->Request("GET", "/v1/bundle");
    if (!response || IsUnavailableStatus(response->status)) {
      last = response ? Error{ErrorCode::kUnavailable, pool.url(i) + ": first contact: GET /v1/bundle answered HTTP " +
                                                           std::to_string(response->status)}
                      : WithContext(response.error(), "first contact").error();
      pool.Failed(i, last.message);
      continue;  // a GET: any server may answer it
    }
    pool.Succeeded(i);
    if (response->status != 200) {
      return MakeError(ErrorCode::kUnavailable,
                       "first contact: GET /v1/bundle answered HTTP " + std::to_string(response->status));
    }
    auto pem = PinnedRoot(response->body, config.ca_fingerprint, pool.url(i));
    if (!pem) return std::unexpected(pem.error());
    if (auto r = EnsureDirectory(paths.dir, 0700); !r) return std::unexpected(r.error());
    if (auto r = WriteFileAtomic(paths.trust, *pem, 0644); !r) return std::unexpected(r.error());
    return *pem;
  }
  return std::unexpected(std::move(last));
}

}  // namespace

Result<std::string> EstablishTrust(const AgentConfig& config, const StatePaths& paths, ServerPool& pool) {
  if (auto kept = ReadFile(paths.trust); kept && CertsFromPem(*kept)) return *kept;
  if (!config.ca_bundle.empty()) {
    auto pem = ReadFile(config.ca_bundle);
    if (!pem) return WithContext(pem.error(), "reading ca_bundle");
    if (auto certs = CertsFromPem(*pem); !certs) return WithContext(certs.error(), "ca_bundle " + config.ca_bundle);
    return *pem;
  }
  return FirstContact(config, paths, pool);
}

Result<CaClient> CaClient::Create(ServerPool& pool, const std::string& trust_pem,
                                  const std::string& node_chain_pem, const EVP_PKEY* node_key) {
  // The CA is spiffe://<td>/mayfly/ca, <td> being the node certificate's;
  // before enrollment any trust domain's (Enroll then checks the node
  // certificate against the one the CA presented). Every server must prove
  // the same identity against the same roots: they are one CA.
  net::ServerIdentity ca;
  if (!node_chain_pem.empty()) {
    auto known = net::CaIdentityOf(node_chain_pem, "the node certificate");
    if (!known) return std::unexpected(known.error());
    ca = *known;
  }
  auto anon_ctx = net::MakeClientTlsContext({.trust_pem = trust_pem});
  if (!anon_ctx) return std::unexpected(anon_ctx.error());
  std::shared_ptr<net::ssl::context> node_ctx;
  if (node_key != nullptr && !node_chain_pem.empty()) {
    auto ctx = net::MakeClientTlsContext(
        {.trust_pem = trust_pem, .cert_chain_pem = node_chain_pem, .key = node_key});
    if (!ctx) return std::unexpected(ctx.error());
    node_ctx = *ctx;
  }
  std::vector<Endpoint> endpoints;
  for (const ServerState& server : pool.states()) {
    auto anonymous = net::HttpClient::ForUrl(server.url, *anon_ctx, Options(ca));
    if (!anonymous) return std::unexpected(anonymous.error());
    Endpoint& e = endpoints.emplace_back(Endpoint{std::move(*anonymous), std::nullopt});
    if (!node_ctx) continue;
    auto node = net::HttpClient::ForUrl(server.url, node_ctx, Options(ca));
    if (!node) return std::unexpected(node.error());
    e.node.emplace(std::move(*node));
  }
  return CaClient(pool, std::move(endpoints));
}

Error CaClient::ErrorFrom(const net::HttpResponse& response, const std::string& what) {
  net::ApiError answer = net::ReadApiError(response, what);
  retry_after_ = answer.retry_after;
  banned_ = answer.error.code == ErrorCode::kNodeBanned;
  return std::move(answer.error);
}

Result<net::HttpResponse> CaClient::Exchange(Caller caller, FailOver fail_over, const std::string& method,
                                             const std::string& target, const std::string& body,
                                             const std::vector<std::pair<std::string, std::string>>& headers) {
  std::optional<Result<net::HttpResponse>> last;
  for (size_t i : pool_->Candidates()) {
    net::HttpClient& client = caller == Caller::kNode ? *endpoints_[i].node : endpoints_[i].anonymous;
    auto response = client.Request(method, target, body, headers);
    // Not a server's failure (a request that cannot be built): the same everywhere.
    if (!response && response.error().code != ErrorCode::kUnavailable) return response;
    if (response) {
      server_ = client.verified_server();
      answered_by_ = client.endpoint();
    }
    if (response && !IsUnavailableStatus(response->status)) {
      pool_->Succeeded(i);
      return response;
    }
    pool_->Failed(i, response ? net::ReadApiError(*response, client.endpoint() + ": " + method + " " + target)
                                    .error.message
                              : response.error().message);
    const bool sent = response.has_value() || client.request_sent();
    last = std::move(response);
    if (sent && fail_over == FailOver::kUnsent) break;
  }
  return std::move(*last);  // Candidates() is never empty
}

Result<IssuedPem> CaClient::PostForCert(Caller caller, FailOver fail_over, const std::string& target,
                                        const std::string& body) {
  retry_after_ = 0;
  banned_ = false;
  auto response = Exchange(caller, fail_over, "POST", target, body);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(ErrorFrom(*response, "POST " + target));
  return net::ParseCertificateAnswer(response->body, "POST " + target);
}

Result<IssuedPem> CaClient::Enroll(const std::string& token, const std::string& csr) {
  // A one-time token: resent elsewhere only when no server can have spent it.
  auto issued = PostForCert(Caller::kAnonymous, FailOver::kUnsent, "/v1/enroll",
                            json::serialize(json::object{{"token", token}, {"csr", csr}}));
  if (!issued) return issued;
  // Enrollment accepted the CA's path in any trust domain; the node joins
  // the trust domain of the CA that answered, or not at all.
  auto expected = net::CaIdentityOf(issued->certificate, "POST /v1/enroll: the node certificate");
  if (!expected) return std::unexpected(expected.error());
  if (server_.spiffe_id != expected->ToString()) {
    return MakeError(ErrorCode::kUnavailable, "POST /v1/enroll: the node certificate is in trust domain " +
                                                  QuoteForMessage(expected->trust_domain) +
                                                  ", the CA that issued it is " + QuoteForMessage(server_.spiffe_id));
  }
  return issued;
}

Result<IssuedPem> CaClient::Renew(const std::string& csr) {
  if (endpoints_.empty() || !endpoints_.front().node) {
    return MakeError(ErrorCode::kUnauthenticated, "no node certificate to renew with");
  }
  // A renewal or a signature asked twice is two certificates, the first
  // unused and expiring: harmless, so these fail over whenever they fail.
  return PostForCert(Caller::kNode, FailOver::kAlways, "/v1/renew", json::serialize(json::object{{"csr", csr}}));
}

Result<std::string> CaClient::RecoveryChallenge() {
  retry_after_ = 0;
  banned_ = false;
  const std::string target(net::kRecoverChallengePath);
  auto response = Exchange(Caller::kAnonymous, FailOver::kAlways, "POST", target, "{}");
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(ErrorFrom(*response, "POST " + target));
  boost::system::error_code ec;
  const json::value v = json::parse(response->body, ec);
  const json::value* challenge = !ec && v.is_object() ? v.as_object().if_contains("challenge") : nullptr;
  if (challenge == nullptr || !challenge->is_string() || challenge->as_string().empty()) {
    return MakeError(ErrorCode::kUnavailable, "POST " + target + ": the answer has no challenge");
  }
  return std::string(challenge->as_string());
}

Result<IssuedPem> CaClient::Recover(const std::string& cert_pem, const std::string& challenge,
                                    const std::string& signature, const std::string& csr) {
  return PostForCert(Caller::kAnonymous, FailOver::kUnsent, std::string(net::kRecoverPath),
                     json::serialize(json::object{
                         {"cert", cert_pem}, {"challenge", challenge}, {"signature", signature}, {"csr", csr}}));
}

Result<IssuedPem> CaClient::Sign(const std::string& csr, Duration ttl) {
  if (endpoints_.empty() || !endpoints_.front().node) {
    return MakeError(ErrorCode::kUnauthenticated, "no node certificate to sign with");
  }
  return PostForCert(Caller::kNode, FailOver::kAlways, "/v1/sign",
                     json::serialize(json::object{{"csr", csr}, {"ttl", FormatDuration(ttl)}}));
}

Result<CaClient::JwtAnswer> CaClient::MintJwt(const std::string& spiffe_id, const std::vector<std::string>& audience) {
  if (endpoints_.empty() || !endpoints_.front().node) {
    return MakeError(ErrorCode::kUnauthenticated, "no node certificate to ask for a JWT-SVID with");
  }
  retry_after_ = 0;
  banned_ = false;
  const std::string body = json::serialize(
      json::object{{"spiffe_id", spiffe_id}, {"audience", json::array(audience.begin(), audience.end())}});
  // A token asked twice is two tokens, the first unused: fail over freely.
  auto response = Exchange(Caller::kNode, FailOver::kAlways, "POST", "/v1/jwt", body);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(ErrorFrom(*response, "POST /v1/jwt"));
  return net::ParseJwtAnswer(response->body, "POST /v1/jwt");
}

Result<std::optional<std::string>> CaClient::GetIfChanged(const std::string& target, std::string& etag) {
  return GetIfChanged(Caller::kAnonymous, target, etag);
}

Result<std::optional<std::string>> CaClient::GetAsNodeIfChanged(const std::string& target, std::string& etag) {
  if (endpoints_.empty() || !endpoints_.front().node) {
    return MakeError(ErrorCode::kUnauthenticated, "no node certificate to call " + target + " with");
  }
  return GetIfChanged(Caller::kNode, target, etag);
}

Result<std::optional<std::string>> CaClient::GetIfChanged(Caller caller, const std::string& target,
                                                          std::string& etag) {
  retry_after_ = 0;
  banned_ = false;
  std::vector<std::pair<std::string, std::string>> headers;
  if (!etag.empty()) headers.emplace_back("If-None-Match", etag);
  auto response = Exchange(caller, FailOver::kAlways, "GET", target, "", headers);
  if (!response) return std::unexpected(response.error());
  if (response->status == 304) return std::optional<std::string>();
  if (response->status != 200) return std::unexpected(ErrorFrom(*response, "GET " + target));
  etag.clear();
  for (const auto& [name, value] : response->headers) {
    if (name == "etag") etag = value;
  }
  return std::optional<std::string>(std::move(response->body));
}

}  // namespace mayfly::agent
