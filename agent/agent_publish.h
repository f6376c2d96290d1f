// Writing the files services read (certificates, keys, CRL, bundle) and
// telling those services: hooks and signals.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "agent_config.h"
#include "mayfly/error.h"
#include "mayfly/file_util.h"

namespace mayfly::agent {

// Writes the workload's key, then its cert (leaf + chain), each atomically
// with the workload's owner and mode set on the new file before it takes the
// path (WriteFileAtomic: no link in the directory is followed). An unknown
// owner fails before anything is written. Between the two renames a
// reader could pair the new key with the old cert; services learn of a new
// pair only from on_renew/signal, which run after both are in place.
[[nodiscard]] Result<void> WriteWorkloadFiles(const WorkloadConfig& workload, const std::string& key_pem,
                                              const std::string& cert_pem);

// Creates the parent directory of `path` (0755, with its parents) when it is
// missing; an existing directory is left as it is.
[[nodiscard]] Result<void> EnsureParentDirectory(const std::string& path);

// The ids of a workload's `owner`: "user" or "user:group" (names or numbers);
// "" and a missing group leave those ids at -1 (unchanged). kConfig naming
// the unknown user or group.
[[nodiscard]] Result<FileOwner> ResolveOwner(const std::string& owner);

// How a child process ended, from its waitpid status: "exited with status 2",
// "was killed by signal 9".
std::string DescribeExit(int wait_status);

// Runs `command` with /bin/sh -c, these extra environment variables, stdin
// from /dev/null and output to the agent's stderr. Killed (with its process
// group) after `timeout`. Fails when it exits non-zero, is killed or cannot
// start.
[[nodiscard]] Result<void> RunHook(const std::string& command,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   std::chrono::seconds timeout = std::chrono::seconds(60));

// Sends `signo` to the pid written in pid_file, which the service may be able
// to write, so it is checked first. The file must be a regular file (opened
// with O_NOFOLLOW: a symbolic link is refused), owned by root or by the
// workload's `owner` user, writable by neither its group nor others, and hold
// one decimal pid (and optional whitespace). The pid must be > 1 and neither
// the agent nor its parent; a pid file owned by `owner` may name only a
// process whose real uid is that user (one root owns may name any). kForbidden
// (kNotFound when the file or process is missing, kInvalidArgument for its
// content) naming the file and what is wrong; nothing is signalled then.
[[nodiscard]] Result<void> SignalPidFile(const std::string& pid_file, int signo, const std::string& owner);

}  // namespace mayfly::agent
