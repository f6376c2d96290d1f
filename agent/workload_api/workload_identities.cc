// Fetching the node's selector entries, issuing and renewing their SVIDs in
// memory, and publishing snapshots to the Workload API's handlers.
#include "workload_identities.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "agent_crl_sync.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace json = boost::json;

namespace {

// How often the state_dir files are looked at: a renewal, a new bundle or a
// CRL the passes wrote reaches the open streams within this.
constexpr auto kStep = std::chrono::milliseconds(500);
// Identities served over the socket have the agent's default key type.
constexpr const char* kSvidKeyType = "ecdsa-p256";

// min(2^(failures-1) s, cap), never less than a second.
Duration Backoff(int failures, Duration cap) {
  const int shift = std::clamp(failures - 1, 0, 16);
  return std::min<Duration>(std::chrono::seconds(1LL << shift), std::max<Duration>(cap, std::chrono::seconds(1)));
}

Result<std::vector<std::string>> Strings(const json::object& entry, std::string_view key, const std::string& what) {
  std::vector<std::string> out;
  const json::value* v = entry.if_contains(key);
  if (v == nullptr) return out;
  if (!v->is_array()) return MakeError(ErrorCode::kInvalidArgument, what + ": " + std::string(key) + " is not an array");
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, what + ": " + std::string(key) + " holds a non-string");
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<std::string> DerOfCerts(const std::string& pem) {
  std::string der;
  if (pem.empty()) return der;
  auto certs = CertsFromPem(pem);
  if (!certs) return std::unexpected(certs.error());
  for (const auto& cert : *certs) {
    auto one = CertToDer(cert.get());
    if (!one) return std::unexpected(one.error());
    der += *one;
  }
  return der;
}

}  // namespace

KeyDer::~KeyDer() { OPENSSL_cleanse(der.data(), der.size()); }

Result<std::vector<NodeEntry>> ParseNodeEntries(const std::string& body) {
  const std::string what = "GET /v1/node/entries";
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("entries") || !doc.as_object().at("entries").is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, what + ": expected {\"entries\": [...]}");
  }
  std::vector<NodeEntry> entries;
  for (const json::value& v : doc.as_object().at("entries").as_array()) {
    if (!v.is_object()) return MakeError(ErrorCode::kInvalidArgument, what + ": an entry is not an object");
    const json::object& o = v.as_object();
    NodeEntry e;
    const json::value* id = o.if_contains("id");
    if (id != nullptr && id->is_int64()) e.id = std::to_string(id->as_int64());
    else if (id != nullptr && id->is_string()) e.id = std::string(id->as_string());
    const json::value* spiffe_id = o.if_contains("spiffe_id");
    const json::value* ttl = o.if_contains("ttl");
    if (e.id.empty() || spiffe_id == nullptr || !spiffe_id->is_string() || ttl == nullptr || !ttl->is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, what + ": an entry lacks id, spiffe_id or ttl");
    }
    e.spiffe_id = std::string(spiffe_id->as_string());
    auto parsed_ttl = ParseDuration(std::string_view(ttl->as_string()));
    if (!parsed_ttl) return WithContext(parsed_ttl.error(), what + ": entry " + e.id + " ttl");
    e.ttl = *parsed_ttl;
    const std::string entry_what = what + ": entry " + e.id;
    auto selectors = Strings(o, "selectors", entry_what);
    auto dns = Strings(o, "dns", entry_what);
    auto ips = Strings(o, "ips", entry_what);
    if (!selectors) return std::unexpected(selectors.error());
    if (!dns) return std::unexpected(dns.error());
    if (!ips) return std::unexpected(ips.error());
    e.selectors = std::move(*selectors);
    e.dns = std::move(*dns);
    e.ips = std::move(*ips);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::shared_ptr<const IdentitySnapshot> IdentityBoard::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void IdentityBoard::Publish(IdentitySnapshot next) {
  {
    std::lock_guard lock(mu_);
    next.version = current_->version + 1;
    current_ = std::make_shared<const IdentitySnapshot>(std::move(next));
  }
  changed_.notify_all();
}

std::shared_ptr<const IdentitySnapshot> IdentityBoard::WaitNewer(uint64_t seen,
                                                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || current_->version > seen; });
  return current_;
}

void IdentityBoard::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool IdentityBoard::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

IdentityKeeper::IdentityKeeper(const AgentConfig& config, const Clock& clock, IdentityBoard& board)
    : config_(config), clock_(clock), board_(board), paths_(config_.state_dir), servers_(config_.servers, clock_) {}

