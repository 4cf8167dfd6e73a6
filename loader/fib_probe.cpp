#include "loader/fib_probe.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstring>

#include "common/error.h"
#include "fib_probe.skel.h"
#include "qpspread/abi.h"

namespace qpspread {
namespace {

constexpr SkeletonOps<fib_probe> kFibProbe{fib_probe__open, fib_probe__load, fib_probe__destroy, "FIB probe"};

// An address in network order into 16 bytes (IPv4 in the first 4); returns its family.
int put_addr(const std::string& text, __u32 out[4]) {
  std::memset(out, 0, 16);
  if (::inet_pton(AF_INET, text.c_str(), out) == 1) return AF_INET;
  if (::inet_pton(AF_INET6, text.c_str(), out) == 1) return AF_INET6;
  throw Error("'" + text + "' is not an IPv4 or IPv6 address");
}

}  // namespace

FibProbe::FibProbe() : skel_(load_skeleton(kFibProbe, "")) {}

FibProbe::Answer FibProbe::lookup(const std::string& local, const std::string& remote, uint16_t sport,
                                  uint16_t dport) const {
  qps_fib_query q{};
  const int family = put_addr(local, q.src);
  if (put_addr(remote, q.dst) != family) throw Error(local + " and " + remote + " are not of one family");
  q.family = static_cast<__u8>(family);
  q.sport = htons(sport);
  q.dport = htons(dport);
  q.iif = 1;  // lo: the host's own packets (ip_route_output_key looks up with LOOPBACK_IFINDEX)
  qps_fib_query out{};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &q, .data_out = &out, .data_size_in = sizeof(q),
              .data_size_out = sizeof(out), .repeat = 1);
  if (int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.qps_fib_probe), &opts); err)
    return {err < 0 ? err : -err, 0};
  return {out.rc, out.rc == 0 ? out.oif : 0};
}

}  // namespace qpspread
