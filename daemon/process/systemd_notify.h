// Readiness, status and watchdog notifications to systemd (no-ops when the
// daemon was not started by systemd with Type=notify).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace mayfly {

void NotifyReady(const std::string& status);
void NotifyStopping();
void NotifyReloading();
void NotifyWatchdog();
// The interval at which to call NotifyWatchdog (half of WatchdogSec), when
// the watchdog is enabled for this process.
std::optional<std::chrono::microseconds> WatchdogInterval();

}  // namespace mayfly
