// A client connecting to a TLS server in a loop on its own thread, the way a
// service's callers keep using it while its certificates rotate: each
// connection reads the client certificate, key and trusted roots from their
// files again, does a mutual-TLS handshake, sends a GET and expects 200.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mayfly::testing {

struct MtlsProbeFiles {
  std::string cert;    // leaf + chain
  std::string key;
  std::string bundle;  // roots the server's chain must reach
};

class MtlsProbe {
 public:
  MtlsProbe(int port, MtlsProbeFiles files);
  ~MtlsProbe();  // stops the thread
  MtlsProbe(const MtlsProbe&) = delete;
  MtlsProbe& operator=(const MtlsProbe&) = delete;

  // One connection with these files: "" when it got 200, else why not.
  static std::string TryOnce(int port, const MtlsProbeFiles& files);

  // Stops after the connection in progress.
  void Stop();
  int attempts() const { return attempts_.load(); }
  int failures() const { return failures_.load(); }
  // Why the first few connections failed.
  std::vector<std::string> failure_reasons() const;
  // Blocks until `n` more connections have been attempted (false after 30 s).
  bool AwaitMore(int n) const;

 private:
  void Loop();

  const int port_;
  const MtlsProbeFiles files_;
  std::atomic<bool> stop_{false};
  std::atomic<int> attempts_{0};
  std::atomic<int> failures_{0};
  mutable std::mutex mu_;
  std::vector<std::string> reasons_;
  std::thread thread_;
};

}  // namespace mayfly::testing
