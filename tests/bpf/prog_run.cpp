#include "tests/bpf/prog_run.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cstdio>

namespace qpspread::test {

RunResult run_tc_prog(int prog_fd, const std::vector<uint8_t>& in, uint32_t mark_in) {
  RunResult r;
  r.out.resize(in.size() + 256);
  __sk_buff ctx{};
  ctx.mark = mark_in;
  __sk_buff ctx_out{};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(r.out.size()),
              .ctx_in = &ctx, .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx), .ctx_size_out = sizeof(ctx_out));
  r.err = bpf_prog_test_run_opts(prog_fd, &opts);
  r.retval = opts.retval;
  r.mark = ctx_out.mark;
  r.out.resize(opts.data_size_out);
  return r;
}

RunResult run_xdp_prog(int prog_fd, const std::vector<uint8_t>& in) {
  RunResult r;
  r.out.resize(in.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(r.out.size()));
  r.err = bpf_prog_test_run_opts(prog_fd, &opts);
  r.retval = opts.retval;
  r.out.resize(opts.data_size_out);
  return r;
}

std::string hex(const std::vector<uint8_t>& v) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < v.size(); i++) {
    std::snprintf(b, sizeof(b), "%02x", v[i]);
    s += b;
    if (i % 32 == 31) s += "\n";
  }
  return s;
}

}  // namespace qpspread::test
