// The Workload API's calls. Streams poll the snapshot board and the call's
// cancellation in short waits: the synchronous gRPC API has no other way to
// learn that a client went.
#include "workload_api_service.h"

#include <spdlog/spdlog.h>

#include <charconv>

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
                  auto entries = EntriesFor(snapshot, caller);
                  if (entries.empty() && snapshot.entries_known) return NoIdentity();
                  if (entries.empty() || snapshot.trust_domain_id.empty()) return grpc::Status::OK;
                  (*response.mutable_bundles())[snapshot.trust_domain_id] = snapshot.bundle_der;
                  for (const std::string& crl : snapshot.crls_der) response.add_crl(crl);
                  key = VersionKey(snapshot, {});
                  return grpc::Status::OK;
                });
}

// JWT-SVIDs need the CA's POST /v1/jwt and JWT bundle; until this agent
// speaks them the calls say so instead of answering empty.
grpc::Status WorkloadApiService::FetchJWTSVID(grpc::ServerContext* context, const JWTSVIDRequest*,
                                              JWTSVIDResponse*) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return {grpc::StatusCode::UNIMPLEMENTED, "JWT-SVIDs are not served by this agent yet; use X.509-SVIDs"};
}

grpc::Status WorkloadApiService::FetchJWTBundles(grpc::ServerContext* context, const JWTBundlesRequest*,
                                                 grpc::ServerWriter<JWTBundlesResponse>*) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return {grpc::StatusCode::UNIMPLEMENTED, "JWT bundles are not served by this agent yet; use X.509 bundles"};
}

grpc::Status WorkloadApiService::ValidateJWTSVID(grpc::ServerContext* context, const ValidateJWTSVIDRequest*,
                                                 ValidateJWTSVIDResponse*) {
  CallerFacts caller;
  if (grpc::Status s = Admit(context, caller); !s.ok()) return s;
  return {grpc::StatusCode::UNIMPLEMENTED, "JWT-SVID validation is not served by this agent yet"};
}

}  // namespace mayfly::agent
