// Listing certificates page by page, newest first, with an index chosen per filter.
#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

// The index whose entries answer `filter`; the rows themselves are read only
// for the page returned.
Result<std::string_view> ChooseIndex(Connection& conn, const CertFilter& filter) {
  if (filter.spiffe_id) return "certs_spiffe_id";
  if (filter.node) return "certs_node";
  if (!filter.status) return "certs_issued";
  if (*filter.status == CertStatus::kRevoked) return "certs_revoked";
  // Valid or expired: few matches are cheapest read from certs_status and
  // sorted; many are met soon by walking certs_issued down from the cursor.
  // Short-lived certificates make "valid" few and "expired" many.
  const std::string matches = "SELECT 1 FROM certificates INDEXED BY certs_status WHERE " +
                              std::string(CertStatusCondition(*filter.status));
  auto count = CountUpTo(conn, matches, kSortThreshold,
                         [&](Statement& stmt) { stmt.Bind(stmt.Param(":now"), filter.now); });
  if (!count) return WithContext(count.error(), "planning the certificate listing");
  return *count < kSortThreshold ? "certs_status" : "certs_issued";
}

// Pages in two steps: the ids from `index` alone (which holds the status
// columns), then the rows for those ids, so sorting never carries a row.
std::string ListSql(const CertFilter& filter, std::string_view index) {
  std::string ids = "SELECT id FROM certificates INDEXED BY " + std::string(index) + " WHERE id < :cursor";
  if (filter.spiffe_id) ids += " AND spiffe_id = :spiffe_id";
  if (filter.node) ids += " AND node = :node";
  if (filter.status) ids += " AND " + std::string(CertStatusCondition(*filter.status));
  ids += " ORDER BY id DESC LIMIT :limit";
  return "SELECT " + std::string(kCertColumns) + " FROM certificates WHERE id IN (" + ids +
         ") ORDER BY id DESC";
}

}  // namespace

Result<int64_t> CountUpTo(Connection& conn, std::string_view select_sql, int64_t cap,
                          const std::function<void(Statement&)>& bind) {
  auto stmt = conn.Prepare("SELECT count(*) FROM (" + std::string(select_sql) + " LIMIT :cap)");
  if (!stmt) return std::unexpected(stmt.error());
  bind(*stmt);
  auto row = stmt->Bind(stmt->Param(":cap"), cap).Step();
  if (!row) return std::unexpected(row.error());
  return stmt->Int(0);
}

std::string_view CertStatusCondition(CertStatus status) {
  switch (status) {
    case CertStatus::kValid: return "revoked_at IS NULL AND not_after > :now";
    case CertStatus::kRevoked: return "revoked_at IS NOT NULL";
    case CertStatus::kExpired: return "revoked_at IS NULL AND not_after <= :now";
  }
  return "0";
}

Result<CertPage> SqliteStore::ListCertificates(const CertFilter& filter) {
  auto cursor = ParseCertCursor(filter.cursor);
  if (!cursor) return std::unexpected(cursor.error());
  const int limit = std::clamp(filter.limit, 1, kMaxStorePage);
  return impl_->Read([&](Connection& conn) -> Result<CertPage> {
    auto index = ChooseIndex(conn, filter);
    if (!index) return std::unexpected(index.error());
    auto stmt = conn.Prepare(ListSql(filter, *index));
    if (!stmt) return std::unexpected(stmt.error());
    stmt->Bind(stmt->Param(":cursor"), *cursor);
    if (filter.spiffe_id) stmt->Bind(stmt->Param(":spiffe_id"), *filter.spiffe_id);
    if (filter.node) stmt->Bind(stmt->Param(":node"), *filter.node);
    if (filter.status && *filter.status != CertStatus::kRevoked) {
      stmt->Bind(stmt->Param(":now"), filter.now);
    }
    // One row more than the page tells whether another page follows.
    stmt->Bind(stmt->Param(":limit"), int64_t{limit} + 1);
    CertPage page;
    int64_t last_id = 0;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "listing certificates");
      if (!*row) break;
      if (std::ssize(page.certs) == limit) {
        page.next_cursor = std::to_string(last_id);
        break;
      }
      auto cert = ReadCertificateRow(*stmt, /*with_der=*/false);
      if (!cert) return std::unexpected(cert.error());
      page.certs.push_back(std::move(*cert));
      last_id = stmt->Int(0);
    }
    return page;
  });
}

}  // namespace mayfly
