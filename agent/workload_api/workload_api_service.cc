// The Workload API's calls. Streams poll the snapshot board and the call's
// cancellation in short waits: the synchronous gRPC API has no other way to
// learn that a client went.
#include "workload_api_service.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <set>

namespace mayfly::agent {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(200);

// The entries whose selectors all hold for the caller, in the CA's order.
std::vector<const NodeEntry*> EntriesFor(const IdentitySnapshot& snapshot, const CallerFacts& caller) {
  std::vector<const NodeEntry*> matched;
  for (const NodeEntry& e : snapshot.entries) {
    if (SelectorsMatch(e.selectors, caller)) matched.push_back(&e);
  }
  return matched;
}

bool NeedsExeHash(const IdentitySnapshot& snapshot) {
  for (const NodeEntry& e : snapshot.entries) {
    for (const std::string& s : e.selectors) {
      if (s.starts_with("unix:sha256:")) return true;
    }
  }
  return false;
}

grpc::Status NoIdentity() { return {grpc::StatusCode::PERMISSION_DENIED, "no identity issued"}; }

// The bundle streams' guard: what to answer `caller` with instead of a
// bundle (no identity for it once the entries are known; nothing yet while
// they or the trust domain are not), or nullopt when a bundle may go out.
std::optional<grpc::Status> BundleGuard(const IdentitySnapshot& snapshot, const CallerFacts& caller) {
  const bool none = EntriesFor(snapshot, caller).empty();
  if (none && snapshot.entries_known) return NoIdentity();
  if (none || snapshot.trust_domain_id.empty()) return grpc::Status::OK;  // nothing to send yet
  return std::nullopt;
}

// The public part of what a message would carry: a new key when it changes.
std::string VersionKey(const IdentitySnapshot& snapshot, const std::vector<const NodeEntry*>& entries) {
  std::string key = "bundle:" + std::to_string(std::hash<std::string>{}(snapshot.bundle_der));
  for (const std::string& crl : snapshot.crls_der) key += ",crl:" + std::to_string(std::hash<std::string>{}(crl));
  for (const NodeEntry* e : entries) {
    auto it = snapshot.svids.find(e->id);
    if (it != snapshot.svids.end()) key += ",svid:" + it->second.serial;
  }
  return key;
}

}  // namespace

void Connections::Add(int fd, const Peer& peer) {
  std::lock_guard lock(mu_);
  peers_[fd] = peer;
}

std::optional<Connections::Peer> Connections::Find(std::string_view peer) const {
  if (!peer.starts_with("fd:")) return std::nullopt;
  int fd = -1;
  auto [end, ec] = std::from_chars(peer.data() + 3, peer.data() + peer.size(), fd);
  if (ec != std::errc() || end != peer.data() + peer.size()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

grpc::Status WorkloadApiService::Admit(grpc::ServerContext* context, CallerFacts& caller) const {
  // The specification's guard against a browser or proxy forwarding
  // requests to the socket: the header no such forwarder would add.
  const auto& metadata = context->client_metadata();
  auto header = metadata.find("workload.spiffe.io");
  if (header == metadata.end() || header->second != "true") {
    return {grpc::StatusCode::INVALID_ARGUMENT, "security header missing from request"};
  }
  auto peer = connections_.Find(context->peer());
  if (!peer) {
    spdlog::error("workload API: a call from unknown peer {}", context->peer());
    return {grpc::StatusCode::INTERNAL, "the agent cannot identify this connection"};
  }
  auto facts = ObserveCaller(peer->cred.pid, peer->cred.uid, peer->cred.gid, peer->accepted_ticks,
                             NeedsExeHash(*board_.Current()));
  if (!facts) {
    spdlog::warn("workload API: refusing pid {}: {}", peer->cred.pid, facts.error().message);
    return {grpc::StatusCode::PERMISSION_DENIED, "the calling process could not be identified"};
  }
  caller = std::move(*facts);
  return grpc::Status::OK;
}

template <typename Message, typename Build>
grpc::Status WorkloadApiService::Stream(grpc::ServerContext* context, grpc::ServerWriter<Message>* writer,
                                        Build build) const {
  std::string sent;
  uint64_t seen = 0;
  auto snapshot = board_.Current();
  bool first = true;
  while (!context->IsCancelled()) {
    if (board_.closed()) return {grpc::StatusCode::UNAVAILABLE, "the agent is stopping"};
    if (first || snapshot->version != seen) {
      first = false;
      seen = snapshot->version;
      Message message;
      std::string key;
      if (grpc::Status s = build(*snapshot, message, key); !s.ok()) return s;
      if (!key.empty() && key != sent) {
        if (!writer->Write(message)) return grpc::Status::OK;  // the client went
        sent = std::move(key);
      }
    }
    snapshot = board_.WaitNewer(seen, kPoll);
  }
  return grpc::Status::CANCELLED;
}

grpc::Status WorkloadApiService::FetchX509SVID(grpc::ServerContext* context, const X509SVIDRequest*,
                                               grpc::ServerWriter<X509SVIDResponse>* writer) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return Stream(context, writer, [&](const IdentitySnapshot& snapshot, X509SVIDResponse& response, std::string& key) {
    auto entries = EntriesFor(snapshot, caller);
    // Before the node enrolled or fetched its entries nothing is known yet:
    // wait rather than refuse a process the first fetch may entitle.
    if (entries.empty() && snapshot.entries_known) return NoIdentity();
    for (const NodeEntry* e : entries) {
      auto it = snapshot.svids.find(e->id);
      if (it == snapshot.svids.end()) continue;  // not issued yet: the next snapshot
      X509SVID* svid = response.add_svids();
      svid->set_spiffe_id(it->second.spiffe_id);
      svid->set_x509_svid(it->second.chain_der);
      svid->set_x509_svid_key(it->second.key->der);
      svid->set_bundle(snapshot.bundle_der);
    }
    for (const std::string& crl : snapshot.crls_der) response.add_crl(crl);
    if (response.svids_size() > 0) key = VersionKey(snapshot, entries);
    return grpc::Status::OK;
  });
}

grpc::Status WorkloadApiService::FetchX509Bundles(grpc::ServerContext* context, const X509BundlesRequest*,
                                                  grpc::ServerWriter<X509BundlesResponse>* writer) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return Stream(context, writer,
                [&](const IdentitySnapshot& snapshot, X509BundlesResponse& response, std::string& key) {
                  if (auto guard = BundleGuard(snapshot, caller)) return *guard;
                  (*response.mutable_bundles())[snapshot.trust_domain_id] = snapshot.bundle_der;
                  for (const std::string& crl : snapshot.crls_der) response.add_crl(crl);
                  key = VersionKey(snapshot, {});
                  return grpc::Status::OK;
                });
}

