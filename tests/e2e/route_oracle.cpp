#include "tests/e2e/route_oracle.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"

namespace qpspread::test {

std::string local_choice(const FibProbe& probe, const std::string& netns, const OuterFlow& f) {
  FibProbe::Answer a;
  char name[IF_NAMESIZE] = {};
  // BPF_PROG_TEST_RUN gives the frame the loopback device of the caller's namespace, and the
  // helper looks routes up in that device's namespace; the index names an interface there too.
  Netns::open(netns).run([&] {
    a = probe.lookup(f.src, f.dst, f.sport, f.dport);
    if (a.found() && !if_indextoname(a.oif, name)) name[0] = 0;
  });
  if (!a.found() || !name[0])
    throw Error("fib_probe: bpf_fib_lookup in " + netns + " for " + f.dst + " returned " + std::to_string(a.rc) +
                " (BPF_FIB_LKUP_RET_*, or a test-run errno); is there a route?");
  return name;
}

std::string forwarded_choice(const std::string& netns, const std::string& iif, const OuterFlow& f) {
  const CommandOutput r = run_command({"ip", "-j", "-n", netns, "route", "get", f.dst, "from", f.src, "iif", iif,
                                       "ipproto", "udp", "sport", std::to_string(f.sport), "dport",
                                       std::to_string(f.dport)});
  if (r.exit_code != 0) throw Error("ip route get in " + netns + " failed: " + r.err);
  const auto j = nlohmann::json::parse(r.out);
  if (!j.is_array() || j.empty() || !j[0].contains("dev")) throw Error("ip route get in " + netns + ": no dev in " + r.out);
  return j[0]["dev"].get<std::string>();
}

}  // namespace qpspread::test
