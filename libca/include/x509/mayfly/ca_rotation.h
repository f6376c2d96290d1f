// The CA rotation state machine: which step applies to which CA records now
// (prepare, activate, retire, rotate --now, the JWT signing key, the
// automatic schedule), and the records each step changes. docs/rotation.md
// explains the states. A step is made here and saved by its caller (the
// daemon's CaRuntime, with its audit event); nothing here reads the store,
// locks or logs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mayfly/ca_certs.h"
#include "mayfly/ca_view.h"
#include "mayfly/clock.h"
#include "mayfly/duration.h"
#include "mayfly/error.h"
#include "mayfly/store_records.h"

namespace mayfly {

// Where a step's new keys go: encrypted files in the state directory, or
// with keys_in_store the record itself (key_pem), so that every instance on
// a shared database can load them. Files written by a step are removed
// again unless the step is saved (Keep).
class KeyFiles {
 public:
  KeyFiles(std::string dir, bool keys_in_store) : dir_(std::move(dir)), in_store_(keys_in_store) {}
  ~KeyFiles();
  KeyFiles(KeyFiles&& other) noexcept;
  KeyFiles(const KeyFiles&) = delete;
  KeyFiles& operator=(const KeyFiles&) = delete;
  KeyFiles& operator=(KeyFiles&&) = delete;

  // Saves `key` encrypted, in record.key_pem or as the file
  // "<role>-<first 16 hex of key_id>.key" named by record.key_file.
  [[nodiscard]] Result<void> Save(CaCertRecord& record, const EVP_PKEY* key, const Passphrase& passphrase);
  // The step was saved: its key files stay.
  void Keep() { kept_ = true; }

 private:
  std::string dir_;
  bool in_store_;
  std::vector<std::string> written_;
  bool kept_ = false;
};

// What a step needs besides the CA records: the configuration of new CA
// certificates and keys, and the time.
struct RotationOptions {
  const Clock* clock = nullptr;
  std::string state_dir;        // where CA key files are read (LoadCaKey) and new ones written
  std::string passphrase_file;  // read only when a step loads or makes a key
  bool keys_in_store = false;   // new keys go into their records (key_pem), not files
  std::string key_type;         // [ca] key_type, parsed when a step makes a CA key
  std::string trust_domain;
  Duration root_ttl{};
  Duration intermediate_ttl{};
  NameConstraintsSpec constraints;
  // [jwt] max_ttl: how long a retiring JWT key may still have signed tokens.
  Duration jwt_max_ttl{};
  // The next CRL number (the store's counter); called only by steps that
  // sign a root CRL.
  std::function<Result<int64_t>()> next_crl_number;
};

// One rotation step: the records it adds or changes, its audit event
// (time, type, actor, subject, result, detail) and what it says it did.
// `keys` removes the key files the step wrote unless Keep() is called once
// the step is saved.
struct RotationStep {
  std::vector<CaCertRecord> changed;
  AuditEvent event;
  std::string message;
  KeyFiles keys;
};

// Prepare: a new intermediate (with its JWT key) under the active root, or
// with `root` a new root, a cross certificate of it by the active root, and
// the intermediate under the new root; all prepared. kConflict when an
// intermediate is already prepared.
[[nodiscard]] Result<RotationStep> PrepareStep(const CaView& view, bool root, const std::string& actor,
                                               const RotationOptions& options);

// Activate: the newest prepared intermediate (with its JWT key, and the root
// and cross certificate prepared with it) becomes active; the ones it
// replaces start retiring. kConflict when nothing is prepared.
[[nodiscard]] Result<RotationStep> ActivateStep(const CaView& view, const std::string& actor,
                                                const RotationOptions& options);

// Retire: retiring intermediates with no live leaves (`live_leaves`: the
// count of unexpired leaves by issuer key id) or expired, retiring JWT keys
// whose tokens have expired, retiring roots no published intermediate
// depends on (with their cross certificates). The message names what is
// still blocked. kConflict when nothing can be retired.
[[nodiscard]] Result<RotationStep> RetireStep(const CaView& view, const std::map<std::string, int64_t>& live_leaves,
                                              const std::string& actor, const RotationOptions& options);

// Rotate now: a fresh intermediate under the active root, active at once;
// the old one retires, or with `revoke_old` is revoked at its root's CRL
// (which the step re-signs) and its JWT key leaves the bundle.
[[nodiscard]] Result<RotationStep> RotateNowStep(const CaView& view, bool revoke_old, const std::string& actor,
                                                 const RotationOptions& options);

// A JWT signing key for the active intermediate, active at once: for a view
// without an active JWT key.
[[nodiscard]] Result<RotationStep> JwtKeyStep(const CaView& view, const RotationOptions& options);

// What the automatic schedule ([ca] rotate_before) does now.
enum class AutomaticRotation {
  kRootExpiring,  // the active root expires within rotate_before: nothing (an operator rotates it)
  kPrepare,
  kActivate,
  kRetire,        // retire what can be retired, if anything
};
AutomaticRotation NextAutomaticStep(const CaView& view, Duration rotate_before, TimePoint now);

}  // namespace mayfly