bool IdentityKeeper::ReloadFiles() {
  bool changed = false;
  // The passes replace node.pem and node.key one after the other: a pair
  // that does not match yet is taken at a later step.
  std::string node_pem = ReadFile(paths_.node_cert).value_or("");
  if (!node_pem.empty() && node_pem != node_pem_) {
    auto key = LoadKeyFile(paths_.node_key);
    if (key && HeldFromPem(node_pem, key->get(), paths_.node_cert)) {
      node_pem_ = std::move(node_pem);
      node_key_ = std::move(*key);
      client_.reset();
      changed = true;
    }
  }
  std::string trust = ReadFile(paths_.trust).value_or("");
  if (trust != trust_pem_) {
    trust_pem_ = std::move(trust);
    client_.reset();
    changed = true;
  }
  std::string crl = ReadFile(paths_.crl).value_or("");
  if (crl != crl_pem_) {
    crl_pem_ = std::move(crl);
    revoked_ = RevokedSerials(crl_pem_);
    changed = true;
  }
  return changed;
}

bool IdentityKeeper::RefreshEntries(TimePoint now) {
  if (now < next_entries_) return false;
  auto body = client_->GetAsNodeIfChanged("/v1/node/entries", entries_etag_);
  std::optional<std::vector<NodeEntry>> fresh;
  if (body && body->has_value()) {
    auto parsed = ParseNodeEntries(**body);
    if (parsed) fresh = std::move(*parsed);
    else body = std::unexpected(parsed.error());
  }
  if (!body) {
    ++entry_failures_;
    entries_etag_.clear();  // the next answer must be a whole one
    const Duration wait = std::max<Duration>(Backoff(entry_failures_, config_.refresh),
                                             std::chrono::seconds(client_->retry_after()));
    spdlog::warn("workload API: fetching the node's entries (retrying in {} s): {}",
                 std::chrono::duration_cast<std::chrono::seconds>(wait).count(), body.error().message);
    next_entries_ = now + wait;
    return false;
  }
  entry_failures_ = 0;
  next_entries_ = now + config_.refresh;
  const bool first = !entries_known_;
  entries_known_ = true;
  if (!fresh || *fresh == entries_) return first;
  entries_ = std::move(*fresh);
  spdlog::info("workload API: {} selector entr{} for this node", entries_.size(), entries_.size() == 1 ? "y" : "ies");
  return true;
}

bool IdentityKeeper::RefreshJwtAuthorities(TimePoint now, bool roots_changed) {
  if (roots_changed) jwt_etag_.clear();
  if (!roots_changed && now < next_jwt_) return false;
  auto body = client_->GetIfChanged("/v1/bundle?format=spiffe", jwt_etag_);
  Result<JwtAuthorities> parsed = MakeError(ErrorCode::kInvalidArgument, "no bundle");
  if (body && body->has_value()) parsed = JwtAuthoritiesFromBundle(**body);
  if (!body || (body->has_value() && !parsed)) {
    jwt_etag_.clear();
    next_jwt_ = now + std::min<Duration>(config_.refresh, std::chrono::seconds(30));
    spdlog::warn("workload API: fetching the JWT bundle: {}", (!body ? body.error() : parsed.error()).message);
    return false;
  }
  next_jwt_ = now + config_.refresh;
  if (!body->has_value()) return false;  // 304: unchanged
  if (jwt_authorities_ && jwt_authorities_->jwks_json == parsed->jwks_json) return false;
  jwt_authorities_ = std::make_shared<const JwtAuthorities>(std::move(*parsed));
  return true;
}

Result<IdentityKeeper::Held> IdentityKeeper::Issue(const NodeEntry& entry) {
  auto fresh = NewKeyAndCsr(kSvidKeyType, {entry.spiffe_id}, entry.dns, entry.ips);
  if (!fresh) return std::unexpected(fresh.error());
  auto issued = client_->Sign(fresh->csr, entry.ttl);
  if (!issued) return std::unexpected(issued.error());
  const std::string chain = issued->certificate + issued->chain;
  const TimePoint now = clock_.Now();
  if (auto r = CheckAnswer(chain, fresh->key.get(), {entry.spiffe_id, entry.dns, entry.ips}, trust_pem_, now); !r) {
    return std::unexpected(r.error());
  }
  auto cert = HeldFromPem(chain, fresh->key.get(), entry.spiffe_id);
  if (!cert) return std::unexpected(cert.error());
  auto chain_der = DerOfCerts(chain);
  if (!chain_der) return std::unexpected(chain_der.error());
  auto key_der = PrivateKeyToDer(fresh->key.get());
  if (!key_der) return std::unexpected(key_der.error());
  auto key = std::make_shared<const KeyDer>(std::move(*key_der));
  const TimePoint due = JitteredDue(*cert, RenewalTime(*cert, config_.renew_at), now, rng_);
  Svid svid{.entry_id = entry.id,
            .spiffe_id = entry.spiffe_id,
            .chain_der = std::move(*chain_der),
            .key = std::move(key),
            .serial = cert->serial};
  return Held{.entry = entry, .cert = std::move(*cert), .svid = std::move(svid), .due = due};
}

