// The store named by ca.toml's [store]: which backend, opened how.
#include "mayfly/sqlite_store.h"
#include "mayfly/store.h"

namespace mayfly {

Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options) {
  auto store = SqliteStore::Open(options.sqlite_path);
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace mayfly
