// Typed reading of one TOML config table, with errors that name file, key and line.
//
// The CA's config (libca's config layer) and the agent's (agent_config.cc)
// describe their keys with it and share its shape checks. A TableReader never stops early: after a
// problem it keeps reading (so it still learns every known key) and ConfigErrors
// keeps the first problem for the final Result.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "mayfly/duration.h"
#include "mayfly/error.h"

namespace mayfly::config_internal {

// The first problem found in one config file.
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string path) : path_(std::move(path)) {}

  // A value that is there but wrong (type, value, unknown key). `where` gives
  // the line when non-null and known. Message: "<file>:<line>: <key>: <what>".
  void Invalid(const toml::source_region* where, std::string_view key,
               std::string_view what);
  // A required key that is absent. Reported only when nothing is Invalid,
  // because a misspelt key is both unknown and missing and the unknown one is
  // the cause to show.
  void Missing(const toml::source_region* where, std::string_view key,
               std::string_view what);

  [[nodiscard]] Result<void> status() const;

 private:
  std::string Format(const toml::source_region* where, std::string_view key,
                     std::string_view what) const;

  std::string path_;
  std::optional<std::string> invalid_;
  std::optional<std::string> missing_;
};

// Reads and parses `path`. kConfig "<file>: cannot read: <errno text>" or
// "<file>:<line>: <toml++ description> (column <n>)"; never throws.
[[nodiscard]] Result<toml::table> ParseTomlFile(const std::string& path);

class TableReader;

// The frame of LoadCaConfig and LoadAgentConfig: parse `path`, let `read`
// fill a Config (which has a `path` member) from the root table, refuse
// unknown top-level keys, and return the first problem or the config.
template <typename Config, typename ReadFn>
[[nodiscard]] Result<Config> LoadConfig(const std::string& path, ReadFn read);

// The keys of one table (the root, a [table] or one [[array]] element). Every
// Read* marks its key as known; an absent key leaves `out` as it was (its
// default), a present one of the wrong type or value records an error.
class TableReader {
 public:
  // `table` may be null (the table is absent: everything keeps its default).
  // `prefix` is the dotted path of the table ("" for the root, "issuance",
  // "entry[2]"); `label` names it in unknown-key messages ("[issuance]").
  TableReader(ConfigErrors& errors, const toml::table* table, std::string prefix,
              std::string label);

  void Read(std::string_view key, std::string& out);
  void Read(std::string_view key, bool& out);
  void Read(std::string_view key, Duration& out);
  void Read(std::string_view key, std::optional<Duration>& out);
  // A duration, or "0s" (zero: the feature it sets is off).
  void ReadDurationOrOff(std::string_view key, Duration& out);
  void Read(std::string_view key, std::vector<std::string>& out);
  void Read(std::string_view key, int& out);      // a positive integer
  void Read(std::string_view key, size_t& out);   // a positive integer
  // A number; an integer is accepted where it passes `ok` (checked by the caller).
  void Read(std::string_view key, double& out);

  // Read + when present, the string must not be empty.
  void ReadNonEmpty(std::string_view key, std::string& out);
  // ReadNonEmpty + the key must be present.
  void ReadRequired(std::string_view key, std::string& out);

  // Marks `key` known and returns its node, or null when absent.
  const toml::node* Node(std::string_view key);
  // When `key` is present and `ok` is false: "<key>: <expected>, got <value>".
  void Check(std::string_view key, bool ok, std::string_view expected);
  // The same for each string of an array, as "<key>[i]".
  void CheckEach(std::string_view key, const std::function<bool(std::string_view)>& ok,
                 std::string_view expected);
  // A problem with `key` in the caller's own words; at its line when present,
  // else at the table's.
  void Invalid(std::string_view key, std::string_view what);
  void Missing(std::string_view key, std::string_view what);
  bool Has(std::string_view key) const;

  // Requires lo <= hi (lo < hi when `strict`), where the keys may sit in
  // different tables; when not, blames the key that the file sets (hi first).
  enum class Order { kAtMost, kLess };
  static void CheckOrder(TableReader& lo_table, std::string_view lo_key, Duration lo,
                         TableReader& hi_table, std::string_view hi_key, Duration hi,
                         Order order = Order::kAtMost);

  // A [key] sub-table (absent: a reader that keeps every default).
  TableReader Table(std::string_view key);
  // Calls `fn` for each table of a [[key]] array, as "key[i]".
  void ForEachTable(std::string_view key, const std::function<void(TableReader&)>& fn);

  // Records the first key that no Read/Node asked for, listing the known ones.
  // Call once, after every key has been read.
  void Finish();

  // "prefix.key", or "key" at the root.
  std::string KeyPath(std::string_view key) const;

 private:
  const toml::source_region* Where(std::string_view key) const;
  // A scalar of TOML type T (std::string, bool): `expected` when of another type.
  template <typename T, typename Out>
  void ReadScalar(std::string_view key, Out& out, std::string_view expected);

  ConfigErrors& errors_;
  const toml::table* table_;
  std::string prefix_;
  std::string label_;
  std::vector<std::string> known_;
};

// "got" text for a value: "\"abc\"", "integer 12", "a table", "an empty array"...
std::string Describe(const toml::node& node);

// Shape checks shared by ca.toml and agent.toml.
inline constexpr std::string_view kKeyTypeExpected =
    "expected one of ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072, rsa-4096";
bool IsNonEmpty(std::string_view text);
bool IsKeyType(std::string_view text);
bool IsSpiffeIdShape(std::string_view text);   // starts with "spiffe://", more after it
// The identity module's parsers, as predicates for CheckEach.
bool IsIpAddress(std::string_view text);       // IPv4 or IPv6, no prefix length
bool IsCidr(std::string_view text);            // "10.0.0.0/8", "fd00::/8", or a bare address
// Reads a key_type, a list of IP addresses, and a SPIFFE ID shape check.
void ReadKeyType(TableReader& t, std::string& out);
void ReadIps(TableReader& t, std::string_view key, std::vector<std::string>& out);
void ReadSpiffeId(TableReader& t, std::string& out);

template <typename Config, typename ReadFn>
Result<Config> LoadConfig(const std::string& path, ReadFn read) {
  Result<toml::table> doc = ParseTomlFile(path);
  if (!doc) return std::unexpected(std::move(doc.error()));
  Config cfg;
  cfg.path = path;
  ConfigErrors errors(path);
  TableReader root(errors, &*doc, "", "the top level");
  read(root, cfg);
  root.Finish();
  if (Result<void> status = errors.status(); !status) {
    return std::unexpected(std::move(status.error()));
  }
  return cfg;
}

}  // namespace mayfly::config_internal
