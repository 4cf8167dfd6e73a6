// The agent's config: every setting read and typed; every bad key or value refused with its file,
// line and key, before anything is touched.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "userspace/agent/agent_config.h"

namespace qpspread::agent {
namespace {

AgentConfig parse(const std::string& text) { return parse_agent_config(text, "agent.yml"); }

// The error's text for a config that must be refused.
std::string refused(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return "";
}

TEST(AgentConfig, AnEmptyFileIsThisNamespaceWithTheDefaults) {
  const AgentConfig c = parse("");
  ASSERT_EQ(c.targets.size(), 1u);
  EXPECT_TRUE(c.targets[0].netns.empty());
  EXPECT_TRUE(c.targets[0].discover_uplinks);
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 9477);
  EXPECT_EQ(c.default_mode.mode, QPS_MODE_QP_HASH);
  EXPECT_EQ(c.mark, static_cast<uint32_t>(QPS_DEFAULT_MARK));
  EXPECT_FALSE(c.detach_on_exit);
  EXPECT_FALSE(c.tc_api.has_value()) << "attach's default";
}

TEST(AgentConfig, EverySettingIsRead) {
  const AgentConfig c = parse(R"(
listen: "[::1]:9100"
targets:
  - netns: leaf1
    devices: [vx100, vx200]
    uplinks: [eth1, eth2]
    transit: [eth3]
    transit_vnis: [100]
  - netns: self
    uplinks: none
  - lab: dc
mode: off
flowlet_gap: 20ms
vnis:
  100: {mode: balance, flowlet_gap: 5ms}
  200: {mode: qp-hash}
mark: 0x77
balance: {interval: 500ms, observe: [border1]}
tc_api: clsact
resync: 10s
on_exit: detach
)");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 9100);
  ASSERT_EQ(c.targets.size(), 3u);
  EXPECT_EQ(c.targets[0].netns, "leaf1");
  EXPECT_EQ(c.targets[0].devices, (std::vector<std::string>{"vx100", "vx200"}));
  EXPECT_EQ(c.targets[0].uplinks, (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(c.targets[0].transit, (std::vector<std::string>{"eth3"}));
  EXPECT_EQ(c.targets[0].transit_vnis, (std::vector<uint32_t>{100}));
  EXPECT_EQ(c.targets[1].netns, "");
  EXPECT_FALSE(c.targets[1].discover_uplinks);
  EXPECT_EQ(c.targets[2].lab, "dc");
  EXPECT_EQ(c.default_mode.mode, QPS_MODE_OFF);
  EXPECT_EQ(c.default_mode.flowlet_gap_us, 20'000u);
  ASSERT_EQ(c.vnis.size(), 2u);
  EXPECT_EQ(c.vnis.at(100).mode, QPS_MODE_BALANCE);
  EXPECT_EQ(c.vnis.at(100).flowlet_gap_us, 5'000u);
  EXPECT_EQ(c.vnis.at(200).mode, QPS_MODE_QP_HASH);
  EXPECT_EQ(c.vnis.at(200).flowlet_gap_us, 20'000u) << "the default gap";
  EXPECT_EQ(c.mark, 0x77u);
  EXPECT_EQ(c.balance_interval_ns, 500'000'000);
  EXPECT_EQ(c.balance_observe, (std::vector<std::string>{"border1"}));
  EXPECT_EQ(c.resync_ns, 10'000'000'000);
  EXPECT_TRUE(c.detach_on_exit);
  EXPECT_EQ(c.tc_api, TcApi::clsact);
  EXPECT_EQ(parse("tc_api: tcx").tc_api, TcApi::tcx);
  EXPECT_EQ(parse("listen: off").listen_port, 0);
}

TEST(AgentConfig, BadKeysAndValuesAreNamedWithTheirLine) {
  EXPECT_EQ(refused("mode: off\nmodes: qp-hash\n"),
            "agent.yml:2: modes: unknown key; known here: balance, flowlet_gap, listen, mark, mode, on_exit, resync, "
            "targets, tc_api, vnis");
  EXPECT_EQ(refused("tc_api: ebpf\n"), "agent.yml:1: tc_api: 'ebpf' is not one of tcx, clsact");
  EXPECT_EQ(refused("vnis:\n  100: {mode: fast}\n"), "agent.yml:2: vnis.100.mode: 'fast' is not one of off, qp-hash, balance");
  EXPECT_EQ(refused("targets:\n  - netns: a\n    uplink: [eth1]\n"),
            "agent.yml:3: targets[0].uplink: unknown key; known here: devices, lab, netns, transit, transit_vnis, uplinks");
  EXPECT_EQ(refused("listen: 9477\n"),
            "agent.yml:1: listen: '9477' is not HOST:PORT (like 127.0.0.1:9477 or [::1]:9477, port 1-65535) or off");
  EXPECT_EQ(refused("listen: 127.0.0.1:70000\n").substr(0, 21), "agent.yml:1: listen: ");
  EXPECT_EQ(refused("mark: 0\n"), "agent.yml:1: mark: '0' is not a number from 1 to 4294967295 (decimal, or hexadecimal like 0x5150)");
  EXPECT_EQ(refused("mark: 0xzz\n").substr(0, 19), "agent.yml:1: mark: ");
  EXPECT_EQ(refused("vnis:\n  16777216: {mode: off}\n"), "agent.yml:2: vnis.16777216: '16777216' is not an integer from 1 to 16777215");
  EXPECT_EQ(refused("vnis:\n  100: {flowlet_gap: 5ms}\n"), "agent.yml:2: vnis.100: the VNI has no mode");
  EXPECT_EQ(refused("flowlet_gap: 0us\n"), "agent.yml:1: flowlet_gap: '0us' is outside 1us to 60s");
  EXPECT_EQ(refused("balance: {interval: 1ms}\n"), "agent.yml:1: balance.interval: '1ms' is shorter than 10ms");
  EXPECT_EQ(refused("resync: 100ms\n"), "agent.yml:1: resync: '100ms' is shorter than 1000ms");
  EXPECT_EQ(refused("on_exit: maybe\n"), "agent.yml:1: on_exit: 'maybe' is not one of keep, detach");
  EXPECT_EQ(refused("targets:\n  - {netns: a, lab: b}\n"), "agent.yml:2: targets[0].lab: a target is either a netns or a lab, not both");
  EXPECT_EQ(refused("targets:\n  - {lab: b, uplinks: [eth1]}\n"),
            "agent.yml:2: targets[0].uplinks: a lab target takes each node's role from the lab; it has no uplinks");
  EXPECT_EQ(refused("targets:\n  - netns: a\n  - netns: a\n"), "agent.yml:3: targets[1]: the same target twice");
  EXPECT_EQ(refused("targets:\n  - {netns: a, transit_vnis: [100]}\n"),
            "agent.yml:2: targets[0].transit_vnis: transit_vnis needs transit interfaces");
  EXPECT_EQ(refused("targets:\n  - {netns: a, uplinks: [e1], transit: [e1]}\n"),
            "agent.yml:2: targets[0]: e1 is both an uplink and a transit interface; an interface takes one role");
  EXPECT_EQ(refused("targets:\n  - {netns: a, uplinks: [this-name-is-too-long]}\n"),
            "agent.yml:2: targets[0].uplinks: 'this-name-is-too-long' is not an interface name (1 to 15 characters, no '/' "
            "or space)");
  EXPECT_EQ(refused("targets: []\n"), "agent.yml:1: targets: expected a list of targets like [{netns: leaf1}, {lab: dc}]");
  EXPECT_EQ(refused("mode: [off]\n"), "agent.yml:1: mode: expected a single value");
  EXPECT_EQ(refused("- a\n- b\n"), "agent.yml: the agent's config is a map (listen, targets, mode, ...)");
  EXPECT_EQ(refused("mode: off\n  bad: [\n").substr(0, 23), "agent.yml:2: not YAML: ");
}

TEST(AgentConfig, ListenParsesHostsAndPorts) {
  std::string host;
  uint16_t port = 1;
  EXPECT_TRUE(parse_listen("0.0.0.0:80", host, port));
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 80);
  EXPECT_TRUE(parse_listen("off", host, port));
  EXPECT_EQ(port, 0);
  for (const char* bad : {"", ":80", "host", "host:", "host:0", "host:65536", "host:8x"})
    EXPECT_FALSE(parse_listen(bad, host, port)) << bad;
}

}  // namespace
}  // namespace qpspread::agent
