// libFuzzer: the containerlab topology reader on any file: a qpspread::Error or a topology.
#include "common/error.h"
#include "tests/fuzz/fuzz_file.h"
#include "userspace/lab/clab_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const FuzzFile f(data, size);
  try {
    qpspread::lab::load_clab(f.path());
  } catch (const qpspread::Error&) {
  }
  return 0;
}
