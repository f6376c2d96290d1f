// Process-wide heap settings for the CA's long-running, multi-threaded daemon.
#pragma once

namespace mayfly {

// Keeps freed heap memory for reuse instead of handing it back to the kernel
// after every burst. With glibc's defaults a thread that frees a batch of
// requests' memory trims its arena with madvise(MADV_DONTNEED), which on a
// multi-threaded process interrupts every other CPU running one of its
// threads to flush their TLBs, and the next batch faults the pages back in:
// measured as ~12 % of the commit thread's CPU under /v1/sign load
// (docs/performance.md). Call once, before the daemon starts its threads.
void RetainFreedHeapMemory();

}  // namespace mayfly
