// The agent's own identity: trust, enrollment with the join token, node
// certificate renewal and re-enrollment.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "agent.h"
#include "mayfly/file_util.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/signature.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace {

Result<std::string> ReadToken(const std::string& path) {
  if (path.empty()) return MakeError(ErrorCode::kConfig, "no join_token_file is configured");
  auto text = ReadFile(path);
  if (!text) return WithContext(text.error(), "reading the join token");
  const char* ws = " \t\r\n";
  size_t begin = text->find_first_not_of(ws);
  if (begin == std::string::npos) return MakeError(ErrorCode::kInvalidToken, "join token file " + path + " is empty");
  return text->substr(begin, text->find_last_not_of(ws) - begin + 1);
}

}  // namespace

Result<CaClient*> Agent::Client() {
  if (trust_pem_.empty()) {
    auto trust = EstablishTrust(config_, paths_, *servers_);
    if (!trust) return std::unexpected(trust.error());
    trust_pem_ = *trust;
  }
  if (!client_) {
    auto client = CaClient::Create(*servers_, trust_pem_, node_ ? node_->chain_pem : "", node_key_.get());
    if (!client) return std::unexpected(client.error());
    client_.emplace(std::move(*client));
  }
  return &*client_;
}

Result<void> Agent::LoadNode() {
  if (auto r = CheckPrivate(paths_.dir, "agent state_dir"); !r) return r;
  if (auto r = CheckPrivate(paths_.node_key, "node key"); !r) return r;
  // A renewal that stopped between its writes left the new key aside: finish it.
  if (std::filesystem::exists(paths_.node_key_next)) {
    if (LoadHeldPair(paths_.node_cert, paths_.node_key_next)) {
      std::error_code ec;
      std::filesystem::rename(paths_.node_key_next, paths_.node_key, ec);
      if (ec) return MakeError(ErrorCode::kIo, "renaming " + paths_.node_key_next + ": " + ec.message());
    }
  }
  auto held = LoadHeldPair(paths_.node_cert, paths_.node_key);
  if (!held) return std::unexpected(held.error());
  auto key = LoadKeyFile(paths_.node_key);
  if (!key) return std::unexpected(key.error());
  node_ = std::move(*held);
  node_key_ = std::move(*key);
  client_.reset();
  return Ok();
}

Result<void> Agent::KeepNode(const IssuedPem& issued, const EVP_PKEY* key, const std::string& spiffe_id) {
  const std::string chain = issued.certificate + issued.chain;
  // Nothing is written before the answer passed: a bad one leaves node.key
  // and node.pem as they were.
  if (auto r = CheckAnswer(chain, key, {.spiffe_id = spiffe_id}, trust_pem_, clock_.Now()); !r) return r;
  auto key_pem = PrivateKeyToPem(key);
  if (!key_pem) return std::unexpected(key_pem.error());
  if (auto r = EnsureDirectory(paths_.dir, 0700); !r) return r;
  // Key aside, certificate, then the key into place: see LoadNode.
  if (auto r = WriteFileAtomic(paths_.node_key_next, *key_pem, 0600); !r) return r;
  if (auto r = WriteFileAtomic(paths_.node_cert, chain, 0600); !r) return r;
  std::error_code ec;
  std::filesystem::rename(paths_.node_key_next, paths_.node_key, ec);
  if (ec) return MakeError(ErrorCode::kIo, "renaming " + paths_.node_key_next + ": " + ec.message());
  if (auto r = LoadNode(); !r) return r;
  spdlog::info("node certificate {} serial={} not_after={}", node_->spiffe_id, node_->serial,
               FormatRfc3339(node_->not_after));
  return Ok();
}

Result<void> Agent::EnrollWithToken(const std::string& why) {
  auto token = ReadToken(config_.join_token_file);
  if (!token) return WithContext(token.error(), why + "; enrollment needs a join token");
  if (TokenWasUsed(paths_, *token)) {
    return MakeError(ErrorCode::kInvalidToken, why + "; the join token in " + config_.join_token_file +
                                                   " was already used: write a new one there " +
                                                   "(mayfly-ca token create --node NAME)");
  }
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  auto fresh = NewKeyAndCsr(config_.key_type, {}, {}, {});
  if (!fresh) return std::unexpected(fresh.error());
  auto issued = (*client)->Enroll(*token, fresh->csr);
  if (!issued) {
    if (issued.error().code == ErrorCode::kInvalidToken) (void)RecordUsedToken(paths_, *token);
    return WithContext(issued.error(), "enrolling");
  }
  (void)RecordUsedToken(paths_, *token);
  const std::string ca = (*client)->answered_by();  // KeepNode replaces the client
  // The token names the node; the CA says which name in `spiffe_id`, and
  // the certificate must carry exactly that node identity.
  auto id = SpiffeId::Parse(issued->spiffe_id);
  if (!id || ClassifyId(*id).kind != IdentityKind::kNode) {
    return MakeError(ErrorCode::kConflict, "refusing the CA's answer to enrollment: its spiffe_id \"" +
                                               issued->spiffe_id.substr(0, 200) + "\" is not a node identity");
  }
  if (auto r = KeepNode(*issued, fresh->key.get(), issued->spiffe_id); !r) return r;
  spdlog::info("enrolled with {} as {}", ca, issued->spiffe_id);
  return Ok();
}

