// The tc netem commands of both runners (lab/netem.h, lab/clab_impair.h), and the commands that
// drive a lab deployed by containerlab (lab/clab_deployed.h: vtysh through docker exec, link cuts,
// node stops), checked as argv lists: sch_netem and a Docker engine are missing on the test
// machines, so these are what is tested of those paths.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "userspace/lab/clab_deployed.h"
#include "userspace/lab/clab_impair.h"
#include "userspace/lab/netem.h"

namespace qpspread::lab {
namespace {

using Argv = std::vector<std::string>;

wan::Impairment imp(uint64_t delay_us, uint64_t jitter_us, double loss, uint64_t rate_bps) {
  return {delay_us, jitter_us, loss, rate_bps, {}};
}

// containerlab's qdisc: root, handle 1:, limit 10000; every value written so a replace sets all.
TEST(NetemCommand, DelayJitterLossRateInOneRootNetemQdisc) {
  EXPECT_EQ(netem_command("clab-x-a", "eth2", imp(20000, 1000, 0.1, 1000000000)),
            (Argv{"tc", "-n", "clab-x-a", "qdisc", "replace", "dev", "eth2", "root", "handle", "1:", "netem", "limit",
                  "10000", "delay", "20ms", "1ms", "loss", "0.1%", "rate", "1gbit"}));
}

TEST(NetemCommand, NothingSetStillResetsEveryValue) {
  EXPECT_EQ(netem_qdisc_args({}),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "0ms", "loss", "0%", "rate", "0bit"}));
}

TEST(NetemCommand, JitterOnlyFollowsTheDelay) {
  EXPECT_EQ(netem_qdisc_args(imp(1500, 0, 0, 0)),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "1500us", "loss", "0%", "rate", "0bit"}));
  EXPECT_EQ(netem_qdisc_args(imp(5000, 500, 0, 0)),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "5ms", "500us", "loss", "0%", "rate", "0bit"}));
}

TEST(NetemCommand, LossAndRateAlone) {
  EXPECT_EQ(netem_qdisc_args(imp(0, 0, 2.5, 0)),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "0ms", "loss", "2.5%", "rate", "0bit"}));
  EXPECT_EQ(netem_qdisc_args(imp(0, 0, 0, 500000)),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "0ms", "loss", "0%", "rate", "500kbit"}));
  EXPECT_EQ(netem_qdisc_args(imp(0, 0, 100, 20000000)),
            (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "0ms", "loss", "100%", "rate", "20mbit"}));
}

// Rate 0 is sent as 0bit: without a rate the kernel would keep the one set before.
TEST(NetemCommand, UnlimitedRateIsWrittenSoItReplacesALimit) {
  const Argv a = netem_qdisc_args(imp(10000, 0, 0, 0));
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(a[a.size() - 2], "rate");
  EXPECT_EQ(a.back(), "0bit");
}

ClabTopology two_nodes() {
  ClabTopology t;
  t.name = "lab7";
  ClabLink l;
  l.a = {"dc1-border1", "eth3"};
  l.b = {"dc2-border1", "eth4"};
  l.name = "wan1";
  l.wan = true;
  l.impairment = imp(10000, 0, 0, 0);
  t.links.push_back(l);
  return t;
}

// Both ends, each on its egress, in containerlab's namespaces: each direction impaired once.
TEST(ClabNetemCommands, BothEndsInTheNodesContainerlabNamespaces) {
  const ClabTopology t = two_nodes();
  const auto cmds = clab_netem_commands(t, t.links[0], imp(20000, 0, 0, 0));
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0], netem_command("clab-lab7-dc1-border1", "eth3", imp(20000, 0, 0, 0)));
  EXPECT_EQ(cmds[1], netem_command("clab-lab7-dc2-border1", "eth4", imp(20000, 0, 0, 0)));
}

// A flag not given keeps the topology's value (qpspread keeps nothing of a containerlab lab).
TEST(ClabNetemCommands, APartialChangeKeepsTheOtherValues) {
  const ClabTopology t = two_nodes();
  wan::ImpairmentChange change;
  change.rate_bps = 20000000;
  const auto cmds = clab_netem_commands(t, t.links[0], change.applied_to(t.links[0].impairment));
  ASSERT_EQ(cmds.size(), 2u);
  for (const auto& argv : cmds)
    EXPECT_EQ(Argv(argv.begin() + 8, argv.end()),
              (Argv{"handle", "1:", "netem", "limit", "10000", "delay", "10ms", "loss", "0%", "rate", "20mbit"}));
  change = {};
  change.rate_bps = 0;  // --rate 0: unlimited again
  change.loss_percent = 1;
  EXPECT_EQ(clab_netem_commands(t, t.links[0], change.applied_to(imp(10000, 0, 0, 20000000)))[1],
            netem_command("clab-lab7-dc2-border1", "eth4", imp(10000, 0, 1, 0)));
}

