// Which underlay interface the kernel sends a VXLAN frame by, for any outer source port: the FIB
// asked through a BPF program run with BPF_PROG_TEST_RUN (bpf/fib_probe.bpf.c), which hashes the
// flow and picks the ECMP leg exactly as the VXLAN driver's own route lookup does. Mode balance
// maps candidate ports to this node's paths with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loader/skeleton.h"

struct fib_probe;

namespace qpspread {

class FibProbe {
 public:
  FibProbe();  // loads the program; it asks the FIB of the namespace of the thread that calls it

  struct Answer {
    int rc = 0;         // BPF_FIB_LKUP_RET_* (0: found), or a negative errno of the test run
    uint32_t oif = 0;   // the interface (found only)
    bool found() const { return rc == 0 && oif != 0; }
  };
  // The route local -> remote (IPv4 or IPv6 text, one family), UDP sport -> dport, as the calling
  // thread's namespace would take it for a frame the host sends. Throws qpspread::Error for an
  // address that is not one.
  Answer lookup(const std::string& local, const std::string& remote, uint16_t sport, uint16_t dport = 4789) const;

 private:
  LoadedSkel<fib_probe> skel_;
};

}  // namespace qpspread
