// Typed reading of one TOML config table, with errors that name file, key and line.
#include "mayfly/toml_reader.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <memory>
#include <sstream>

#include "mayfly/file_util.h"
#include "mayfly/identity.h"

namespace mayfly::config_internal {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// What every Read of a duration says when the value is not even a string.
constexpr std::string_view kDurationExpected =
    R"(expected a duration string like "90s", "10m", "1h" or "30d")";

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

std::string ConfigErrors::Format(const toml::source_region* where, std::string_view key,
                                 std::string_view what) const {
  std::string out = path_;
  if (where != nullptr && where->begin.line > 0) {
    out += ":" + std::to_string(where->begin.line);
  }
  out += ": ";
  out += key;
  out += ": ";
  out += what;
  return out;
}

void ConfigErrors::Invalid(const toml::source_region* where, std::string_view key,
                           std::string_view what) {
  if (!invalid_) invalid_ = Format(where, key, what);
}

void ConfigErrors::Missing(const toml::source_region* where, std::string_view key,
                           std::string_view what) {
  if (!missing_) missing_ = Format(where, key, what);
}

Result<void> ConfigErrors::status() const {
  if (invalid_) return MakeError(ErrorCode::kConfig, *invalid_);
  if (missing_) return MakeError(ErrorCode::kConfig, *missing_);
  return Ok();
}

Result<toml::table> ParseTomlFile(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    return MakeError(ErrorCode::kConfig, path + ": cannot read: " + ErrnoString(errno));
  }
  std::string text;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) text.append(buf, n);
  // A directory opens fine and fails here, with EISDIR.
  if (std::ferror(file.get())) {
    return MakeError(ErrorCode::kConfig, path + ": cannot read: " + ErrnoString(errno));
  }
  // toml++ reports syntax errors by throwing; nothing may leave libca as an
  // exception, so this is the edge where they become Errors.
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return MakeError(ErrorCode::kConfig,
                     path + ":" + std::to_string(at.line) + ": " +
                         std::string(e.description()) + " (column " +
                         std::to_string(at.column) + ")");
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kConfig, path + ": " + e.what());
  }
}

std::string Describe(const toml::node& node) {
  if (node.is_table()) return "a table";
  if (node.is_array()) return node.as_array()->empty() ? "an empty array" : "an array";
  if (const auto* text = node.as_string()) return QuoteForMessage(text->get());
  // Other scalars get their type in front so that `got integer 12` reads
  // unambiguously next to `got "12"`.
  std::ostringstream out;
  out << node.type() << ' ';
  node.visit([&out](const auto& value) { out << value; });
  return out.str();
}

TableReader::TableReader(ConfigErrors& errors, const toml::table* table,
                         std::string prefix, std::string label)
    : errors_(errors), table_(table), prefix_(std::move(prefix)), label_(std::move(label)) {}

std::string TableReader::KeyPath(std::string_view key) const {
  if (prefix_.empty()) return std::string(key);
  return prefix_ + "." + std::string(key);
}

bool TableReader::Has(std::string_view key) const {
  return table_ != nullptr && table_->contains(key);
}

const toml::node* TableReader::Node(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
    known_.emplace_back(key);
  }
  return table_ == nullptr ? nullptr : table_->get(key);
}

const toml::source_region* TableReader::Where(std::string_view key) const {
  if (table_ == nullptr) return nullptr;
  if (const toml::node* node = table_->get(key)) return &node->source();
  // The root's region says nothing useful; a [table] or [[entry]] header does.
  return prefix_.empty() ? nullptr : &table_->source();
}

void TableReader::Invalid(std::string_view key, std::string_view what) {
  errors_.Invalid(Where(key), KeyPath(key), what);
}

void TableReader::Missing(std::string_view key, std::string_view what) {
  errors_.Missing(Where(key), KeyPath(key), what);
}

void TableReader::Check(std::string_view key, bool ok, std::string_view expected) {
  if (ok || !Has(key)) return;
  Invalid(key, std::string(expected) + ", got " + Describe(*table_->get(key)));
}

void TableReader::CheckEach(std::string_view key,
                            const std::function<bool(std::string_view)>& ok,
                            std::string_view expected) {
  const toml::node* node = Node(key);
  const toml::array* array = node == nullptr ? nullptr : node->as_array();
  if (array == nullptr) return;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* text = item.as_string();
    if (text != nullptr && !ok(text->get())) {
      errors_.Invalid(&item.source(), KeyPath(key) + "[" + std::to_string(i) + "]",
                      std::string(expected) + ", got " + Describe(item));
    }
  }
}

template <typename T, typename Out>
void TableReader::ReadScalar(std::string_view key, Out& out, std::string_view expected) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  if (const auto* value = node->as<T>()) {
    out = value->get();
  } else {
    Check(key, false, expected);
  }
}

void TableReader::Read(std::string_view key, std::string& out) {
  ReadScalar<std::string>(key, out, "expected a string");
}

void TableReader::ReadNonEmpty(std::string_view key, std::string& out) {
  Read(key, out);
  Check(key, !out.empty(), "expected a non-empty string");
}

void TableReader::ReadRequired(std::string_view key, std::string& out) {
  if (!Has(key)) {
    Node(key);
    return Missing(key, "required key is missing");
  }
  ReadNonEmpty(key, out);
}

void TableReader::Read(std::string_view key, bool& out) {
  ReadScalar<bool>(key, out, "expected true or false");
}

void TableReader::Read(std::string_view key, Duration& out) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  const auto* text = node->as_string();
  if (text == nullptr) return Check(key, false, kDurationExpected);
  Result<Duration> parsed = ParseDuration(text->get());
  if (!parsed) return Invalid(key, parsed.error().message);
  out = *parsed;
}

