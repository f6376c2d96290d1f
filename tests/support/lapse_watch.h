// Watching a certificate file an agent keeps fresh: renewals counted, and
// any moment it was found expired on disk (a lapse) recorded.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"
#include "support/wait.h"

namespace mayfly::testing {

// Watches web.pem from a thread, every 100 ms for as long as it lives:
// counts renewals and records any look that finds the certificate on disk
// expired (a lapse: it was not replaced in time).
class LapseWatch {
 public:
  explicit LapseWatch(std::string path) : path_(std::move(path)), thread_([this] { Loop(); }) {}
  ~LapseWatch() {
    stop_ = true;
    thread_.join();
  }

  // Waits until `renewals` more renewals than so far were seen.
  bool WaitForRenewals(int renewals, std::chrono::seconds timeout) {
    const int target = renewals_ + renewals;
    return WaitUntil([&] { return renewals_ >= target; }, timeout);
  }

  std::vector<std::string> lapses() const {
    std::lock_guard lock(mu_);
    return lapses_;
  }

  // Every serial seen on disk, in order.
  std::vector<std::string> serials() const {
    std::lock_guard lock(mu_);
    return serials_;
  }

 private:
  void Loop() {
    std::string serial;
    while (!stop_) {
      if (auto cert = CertFromPem(ReadFile(path_).value_or("")); cert) {  // else: between a renewal's writes
        const std::string now_serial = CertSerialHex(cert->get());
        if (SystemClock::Instance().Now() >= CertNotAfter(cert->get())) {
          std::lock_guard lock(mu_);
          lapses_.push_back("serial " + now_serial + " on disk after its expiry");
        }
        if (now_serial != serial) {
          std::lock_guard lock(mu_);
          serials_.push_back(now_serial);
        }
        if (!serial.empty() && now_serial != serial) ++renewals_;
        serial = now_serial;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string path_;
  std::atomic<bool> stop_{false};
  std::atomic<int> renewals_{0};
  mutable std::mutex mu_;
  std::vector<std::string> lapses_;  // guarded by mu_
  std::vector<std::string> serials_;  // guarded by mu_
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace mayfly::testing
