// Who is calling the Workload API: the facts the agent observes of a local
// process (its credentials and /proc), and whether an entry's selectors
// match them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>

#include "mayfly/error.h"

namespace mayfly::agent {

// What the kernel and /proc say about one process. The optional facts are
// absent when they could not be read; a selector that needs one then does
// not match.
struct CallerFacts {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<std::string> user;    // getpwuid_r of uid
  std::optional<std::string> group;   // getgrgid_r of gid
  std::optional<std::string> exe;     // /proc/<pid>/exe, the executable's path
  std::optional<std::string> sha256;  // of that executable, lowercase hex
  std::optional<std::string> unit;    // the systemd unit of /proc/<pid>/cgroup
};

// The process `pid` with the credentials its socket reported (SO_PEERCRED:
// taken by the kernel at connect(), so they are not the caller's claim).
// `connected_ticks` is when the connection was accepted, in the clock
// ticks since boot of /proc/<pid>/stat's start time: a process that started
// later holds a reused pid, not the caller's, and is refused. The start
// time is read again after /proc, so a pid reused while reading is refused
// too. `hash_exe`: whether to hash the executable (only sha256 selectors
// need it; hashing a large binary on every call is not free).
// kForbidden when the pid is no longer the process that connected.
[[nodiscard]] Result<CallerFacts> ObserveCaller(pid_t pid, uid_t uid, gid_t gid, unsigned long long connected_ticks,
                                                bool hash_exe);

// Clock ticks since boot now, on the clock of /proc/<pid>/stat's start time.
unsigned long long TicksSinceBoot();

// True when every selector holds for `caller` (an empty list never matches:
// an entry without selectors is not for the Workload API).
bool SelectorsMatch(std::span<const std::string> selectors, const CallerFacts& caller);

// The unit a process runs in, from the text of /proc/<pid>/cgroup: the
// deepest .service or .scope of its cgroup path; nullopt when none.
std::optional<std::string> SystemdUnitOf(std::string_view cgroup_text);

}  // namespace mayfly::agent
