// What the signers call around the pre-issuance check: the test-only tamper
// and the failure report (observer + kInternal error).
#pragma once

#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/issuance_check.h"

namespace mayfly::detail {

// Runs the test-only tamper on `der`, if one is installed.
void ApplyIssuanceTamper(std::string_view kind, std::string& der);

// Tells the observer and returns the error the request fails with.
[[nodiscard]] std::unexpected<Error> IssuanceCheckFailed(IssuanceCheckFailure failure);

}  // namespace mayfly::detail
