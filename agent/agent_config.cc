// Loading and checking agent.toml, the host agent's configuration.
#include "agent_config.h"

#include <csignal>
#include <map>
#include <set>

#include "mayfly/toml_reader.h"

namespace mayfly {
namespace {

using config_internal::TableReader;

struct SignalName {
  std::string_view name;
  int number;
};

// The signals services reload or rotate on; anything else is more likely a
// typo than a wish (KILL would take the service down at every renewal).
constexpr SignalName kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},
                                   {"TERM", SIGTERM}, {"USR1", SIGUSR1},
                                   {"USR2", SIGUSR2}, {"QUIT", SIGQUIT}};

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (Lower(c) >= 'a' && Lower(c) <= 'f');
}

// "sha256:" + 64 hex digits, or 32 hex pairs joined by colons (as openssl
// x509 -fingerprint prints them), any case -> "sha256:<64 lowercase hex>".
std::optional<std::string> NormalizeFingerprint(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() < kPrefix.size()) return std::nullopt;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (Lower(text[i]) != kPrefix[i]) return std::nullopt;
  }
  std::string_view digits = text.substr(kPrefix.size());
  const bool colons = digits.find(':') != std::string_view::npos;
  if (digits.size() != (colons ? 64 + 31 : 64)) return std::nullopt;
  std::string out(kPrefix);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (colons && i % 3 == 2) {
      if (digits[i] != ':') return std::nullopt;
    } else if (IsHex(digits[i])) {
      out += Lower(digits[i]);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// "HUP", "SIGHUP", "hup" -> the entry for HUP.
const SignalName* FindSignal(std::string_view text) {
  std::string name;
  for (char c : text) name += Upper(c);
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (const SignalName& s : kSignals) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// "user" or "user:group"; whether they exist is checked when files are written.
bool IsOwner(std::string_view text) {
  if (text.empty()) return true;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return true;
  return colon > 0 && colon + 1 < text.size() &&
         text.find(':', colon + 1) == std::string_view::npos;
}

// "0640" as a string or 0o640 as a TOML octal integer. A decimal integer is
// refused: mode = 640 would silently mean 0o1200.
void ReadMode(TableReader& t, int& out) {
  constexpr std::string_view kExpected =
      R"(expected a file mode of 3 or 4 octal digits like "0640" (or the integer 0o640))";
  const toml::node* node = t.Node("mode");
  if (node == nullptr) return;
  int mode = -1;  // stays negative unless the value is well-formed
  if (const auto* text = node->as_string()) {
    std::string_view digits = text->get();
    const bool octal = digits.find_first_not_of("01234567") == std::string_view::npos;
    if (octal && (digits.size() == 3 || digits.size() == 4)) {
      mode = 0;
      for (char c : digits) mode = mode * 8 + (c - '0');
    }
  } else if (const auto* integer = node->as_integer()) {
    const bool octal = (integer->flags() & toml::value_flags::format_as_octal) !=
                       toml::value_flags::none;
    if (octal && integer->get() <= 07777) mode = static_cast<int>(integer->get());
  }
  t.Check("mode", mode >= 0, kExpected);
  if (mode >= 0) out = mode;
}

void ReadSignal(TableReader& t, WorkloadConfig& w) {
  t.Read("signal", w.signal);
  if (w.signal.empty()) return;
  const SignalName* found = FindSignal(w.signal);
  t.Check("signal", found != nullptr, "expected one of HUP, INT, TERM, USR1, USR2, QUIT");
  if (found == nullptr) return;
  w.signal = std::string(found->name);
  w.signal_number = found->number;
}

void ReadWorkload(TableReader& t, WorkloadConfig& w) {
  config_internal::ReadSpiffeId(t, w.spiffe_id);
  t.Read("dns", w.dns);
  t.CheckEach("dns", config_internal::IsNonEmpty, "expected a DNS name");
  config_internal::ReadIps(t, "ips", w.ips);
  t.Read("ttl", w.ttl);
  t.ReadRequired("cert", w.cert);
  t.ReadRequired("key", w.key);
  t.Check("key", w.key != w.cert, "expected a different file than cert");
  config_internal::ReadKeyType(t, w.key_type);
  t.Read("owner", w.owner);
  t.Check("owner", IsOwner(w.owner), R"(expected "user" or "user:group")");
  ReadMode(t, w.mode);
  t.Read("on_renew", w.on_renew);
  ReadSignal(t, w);
  t.Read("pid_file", w.pid_file);
  if (!w.signal.empty() && w.pid_file.empty()) {
    t.Missing("pid_file", "required when signal is set (the process to signal)");
  }
  t.Check("pid_file", w.pid_file.empty() || !w.signal.empty(),
          "expected only together with signal");
}

// Two workloads writing one file would overwrite each other at every renewal.
void CheckFilesDistinct(TableReader& t, const WorkloadConfig& w,
                        std::map<std::string, std::string>& writers) {
  for (std::string_view key : {"cert", "key"}) {
    const std::string& file = key == "cert" ? w.cert : w.key;
    if (file.empty()) continue;
    auto [it, inserted] = writers.emplace(file, t.KeyPath(key));
    t.Check(key, inserted, "expected a file no other workload writes (" + it->second +
                               " writes it too)");
  }
}

bool IsHttpsUrl(std::string_view url) {
  constexpr std::string_view kHttps = "https://";
  return url.starts_with(kHttps) && url.size() > kHttps.size();
}

// "https://ca:8443/" and "https://ca:8443" are one server.
std::string_view WithoutTrailingSlash(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return url;
}

// `server = "..."` (one CA) or `servers = [...]` (several instances of one
// CA, tried in order): exactly one of them, into cfg.servers.
void ReadServers(TableReader& root, AgentConfig& cfg) {
  constexpr std::string_view kExpected = R"(expected an https:// URL like "https://ca.internal:8443")";
  root.Node("server");  // both are known keys, whichever the file uses
  root.Node("servers");
  if (root.Has("server") && root.Has("servers")) {
    return root.Invalid("servers", "expected either server or servers, not both");
  }
  if (root.Has("server")) {
    std::string server;
    root.ReadNonEmpty("server", server);
    root.Check("server", IsHttpsUrl(server), kExpected);
    cfg.servers = {server};
    return;
  }
  if (!root.Has("servers")) {
    return root.Missing("server", "required key is missing (or servers): the URL of the CA");
  }
  std::vector<std::string> servers;
  root.Read("servers", servers);
  if (root.Node("servers")->as_array() == nullptr) return;  // Read recorded the error
  root.Check("servers", !servers.empty(), R"(expected at least one URL, like ["https://ca1:8443", "https://ca2:8443"])");
  root.CheckEach("servers", IsHttpsUrl, kExpected);
  std::set<std::string_view> seen;
  root.CheckEach("servers", [&seen](std::string_view url) { return seen.insert(WithoutTrailingSlash(url)).second; },
                 "expected a server not listed before");
  cfg.servers = std::move(servers);
}

void ReadAgentFile(TableReader& root, AgentConfig& cfg) {
  ReadServers(root, cfg);

  std::string fingerprint;
  root.Read("ca_fingerprint", fingerprint);
  std::optional<std::string> normalized = NormalizeFingerprint(fingerprint);
  root.Check("ca_fingerprint", normalized.has_value(),
             R"(expected "sha256:" and 64 hex digits (colons between bytes allowed))");
  cfg.ca_fingerprint = normalized.value_or("");
  root.ReadNonEmpty("ca_bundle", cfg.ca_bundle);
  if (root.Has("ca_fingerprint") && root.Has("ca_bundle")) {
    root.Invalid("ca_bundle", "expected either ca_fingerprint or ca_bundle, not both");
  } else if (!root.Has("ca_fingerprint") && !root.Has("ca_bundle")) {
    root.Missing("ca_fingerprint",
                 "required key is missing (or ca_bundle): how to trust the CA on first contact");
  }

  root.ReadNonEmpty("join_token_file", cfg.join_token_file);
  root.ReadNonEmpty("state_dir", cfg.state_dir);
  root.ReadNonEmpty("crl_path", cfg.crl_path);
  root.ReadNonEmpty("bundle_path", cfg.bundle_path);
  root.Read("crl_on_change", cfg.crl_on_change);
  root.Check("crl_on_change", cfg.crl_on_change.empty() || !cfg.crl_path.empty(),
             "expected only together with crl_path");
  root.Read("bundle_on_change", cfg.bundle_on_change);
  root.Check("bundle_on_change", cfg.bundle_on_change.empty() || !cfg.bundle_path.empty(),
             "expected only together with bundle_path");
  root.Read("refresh", cfg.refresh);
  root.Read("renew_at", cfg.renew_at);
  // Written so that NaN fails too.
  root.Check("renew_at", cfg.renew_at > 0 && cfg.renew_at < 1,
             "expected a number strictly between 0 and 1, like 0.5");
  config_internal::ReadKeyType(root, cfg.key_type);
  root.ReadNonEmpty("workload_api_socket", cfg.workload_api_socket);
  // sun_path holds 108 bytes with the terminating NUL.
  root.Check("workload_api_socket", cfg.workload_api_socket.size() <= 107 && !cfg.workload_api_socket.ends_with('/'),
             "expected a unix socket path of at most 107 bytes, like \"/run/mayfly/agent.sock\"");

  std::map<std::string, std::string> writers;  // file -> the key that writes it
  root.ForEachTable("workload", [&](TableReader& t) {
    WorkloadConfig& w = cfg.workloads.emplace_back();
    ReadWorkload(t, w);
    CheckFilesDistinct(t, w, writers);
  });
}

}  // namespace

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  return config_internal::LoadConfig<AgentConfig>(path, ReadAgentFile);
}

}  // namespace mayfly
