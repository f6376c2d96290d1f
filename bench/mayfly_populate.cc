// mayfly-populate: fills an existing CA's database with synthetic workload
// certificate rows, so the daemon can be measured at fleet scale
// (bench/scale.sh) without issuing a million certificates. Rows are spread
// over --identities SPIFFE IDs and --nodes node names, come from the active
// intermediate, stay unexpired for a day, and --revoked of them (evenly
// spread in issue order) are recorded already revoked. The daemon must not
// be running: its caches would not see the rows until its next refresh.
#include <CLI/CLI.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "mayfly/ca_layout.h"
#include "mayfly/store.h"
#include "mayfly/x509_util.h"

namespace mayfly::populate {
namespace {

// printf-style formatting into a std::string (GCC 12 has no std::format).
template <typename... Args>
std::string Format(const char* fmt, Args... args) {
  char buf[128];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

struct Options {
  std::string state_dir;
  std::string trust_domain = "example.org";
  int64_t count = 1'000'000;
  int64_t revoked = 0;
  int identities = 1000;
  int nodes = 10'000;
  int batch = 20'000;
};

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "mayfly-populate: " << message << "\n";
  std::exit(2);
}

// The key id leaves of the active intermediate carry as their issuer: from
// the store once the daemon has recorded its CA certificates, else from the
// intermediate.pem `mayfly-ca init` wrote (the daemon imports it on start).
Result<std::string> ActiveIssuer(Store& store, const CaPaths& paths) {
  auto records = store.ListCaCerts();
  if (!records) return std::unexpected(records.error());
  for (const CaCertRecord& r : *records) {
    if (r.role == CaRole::kIntermediate && r.state == CaState::kActive) return r.key_id;
  }
  if (!records->empty()) return MakeError(ErrorCode::kNotFound, "the store has no active intermediate");
  auto cert = LoadCertFile(paths.intermediate_cert);
  if (!cert) return WithContext(cert.error(), "reading the intermediate certificate");
  return SubjectKeyIdHex(cert->get());
}

// A serial as the issuer makes them: 128 random bits, first byte non-zero,
// lowercase hex without a leading zero. Random, so the UNIQUE serial index
// sees the insertion pattern real issuance gives it.
Result<std::string> RandomSerial() {
  unsigned char bytes[16];
  do {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return MakeError(ErrorCode::kInternal, "RAND_bytes failed");
  } while (bytes[0] == 0);
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  if (hex.front() == '0') hex.erase(0, 1);
  return hex;
}

int Run(const Options& opt) {
  const CaPaths paths = CaPaths::For(opt.state_dir);
  auto store = OpenStore({.sqlite_path = paths.database});
  if (!store) Die(store.error().ToString());
  auto issuer = ActiveIssuer(**store, paths);
  if (!issuer) Die(issuer.error().ToString());

  // A DER-sized stand-in (~300 bytes, like a P-256 leaf without SANs): the
  // listing and CRL paths never parse it, but it gives rows their real size.
  std::string der(300, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(der.data()), static_cast<int>(der.size())) != 1) {
    Die("RAND_bytes failed");
  }
  der[0] = 0x30;

  // Node and identity choice only shapes the indexes; a seeded generator
  // keeps runs comparable. Serials stay cryptographically random.
  std::mt19937_64 rng(6);
  std::uniform_int_distribution<int> pick_id(0, opt.identities - 1);
  std::uniform_int_distribution<int> pick_node(0, opt.nodes - 1);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();

  const auto start = std::chrono::steady_clock::now();
  std::vector<CertRecord> batch;
  batch.reserve(opt.batch);
  std::string sample_valid;
  int64_t revoked_so_far = 0;
  for (int64_t i = 0; i < opt.count; ++i) {
    auto serial = RandomSerial();
    if (!serial) Die(serial.error().ToString());
    // A history of 100 issuances a second up to now; each valid for a day.
    const int64_t issued_at = now - (opt.count - i) / 100;
    CertRecord cert{.serial = std::move(*serial),
                    .spiffe_id = "spiffe://" + opt.trust_domain + Format("/svc/%04d", pick_id(rng)),
                    .node = Format("node-%05d", pick_node(rng)),
                    .kind = CertKind::kWorkload,
                    .issuer = *issuer,
                    .not_before = issued_at - 60,
                    .not_after = issued_at + 86'400,
                    .issued_at = issued_at,
                    .der = der};
    // Exactly `revoked` rows, evenly spread: row i is revoked when the
    // running quota (i + 1) * revoked / count steps up.
    if ((i + 1) * opt.revoked / opt.count > revoked_so_far) {
      ++revoked_so_far;
      cert.revoked_at = issued_at + 1;
      cert.reason = RevocationReason::kKeyCompromise;
    } else {
      sample_valid = cert.serial;
    }
    batch.push_back(std::move(cert));
    if (std::ssize(batch) == opt.batch || i + 1 == opt.count) {
      if (auto r = (*store)->InsertCertificates(batch); !r) Die(r.error().ToString());
      batch.clear();
      std::cerr << "\rmayfly-populate: " << i + 1 << "/" << opt.count << std::flush;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "\n";
  auto total = (*store)->CountCertificates(std::nullopt, now);
  if (!total) Die(total.error().ToString());
  // Machine-readable lines for bench/scale.sh.
  std::cout << "inserted " << opt.count << " revoked " << revoked_so_far << " seconds "
            << Format("%.1f", seconds) << " rows_per_second "
            << Format("%.0f", seconds > 0 ? static_cast<double>(opt.count) / seconds : 0.0) << "\n"
            << "total_rows " << *total << "\n"
            << "issuer " << *issuer << "\n";
  if (!sample_valid.empty()) std::cout << "valid_serial " << sample_valid << "\n";
  return 0;
}

}  // namespace
}  // namespace mayfly::populate

int main(int argc, char** argv) {
  mayfly::populate::Options opt;
  CLI::App app{"Insert synthetic certificate rows into a CA's database (the daemon must be stopped)"};
  app.add_option("--state-dir", opt.state_dir, "The CA's state_dir (holds ca.db)")->required();
  app.add_option("--count", opt.count, "Rows to insert")->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--revoked", opt.revoked, "Of which recorded revoked");
  app.add_option("--identities", opt.identities, "Distinct SPIFFE IDs (spiffe://TD/svc/NNNN)")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--nodes", opt.nodes, "Distinct node names (node-NNNNN)")->check(CLI::Range(1, 100'000));
  app.add_option("--batch", opt.batch, "Rows per transaction")->check(CLI::Range(1, 1'000'000));
  app.add_option("--trust-domain", opt.trust_domain, "Trust domain of the SPIFFE IDs");
  CLI11_PARSE(app, argc, argv);
  if (opt.revoked < 0 || opt.revoked > opt.count) {
    std::cerr << "mayfly-populate: --revoked must be between 0 and --count\n";
    return 2;
  }
  return mayfly::populate::Run(opt);
}
