// `mayfly-ca store migrate --to URL --password-file FILE`: copies the
// configured SQLite store into an empty PostgreSQL database (docs/ha.md,
// "Moving from SQLite"). Runs with no daemon: it holds the SQLite file
// exclusively for the whole copy.
#include <sys/stat.h>

#include <boost/json.hpp>

#include <chrono>
#include <iostream>
#include <memory>

#include "commands.h"
#include "mayfly/ca_layout.h"
#include "mayfly/config.h"
#include "mayfly/postgres_store.h"
#include "mayfly/store_copy.h"

namespace mayfly::cli {
namespace {

struct MigrateArgs {
  std::string to;
  std::string password_file;
};

// A TOML basic string: quotes and backslashes escaped.
std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void PrintSummary(const StoreCopyReport& report, const MigrateArgs& args, const std::string& source, double seconds,
                  bool json) {
  const StoreCounts& n = report.counts;
  if (json) {
    boost::json::object counts{{"certificates", n.certificates}, {"nodes", n.nodes},
                               {"join_tokens", n.join_tokens},   {"entries", n.entries},
                               {"audit_events", n.audit_events}, {"ca_certs", n.ca_certs},
                               {"meta", n.meta},                 {"admins", n.admins}};
    boost::json::object out{{"source", source},
                            {"url", args.to},
                            {"counts", std::move(counts)},
                            {"crl_number", report.counters.crl_number},
                            {"audit_head", report.counters.last_audit_hash},
                            {"root_fingerprint", report.root_fingerprint},
                            {"seconds", seconds}};
    std::cout << boost::json::serialize(out) << "\n";
    return;
  }
  std::cout << "Copied " << source << " into " << args.to << " and verified the copy in " << seconds << " s:\n"
            << "  certificates      " << n.certificates << "\n"
            << "  nodes             " << n.nodes << "\n"
            << "  join tokens       " << n.join_tokens << "\n"
            << "  entries           " << n.entries << "\n"
            << "  audit events      " << n.audit_events << " (chain verified; head "
            << (report.counters.last_audit_hash.empty() ? "none" : report.counters.last_audit_hash) << ")\n"
            << "  CA certificates   " << n.ca_certs << " (keys copied into the database, still encrypted)\n"
            << "  settings          " << n.meta << "\n"
            << "  admins            " << n.admins << "\n"
            << "  CRL number        " << report.counters.crl_number << "\n"
            << "Root fingerprint: " << (report.root_fingerprint.empty() ? "none" : report.root_fingerprint) << "\n"
            << "Now put this into ca.toml (replacing any [store] table) and start the daemon(s):\n"
            << "[store]\n"
            << "backend = \"postgresql\"\n"
            << "url = " << TomlString(args.to) << "\n"
            << "password_file = " << TomlString(args.password_file) << "\n";
}

int RunMigrate(const GlobalOptions& global, const MigrateArgs& args) {
  const auto started = std::chrono::steady_clock::now();
  auto config = LoadCaConfig(global.config);
  if (!config) return Fail(config.error().message);
  const StoreOptions source = StoreOptionsFor(*config);
  if (source.backend != StoreBackend::kSqlite) {
    return Fail(global.config + ": [store] backend is \"" + config->store.backend +
                "\" already; store migrate copies a SQLite store (backend = \"sqlite\") into PostgreSQL");
  }
  if (auto r = PostgresStore::CheckUrl(args.to); !r) return Fail("--to: " + r.error().message);
  struct stat st {};
  if (::stat(source.sqlite_path.c_str(), &st) != 0) {
    return Fail("no SQLite store at " + source.sqlite_path + " (state_dir in " + global.config +
                "); nothing to migrate");
  }

  auto from = OpenSqliteExport(source.sqlite_path);
  if (!from) return Fail(from.error().message);
  auto to = BeginPostgresImport(args.to, args.password_file);
  if (!to) return Fail(to.error().message);
  auto report = CopyStore(**from, config->state_dir, **to);
  if (!report) {
    return Fail("copying failed, and nothing was written to " + args.to +
                " (the copy is one transaction): " + report.error().message +
                ". The SQLite store is unchanged; fix that and run the same command again");
  }
  to->reset();

  const std::string redo = ". The SQLite store is unchanged; do not use this copy: drop the PostgreSQL database (or its "
                           "mayfly tables), create it empty again and run the same command again";
  auto copy = OpenPostgresExport(args.to, args.password_file);
  if (!copy) return Fail("checking the copy: " + copy.error().message + redo);
  auto copy_store = PostgresStore::Open(args.to, args.password_file);
  if (!copy_store) return Fail("checking the copy: " + copy_store.error().message + redo);
  if (auto r = VerifyCopy(**from, config->state_dir, **copy, **copy_store); !r) {
    return Fail("checking the copy: " + r.error().message + redo);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  PrintSummary(*report, args, source.sqlite_path, static_cast<double>(static_cast<int64_t>(seconds * 10)) / 10,
               global.json);
  return 0;
}

}  // namespace

void AddStoreCommands(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* store = app.add_subcommand("store", "Move the CA's database between backends");
  store->require_subcommand(1);
  auto args = std::make_shared<MigrateArgs>();
  CLI::App* migrate = store->add_subcommand(
      "migrate", "Copy the configured SQLite store into an empty PostgreSQL database (stop the daemon first)");
  migrate->add_option("--to", args->to, "libpq URL of the empty PostgreSQL database, without a password")
      ->required();
  migrate->add_option("--password-file", args->password_file,
                      "File whose first line is the database password (readable by its owner only)")
      ->required();
  migrate->callback([&global, &action, args] { action = [&global, args] { return RunMigrate(global, *args); }; });
}

}  // namespace mayfly::cli
