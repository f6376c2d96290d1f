// Latency percentiles the load programs print.
#pragma once

#include <algorithm>
#include <vector>

namespace mayfly {

// The p-quantile (0..1) of sorted latencies: the value at rank p·n, so p99
// of 1 000 samples is the tenth largest. 0 for no samples.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace mayfly
