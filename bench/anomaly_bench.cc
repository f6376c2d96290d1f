// What the anomaly detector adds to each /v1/sign: AnomalyDetector::OnIssue
// for a node that has been seen and an identity it holds (the steady state
// of a fleet), on 1 and 2 threads over 10 000 nodes. bench/anomaly.sh turns
// the time per call into a share of the request's CPU.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "anomaly_detector.h"

namespace mayfly {
namespace {

constexpr int kNodes = 10000;

struct Fleet {
  Fleet() : detector(CaConfig::Anomaly{}) {
    for (int i = 0; i < kNodes; ++i) nodes.push_back("node-" + std::to_string(i));
    std::vector<Anomaly> found;
    for (const std::string& node : nodes) detector.OnIssue(node, identity, address, kNow, found);
  }
  static constexpr int64_t kNow = 1'800'000'000;
  AnomalyDetector detector;
  std::vector<std::string> nodes;
  const std::string identity = "spiffe://example.org/ns/prod/web";
  const std::string address = "10.0.0.1";
};

Fleet& SharedFleet() {
  static Fleet fleet;
  return fleet;
}

void BM_OnIssue(benchmark::State& state) {
  Fleet& fleet = SharedFleet();
  std::vector<Anomaly> found;
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    // One second of simulated time per call spreads calls over windows as a
    // real day would, baseline updates included.
    fleet.detector.OnIssue(fleet.nodes[i % kNodes], fleet.identity, fleet.address,
                           Fleet::kNow + static_cast<int64_t>(i / 64), found);
    found.clear();
    ++i;
  }
}
BENCHMARK(BM_OnIssue)->UseRealTime();
BENCHMARK(BM_OnIssue)->UseRealTime()->Threads(2);

}  // namespace
}  // namespace mayfly

BENCHMARK_MAIN();
