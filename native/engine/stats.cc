#include "engine/stats.h"

#include <cmath>

namespace tg {

int LatencyHistogram::BucketOf(uint64_t ns) {
  if (ns < 1000) return 0;
  const int b = 1 + static_cast<int>(std::log2(static_cast<double>(ns) / 1000.0) * 4.0);
  return b < kBuckets ? b : kBuckets - 1;
}

double LatencyHistogram::UpperBoundSeconds(int bucket) { return 1e-6 * std::exp2(bucket / 4.0); }

}  // namespace tg
