// Loading and checking ca.toml, the CA daemon's configuration.
#include <charconv>

#include "mayfly/config.h"
#include "mayfly/identity.h"
#include "mayfly/postgres_store.h"
#include "mayfly/selector.h"
#include "mayfly/toml_reader.h"

namespace mayfly {
namespace {

using config_internal::TableReader;
using config_internal::IsNonEmpty;
using Order = TableReader::Order;

constexpr std::string_view kHostPortExpected =
    R"(expected "host:port" with a port from 0 to 65535 (0: any free port), like "127.0.0.1:8443" or "[::1]:8443")";

// "host:port" or "[v6]:port". Port 0 asks the kernel for a free port (the
// daemon prints the bound ports in its "ready" line). Whether the host
// resolves is the listener's business.
bool IsHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  int number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || port[0] == '-' || ec != std::errc() ||
      end != port.data() + port.size() || number < 0 || number > 65535) {
    return false;
  }
  if (host.starts_with('[') && host.ends_with(']') && host.size() > 2) {
    return config_internal::IsIpAddress(host.substr(1, host.size() - 2));
  }
  return !host.empty() && host.find_first_of("[]: ") == std::string_view::npos;
}

void ReadHostPort(TableReader& t, std::string_view key, std::string& out) {
  t.Read(key, out);
  t.Check(key, IsHostPort(out), kHostPortExpected);
}

void ReadCa(TableReader& t, CaConfig::Ca& ca) {
  config_internal::ReadKeyType(t, ca.key_type);
  t.Read("key_passphrase_file", ca.key_passphrase_file);  // "": the default places
  t.Read("root_ttl", ca.root_ttl);
  t.Read("intermediate_ttl", ca.intermediate_ttl);
  TableReader::CheckOrder(t, "intermediate_ttl", ca.intermediate_ttl, t, "root_ttl",
                          ca.root_ttl);
  // Unset: a third of the intermediate's lifetime, whatever that is.
  ca.rotate_before = Duration(-1);
  t.Read("rotate_before", ca.rotate_before);
  if (ca.rotate_before < Duration::zero()) {
    ca.rotate_before = ca.intermediate_ttl / 3;
  } else {
    TableReader::CheckOrder(t, "rotate_before", ca.rotate_before, t, "intermediate_ttl", ca.intermediate_ttl,
                            TableReader::Order::kLess);
  }
  t.Read("auto_rotate", ca.auto_rotate);
  t.Read("name_constraints", ca.name_constraints);
  t.Read("permitted_dns", ca.permitted_dns);
  t.CheckEach("permitted_dns", IsNonEmpty, "expected a DNS name or subtree like \".internal\"");
  t.Read("permitted_ips", ca.permitted_ips);
  t.CheckEach("permitted_ips", config_internal::IsCidr, "expected a CIDR like \"10.0.0.0/8\"");
}

void ReadIssuance(TableReader& t, TableReader& ca_table, CaConfig& cfg) {
  CaConfig::Issuance& is = cfg.issuance;
  t.Read("default_ttl", is.default_ttl);
  t.Read("max_ttl", is.max_ttl);
  t.Read("min_ttl", is.min_ttl);
  t.Read("node_ttl", is.node_ttl);
  t.Read("backdate", is.backdate);
  t.Read("max_token_ttl", is.max_token_ttl);
  t.ReadDurationOrOff("node_recovery_window", is.node_recovery_window);
  TableReader::CheckOrder(t, "min_ttl", is.min_ttl, t, "default_ttl", is.default_ttl);
  TableReader::CheckOrder(t, "default_ttl", is.default_ttl, t, "max_ttl", is.max_ttl);
  TableReader::CheckOrder(t, "min_ttl", is.min_ttl, t, "node_ttl", is.node_ttl);
  // A leaf never outlives its issuer, so longer lifetimes could never be honoured.
  TableReader::CheckOrder(t, "max_ttl", is.max_ttl, ca_table, "intermediate_ttl",
                          cfg.ca.intermediate_ttl);
  TableReader::CheckOrder(t, "node_ttl", is.node_ttl, ca_table, "intermediate_ttl",
                          cfg.ca.intermediate_ttl);
}

