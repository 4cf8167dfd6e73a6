// libFuzzer: the agent's config file: a qpspread::Error naming the line, or a config.
#include <string>

#include "common/error.h"
#include "userspace/agent/agent_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qpspread::agent::parse_agent_config(std::string(reinterpret_cast<const char*>(data), size), "agent.yml");
  } catch (const qpspread::Error&) {
  }
  return 0;
}
