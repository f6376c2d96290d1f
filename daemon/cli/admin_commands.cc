// `mayfly-ca token | entry | revoke | certs | audit | crl`: the admin API from
// the command line. Tables for people, the API's JSON with --json.
#include <iostream>

#include "admin_client.h"
#include "commands.h"
#include "mayfly/net/client.h"
#include "table.h"

namespace mayfly::cli {
namespace {

namespace json = boost::json;

std::string Join(const json::value* v) {
  if (v == nullptr || !v->is_array()) return "";
  std::string out;
  for (const auto& item : v->as_array()) {
    if (!out.empty()) out += ",";
    out += item.is_string() ? std::string(item.as_string()) : json::serialize(item);
  }
  return out;
}

void AddToken(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* token = app.add_subcommand("token", "Join tokens for enrolling nodes");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "Create a one-time join token bound to a node name");
  auto node = std::make_shared<std::string>();
  auto ttl = std::make_shared<std::string>();
  create->add_option("--node", *node, "Node name the token enrolls")->required();
  create->add_option("--ttl", *ttl, "Token lifetime (default 1h)");
  create->callback([&global, &action, node, ttl] {
    action = [&global, node, ttl] {
      json::object body{{"node", *node}};
      if (!ttl->empty()) body["ttl"] = *ttl;
      return RunAdminCall(global, "POST", "/v1/admin/tokens", json::value(body), [&](const json::object& r) {
        std::cout << "Join token for node " << *node << " (single use, expires " << JsonString(r, "expires_at")
                  << "):\n" << JsonString(r, "token") << "\nca_fingerprint = \"" << JsonString(r, "ca_fingerprint")
                  << "\"\n";
      }, {{"node", "--node"}, {"ttl", "--ttl"}});
    };
  });
}

void PrintEntries(const json::object& r) {
  Table table({"ID", "SPIFFE ID", "NODE", "DNS", "IPS", "TTL", "SOURCE", "SELECTORS"});
  if (const auto* entries = r.if_contains("entries"); entries != nullptr && entries->is_array()) {
    for (const auto& e : entries->as_array()) {
      const auto& o = e.as_object();
      table.AddRow({JsonString(o, "id"), JsonString(o, "spiffe_id"), JsonString(o, "node"),
                    Join(o.if_contains("dns")), Join(o.if_contains("ips")), JsonString(o, "ttl"),
                    JsonString(o, "source"), Join(o.if_contains("selectors"))});
    }
  }
  table.Print(std::cout);
}

void AddEntry(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* entry = app.add_subcommand("entry", "Registration entries: who may get which identity");
  entry->require_subcommand(1);
  struct AddArgs {
    std::string spiffe_id, node, ttl;
    std::vector<std::string> dns, ips, selectors;
  };
  auto args = std::make_shared<AddArgs>();
  auto* add = entry->add_subcommand("add", "Allow a node (name or glob) to get a SPIFFE ID");
  add->add_option("--spiffe-id", args->spiffe_id, "The workload's SPIFFE ID")->required();
  add->add_option("--node", args->node, "Node name or glob allowed to request it")->required();
  add->add_option("--dns", args->dns, "DNS name the certificate may carry (repeatable)");
  add->add_option("--ip", args->ips, "IP address the certificate may carry (repeatable)");
  add->add_option("--ttl", args->ttl, "Maximum certificate lifetime");
  add->add_option("--selector", args->selectors,
                  "Workload selector, e.g. unix:uid:1000 (repeatable; all must match)");
  add->callback([&global, &action, args] {
    action = [&global, args] {
      json::object body{{"spiffe_id", args->spiffe_id}, {"node", args->node}};
      body["dns"] = json::value_from(args->dns);
      body["ips"] = json::value_from(args->ips);
      body["selectors"] = json::value_from(args->selectors);
      if (!args->ttl.empty()) body["ttl"] = args->ttl;
      return RunAdminCall(global, "POST", "/v1/admin/entries", json::value(body), [](const json::object& r) {
        std::cout << "Added entry " << JsonString(r, "id") << " for " << JsonString(r, "spiffe_id") << "\n";
      });
    };
  });
  auto* list = entry->add_subcommand("list", "List registration entries (from ca.toml and the API)");
  list->callback([&global, &action] {
    action = [&global] { return RunAdminCall(global, "GET", "/v1/admin/entries", std::nullopt, PrintEntries); };
  });
  auto id = std::make_shared<std::string>();
  auto* rm = entry->add_subcommand("rm", "Remove an entry added through the API");
  rm->add_option("ID", *id, "Entry id (see entry list)")->required();
  rm->callback([&global, &action, id] {
    action = [&global, id] {
      return RunAdminCall(global, "DELETE", "/v1/admin/entries" + Query({{"id", *id}}), std::nullopt,
                     [&](const json::object&) { std::cout << "Removed entry " << *id << "\n"; });
    };
  });
}

void AddRevoke(CLI::App& app, const GlobalOptions& global, Action& action) {
  struct Args {
    std::string serial, spiffe_id, node, reason;
  };
  auto args = std::make_shared<Args>();
  auto* revoke = app.add_subcommand("revoke", "Revoke certificates by serial, SPIFFE ID or node");
  auto* s = revoke->add_option("--serial", args->serial, "Certificate serial (hex)");
  auto* i = revoke->add_option("--spiffe-id", args->spiffe_id, "Every unexpired certificate of this ID");
  auto* n = revoke->add_option("--node", args->node, "The node and everything issued through it; bans the node");
  s->excludes(i)->excludes(n);
  i->excludes(n);
  revoke->add_option("--reason", args->reason, "keyCompromise, superseded, cessationOfOperation, ...");
  revoke->callback([&global, &action, args] {
    action = [&global, args] {
      json::object body;
      if (!args->serial.empty()) body["serial"] = args->serial;
      if (!args->spiffe_id.empty()) body["spiffe_id"] = args->spiffe_id;
      if (!args->node.empty()) body["node"] = args->node;
      if (body.empty()) return Fail("revoke needs one of --serial, --spiffe-id or --node");
      if (!args->reason.empty()) body["reason"] = args->reason;
      return RunAdminCall(global, "POST", "/v1/admin/revoke", json::value(body), [](const json::object& r) {
        std::cout << "Revoked " << JsonString(r, "revoked") << " certificate(s)\n";
        if (const auto* serials = r.if_contains("serials"); serials != nullptr && serials->is_array()) {
          for (const auto& serial : serials->as_array()) std::cout << "  " << std::string(serial.as_string()) << "\n";
        }
      });
    };
  });
}

void AddCerts(CLI::App& app, const GlobalOptions& global, Action& action) {
  struct Args {
    std::string spiffe_id, node, status, limit, cursor;
  };
  auto args = std::make_shared<Args>();
  auto* certs = app.add_subcommand("certs", "List issued certificates, newest first");
  certs->add_option("--spiffe-id", args->spiffe_id, "Only this SPIFFE ID");
  certs->add_option("--node", args->node, "Only certificates issued to or through this node");
  certs->add_option("--status", args->status, "valid, revoked or expired")
      ->check(CLI::IsMember({"valid", "revoked", "expired"}));
  certs->add_option("--limit", args->limit, "Page size (default 100, at most 1000)");
  certs->add_option("--cursor", args->cursor, "Continue after a previous page");
  certs->callback([&global, &action, args] {
    action = [&global, args] {
      std::string target = "/v1/admin/certs" + Query({{"spiffe_id", args->spiffe_id}, {"node", args->node},
                                                      {"status", args->status}, {"limit", args->limit},
                                                      {"cursor", args->cursor}});
      return RunAdminCall(global, "GET", target, std::nullopt, [](const json::object& r) {
        Table table({"SERIAL", "SPIFFE ID", "NODE", "KIND", "NOT AFTER", "STATUS"});
        if (const auto* list = r.if_contains("certificates"); list != nullptr && list->is_array()) {
          for (const auto& c : list->as_array()) {
            const auto& o = c.as_object();
            table.AddRow({JsonString(o, "serial"), JsonString(o, "spiffe_id"), JsonString(o, "node"),
                          JsonString(o, "kind"), JsonString(o, "not_after"), JsonString(o, "status")});
          }
        }
        table.Print(std::cout);
        if (auto next = JsonString(r, "next_cursor"); !next.empty()) std::cout << "(more: --cursor " << next << ")\n";
      });
    };
  });
}

void AddAudit(CLI::App& app, const GlobalOptions& global, Action& action) {
  struct Args {
    std::string since, limit;
  };
  auto args = std::make_shared<Args>();
  auto* audit = app.add_subcommand("audit", "Audit events, newest first");
  auto* verify = audit->add_subcommand("verify", "Check the audit hash chain; exit 1 when it is broken");
  verify->callback([&global, &action] {
    action = [&global] {
      auto client = AdminClient::Connect(global);
      if (!client) return Fail(client.error().message);
      auto answer = client->Call("GET", "/v1/admin/audit/verify", std::nullopt);
      if (!answer) return Fail(answer.error().message);
      const json::object* r = answer->if_object();
      const bool intact = r != nullptr && r->contains("intact") && r->at("intact").is_bool() &&
                          r->at("intact").as_bool();
      if (global.json) {
        std::cout << json::serialize(*answer) << "\n";
      } else if (intact) {
        std::cout << "audit chain intact: " << JsonString(*r, "events") << " events\n";
      } else if (r == nullptr) {
        return Fail("the daemon's answer to /v1/admin/audit/verify is not a JSON object");
      } else {
        return Fail("audit chain broken at event " + JsonString(*r, "first_bad_id") +
                    ": it, or an event just before it, was altered, inserted or deleted (" +
                    JsonString(*r, "events") + " events read)");
      }
      return intact ? 0 : 1;
    };
  });
  audit->add_option("--since", args->since, "RFC 3339 time, e.g. 2026-11-26T00:00:00Z");
  audit->add_option("--limit", args->limit, "How many events (default 100)");
  audit->callback([&global, &action, args, verify] {
    if (verify->parsed()) return;  // `audit verify` set its own action
    action = [&global, args] {
      return RunAdminCall(global, "GET", "/v1/admin/audit" + Query({{"since", args->since}, {"limit", args->limit}}),
                     std::nullopt, [](const json::object& r) {
                       Table table({"ID", "TIME", "TYPE", "ACTOR", "SUBJECT", "RESULT"});
                       if (const auto* events = r.if_contains("events"); events != nullptr && events->is_array()) {
                         for (const auto& e : events->as_array()) {
                           const auto& o = e.as_object();
                           table.AddRow({JsonString(o, "id"), JsonString(o, "time"), JsonString(o, "type"),
                                         JsonString(o, "actor"), JsonString(o, "subject"), JsonString(o, "result")});
                         }
                       }
                       table.Print(std::cout);
                     });
    };
  });
}

void AddCrl(CLI::App& app, const GlobalOptions& global, Action& action) {
  auto* crl = app.add_subcommand("crl", "Print the current CRLs (PEM: each published intermediate's, then each root's)");
  crl->callback([&global, &action] {
    action = [&global] {
      auto client = AdminClient::Connect(global);
      if (!client) return Fail(client.error().message);
      auto pem = client->Get("/v1/crl?format=pem");
      if (!pem) return Fail(pem.error().message);
      if (global.json) {
        std::cout << boost::json::serialize(json::object{{"crl_pem", *pem}}) << "\n";
      } else {
        std::cout << *pem;
      }
      return 0;
    };
  });
}

}  // namespace

void AddAdminCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
  AddToken(app, global, action);
  AddEntry(app, global, action);
  AddRevoke(app, global, action);
  AddCerts(app, global, action);
  AddAudit(app, global, action);
  AddCrl(app, global, action);
}

}  // namespace mayfly::cli