Result<void> Agent::RenewNode() {
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  auto fresh = NewKeyAndCsr(config_.key_type, {}, {}, {});
  if (!fresh) return std::unexpected(fresh.error());
  auto issued = (*client)->Renew(fresh->csr);
  if (!issued) return WithContext(issued.error(), "renewing the node certificate");
  return KeepNode(*issued, fresh->key.get(), node_->spiffe_id);
}

Result<void> Agent::RecoverNode() {
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  auto challenge = (*client)->RecoveryChallenge();
  if (!challenge) return WithContext(challenge.error(), "asking for a recovery challenge");
  auto fresh = NewKeyAndCsr(config_.key_type, {}, {}, {});
  if (!fresh) return std::unexpected(fresh.error());
  auto signature = SignMessage(node_key_.get(), net::RecoveryMessage(*challenge, fresh->csr));
  if (!signature) return WithContext(signature.error(), "signing the recovery request");
  auto leaf = CertToPem(node_->leaf.get());
  if (!leaf) return std::unexpected(leaf.error());
  auto issued = (*client)->Recover(*leaf, *challenge, EncodeBase64(*signature), fresh->csr);
  if (!issued) return WithContext(issued.error(), "recovering the node certificate");
  const std::string ca = (*client)->answered_by();  // KeepNode replaces the client
  const std::string old_serial = node_->serial;
  if (auto r = KeepNode(*issued, fresh->key.get(), node_->spiffe_id); !r) return r;
  spdlog::info("recovered with {}: node certificate serial={} replaces expired serial={}", ca, node_->serial,
               old_serial);
  return Ok();
}

Result<void> Agent::RecoverOrEnroll() {
  const std::string why = "the node certificate expired at " + FormatRfc3339(node_->not_after);
  spdlog::info("{}; recovering it with the node key", why);
  auto recovered = RecoverNode();
  if (recovered) return recovered;
  if (recovered.error().code != ErrorCode::kRecoveryRefused) {
    if (client_) retry_after_ = std::max(retry_after_, client_->retry_after());
    return WithContext(recovered.error(), why);
  }
  spdlog::error("{}; the CA refused to recover it: {}", why, recovered.error().message);
  Result<void> enrolled;
  if (config_.join_token_file.empty()) {
    enrolled = MakeError(ErrorCode::kRecoveryRefused,
                         why + " and the CA refused to recover it (" + recovered.error().message +
                             "); set join_token_file and write a new join token there (mayfly-ca token create "
                             "--node NAME)");
  } else {
    enrolled = EnrollWithToken(why + " and the CA refused to recover it");
  }
  // Until a new token is written, asking again only hears the same answer:
  // back off as far as a banned node does.
  banned_ = !enrolled;
  return enrolled;
}

Result<void> Agent::EnsureNode(const std::set<std::string>& revoked) {
  if (!node_) {
    if (auto r = LoadNode(); !r) {
      if (r.error().code != ErrorCode::kNotFound) return WithContext(r.error(), "loading the node certificate");
      return EnrollWithToken("this node is not enrolled yet");
    }
  }
  const TimePoint now = clock_.Now();
  if (now >= node_->not_after) return RecoverOrEnroll();
  if (revoked.contains(node_->serial)) {
    return EnrollWithToken("the node certificate (serial " + node_->serial + ") was revoked");
  }
  const std::string problem = ChainProblem(*node_, trust_pem_, revoked);
  if (problem.empty() && !IsDue(*node_)) return Ok();
  if (!problem.empty()) spdlog::info("renewing the node certificate now: {}", problem);
  auto renewed = RenewNode();
  banned_ = !renewed && client_ && client_->banned();
  if (banned_) {
    spdlog::error("the CA refused this node: it is banned; write a new join token to {} to re-enroll",
                  config_.join_token_file);
    if (auto again = EnrollWithToken("the node is banned"); again) return again;
  }
  if (!renewed && client_) retry_after_ = std::max(retry_after_, client_->retry_after());
  return renewed;
}

}  // namespace mayfly::agent
