// libFuzzer: the WAN relay's control file (what `lab impair` writes, the relay reads on SIGHUP).
#include "common/error.h"
#include "tests/fuzz/fuzz_file.h"
#include "userspace/wan/relay_service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const FuzzFile f(data, size);
  qpspread::wan::Impairment a, b;
  try {
    qpspread::wan::read_control(f.path(), &a, &b);
  } catch (const qpspread::Error&) {
  }
  return 0;
}