bool IdentityKeeper::EnsureSvids(TimePoint now, bool recheck_chains) {
  bool changed = false;
  std::set<std::string> listed;
  for (const NodeEntry& entry : entries_) {
    listed.insert(entry.id);
    auto it = held_.find(entry.id);
    std::string why;
    if (it == held_.end()) why = "new";
    else if (!(it->second.entry == entry)) why = "entry changed";
    else if (revoked_.contains(it->second.cert.serial)) why = "listed in the CRL";
    else if (now >= it->second.due) why = "due";
    else if (recheck_chains) why = ChainProblem(it->second.cert, trust_pem_, revoked_);
    if (why.empty()) continue;
    if (it != held_.end() && now >= it->second.cert.not_after) {
      held_.erase(it);  // never serve an expired SVID
      changed = true;
    }
    auto retry = retry_at_.find(entry.id);
    if (retry != retry_at_.end() && now < retry->second) continue;
    auto held = Issue(entry);
    if (!held) {
      const int n = ++failures_[entry.id];
      const Duration wait = std::max<Duration>(Backoff(n, std::chrono::minutes(5)),
                                               std::chrono::seconds(client_->retry_after()));
      retry_at_[entry.id] = now + wait;
      spdlog::warn("workload API: {} ({}): not issued, retrying in {} s: {}", entry.spiffe_id, why,
                   std::chrono::duration_cast<std::chrono::seconds>(wait).count(), held.error().message);
      continue;
    }
    spdlog::info("workload API: issued {} ({}) serial={} not_after={}", entry.spiffe_id, why, held->cert.serial,
                 FormatRfc3339(held->cert.not_after));
    failures_.erase(entry.id);
    retry_at_.erase(entry.id);
    held_.insert_or_assign(entry.id, std::move(*held));
    changed = true;
  }
  for (auto it = held_.begin(); it != held_.end();) {
    if (listed.contains(it->first)) {
      ++it;
    } else {
      it = held_.erase(it);
      changed = true;
    }
  }
  return changed;
}

void IdentityKeeper::Publish() {
  IdentitySnapshot next;
  next.entries_known = entries_known_;
  next.entries = entries_;
  for (const auto& [id, held] : held_) next.svids.emplace(id, held.svid);
  if (auto leaf = CertFromPem(node_pem_); leaf) {
    const std::string node_id = CertSpiffeId(leaf->get());
    const size_t path = node_id.find('/', std::string_view("spiffe://").size());
    next.trust_domain_id = node_id.substr(0, path);
  }
  auto bundle = DerOfCerts(trust_pem_);
  if (bundle) next.bundle_der = std::move(*bundle);
  for (const auto& crl : CrlsFromPem(crl_pem_)) {
    if (auto der = CrlToDer(crl.get()); der) next.crls_der.push_back(std::move(*der));
  }
  next.jwt_authorities = jwt_authorities_;
  next.node_pem = node_pem_;
  next.node_key = node_key_;
  next.trust_pem = trust_pem_;
  board_.Publish(std::move(next));
}

TimePoint IdentityKeeper::Step() {
  const TimePoint now = clock_.Now();
  const bool files_changed = ReloadFiles();
  bool changed = files_changed;
  if (!client_ && !node_pem_.empty() && !trust_pem_.empty()) {
    auto client = CaClient::Create(servers_, trust_pem_, node_pem_, node_key_.get());
    if (client) client_.emplace(std::move(*client));
    else spdlog::warn("workload API: {}", client.error().message);
  }
  if (client_) {
    changed |= RefreshEntries(now);
    changed |= RefreshJwtAuthorities(now, files_changed);
    changed |= EnsureSvids(now, files_changed);
  }
  if (changed) Publish();
  return now + kStep;
}

}  // namespace mayfly::agent
