// Workload selectors on registration entries: what the agent must observe of
// a calling process (all of an entry's selectors must match) before it hands
// that process the entry's identity.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// The forms a selector may take, for messages and docs.
inline constexpr std::string_view kSelectorForms =
    "unix:uid:N, unix:gid:N, unix:user:NAME, unix:group:NAME, unix:path:/abs/exe, "
    "unix:sha256:HEX (64 lowercase hex digits) or systemd:unit:NAME";

// "" when `selector` is well formed, else what is wrong with it and what was
// expected, naming the selector.
std::string SelectorProblem(std::string_view selector);

// kInvalidArgument for the first bad selector or a repeated one.
[[nodiscard]] Result<void> ValidateSelectors(std::span<const std::string> selectors);

}  // namespace mayfly
