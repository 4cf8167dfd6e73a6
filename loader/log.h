// libbpf's messages: silent by default, everything with -v (as bpftool and xdp-loader do).
#pragma once

namespace qpspread {
void set_libbpf_verbose(bool verbose);
}
