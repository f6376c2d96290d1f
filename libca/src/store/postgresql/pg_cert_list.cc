// Listing certificates from PostgreSQL page by page, newest first (keyset paging on id).
#include <algorithm>
#include <string>

#include "pg_store_internal.h"

namespace mayfly {

Result<CertPage> PostgresStore::ListCertificates(const CertFilter& filter) {
  auto cursor = ParseCertCursor(filter.cursor);
  if (!cursor) return std::unexpected(cursor.error());
  const int limit = std::clamp(filter.limit, 1, kMaxStorePage);
  PgParams params;
  params.Add(*cursor);
  std::string sql = "SELECT " + std::string(pg::kCertColumns) + " FROM certificates WHERE id < $1";
  if (filter.spiffe_id) {
    params.Add(*filter.spiffe_id);
    sql += " AND spiffe_id = $" + std::to_string(params.size());
  }
  if (filter.node) {
    params.Add(*filter.node);
    sql += " AND node = $" + std::to_string(params.size());
  }
  if (filter.status) {
    if (*filter.status != CertStatus::kRevoked) params.Add(filter.now);
    sql += " AND " + pg::CertStatusCondition(*filter.status, params.size());
  }
  // One row more than the page tells whether another page follows.
  params.Add(int64_t{limit} + 1);
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  return impl_->Read([&](PgConnection& conn) -> Result<CertPage> {
    auto res = conn.Exec(sql, params, "listing certificates");
    if (!res) return std::unexpected(res.error());
    CertPage page;
    const int rows = std::min(res->Rows(), limit);
    for (int i = 0; i < rows; ++i) {
      auto cert = pg::ReadCertificateRow(*res, i, /*with_der=*/false);
      if (!cert) return std::unexpected(cert.error());
      page.certs.push_back(std::move(*cert));
    }
    if (res->Rows() > limit) page.next_cursor = std::to_string(res->Int(limit - 1, 0));
    return page;
  });
}

}  // namespace mayfly
