#include "loader/log.h"

#include <bpf/libbpf.h>

#include <cstdio>

namespace qpspread {
namespace {
bool g_verbose = false;

int print_libbpf(enum libbpf_print_level /*level*/, const char* fmt, va_list args) {
  if (!g_verbose) return 0;
  return std::vfprintf(stderr, fmt, args);
}
}  // namespace

void set_libbpf_verbose(bool verbose) {
  g_verbose = verbose;
  libbpf_set_print(print_libbpf);
}

}  // namespace qpspread
