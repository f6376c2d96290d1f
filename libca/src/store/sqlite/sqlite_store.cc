// Opening the SQLite store (files, pragmas, migrations), its reader pool, and meta settings.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "mayfly/file_util.h"
#include "store_internal.h"

namespace mayfly {
namespace {

constexpr mode_t kDatabaseMode = 0600;

// Creates the database file (if missing) owner-only before SQLite opens it.
// SQLite gives its -wal and -shm files the database file's mode, so they
// follow. fchmod rather than open's mode argument: the umask filters the
// latter, and an existing file may have been created looser.
Result<void> MakePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kDatabaseMode);
  if (fd < 0) return MakeError(ErrorCode::kIo, "creating database " + path + ": " + ErrnoString(errno));
  const int rc = ::fchmod(fd, kDatabaseMode);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return MakeError(ErrorCode::kIo, "chmod " + path + ": " + ErrnoString(err));
  return Ok();
}

// Tightens WAL side files that an earlier process may have left looser.
Result<void> TightenSideFiles(const std::string& path) {
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::chmod(side.c_str(), kDatabaseMode) != 0 && errno != ENOENT) {
      return MakeError(ErrorCode::kIo, "chmod " + side + ": " + ErrnoString(errno));
    }
  }
  return Ok();
}

// journal_mode is a property of the file, so the writer sets it once; WAL
// lets readers run while the writer commits. The writer's page cache is
// larger than SQLite's 2 MiB default: each batch touches index pages all over
// (serials are random), and re-reading them costs more than keeping them.
Result<void> ConfigureWriter(Connection& conn, const std::string& path) {
  auto stmt = conn.Prepare("PRAGMA journal_mode=WAL");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "enabling WAL on " + path);
  if (!*row || stmt->Text(0) != "wal") {
    return MakeError(ErrorCode::kStore, "database " + path + " refused WAL journal mode");
  }
  return conn.Exec("PRAGMA cache_size = -16384", "sizing the page cache of " + path);
}

}  // namespace

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      Connection* conn = idle_.back().release();
      idle_.pop_back();
      return Lease(conn, Returner{this});
    }
  }
  auto conn = Connection::Open(path_, /*read_only=*/true);
  if (!conn) return std::unexpected(conn.error());
  return Lease(conn->release(), Returner{this});
}

void ReaderPool::Return(Connection* conn) {
  std::unique_ptr<Connection> owned(conn);
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(owned));
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "database path is empty");
  if (auto r = MakePrivateFile(path); !r) return std::unexpected(r.error());
  auto writer = Connection::Open(path, /*read_only=*/false);
  if (!writer) return std::unexpected(writer.error());
  if (auto r = ConfigureWriter(**writer, path); !r) return std::unexpected(r.error());
  if (auto r = TightenSideFiles(path); !r) return std::unexpected(r.error());
  auto version = MigrateSchema(**writer, path);
  if (!version) return std::unexpected(version.error());
  auto impl = std::make_unique<Impl>(path, std::move(*writer));
  impl->schema_version = *version;
  auto checkpointer = WalCheckpointer::Start(path, impl->writer->db(), impl->write_mu);
  if (!checkpointer) return std::unexpected(checkpointer.error());
  impl->checkpointer = std::move(*checkpointer);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

int SqliteStore::SchemaVersion() const { return impl_->schema_version; }

uint64_t SqliteStore::WalCheckpoints() const { return impl_->checkpointer->checkpoints(); }

uint64_t SqliteStore::WalCheckpointFailures() const { return impl_->checkpointer->failures(); }

std::vector<StoreStat> SqliteStore::Stats() const {
  return {{"mayfly_store_wal_checkpoints_total", "counter", "WAL checkpoints run (on the store's own thread).",
           WalCheckpoints()},
          {"mayfly_store_wal_checkpoint_failures_total", "counter",
           "WAL checkpoints that failed; while they fail the WAL file grows.", WalCheckpointFailures()}};
}


Result<std::optional<std::string>> SqliteStore::GetMeta(const std::string& key) {
  return impl_->Read([&](Connection& conn) -> Result<std::optional<std::string>> {
    auto stmt = conn.Prepare("SELECT value FROM meta WHERE key = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Bind(1, key).Step();
    if (!row) return WithContext(row.error(), "reading setting " + key);
    if (!*row) return std::nullopt;
    return stmt->Text(0);
  });
}

Result<void> SqliteStore::SetMeta(const std::string& key, const std::string& value) {
  return impl_->Write([&](Connection& conn) {
    return conn.Run(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        "writing setting " + key, key, value);
  });
}

}  // namespace mayfly
