// The store named by ca.toml's [store]: which backend, opened how.
#include "mayfly/postgres_store.h"
#include "mayfly/sqlite_store.h"
#include "mayfly/store.h"

namespace mayfly {

std::string_view StoreBackendName(StoreBackend backend) {
  switch (backend) {
    case StoreBackend::kSqlite: return "sqlite";
    case StoreBackend::kPostgresql: return "postgresql";
  }
  return "unknown";
}

Result<StoreBackend> ParseStoreBackend(std::string_view name) {
  for (StoreBackend backend : {StoreBackend::kSqlite, StoreBackend::kPostgresql}) {
    if (name == StoreBackendName(backend)) return backend;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown store backend \"" + std::string(name) + "\" (expected \"sqlite\" or \"postgresql\")");
}

Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options) {
  switch (options.backend) {
    case StoreBackend::kSqlite: {
      auto store = SqliteStore::Open(options.sqlite_path);
      if (!store) return std::unexpected(store.error());
      return std::unique_ptr<Store>(std::move(*store));
    }
    case StoreBackend::kPostgresql: {
      auto store = PostgresStore::Open(options.url, options.password_file);
      if (!store) return std::unexpected(store.error());
      return std::unique_ptr<Store>(std::move(*store));
    }
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown store backend");
}

}  // namespace mayfly
