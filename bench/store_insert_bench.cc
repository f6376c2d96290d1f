// What one certificate row costs the store, by the size of the transaction
// that commits it: a lone row pays a whole WAL commit (frames, checksums,
// fdatasync), a batch shares it. Explains why the daemon commits in groups.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mayfly/store.h"

namespace mayfly {
namespace {

CertRecord Row(int serial) {
  return {.serial = std::to_string(serial),
          .spiffe_id = "spiffe://example.org/w" + std::to_string(serial % 50),
          .node = "n" + std::to_string(serial % 20),
          .not_before = 10,
          .not_after = 2000,
          .issued_at = 10,
          .der = std::string(600, '\x30')};
}

void BM_InsertCertificates(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mayfly-store-bench-" + std::to_string(batch_size));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto store = OpenStore({.sqlite_path = (dir / "ca.db").string()});
    if (!store) {
      state.SkipWithError(store.error().ToString().c_str());
      return;
    }
    int serial = 0;
    for (auto _ : state) {
      state.PauseTiming();
      std::vector<CertRecord> batch;
      for (int i = 0; i < batch_size; ++i) batch.push_back(Row(serial++));
      state.ResumeTiming();
      if (auto r = (*store)->InsertCertificates(batch); !r) {
        state.SkipWithError(r.error().ToString().c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * batch_size);
  }
  std::filesystem::remove_all(dir);
}
// items_per_second is rows committed per second; its inverse the cost of a row.
BENCHMARK(BM_InsertCertificates)->Arg(1)->Arg(256)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace mayfly

BENCHMARK_MAIN();
