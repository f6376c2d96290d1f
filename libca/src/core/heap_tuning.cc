// glibc malloc thresholds for the daemon (see heap_tuning.h).
#include "mayfly/heap_tuning.h"

#include <malloc.h>

namespace mayfly {

void RetainFreedHeapMemory() {
  // An arena is trimmed only once 16 MiB at its top are free: bounded, and far
  // above what one group commit or one burst of requests frees.
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  // Setting the trim threshold freezes glibc's adaptive mmap threshold at
  // 128 KiB; blocks up to 4 MiB come from the arenas, not mmap/munmap pairs
  // (each munmap is the same cross-CPU flush).
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace mayfly
