#include "tests/e2e/route_oracle.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "fib_probe.skel.h"

namespace qpspread::test {

struct FibProbe::Skel {
  fib_probe* s = nullptr;
  ~Skel() { fib_probe__destroy(s); }
};

FibProbe::FibProbe() : skel_(std::make_unique<Skel>()) {
  skel_->s = fib_probe__open_and_load();
  if (!skel_->s) throw Error("cannot load the fib_probe test program; run as root on a kernel with bpf_fib_lookup");
}

FibProbe::~FibProbe() = default;

std::string FibProbe::local_choice(const std::string& netns, const OuterFlow& f) const {
  auto* bss = skel_->s->bss;
  in_addr src{}, dst{};
  if (inet_pton(AF_INET, f.src.c_str(), &src) != 1 || inet_pton(AF_INET, f.dst.c_str(), &dst) != 1)
    throw Error("fib_probe: bad address " + f.src + " or " + f.dst);
  std::string ifname;
  int err = 0;
  // BPF_PROG_TEST_RUN gives the skb the loopback device of the caller's namespace, and the helper
  // looks routes up in that device's namespace.
  Netns::open(netns).run([&] {
    bss->q_ifindex = 1;  // lo: a packet the node sends itself enters the route lookup from lo
    bss->q_src = src.s_addr;
    bss->q_dst = dst.s_addr;
    bss->q_sport = htons(f.sport);
    bss->q_dport = htons(f.dport);
    bss->q_proto = IPPROTO_UDP;
    bss->r_ret = -1;
    uint8_t frame[64] = {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame));
    err = bpf_prog_test_run_opts(bpf_program__fd(skel_->s->progs.fib_probe), &opts);
    char name[IF_NAMESIZE] = {};
    if (err == 0 && bss->r_ret == 0 && if_indextoname(bss->r_ifindex, name)) ifname = name;
  });
  if (err != 0) throw Error("fib_probe: BPF_PROG_TEST_RUN failed in " + netns + " (" + std::to_string(err) + ")");
  if (ifname.empty())
    throw Error("fib_probe: bpf_fib_lookup in " + netns + " for " + f.dst + " returned " +
                std::to_string(bss->r_ret) + " (BPF_FIB_LKUP_RET_*); is there a route?");
  return ifname;
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
