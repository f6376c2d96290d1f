// The process-wide wall clock.
#include "mayfly/clock.h"

namespace mayfly {

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace mayfly
