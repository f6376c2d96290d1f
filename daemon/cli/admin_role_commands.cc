// `mayfly-ca admin create | list | revoke`: admin credentials and their roles.
// The key is generated here and only a CSR travels, so the daemon never
// holds an admin's private key.
#include <iostream>

#include "admin_client.h"
#include "commands.h"
#include "mayfly/csr.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "table.h"

namespace mayfly::cli {
namespace {

namespace json = boost::json;

// The role names the API accepts; checked here too so a typo fails before a
// key is generated, naming the flag.
bool KnownRole(const std::string& role) { return role == "viewer" || role == "operator" || role == "admin"; }

// Writes DIR/admin.pem (certificate + chain, as `mayfly-ca init` lays out the
// first admin credential) and DIR/admin.key (0600).
Result<void> WriteCredential(const std::string& dir, const EVP_PKEY* key, const json::object& answer) {
  if (auto r = EnsureDirectory(dir, 0700); !r) return WithContext(r.error(), "--out " + dir);
  const std::string chain = JsonString(answer, "certificate") + JsonString(answer, "chain");
  if (auto r = WriteFileAtomic(dir + "/admin.pem", chain, 0644); !r) return r;
  return SaveKeyFile(dir + "/admin.key", key, std::nullopt);
}

int CreateAdmin(const GlobalOptions& global, const std::string& name, const std::string& role,
                const std::string& ttl, const std::string& out) {
  if (!KnownRole(role)) return Fail("--role: expected viewer, operator or admin, got \"" + role + "\"");
  if (out.empty()) return Fail("--out: expected a directory for admin.pem and admin.key");
  auto key = GenerateKey(KeyType::kEcdsaP256);
  if (!key) return Fail(key.error().message);
  auto csr = MakeCsrPem(key->get(), {}, {}, {});
  if (!csr) return Fail(csr.error().message);
  json::object body{{"name", name}, {"role", role}, {"csr", *csr}};
  if (!ttl.empty()) body["ttl"] = ttl;
  auto client = AdminClient::Connect(global);
  if (!client) return Fail(client.error().message);
  auto answer = client->Call("POST", "/v1/admin/admins", json::value(body));
  if (!answer) return Fail(InFlagTerms(answer.error().message, {{"name", "--name"}, {"ttl", "--ttl"}}));
  if (!answer->is_object()) return Fail("the daemon answered without a certificate");
  const json::object& r = answer->as_object();
  if (auto w = WriteCredential(out, key->get(), r); !w) return Fail(w.error().ToString());
  std::cout << "Admin " << name << " (" << JsonString(r, "role") << "), serial " << JsonString(r, "serial")
            << ", expires " << JsonString(r, "not_after") << ":\n  " << out << "/admin.pem\n  " << out
            << "/admin.key\n";
  return 0;
}

void PrintAdmins(const json::object& r) {
  Table table({"NAME", "ROLE", "CREATED", "REVOKED"});
  if (const auto* admins = r.if_contains("admins"); admins != nullptr && admins->is_array()) {
    for (const auto& a : admins->as_array()) {
      const auto& o = a.as_object();
      table.AddRow({JsonString(o, "name"), JsonString(o, "role"), JsonString(o, "created_at"),
                    JsonString(o, "revoked_at")});
    }
  }
  table.Print(std::cout);
}

}  // namespace

void AddAdminRoleCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* admin = app.add_subcommand("admin", "Admin credentials and their roles");
  admin->require_subcommand(1);
  struct CreateArgs {
    std::string name, role, ttl, out;
  };
  auto args = std::make_shared<CreateArgs>();
  auto* create = admin->add_subcommand("create", "Create an admin credential (key generated here)");
  create->add_option("--name", args->name, "Admin name")->required();
  create->add_option("--role", args->role, "viewer, operator or admin")->required();
  create->add_option("--ttl", args->ttl, "Certificate lifetime");
  create->add_option("--out", args->out, "Directory for admin.pem and admin.key")->required();
  create->callback([&global, &action, args] {
    action = [&global, args] { return CreateAdmin(global, args->name, args->role, args->ttl, args->out); };
  });
  auto* list = admin->add_subcommand("list", "List admin names and roles");
  list->callback([&global, &action] {
    action = [&global] { return RunAdminCall(global, "GET", "/v1/admin/admins", std::nullopt, PrintAdmins); };
  });
  auto name = std::make_shared<std::string>();
  auto* revoke = admin->add_subcommand("revoke", "Revoke an admin name and its certificates");
  revoke->add_option("--name", *name, "Admin name")->required();
  revoke->callback([&global, &action, name] {
    action = [&global, name] {
      return RunAdminCall(global, "POST", "/v1/admin/admins/revoke", json::value(json::object{{"name", *name}}),
                          [&](const json::object& r) {
                            std::cout << "Revoked admin " << *name << " and " << JsonString(r, "revoked")
                                      << " certificate(s)\n";
                          });
    };
  });
}

}  // namespace mayfly::cli