void ReadCrl(TableReader& t, CaConfig::Crl& crl) {
  t.Read("interval", crl.interval);
  t.Read("next_update", crl.next_update);
  // Regenerating only when the old CRL expires would leave verifiers with none.
  TableReader::CheckOrder(t, "interval", crl.interval, t, "next_update", crl.next_update,
                          Order::kLess);
  t.Read("url", crl.url);
  t.Check("url",
          crl.url.empty() || crl.url.starts_with("http://") || crl.url.starts_with("https://"),
          R"(expected an http:// or https:// URL like "http://ca.internal/crl")");
}

void ReadOcsp(TableReader& t, CaConfig::Ocsp& ocsp) {
  t.Read("listen", ocsp.listen);
  t.Check("listen", ocsp.listen.empty() || IsHostPort(ocsp.listen), kHostPortExpected);
  t.Read("url", ocsp.url);
  t.Check("url", ocsp.url.empty() || ocsp.url.starts_with("http://") || ocsp.url.starts_with("https://"),
          R"(expected an http:// or https:// URL like "http://ca.internal:8080/ocsp")");
  t.Read("validity", ocsp.validity);
  t.Check("validity", ocsp.validity >= std::chrono::minutes(1) && ocsp.validity <= std::chrono::days(7),
          R"(expected a duration from "1m" to "7d")");
}

void ReadJwt(TableReader& t, CaConfig::Jwt& jwt) {
  t.Read("max_ttl", jwt.max_ttl);
  t.Check("max_ttl", jwt.max_ttl >= std::chrono::seconds(10) && jwt.max_ttl <= std::chrono::hours(24),
          R"(expected a duration from "10s" to "24h")");
}

void ReadAnomaly(TableReader& t, CaConfig::Anomaly& anomaly) {
  t.Read("enabled", anomaly.enabled);
  t.Read("action", anomaly.action);
  t.Check("action", anomaly.action == "alert" || anomaly.action == "quarantine",
          R"(expected "alert" or "quarantine")");
  t.Read("window", anomaly.window);
  t.Check("window", anomaly.window >= std::chrono::minutes(1) && anomaly.window <= std::chrono::hours(24),
          R"(expected a duration from "1m" to "24h")");
  t.Read("surge_factor", anomaly.surge_factor);
  t.Check("surge_factor", anomaly.surge_factor >= 1.5 && anomaly.surge_factor <= 1000,
          "expected a number from 1.5 to 1000");
  t.Read("surge_floor", anomaly.surge_floor);
  t.ReadDurationOrOff("learning_period", anomaly.learning_period);
  t.Read("new_source_address", anomaly.new_source_address);
  t.Read("refusal_burst", anomaly.refusal_burst);
  t.Read("enroll_failure_burst", anomaly.enroll_failure_burst);
}

void ReadLimits(TableReader& t, CaConfig::Limits& limits) {
  t.Read("sign_per_node_per_minute", limits.sign_per_node_per_minute);
  t.Read("enroll_per_ip_per_minute", limits.enroll_per_ip_per_minute);
  t.Read("max_body", limits.max_body);
  t.Read("max_connections", limits.max_connections);
  t.Read("max_connections_per_ip", limits.max_connections_per_ip);
  t.Read("allow_cidrs", limits.allow_cidrs);
  t.CheckEach("allow_cidrs", config_internal::IsCidr, "expected a CIDR like \"10.0.0.0/8\"");
  t.Read("handshake_timeout", limits.handshake_timeout);
  t.Read("header_timeout", limits.header_timeout);
  t.Read("body_timeout", limits.body_timeout);
  t.Read("idle_timeout", limits.idle_timeout);
}

void ReadTls(TableReader& t, CaConfig::Tls& tls) {
  // Unquoted, 1.2 parses as a float: say how to write it rather than "a string".
  constexpr std::string_view kExpected = R"(expected "1.2" or "1.3" (quoted))";
  const toml::node* node = t.Node("min_version");
  t.Check("min_version", node == nullptr || node->is_string(), kExpected);
  t.Read("min_version", tls.min_version);
  t.Check("min_version", tls.min_version == "1.2" || tls.min_version == "1.3", kExpected);
}

void ReadStore(TableReader& t, CaConfig::Store& store) {
  t.Read("backend", store.backend);
  t.Check("backend", store.backend == "sqlite" || store.backend == "postgresql",
          R"(expected "sqlite" or "postgresql")");
  t.Read("url", store.url);
  t.Read("password_file", store.password_file);
  if (store.backend == "postgresql") {
    // A URL is checked by libpq's own parser, and may hold no password.
    if (auto r = PostgresStore::CheckUrl(store.url); !r && !store.url.empty()) t.Invalid("url", r.error().message);
    if (store.url.empty()) {
      t.Missing("url", R"(backend = "postgresql" needs a url like "postgresql://mayfly@db1,db2/mayfly")");
    }
    if (store.password_file.empty()) {
      t.Missing("password_file", R"(backend = "postgresql" needs a password_file holding the database password)");
    }
  } else {
    for (std::string_view key : {"url", "password_file"}) {
      if (t.Has(key)) t.Invalid(key, R"(only used with backend = "postgresql")");
    }
  }
}

void ReadEntry(TableReader& t, const CaConfig::Issuance& issuance, EntryConfig& entry) {
  config_internal::ReadSpiffeId(t, entry.spiffe_id);
  t.ReadRequired("node", entry.node);
  t.Read("dns", entry.dns);
  t.CheckEach("dns", IsNonEmpty, "expected a DNS name");
  config_internal::ReadIps(t, "ips", entry.ips);
  t.Read("selectors", entry.selectors);
  t.CheckEach("selectors", [](std::string_view s) { return SelectorProblem(s).empty(); },
              std::string("expected a selector: ") + std::string(kSelectorForms));
  t.Read("ttl", entry.ttl);
  if (entry.ttl) {
    // Always blame the entry: it is the one asking for what [issuance] forbids.
    t.Check("ttl", *entry.ttl >= issuance.min_ttl,
            "expected at least issuance.min_ttl (" + FormatDuration(issuance.min_ttl) + ")");
    t.Check("ttl", *entry.ttl <= issuance.max_ttl,
            "expected at most issuance.max_ttl (" + FormatDuration(issuance.max_ttl) + ")");
  }
}

void ReadCaFile(TableReader& root, CaConfig& cfg) {
  root.ReadRequired("trust_domain", cfg.trust_domain);
  // The identity module's rules, so the daemon cannot later refuse what loaded.
  Result<void> td = ValidateTrustDomain(cfg.trust_domain);
  if (!td && !cfg.trust_domain.empty()) root.Invalid("trust_domain", td.error().message);
  root.ReadNonEmpty("state_dir", cfg.state_dir);
  ReadHostPort(root, "listen", cfg.listen);
  root.Read("server_names", cfg.server_names);
  root.Check("server_names", !cfg.server_names.empty(),
             "expected at least one DNS name or IP address");
  root.CheckEach("server_names", IsNonEmpty, "expected a DNS name or IP address");
  ReadHostPort(root, "metrics_listen", cfg.metrics_listen);
  root.ReadNonEmpty("admin_socket", cfg.admin_socket);

  TableReader ca = root.Table("ca");
  ReadCa(ca, cfg.ca);
  TableReader issuance = root.Table("issuance");
  ReadIssuance(issuance, ca, cfg);
  TableReader crl = root.Table("crl");
  ReadCrl(crl, cfg.crl);
  TableReader limits = root.Table("limits");
  ReadLimits(limits, cfg.limits);
  TableReader ocsp = root.Table("ocsp");
  ReadOcsp(ocsp, cfg.ocsp);
  TableReader jwt = root.Table("jwt");
  ReadJwt(jwt, cfg.jwt);
  TableReader tls = root.Table("tls");
  ReadTls(tls, cfg.tls);
  TableReader store = root.Table("store");
  ReadStore(store, cfg.store);
  TableReader anomaly = root.Table("anomaly");
  ReadAnomaly(anomaly, cfg.anomaly);
  for (TableReader* table : {&ca, &issuance, &crl, &limits, &ocsp, &jwt, &tls, &store, &anomaly}) table->Finish();

  root.ForEachTable("entry", [&](TableReader& t) {
    ReadEntry(t, cfg.issuance, cfg.entries.emplace_back());
  });
}

}  // namespace

Result<CaConfig> LoadCaConfig(const std::string& path) {
  return config_internal::LoadConfig<CaConfig>(path, ReadCaFile);
}

}  // namespace mayfly
