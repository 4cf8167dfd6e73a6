// libFuzzer: every parser of values a user types (rates, durations, loss, sizes, ECN profiles,
// impairment sets, QPNs' source-port models): bad text must end in qpspread::Error, nothing else.
// The first byte picks the parser, the rest is the text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/units.h"
#include "userspace/wan/impairment.h"
#include "userspace/workload/rc_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 8) {
      case 0: qpspread::parse_rate_bps("--rate", text); break;
      case 1: qpspread::parse_duration_us("--delay", text); break;
      case 2: qpspread::parse_loss_percent("--loss", text); break;
      case 3: qpspread::parse_size_bytes("--size", text); break;
      case 4: qpspread::wan::format_ecn(qpspread::wan::parse_ecn("--ecn", text)); break;
      case 5: qpspread::wan::parse_impairment(text, text, text, text); break;
      case 6: qpspread::workload::parse_sport_model(text); break;
      default: qpspread::format_duration_us(qpspread::parse_duration_us("--interval", text)); break;
    }
  } catch (const qpspread::Error&) {
  }
  return 0;
}
