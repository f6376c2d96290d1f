// Test-only: lets a test damage what a signer produced, before the
// pre-issuance check sees it, to prove that the check catches it. Nothing
// outside tests/ includes this header; with no tamper set (always, in
// production) the signers pay one relaxed atomic load.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mayfly::testing {

// `kind` is the check kind (kCheckLeaf, kCheckCrl, ...); `der` may be
// rewritten in place.
using IssuanceTamper = std::function<void(std::string_view kind, std::string& der)>;

// Installs `tamper` for the whole process; nullptr removes it.
void SetIssuanceTamper(IssuanceTamper tamper);

}  // namespace mayfly::testing