// With ECN marking, RED (ecn) at the root marks and netem under it delays, loses and limits; RED's
// thresholds include netem's delay line (20 Mbit/s x 10 ms = 25 000 bytes).
TEST(NetemCommand, EcnMarkingPutsRedWithEcnAboveNetem) {
  wan::Impairment i = imp(10000, 0, 0, 20000000);
  i.ecn = {20000, 100000, 10};
  const Commands c = qdisc_commands("clab-x-a", "eth3", i);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], (Argv{"tc", "-n", "clab-x-a", "qdisc", "replace", "dev", "eth3", "root", "handle", "3:", "red", "limit",
                        "250000", "min", "45000", "max", "125000", "avpkt", "1000", "burst", "46", "probability", "0.1",
                        "bandwidth", "20mbit", "ecn"}));
  EXPECT_EQ(c[1], (Argv{"tc", "-n", "clab-x-a", "qdisc", "replace", "dev", "eth3", "parent", "3:1", "handle", "4:", "netem",
                        "limit", "10000", "delay", "10ms", "loss", "0%", "rate", "20mbit"}));
  EXPECT_EQ(qdisc_commands("clab-x-a", "eth3", imp(10000, 0, 0, 20000000)),
            (Commands{netem_command("clab-x-a", "eth3", imp(10000, 0, 0, 20000000))}))
      << "without ECN: containerlab's one root netem";
}

// A fabric link beside the WAN link: dc1-spine1:eth3 -- dc1-border1:eth1.
ClabTopology with_fabric_link() {
  ClabTopology t = two_nodes();
  ClabLink l;
  l.a = {"dc1-spine1", "eth3"};
  l.b = {"dc1-border1", "eth1"};
  l.name = "dc1-spine1:eth3--dc1-border1:eth1";
  t.links.push_back(l);
  for (const char* n : {"dc1-border1", "dc2-border1", "dc1-spine1"}) t.nodes.push_back({n, "linux", "frr", {}, {}, {}, {}});
  return t;
}

// FRR of qpspread's runner lives under a vtysh pathspace named after the namespace; containerlab's
// in a container named as the namespace.
TEST(ClabDeployed, VtyshByRunner) {
  ClabTopology t = two_nodes();
  EXPECT_EQ(t.vtysh("dc1-border1"), (Argv{"vtysh", "-N", "clab-lab7-dc1-border1"}));
  t.runner = Runner::Containerlab;
  EXPECT_EQ(t.vtysh("dc1-border1"), (Argv{"docker", "exec", "clab-lab7-dc1-border1", "vtysh"}));
}

// A WAN link is cut behind its ends: netem drops everything on both, the rest of its impairment
// kept, the carrier up; restored to the impairment given.
TEST(ClabDeployed, WanCutIsLossOfEveryFrameOnBothEnds) {
  const ClabTopology t = with_fabric_link();
  const wan::Impairment now = imp(25000, 1000, 0, 20000000);
  const Commands cut = clab_link_commands(t, t.links[0], false, now);
  EXPECT_EQ(cut, (Commands{netem_command("clab-lab7-dc1-border1", "eth3", imp(25000, 1000, 100, 20000000)),
                           netem_command("clab-lab7-dc2-border1", "eth4", imp(25000, 1000, 100, 20000000))}));
  EXPECT_EQ(clab_link_commands(t, t.links[0], true, now), clab_netem_commands(t, t.links[0], now));
}

TEST(ClabDeployed, FabricLinkCutTakesBothEndsDown) {
  const ClabTopology t = with_fabric_link();
  EXPECT_EQ(clab_link_commands(t, t.links[1], false, {}),
            (Commands{{"ip", "-n", "clab-lab7-dc1-spine1", "link", "set", "dev", "eth3", "down"},
                      {"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth1", "down"}}));
  EXPECT_EQ(clab_link_commands(t, t.links[1], true, {}),
            (Commands{{"ip", "-n", "clab-lab7-dc1-spine1", "link", "set", "dev", "eth3", "up"},
                      {"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth1", "up"}}));
}

// A node stop: every interface of its links down, then the container frozen; start: thawed, then
// the interfaces up. The container and its namespace stay, so containerlab's veths do.
TEST(ClabDeployed, NodeStopDownsItsInterfacesThenPausesItsContainer) {
  const ClabTopology t = with_fabric_link();
  EXPECT_EQ(clab_node_commands(t, "dc1-border1", false),
            (Commands{{"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth3", "down"},
                      {"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth1", "down"},
                      {"docker", "pause", "clab-lab7-dc1-border1"}}));
  EXPECT_EQ(clab_node_commands(t, "dc1-border1", true),
            (Commands{{"docker", "unpause", "clab-lab7-dc1-border1"},
                      {"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth3", "up"},
                      {"ip", "-n", "clab-lab7-dc1-border1", "link", "set", "dev", "eth1", "up"}}));
}

// A lab whose namespaces are missing is named as not deployed, node by node.
TEST(ClabDeployed, MissingNamespacesAreNamed) {
  ClabTopology t = with_fabric_link();
  t.name = "qps-never-deployed";
  const std::vector<std::string> missing = clab_not_deployed(t);
  ASSERT_EQ(missing.size(), 3u);
  EXPECT_EQ(missing[0], "node dc1-border1: no namespace clab-qps-never-deployed-dc1-border1");
}

}  // namespace
}  // namespace qpspread::lab
