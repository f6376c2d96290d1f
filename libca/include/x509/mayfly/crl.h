// Version 2 CRLs signed by an issuing CA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/store_records.h"

namespace mayfly {

struct CrlEntry {
  std::string serial;          // lowercase hex
  TimePoint revoked_at;
  RevocationReason reason = RevocationReason::kUnspecified;
};

struct CrlSpec {
  int64_t number = 0;          // the CRL number extension
  TimePoint this_update;
  TimePoint next_update;
  std::vector<CrlEntry> revoked;
};

// A signed CRL in both encodings.
struct SignedCrl {
  std::string der;
  std::string pem;
};

// Builds a v2 CRL: issuer = the CA's subject, thisUpdate/nextUpdate, one entry
// per revoked serial (with a reasonCode extension unless unspecified), the
// CRL number and the authority key identifier, signed by `key`.
[[nodiscard]] Result<SignedCrl> BuildCrl(const X509* issuer, const EVP_PKEY* key, const CrlSpec& spec);

// Converts store rows to CRL entries.
std::vector<CrlEntry> ToCrlEntries(const std::vector<RevokedCert>& revoked);

}  // namespace mayfly