void TableReader::ReadDurationOrOff(std::string_view key, Duration& out) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  const auto* text = node->as_string();
  if (text != nullptr && text->get() == "0s") {
    out = Duration::zero();
    return;
  }
  if (text == nullptr) return Check(key, false, std::string(kDurationExpected) + R"(, or "0s" for off)");
  Result<Duration> parsed = ParseDuration(text->get());
  if (!parsed) return Invalid(key, parsed.error().message + R"(, or "0s" for off)");
  out = *parsed;
}

void TableReader::Read(std::string_view key, std::optional<Duration>& out) {
  if (!Has(key)) {
    Node(key);
    return;
  }
  Duration value{};
  Read(key, value);
  if (value != Duration{}) out = value;  // ParseDuration never yields zero
}

void TableReader::Read(std::string_view key, std::vector<std::string>& out) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) return Check(key, false, "expected an array of strings");
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (const auto* text = item.as_string()) {
      values.push_back(text->get());
    } else {
      errors_.Invalid(&item.source(), KeyPath(key) + "[" + std::to_string(i) + "]",
                      "expected a string, got " + Describe(item));
      return;
    }
  }
  out = std::move(values);
}

void TableReader::Read(std::string_view key, int& out) {
  size_t value = 0;
  if (!Has(key)) {
    Node(key);
    return;
  }
  Read(key, value);
  if (value == 0) return;  // not read: the error is recorded
  Check(key, value <= INT_MAX, "expected a positive integer of at most 2147483647");
  if (value <= INT_MAX) out = static_cast<int>(value);
}

void TableReader::Read(std::string_view key, size_t& out) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  const auto* value = node->as_integer();
  if (value == nullptr || value->get() <= 0) {
    return Check(key, false, "expected a positive integer");
  }
  out = static_cast<size_t>(value->get());
}

void TableReader::Read(std::string_view key, double& out) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  if (const auto* value = node->as_floating_point()) {
    out = value->get();
  } else if (const auto* integer = node->as_integer()) {
    out = static_cast<double>(integer->get());
  } else {
    Check(key, false, "expected a number");
  }
}

void TableReader::CheckOrder(TableReader& lo_table, std::string_view lo_key, Duration lo,
                             TableReader& hi_table, std::string_view hi_key, Duration hi,
                             Order order) {
  const bool strict = order == Order::kLess;
  if (strict ? lo < hi : lo <= hi) return;
  // Blame a key the user wrote; a default never contradicts another default.
  if (hi_table.Has(hi_key)) {
    hi_table.Check(hi_key, false,
                   std::string(strict ? "expected more than " : "expected at least ") +
                       lo_table.KeyPath(lo_key) + " (" + FormatDuration(lo) + ")");
  } else {
    lo_table.Check(lo_key, false,
                   std::string(strict ? "expected less than " : "expected at most ") +
                       hi_table.KeyPath(hi_key) + " (" + FormatDuration(hi) + ")");
  }
}

TableReader TableReader::Table(std::string_view key) {
  const toml::node* node = Node(key);
  const toml::table* table = node == nullptr ? nullptr : node->as_table();
  if (node != nullptr && table == nullptr) Check(key, false, "expected a table");
  return TableReader(errors_, table, KeyPath(key), "[" + KeyPath(key) + "]");
}

void TableReader::ForEachTable(std::string_view key,
                               const std::function<void(TableReader&)>& fn) {
  const toml::node* node = Node(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  const bool all_tables = array != nullptr && array->is_array_of_tables();
  // An empty array is an array of no tables, not a mistake.
  if (!all_tables && !(array != nullptr && array->empty())) {
    return Check(key, false, "expected an array of tables ([[" + KeyPath(key) + "]])");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableReader reader(errors_, array->get(i)->as_table(),
                       KeyPath(key) + "[" + std::to_string(i) + "]",
                       "[[" + KeyPath(key) + "]]");
    fn(reader);
    reader.Finish();
  }
}

void TableReader::Finish() {
  if (table_ == nullptr) return;
  for (const auto& [key, value] : *table_) {
    if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
    errors_.Invalid(&key.source(), KeyPath(key.str()),
                    "unknown key; known keys in " + label_ + ": " + Join(known_));
    return;
  }
}

bool IsNonEmpty(std::string_view text) { return !text.empty(); }

bool IsKeyType(std::string_view text) {
  for (std::string_view known :
       {"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096"}) {
    if (text == known) return true;
  }
  return false;
}

bool IsSpiffeIdShape(std::string_view text) {
  constexpr std::string_view kScheme = "spiffe://";
  return text.starts_with(kScheme) && text.size() > kScheme.size();
}

bool IsIpAddress(std::string_view text) { return ParseIpAddress(text).has_value(); }

bool IsCidr(std::string_view text) { return ParseCidr(text).has_value(); }

void ReadKeyType(TableReader& t, std::string& out) {
  t.Read("key_type", out);
  t.Check("key_type", IsKeyType(out), kKeyTypeExpected);
}

void ReadIps(TableReader& t, std::string_view key, std::vector<std::string>& out) {
  t.Read(key, out);
  t.CheckEach(key, IsIpAddress, "expected an IP address");
}

void ReadSpiffeId(TableReader& t, std::string& out) {
  t.ReadRequired("spiffe_id", out);
  t.Check("spiffe_id", out.empty() || IsSpiffeIdShape(out),
          R"(expected a SPIFFE ID starting with "spiffe://")");
}

}  // namespace mayfly::config_internal
