// The JWT-SVID cache of the Workload API.
#include "workload_jwt.h"

namespace mayfly::agent {

JwtSvidCache::JwtSvidCache(const IdentityBoard& board, const AgentConfig& config, const Clock& clock)
    : board_(board), config_(config), clock_(clock), servers_(config_.servers, clock_) {}

Result<CaClient*> JwtSvidCache::Client() {
  const auto snapshot = board_.Current();
  if (snapshot->node_pem.empty() || !snapshot->node_key || snapshot->trust_pem.empty()) {
    return MakeError(ErrorCode::kUnavailable, "the node has not enrolled yet");
  }
  if (!client_ || snapshot->node_pem != node_pem_ || snapshot->trust_pem != trust_pem_) {
    client_.reset();
    auto client = CaClient::Create(servers_, snapshot->trust_pem, snapshot->node_pem, snapshot->node_key.get());
    if (!client) return std::unexpected(client.error());
    client_.emplace(std::move(*client));
    node_pem_ = snapshot->node_pem;
    trust_pem_ = snapshot->trust_pem;
    node_key_ = snapshot->node_key;
  }
  return &*client_;
}

Result<std::string> JwtSvidCache::Token(const std::string& spiffe_id, const std::vector<std::string>& audience) {
  std::string cache_key = spiffe_id;
  for (const std::string& a : audience) cache_key += '\n' + a;
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  if (auto it = cache_.find(cache_key); it != cache_.end() && now < it->second.refresh_at) return it->second.token;
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  auto minted = (*client)->MintJwt(spiffe_id, audience);
  if (!minted) return std::unexpected(minted.error());
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires_at <= now; });
  if (cache_.size() >= kMaxTokens) cache_.clear();
  cache_[cache_key] = Cached{.token = minted->token, .refresh_at = now + (minted->expires_at - now) / 2,
                             .expires_at = minted->expires_at};
  return std::move(minted->token);
}

}  // namespace mayfly::agent
