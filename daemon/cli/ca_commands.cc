// `mayfly-ca ca status | prepare | activate | retire | rotate --now`: CA
// rotation from the command line (docs/rotation.md).
#include <iostream>

#include "admin_client.h"
#include "commands.h"
#include "table.h"

namespace mayfly::cli {
namespace {

namespace json = boost::json;

void PrintStatus(const json::object& r) {
  if (auto result = JsonString(r, "result"); !result.empty()) std::cout << result << "\n\n";
  Table table({"ROLE", "STATE", "SERIAL", "SUBJECT", "NOT AFTER", "LIVE LEAVES"});
  if (const auto* cas = r.if_contains("cas"); cas != nullptr && cas->is_array()) {
    for (const auto& c : cas->as_array()) {
      const auto& o = c.as_object();
      table.AddRow({JsonString(o, "role"), JsonString(o, "state"), JsonString(o, "serial"), JsonString(o, "subject"),
                    JsonString(o, "not_after"), o.contains("leaves") ? JsonString(o, "leaves") : "-"});
    }
  }
  table.Print(std::cout);
  std::cout << "active root: " << JsonString(r, "root_fingerprint") << "\n";
}

// One `ca` subcommand posting `body` to /v1/admin/ca/<step>.
void AddStep(CLI::App* ca, const GlobalOptions& global, Action& action, const std::string& step,
             const std::string& help, std::function<json::object()> body) {
  ca->add_subcommand(step, help)->callback([&global, &action, step, body = std::move(body)] {
    action = [&global, step, body] {
      return RunAdminCall(global, "POST", "/v1/admin/ca/" + step, json::value(body()), PrintStatus);
    };
  });
}

}  // namespace

void AddCaCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* ca = app.add_subcommand("ca", "Rotate the CA's intermediates and roots without downtime");
  ca->require_subcommand(1);
  auto* status = ca->add_subcommand("status", "Each CA certificate, its state, expiry and live leaves");
  status->callback([&global, &action] {
    action = [&global] { return RunAdminCall(global, "GET", "/v1/admin/ca", std::nullopt, PrintStatus); };
  });

  auto root = std::make_shared<bool>(false);
  AddStep(ca, global, action, "prepare", "Make and publish a new intermediate (--root: a new root too), unused yet",
          [root] { return json::object{{"root", *root}}; });
  ca->get_subcommand("prepare")->add_flag("--root", *root, "Prepare a new root, its intermediate and a cross certificate");
  AddStep(ca, global, action, "activate", "Switch issuance to the prepared intermediate (and its root)",
          [] { return json::object{}; });
  AddStep(ca, global, action, "retire", "Stop publishing replaced CAs once nothing they signed is live",
          [] { return json::object{}; });

  struct RotateArgs {
    bool now = false;
    bool revoke_old = false;
  };
  auto args = std::make_shared<RotateArgs>();
  AddStep(ca, global, action, "rotate", "Emergency: a fresh intermediate active at once",
          [args] { return json::object{{"now", args->now}, {"revoke_old", args->revoke_old}}; });
  auto* rotate = ca->get_subcommand("rotate");
  rotate->add_flag("--now", args->now, "Activate a fresh intermediate now (required)")->required();
  rotate->add_flag("--revoke-old", args->revoke_old,
                   "Revoke the replaced intermediate at the root CRL: every agent re-issues at its next poll");
}

}  // namespace mayfly::cli
