// ca.toml and agent.toml loading: every byte sequence is either a config or
// an error naming the file and key, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agent_config.h"
#include "mayfly/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loaders read files: one per process, rewritten for each input.
  static const std::string path = "/tmp/mayfly-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  (void)mayfly::LoadCaConfig(path);
  (void)mayfly::LoadAgentConfig(path);
  return 0;
}
