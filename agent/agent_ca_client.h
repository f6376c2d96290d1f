// How the agent talks to the CA: trust on first contact, then verified HTTPS
// calls (anonymous, or with the node certificate), errors turned into Results.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent_config.h"
#include "agent_servers.h"
#include "agent_state.h"
#include "mayfly/error.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/client.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::agent {

// A certificate response of /v1/enroll, /v1/renew and /v1/sign.
using IssuedPem = net::CertificateAnswer;

// The roots the agent verifies the CA against. In order: the roots kept in
// state_dir (after first contact or a later bundle refresh), else the
// ca_bundle file, else first contact: /v1/bundle is fetched over a connection
// whose certificate is not verified (from the servers in `pool`'s order,
// failing over like any call) and only the root whose SHA-256 equals
// ca_fingerprint is kept (in state_dir) -- never the rest of that unverified
// bundle, which anyone in the path could have extended.
// kForbidden when no root of the bundle matches the pin (nothing is written);
// kUnavailable when no server can be reached.
[[nodiscard]] Result<std::string> EstablishTrust(const AgentConfig& config, const StatePaths& paths,
                                                 ServerPool& pool);

// The CA, as one or several servers (instances sharing one CA), reached with
// verified TLS: each server's certificate must chain to the trusted roots,
// name that server URL's host and carry the CA's SPIFFE ID,
// spiffe://<td>/mayfly/ca (net::ServerIdentity), or no request is sent.
//
// Fail-over: each call tries pool.Candidates() in order and moves to the next
// server on a transport failure -- connecting, TLS (the identity check
// included), the connection lost, or an HTTP 502, 503 or 504 (a proxy without
// a backend, an instance whose database is away or that is shutting down).
// Any other answer (400, 401, 403, 404, 409, 429, ...) is the CA's decision
// and is returned as is. Enroll spends a one-time token, so it moves on only
// when the request was certainly not sent (connecting or the TLS handshake
// failed); after that it fails, its server backs off, and the next attempt
// (the agent's next pass) starts with another server. Not thread-safe.
class CaClient {
 public:
  // `node_chain_pem`/`node_key` may be empty/null: then only the anonymous
  // routes (enroll, bundle, crl) can be called. <td> is the trust domain of
  // the node certificate in `node_chain_pem`; without one (before the first
  // enrollment) the CA's path is accepted in any trust domain -- safe because
  // /mayfly/ paths are reserved to Mayfly and never issued to workloads, and
  // Enroll then insists that the node certificate is in the trust domain the
  // CA presented. kInvalidSpiffeId when the node certificate has no single
  // SPIFFE ID. `pool` (its servers and their back-off) must outlive the
  // client.
  [[nodiscard]] static Result<CaClient> Create(ServerPool& pool, const std::string& trust_pem,
                                               const std::string& node_chain_pem, const EVP_PKEY* node_key);

  // kUnavailable when the node certificate's trust domain is not the CA's.
  [[nodiscard]] Result<IssuedPem> Enroll(const std::string& token, const std::string& csr);
  [[nodiscard]] Result<IssuedPem> Renew(const std::string& csr);
  // Node recovery, anonymous (an expired certificate cannot authenticate
  // the connection): a fresh one-time challenge, then the new certificate
  // for `csr`, proven by `signature` (base64, the old node key's over
  // net::RecoveryMessage). `cert_pem` is the expired node certificate.
  // Recover spends the challenge, so it moves to another server only when
  // the request was certainly not sent. kRecoveryRefused when the CA says
  // only a new join token can bring the node back.
  [[nodiscard]] Result<std::string> RecoveryChallenge();
  [[nodiscard]] Result<IssuedPem> Recover(const std::string& cert_pem, const std::string& challenge,
                                          const std::string& signature, const std::string& csr);
  [[nodiscard]] Result<IssuedPem> Sign(const std::string& csr, Duration ttl);
  // POST /v1/jwt: a JWT-SVID for `spiffe_id` and `audience` (the CA's
  // default lifetime). kInvalidArgument for an answer without its members.
  using JwtAnswer = net::JwtAnswer;
  [[nodiscard]] Result<JwtAnswer> MintJwt(const std::string& spiffe_id, const std::vector<std::string>& audience);
  // GET with If-None-Match when `etag` is set. nullopt for 304; else the body
  // and the new ETag (in `etag`).
  [[nodiscard]] Result<std::optional<std::string>> GetIfChanged(const std::string& target, std::string& etag);
  // GetIfChanged with the node certificate, for the routes that serve a node
  // its own data (/v1/node/entries).
  [[nodiscard]] Result<std::optional<std::string>> GetAsNodeIfChanged(const std::string& target, std::string& etag);

  // After a failed call: Retry-After in seconds (0 when none), and whether
  // the CA said this node is banned.
  int retry_after() const { return retry_after_; }
  bool banned() const { return banned_; }
  // What the CA proved on the connection of the latest answer: its SPIFFE ID
  // and the trusted root its certificate chain verified to.
  const net::VerifiedServer& server() const { return server_; }
  // The URL of the server that gave the latest answer.
  const std::string& answered_by() const { return answered_by_; }

 private:
  // One server's connections: anonymous, and with the node certificate.
  struct Endpoint {
    net::HttpClient anonymous;
    std::optional<net::HttpClient> node;
  };
  enum class Caller { kAnonymous, kNode };
  enum class FailOver { kAlways, kUnsent };  // kUnsent: only requests certainly not sent

  CaClient(ServerPool& pool, std::vector<Endpoint> endpoints) : pool_(&pool), endpoints_(std::move(endpoints)) {}
  // One request, failing over between the servers as the class comment says.
  // The answer of the server that decided, or the last failure.
  Result<net::HttpResponse> Exchange(Caller caller, FailOver fail_over, const std::string& method,
                                     const std::string& target, const std::string& body,
                                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  Result<IssuedPem> PostForCert(Caller caller, FailOver fail_over, const std::string& target,
                                const std::string& body);
  Result<std::optional<std::string>> GetIfChanged(Caller caller, const std::string& target, std::string& etag);
  Error ErrorFrom(const net::HttpResponse& response, const std::string& what);

  ServerPool* pool_;
  std::vector<Endpoint> endpoints_;  // one per pool server, in its order
  net::VerifiedServer server_;
  std::string answered_by_;
  int retry_after_ = 0;
  bool banned_ = false;
};

}  // namespace mayfly::agent
