// `mayfly-ca anomalies` and `mayfly-ca node unban`: what the anomaly watch
// raised, and lifting a node's quarantine (docs/anomalies.md).
#include <iostream>

#include "admin_client.h"
#include "commands.h"
#include "table.h"

namespace mayfly::cli {
namespace {

namespace json = boost::json;

// "count=812 baseline=40.5 ..." from an anomaly's evidence object.
std::string EvidenceText(const json::object& anomaly) {
  const json::value* evidence = anomaly.if_contains("evidence");
  if (evidence == nullptr || !evidence->is_object()) return "";
  std::string out;
  for (const auto& [key, value] : evidence->as_object()) {
    if (!out.empty()) out += " ";
    out += std::string(key) + "=" + (value.is_string() ? std::string(value.as_string()) : json::serialize(value));
  }
  return out;
}

void PrintAnomalies(const json::object& r) {
  Table table({"ID", "TIME", "KIND", "NODE", "ADDRESS", "ACTION", "EVIDENCE"});
  if (const auto* list = r.if_contains("anomalies"); list != nullptr && list->is_array()) {
    for (const auto& a : list->as_array()) {
      const auto& o = a.as_object();
      table.AddRow({JsonString(o, "id"), JsonString(o, "time"), JsonString(o, "kind"), JsonString(o, "node"),
                    JsonString(o, "address"), JsonString(o, "action"), EvidenceText(o)});
    }
  }
  table.Print(std::cout);
}

}  // namespace

void AddAnomalyCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
  struct ListArgs {
    std::string since, limit;
  };
  auto args = std::make_shared<ListArgs>();
  auto* anomalies = app.add_subcommand("anomalies", "Anomalies the issuance watch raised, newest first");
  anomalies->add_option("--since", args->since, "RFC 3339 time, e.g. 2026-11-26T00:00:00Z");
  anomalies->add_option("--limit", args->limit, "How many (default 100, at most 1000)");
  anomalies->callback([&global, &action, args] {
    action = [&global, args] {
      return RunAdminCall(global, "GET",
                          "/v1/admin/anomalies" + Query({{"since", args->since}, {"limit", args->limit}}),
                          std::nullopt, PrintAnomalies);
    };
  });

  CLI::App* node = app.add_subcommand("node", "Nodes: lift an anomaly quarantine");
  node->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto* unban = node->add_subcommand("unban", "Lift a node's quarantine (its certificates were never revoked)");
  unban->add_option("NAME", *name, "Node name")->required();
  unban->callback([&global, &action, name] {
    action = [&global, name] {
      return RunAdminCall(global, "POST", "/v1/admin/nodes/unban", json::value(json::object{{"node", *name}}),
                          [&](const json::object& r) {
                            std::cout << "Lifted the quarantine of node " << *name;
                            if (auto kind = JsonString(r, "anomaly"); !kind.empty()) std::cout << " (" << kind << ")";
                            std::cout << "\n";
                          });
    };
  });
}

}  // namespace mayfly::cli
