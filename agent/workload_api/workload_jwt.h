// JWT-SVIDs for the Workload API: asked of the CA (POST /v1/jwt) with the
// node certificate, and cached per identity and audience until half their
// life, so a workload asking before each request costs the CA one call per
// half-lifetime, not one per request.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent_ca_client.h"
#include "agent_config.h"
#include "agent_servers.h"
#include "workload_identities.h"
#include "mayfly/clock.h"
#include "mayfly/error.h"

namespace mayfly::agent {

// Thread-safe: gRPC calls arrive on many threads; one CA call runs at a time.
class JwtSvidCache {
 public:
  // A bound on cached tokens: callers choose audiences freely, and a
  // process must not grow the agent's memory by asking for new ones.
  static constexpr size_t kMaxTokens = 4096;

  // Asks the CA with the node certificate, key and roots of `board`'s
  // current snapshot; `board` outlives the cache.
  JwtSvidCache(const IdentityBoard& board, const AgentConfig& config, const Clock& clock);

  // A token for `spiffe_id` and `audience` (in the order given), from the
  // cache while it has more than half its life left, else from the CA.
  [[nodiscard]] Result<std::string> Token(const std::string& spiffe_id, const std::vector<std::string>& audience);

 private:
  struct Cached {
    std::string token;
    TimePoint refresh_at;  // half its life
    TimePoint expires_at;
  };
  // The CA client of the current snapshot's node certificate; made again
  // when that certificate or the roots change (a renewal, a rotation).
  Result<CaClient*> Client();

  const IdentityBoard& board_;
  AgentConfig config_;
  const Clock& clock_;
  std::mutex mu_;
  ServerPool servers_;  // guarded by mu_, like everything below
  std::optional<CaClient> client_;
  std::string node_pem_;
  std::string trust_pem_;
  std::shared_ptr<const EVP_PKEY> node_key_;
  std::map<std::string, Cached> cache_;  // by spiffe_id and audience
};

}  // namespace mayfly::agent
