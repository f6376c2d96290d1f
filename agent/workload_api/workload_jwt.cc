// The JWT-SVID cache of the Workload API.
#include "workload_jwt.h"

#include "mayfly/file_util.h"
#include "mayfly/keys.h"

namespace mayfly::agent {

JwtSvidCache::JwtSvidCache(const AgentConfig& config, const Clock& clock)
    : config_(config), clock_(clock), paths_(config_.state_dir), servers_(config_.servers, clock_) {}

Result<CaClient*> JwtSvidCache::Client() {
  std::string node_pem = ReadFile(paths_.node_cert).value_or("");
  std::string trust = ReadFile(paths_.trust).value_or("");
  if (node_pem.empty() || trust.empty()) {
    return MakeError(ErrorCode::kUnavailable, "the node has not enrolled yet");
  }
  if (!client_ || node_pem != node_pem_ || trust != trust_pem_) {
    // A pass may be between writing node.pem and node.key: a pair that does
    // not match fails here and is taken at the next call.
    auto key = LoadKeyFile(paths_.node_key);
    if (!key) return std::unexpected(key.error());
    client_.reset();
    auto client = CaClient::Create(servers_, trust, node_pem, key->get());
    if (!client) return std::unexpected(client.error());
    client_.emplace(std::move(*client));
    node_pem_ = std::move(node_pem);
    trust_pem_ = std::move(trust);
    node_key_ = std::move(*key);
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