grpc::Status WorkloadApiService::FetchJWTSVID(grpc::ServerContext* context, const JWTSVIDRequest* request,
                                              JWTSVIDResponse* response) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  if (request->audience_size() == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "audience must be specified"};
  const std::vector<std::string> audience(request->audience().begin(), request->audience().end());
  const auto snapshot = board_.Current();
  if (!snapshot->entries_known) {
    return {grpc::StatusCode::UNAVAILABLE, "the agent has not learned its node's entries yet; retry"};
  }
  // Every identity the caller holds, or the one it names; each once.
  std::set<std::string> identities;
  for (const NodeEntry* e : EntriesFor(*snapshot, caller)) {
    if (request->spiffe_id().empty() || e->spiffe_id == request->spiffe_id()) identities.insert(e->spiffe_id);
  }
  if (identities.empty()) return NoIdentity();
  for (const std::string& id : identities) {
    auto token = jwt_.Token(id, audience);
    if (!token) {
      spdlog::warn("workload API: JWT-SVID for {}: {}", id, token.error().message);
      return {grpc::StatusCode::UNAVAILABLE, "could not get a JWT-SVID for " + id + ": " + token.error().message};
    }
    JWTSVID* svid = response->add_svids();
    svid->set_spiffe_id(id);
    svid->set_svid(std::move(*token));
  }
  return grpc::Status::OK;
}

grpc::Status WorkloadApiService::FetchJWTBundles(grpc::ServerContext* context, const JWTBundlesRequest*,
                                                 grpc::ServerWriter<JWTBundlesResponse>* writer) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return Stream(context, writer,
                [&](const IdentitySnapshot& snapshot, JWTBundlesResponse& response, std::string& key) {
                  if (auto guard = BundleGuard(snapshot, caller)) return *guard;
                  if (!snapshot.jwt_authorities) return grpc::Status::OK;  // nothing to send yet
                  (*response.mutable_bundles())[snapshot.trust_domain_id] = snapshot.jwt_authorities->jwks_json;
                  key = snapshot.jwt_authorities->jwks_json;
                  return grpc::Status::OK;
                });
}

// Any caller may ask: validating a token proves nothing about the caller
// and hands out nothing it could not fetch from the bundle itself.
grpc::Status WorkloadApiService::ValidateJWTSVID(grpc::ServerContext* context, const ValidateJWTSVIDRequest* request,
                                                 ValidateJWTSVIDResponse* response) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  if (request->audience().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "audience must be specified"};
  if (request->svid().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "svid must be specified"};
  const auto snapshot = board_.Current();
  if (!snapshot->jwt_authorities) {
    return {grpc::StatusCode::UNAVAILABLE, "the agent has not fetched the JWT bundle yet; retry"};
  }
  auto claims = VerifyJwtSvid(request->svid(), request->audience(), snapshot->jwt_authorities->View(),
                              ToUnixSeconds(clock_.Now()));
  if (!claims) return {grpc::StatusCode::INVALID_ARGUMENT, claims.error().message};
  // Only this trust domain's keys are held: a token of another would not
  // have verified, but its subject is checked all the same.
  if (!claims->subject.starts_with(snapshot->trust_domain_id + "/")) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "JWT-SVID refused: its subject is not in this trust domain"};
  }
  response->set_spiffe_id(claims->subject);
  auto& fields = *response->mutable_claims()->mutable_fields();
  fields["sub"].set_string_value(claims->subject);
  auto* aud = fields["aud"].mutable_list_value();
  for (const std::string& a : claims->audience) aud->add_values()->set_string_value(a);
  fields["exp"].set_number_value(static_cast<double>(claims->expires_at));
  if (claims->issued_at != 0) fields["iat"].set_number_value(static_cast<double>(claims->issued_at));
  return grpc::Status::OK;
}

}  // namespace mayfly::agent
