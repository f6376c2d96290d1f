// sd_notify wrappers.
#include "systemd_notify.h"

#include <systemd/sd-daemon.h>

namespace mayfly {

void NotifyReady(const std::string& status) { sd_notify(0, ("READY=1\nSTATUS=" + status).c_str()); }
void NotifyStopping() { sd_notify(0, "STOPPING=1"); }
void NotifyReloading() { sd_notify(0, "RELOADING=1"); }
void NotifyWatchdog() { sd_notify(0, "WATCHDOG=1"); }

std::optional<std::chrono::microseconds> WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace mayfly
