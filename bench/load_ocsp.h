// The OCSP side of mayfly-load: the one request every client repeats, and
// the check of what comes back.
#pragma once

#include <string>

#include "mayfly/error.h"

namespace mayfly::load {

// A DER OCSPRequest for the first certificate of `chain_pem` (leaf first,
// its issuer second), without a nonce: what nginx and most clients send.
[[nodiscard]] Result<std::string> MakeOcspRequest(const std::string& chain_pem);

// Checks a DER OCSPResponse to `request`: successful, signed by a responder
// that chains to `root_pem` (through `chain_pem`'s intermediates), and
// saying "good" for the certificate asked about.
[[nodiscard]] Result<void> VerifyOcspResponse(const std::string& response, const std::string& request,
                                              const std::string& chain_pem, const std::string& root_pem);

}  // namespace mayfly::load
