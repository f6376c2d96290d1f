// How the agent talks to the CA: trust on first contact, then verified HTTPS
// calls (anonymous, or with the node certificate), errors turned into Results.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent_state.h"
#include "mayfly/config.h"
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
// whose certificate is not verified and only the root whose SHA-256 equals
// ca_fingerprint is kept (in state_dir) -- never the rest of that unverified
// bundle, which anyone in the path could have extended.
// kForbidden when no root of the bundle matches the pin (nothing is written);
// kUnavailable when the CA cannot be reached.
[[nodiscard]] Result<std::string> EstablishTrust(const AgentConfig& config, const StatePaths& paths);

// One CA, reached with verified TLS: its certificate must chain to the trusted
// roots, name the server URL's host and carry the CA's SPIFFE ID,
// spiffe://<td>/mayfly/ca (net::ServerIdentity), or no request is sent. Not
// thread-safe.
class CaClient {
 public:
  // `node_chain_pem`/`node_key` may be empty/null: then only the anonymous
  // routes (enroll, bundle, crl) can be called. <td> is the trust domain of
  // the node certificate in `node_chain_pem`; without one (before the first
  // enrollment) the CA's path is accepted in any trust domain -- safe because
  // /mayfly/ paths are reserved to Mayfly and never issued to workloads, and
  // Enroll then insists that the node certificate is in the trust domain the
  // CA presented. kInvalidSpiffeId when the node certificate has no single
  // SPIFFE ID.
  [[nodiscard]] static Result<CaClient> Create(const std::string& server, const std::string& trust_pem,
                                               const std::string& node_chain_pem, const EVP_PKEY* node_key);

  // kUnavailable when the node certificate's trust domain is not the CA's.
  [[nodiscard]] Result<IssuedPem> Enroll(const std::string& token, const std::string& csr);
  [[nodiscard]] Result<IssuedPem> Renew(const std::string& csr);
  [[nodiscard]] Result<IssuedPem> Sign(const std::string& csr, Duration ttl);
  // GET with If-None-Match when `etag` is set. nullopt for 304; else the body
  // and the new ETag (in `etag`).
  [[nodiscard]] Result<std::optional<std::string>> GetIfChanged(const std::string& target, std::string& etag);

  // After a failed call: Retry-After in seconds (0 when none), and whether
  // the CA said this node is banned.
  int retry_after() const { return retry_after_; }
  bool banned() const { return banned_; }
  // What the CA proved on the connection of the latest answer: its SPIFFE ID
  // and the trusted root its certificate chain verified to.
  const net::VerifiedServer& server() const { return server_; }

 private:
  CaClient(net::HttpClient anonymous, std::optional<net::HttpClient> node)
      : anonymous_(std::move(anonymous)), node_(std::move(node)) {}
  Result<IssuedPem> PostForCert(net::HttpClient& client, const std::string& target, const std::string& body);
  Error ErrorFrom(const net::HttpResponse& response, const std::string& what);

  net::HttpClient anonymous_;
  std::optional<net::HttpClient> node_;
  net::VerifiedServer server_;
  int retry_after_ = 0;
  bool banned_ = false;
};

}  // namespace mayfly::agent
