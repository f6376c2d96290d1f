// The identities the Workload API serves: the node's selector entries, an
// X.509-SVID and its key per entry, the trust bundle and CRLs. A keeper
// thread fetches and renews them; the gRPC handlers read the published
// snapshot and wait for the next one.
//
// The keys live here, in the memory of the Workload API process, only:
// never written to disk, never logged.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent_ca_client.h"
#include "agent_cert_check.h"
#include "agent_config.h"
#include "agent_servers.h"
#include "agent_state.h"
#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/jwt_svid.h"

namespace mayfly::agent {

// One entry of GET /v1/node/entries.
struct NodeEntry {
  std::string id;
  std::string spiffe_id;
  std::vector<std::string> selectors;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  Duration ttl{};

  bool operator==(const NodeEntry&) const = default;
};

// Parses the body of GET /v1/node/entries. kInvalidArgument naming what is
// malformed.
[[nodiscard]] Result<std::vector<NodeEntry>> ParseNodeEntries(const std::string& body);

// PKCS#8 DER of a private key, wiped when it goes.
struct KeyDer {
  std::string der;
  KeyDer() = default;
  explicit KeyDer(std::string bytes) : der(std::move(bytes)) {}
  KeyDer(const KeyDer&) = delete;
  KeyDer& operator=(const KeyDer&) = delete;
  ~KeyDer();
};

// An issued X.509-SVID, as the Workload API hands it out.
struct Svid {
  std::string entry_id;
  std::string spiffe_id;
  std::string chain_der;  // leaf then intermediates, DER concatenated
  std::shared_ptr<const KeyDer> key;
  std::string serial;
};

struct IdentitySnapshot {
  uint64_t version = 0;
  // False until the first answer of /v1/node/entries: until then no caller
  // can be told it has no identity.
  bool entries_known = false;
  std::vector<NodeEntry> entries;               // the node's selector entries
  std::map<std::string, Svid> svids;            // by entry id; an entry may have none yet
  std::string trust_domain_id;                  // "spiffe://example.org"; "" before the node enrolled
  std::string bundle_der;                       // the trusted roots, DER concatenated
  std::vector<std::string> crls_der;
  // The CA's JWT authorities (GET /v1/bundle?format=spiffe); null until
  // first fetched.
  std::shared_ptr<const JwtAuthorities> jwt_authorities;
  // The node certificate (PEM chain), its key and the trusted roots (PEM)
  // as the keeper last took them from state_dir, a matching pair only: what
  // asks the CA on the node's behalf. Empty and null before the node enrolled.
  std::string node_pem;
  std::shared_ptr<const EVP_PKEY> node_key;
  std::string trust_pem;
};

// The latest snapshot and its waiters. Thread-safe.
class IdentityBoard {
 public:
  IdentityBoard() : current_(std::make_shared<IdentitySnapshot>()) {}
  std::shared_ptr<const IdentitySnapshot> Current() const;
  // Makes `next` current with the next version and wakes every waiter.
  void Publish(IdentitySnapshot next);
  // The current snapshot once its version is past `seen`, or after
  // `timeout` (then possibly still `seen`), or once closed.
  std::shared_ptr<const IdentitySnapshot> WaitNewer(uint64_t seen, std::chrono::milliseconds timeout) const;
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::shared_ptr<const IdentitySnapshot> current_;
  bool closed_ = false;
};

// Keeps the snapshot current. Step() is the keeper thread's whole job:
// it re-reads the node certificate, trusted roots and CRL that the agent's
// passes keep in state_dir, fetches the entries every `refresh` (ETag),
// issues an SVID for an entry that has none, is due (renew_at of its
// lifetime, with jitter, as file workloads), is listed in the CRL or whose
// chain no longer verifies, and publishes when anything changed. A failed
// issuance keeps the SVID it replaces and is retried with backoff. Not
// thread-safe: one keeper thread.
class IdentityKeeper {
 public:
  IdentityKeeper(const AgentConfig& config, const Clock& clock, IdentityBoard& board);
  // One step; returns when the next is due.
  TimePoint Step();

 private:
  struct Held {
    NodeEntry entry;
    HeldCert cert;
    Svid svid;
    TimePoint due;
  };
  bool ReloadFiles();
  bool RefreshEntries(TimePoint now);
  // The JWT authorities, every `refresh` and at once when the roots change
  // (a rotation); true when they changed.
  bool RefreshJwtAuthorities(TimePoint now, bool roots_changed);
  bool EnsureSvids(TimePoint now, bool recheck_chains);
  Result<Held> Issue(const NodeEntry& entry);
  void Publish();

  AgentConfig config_;
  const Clock& clock_;
  IdentityBoard& board_;
  StatePaths paths_;
  ServerPool servers_;
  std::optional<CaClient> client_;
  std::string node_pem_;
  std::shared_ptr<const EVP_PKEY> node_key_;  // shared with the snapshots
  std::string trust_pem_;
  std::string crl_pem_;
  std::set<std::string> revoked_;
  std::string entries_etag_;
  TimePoint next_entries_{};
  int entry_failures_ = 0;
  bool entries_known_ = false;
  std::vector<NodeEntry> entries_;
  std::string jwt_etag_;
  TimePoint next_jwt_{};
  std::shared_ptr<const JwtAuthorities> jwt_authorities_;
  std::map<std::string, Held> held_;           // by entry id
  std::map<std::string, TimePoint> retry_at_;  // by entry id, after a failed issuance
  std::map<std::string, int> failures_;        // by entry id
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace mayfly::agent
