#include "userspace/lab/netem.h"

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

}  // namespace qpspread::lab
