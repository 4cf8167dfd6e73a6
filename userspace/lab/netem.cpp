#include "userspace/lab/netem.h"

#include <algorithm>

#include "common/units.h"

namespace qpspread::lab {

// Mirrors `containerlab tools netem set` (srl-labs/containerlab cmd/tools_netem.go, which calls
// SetImpairments in internal/tc/tc.go): one root netem qdisc with handle 1:0 and limit 10000,
// delay, jitter, loss and rate all in it (no tbf), replaced as a whole, its rate always sent.
std::vector<std::string> netem_qdisc_args(const wan::Impairment& imp) {
  std::vector<std::string> a = {"handle", "1:", "netem", "limit", "10000",
                                "delay", imp.delay_us ? format_duration_us(imp.delay_us) : "0ms"};
  if (imp.jitter_us) a.push_back(format_duration_us(imp.jitter_us));
  a.insert(a.end(), {"loss", format_number(imp.loss_percent) + "%"});
  // Rate 0 is sent too ("0bit": unlimited), or a replace would keep the previous rate.
  a.insert(a.end(), {"rate", imp.rate_bps ? format_rate_bps(imp.rate_bps) : "0bit"});
  return a;
}

std::vector<std::string> netem_command(const std::string& netns, const std::string& ifname,
                                       const wan::Impairment& imp) {
  std::vector<std::string> argv = {"tc", "-n", netns, "qdisc", "replace", "dev", ifname, "root"};
  for (auto& a : netem_qdisc_args(imp)) argv.push_back(std::move(a));
  return argv;
}

std::vector<std::vector<std::string>> qdisc_commands(const std::string& netns, const std::string& ifname,
                                                     const wan::Impairment& imp) {
  if (!imp.ecn.on()) return {netem_command(netns, ifname, imp)};
  const uint64_t line = imp.rate_bps / 8 * imp.delay_us / 1000000;  // bytes in netem's delay line
  const uint64_t kmin = imp.ecn.kmin_bytes + line, kmax = imp.ecn.kmax_bytes + line;
  const uint64_t avpkt = 1000;
  // burst: the average follows the queue within about kmin/avpkt frames, as close to an
  // instantaneous queue as RED allows; limit: room above kmax before the hard drop.
  std::vector<std::string> red = {"tc", "-n", netns, "qdisc", "replace", "dev", ifname, "root", "handle", "3:", "red",
                                  "limit", std::to_string(std::max<uint64_t>(2 * kmax, 64000)),
                                  "min", std::to_string(kmin), "max", std::to_string(kmax),
                                  "avpkt", std::to_string(avpkt), "burst", std::to_string(kmin / avpkt + 1),
                                  "probability", format_number(imp.ecn.pmax_percent / 100)};
  if (imp.rate_bps) red.insert(red.end(), {"bandwidth", format_rate_bps(imp.rate_bps)});
  red.push_back("ecn");
  std::vector<std::string> netem = {"tc", "-n", netns, "qdisc", "replace", "dev", ifname, "parent", "3:1"};
  std::vector<std::string> args = netem_qdisc_args(imp);
  args[1] = "4:";  // handle
  netem.insert(netem.end(), args.begin(), args.end());
  return {red, netem};
}

}  // namespace qpspread::lab
