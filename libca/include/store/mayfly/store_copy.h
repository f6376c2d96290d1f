// Copying a whole store from one database into an empty one and proving the
// copy (`mayfly-ca store migrate`): page by page, CA keys moved into the
// records, the audit chain checked on both sides.
#pragma once

#include <string>

#include "mayfly/error.h"
#include "mayfly/store.h"
#include "mayfly/store_transfer.h"

namespace mayfly {

// Rows per page: memory stays bounded by a page of certificates, whatever
// the store holds.
inline constexpr int kCopyPageSize = 500;

struct StoreCopyReport {
  StoreCounts counts;          // rows copied per table
  StoreCounters counters;      // CRL number, last ids, audit head
  std::string root_fingerprint;  // "sha256:<hex>" of the active root ("" when there is none)
};

// The CA certificate records of `from`, each record with a key_file holding
// that file's bytes (under `state_dir`) in key_pem: the encrypted PKCS#8 PEM
// exactly as on disk, never decrypted. kIo naming the file when one cannot be
// read; kConflict when a record's key_pem is set already and differs.
[[nodiscard]] Result<std::vector<CaCertRecord>> CaCertsWithKeys(StoreExport& from, const std::string& state_dir);

// Copies every row of `from` into `to`, ids and hashes unchanged, with the
// CA keys as CaCertsWithKeys gives them, and commits. Checks the source's
// audit chain as it goes: kConflict naming the first bad event when it does
// not verify, and kConflict when the source holds no CA certificate records
// (a CA never served). Any error leaves `to` uncommitted.
[[nodiscard]] Result<StoreCopyReport> CopyStore(StoreExport& from, const std::string& state_dir, StoreImport& to,
                                                int page_size = kCopyPageSize);

// Proves `copy` holds what CopyStore wrote from `from`: equal counts and
// counters, every row equal (CA records with their keys filled in), and
// `copy_store` (the same database, through the Store interface) verifying
// its audit chain with the same newest hash. kConflict saying what differs.
[[nodiscard]] Result<void> VerifyCopy(StoreExport& from, const std::string& state_dir, StoreExport& copy,
                                      Store& copy_store, int page_size = kCopyPageSize);

}  // namespace mayfly
