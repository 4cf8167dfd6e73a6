// The checked-in multi-DC lab (lab/): it is exactly what qpspread-labgen writes, it is a
// topology the lab runner and containerlab can consume, and FRR accepts every router's config.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/support/test_util.h"
#include "userspace/labgen/clab_writer.h"
#include "userspace/labgen/lab_spec.h"

namespace {

namespace fs = std::filesystem;
using qpspread::test::run;

const fs::path kLab = fs::path(QPSPREAD_SOURCE_DIR) / "lab";
const fs::path kTopology = kLab / "scaleacross.clab.yml";

// The generator runs that produce lab/: the contract file and the larger variant.
const std::vector<std::vector<std::string>> kGenerations = {
    {},
    {"--name", "scaleacross-large", "--leaves", "4", "--configs-dir", "configs-large"},
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = slurp(e.path());
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/qpspread-labgen-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LabFiles, RegeneratingGivesTheCheckedInFilesByteForByte) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  for (auto args : kGenerations) {
    args.insert(args.begin(), {QPSPREAD_LABGEN, "-q", "--out", tmp.path()});
    const auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto want = files_under(tmp.path()), have = files_under(kLab);
  for (const auto& [name, text] : want) {
    auto it = have.find(name);
    ASSERT_NE(it, have.end()) << "lab/" << name << " is missing; run: qpspread-labgen --out lab";
    EXPECT_EQ(it->second, text) << "lab/" << name << " drifted from the generator; regenerate it";
  }
  for (const auto& [name, text] : have)
    EXPECT_TRUE(want.count(name)) << "lab/" << name << " is not generated (stale file?)";
}

TEST(LabFiles, GeneratorRejectsCountsOutsideTheAddressPlan) {
  for (const char* bad : {"--dcs=5", "--leaves=10", "--spines=0", "--wan-links=0"}) {
    TempDir tmp;
    const auto r = run({QPSPREAD_LABGEN, "-q", "--out", tmp.path(), bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("must be"), std::string::npos) << bad << ": " << r.err;
  }
}

class Topology : public ::testing::Test {
 protected:
  void SetUp() override { root_ = YAML::LoadFile(kTopology.string()); }
  YAML::Node nodes() const { return root_["topology"]["nodes"]; }
  YAML::Node links() const { return root_["topology"]["links"]; }
  YAML::Node root_;
};

TEST_F(Topology, HasEighteenNodesInTwoDataCenters) {
  EXPECT_EQ(root_["name"].as<std::string>(), "scaleacross");
  ASSERT_TRUE(nodes().IsMap());
  EXPECT_EQ(nodes().size(), 18u);
  std::map<std::string, int> roles;
  for (const auto& n : nodes()) {
    EXPECT_EQ(n.second["kind"].as<std::string>(), "linux") << n.first;
    EXPECT_FALSE(n.second["image"].as<std::string>().empty()) << n.first;
    const std::string dc = n.second["labels"]["dc"].as<std::string>();
    EXPECT_TRUE(dc == "dc1" || dc == "dc2") << n.first;
    EXPECT_EQ(n.first.as<std::string>().rfind(dc + "-", 0), 0u) << n.first;
    roles[n.second["labels"]["role"].as<std::string>()]++;
  }
  EXPECT_EQ(roles, (std::map<std::string, int>{{"spine", 4}, {"leaf", 4}, {"border", 2}, {"host", 8}}));
}

TEST_F(Topology, LinksJoinExistingNodesAndUseEachInterfaceOnce) {
  std::set<std::string> used;
  for (const auto& l : links()) {
    const auto ends = l["endpoints"];
    ASSERT_EQ(ends.size(), 2u);
    for (const auto& e : ends) {
      const std::string s = e.as<std::string>();
      const auto colon = s.find(':');
      ASSERT_NE(colon, std::string::npos) << s;
      EXPECT_TRUE(nodes()[s.substr(0, colon)]) << "no node " << s.substr(0, colon);
      EXPECT_NE(s.substr(colon + 1), "eth0") << s << ": eth0 is containerlab's management";
      EXPECT_TRUE(used.insert(s).second) << s << " used twice";
    }
  }
  EXPECT_EQ(links().size(), 22u);
}

TEST_F(Topology, BindSourcesExistRelativeToTheTopology) {
  for (const auto& n : nodes()) {
    if (!n.second["binds"]) continue;
    for (const auto& b : n.second["binds"]) {
      const std::string bind = b.as<std::string>();
      const fs::path src = kTopology.parent_path() / bind.substr(0, bind.find(':'));
      EXPECT_TRUE(fs::is_regular_file(src)) << n.first << ": " << src;
    }
  }
}

constexpr const char* kSeedExec = "sysctl -w -e net.ipv4.fib_multipath_hash_seed=";

// Policy 3 over the outer 5-tuple (0x37: source and destination IP, protocol, source and
// destination port): forwarded VXLAN is hashed from its outer header, not from the skb hash the
// previous hop left on it. The seed is an exec entry so the file deploys where the key is missing.
TEST_F(Topology, EveryRouterForwardsAndHashesTheOuterFiveTupleWithItsOwnSeed) {
  std::set<std::string> seeds;
  int routers = 0;
  for (const auto& n : nodes()) {
    if (n.second["labels"]["role"].as<std::string>() == "host") continue;
    routers++;
    const auto s = n.second["sysctls"];
    ASSERT_TRUE(s) << n.first;
    EXPECT_EQ(s["net.ipv4.ip_forward"].as<int>(), 1) << n.first;
    EXPECT_EQ(s["net.ipv4.fib_multipath_hash_policy"].as<int>(), 3) << n.first;
    EXPECT_EQ(s["net.ipv4.fib_multipath_hash_fields"].as<int>(), 0x37) << n.first;
    EXPECT_EQ(s["net.ipv4.conf.all.rp_filter"].as<int>(), 0) << n.first;
    EXPECT_FALSE(s["net.ipv4.fib_multipath_hash_seed"]) << n.first << ": containerlab refuses it before Linux 6.11";
    int seed_execs = 0;
    for (const auto& c : n.second["exec"]) {
      const std::string cmd = c.as<std::string>();
      if (cmd.rfind(kSeedExec, 0) != 0) continue;
      seed_execs++;
      EXPECT_TRUE(seeds.insert(cmd.substr(std::string(kSeedExec).size())).second) << n.first << ": " << cmd;
    }
    EXPECT_EQ(seed_execs, 1) << n.first;
  }
  EXPECT_EQ(routers, 10);
}

// iproute2, and the one sysctl that may be missing; no shell: containerlab runs each entry without one.
TEST_F(Topology, ExecIsPlainIproute2AndTheSeed) {
  for (const auto& n : nodes())
    for (const auto& c : n.second["exec"]) {
      const std::string cmd = c.as<std::string>();
      EXPECT_TRUE(cmd.rfind("ip ", 0) == 0 || cmd.rfind(kSeedExec, 0) == 0) << n.first << ": " << cmd;
      EXPECT_EQ(cmd.find_first_of("|;&$`><"), std::string::npos) << n.first << ": " << cmd;
    }
}

TEST_F(Topology, TwoWanLinksBetweenTheBordersCarryNameAndImpairment) {
  std::set<std::string> names;
  for (const auto& l : links()) {
    if (!l["vars"]) continue;
    EXPECT_EQ(l["endpoints"][0].as<std::string>().rfind("dc1-border1:", 0), 0u);
    EXPECT_EQ(l["endpoints"][1].as<std::string>().rfind("dc2-border1:", 0), 0u);
    names.insert(l["vars"]["name"].as<std::string>());
    const auto imp = l["vars"]["impairment"];
    for (const char* k : {"delay", "jitter", "loss", "rate"}) EXPECT_TRUE(imp[k]) << k;
  }
  EXPECT_EQ(names, (std::set<std::string>{"wan1", "wan2"}));
}

TEST(LabSpec, HostAddressesAreUniqueAcrossDataCenters) {
  const auto spec = qpspread::lab::build_lab({});
  std::set<std::string> ips, loopbacks;
  for (const auto& n : spec.nodes) {
    if (n.router()) EXPECT_TRUE(loopbacks.insert(n.loopback).second) << n.name;
    else EXPECT_TRUE(ips.insert(n.host_ip).second) << n.name;
  }
  EXPECT_EQ(ips.size(), 8u);
}

// A host's MAC is set only when the spec names one (the test fabric's hosts need known MACs).
TEST(LabSpec, HostMacIsSetBeforeTheLinkComesUpOnlyWhenGiven) {
  qpspread::lab::LabNode h;
  h.host_ip = "10.100.0.1/24";
  for (const auto& c : qpspread::lab::node_exec(h)) EXPECT_EQ(c.find("address"), std::string::npos) << c;
  h.mac = "02:00:00:00:01:01";
  const std::vector<std::string> cmds = qpspread::lab::node_exec(h);
  const auto mac = std::find(cmds.begin(), cmds.end(), "ip link set dev eth1 address 02:00:00:00:01:01");
  const auto up = std::find(cmds.begin(), cmds.end(), "ip link set dev eth1 up");
  ASSERT_NE(mac, cmds.end());
  EXPECT_LT(mac, up);
}

// vtysh parses the integrated file against every daemon's command tree and reports each line it
// does not know (exit code 2); no daemon needs to run.
TEST(LabFrrConfigs, VtyshDryRunAcceptsEveryRouterConfig) {
  if (run({"vtysh", "--help"}).exit_code != 0) GTEST_SKIP() << "vtysh (FRR) is not installed";
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(kLab)) {
    if (e.path().filename() != "frr.conf") continue;
    const auto r = run({"vtysh", "--dryrun", "-f", e.path().string()});
    EXPECT_EQ(r.exit_code, 0) << e.path() << ":\n" << r.out << r.err;
    checked++;
  }
  EXPECT_EQ(checked, 10 + 14);  // scaleacross + scaleacross-large
}

TEST(LabFrrConfigs, VtyshDryRunRejectsABrokenConfig) {
  if (run({"vtysh", "--help"}).exit_code != 0) GTEST_SKIP() << "vtysh (FRR) is not installed";
  TempDir tmp;
  const std::string path = tmp.path() + "/frr.conf";
  std::ofstream(path) << slurp(kLab / "configs/dc1-leaf1/frr.conf") << "router bgp 65111\n neighbor fabric peer-gruop\n";
  EXPECT_NE(run({"vtysh", "--dryrun", "-f", path}).exit_code, 0);
}

}  // namespace
