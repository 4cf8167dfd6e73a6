// Uplink discovery in namespaces these tests build: a VXLAN device, three veth uplinks, remote
// VTEPs reached by a nexthop group (as FRR installs them), a classic multipath route and a single
// path; only the interfaces on the routes to a remote VTEP are chosen, and `attach` without
// --uplink counts on exactly those.
#include <net/if.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/netns.h"
#include "loader/rtnl.h"
#include "loader/uplink_discovery.h"
#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
using Names = std::vector<std::string>;

class UplinkDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    ns_ = std::make_unique<ScopedNetns>("qps-nhd");
    add_vxlan("vx100", "100", {"local", "10.0.0.1"});
    // upN/dnN: the leaf's side and the spine's side, both in this namespace (the peers only
    // have to exist and be up for the routes to be accepted).
    for (const char* n : {"1", "2", "3"}) {
      ns_->ip({"link", "add", std::string("up") + n, "type", "veth", "peer", "name", std::string("dn") + n});
      ns_->ip({"link", "set", std::string("up") + n, "up"});
      ns_->ip({"link", "set", std::string("dn") + n, "up"});
    }
    ns_->ip({"addr", "add", "192.0.2.1/30", "dev", "up1"});
    ns_->ip({"addr", "add", "192.0.2.5/30", "dev", "up2"});
    ns_->ip({"addr", "add", "192.0.2.9/30", "dev", "up3"});
    // Remote VTEPs: 10.0.0.2 by a nexthop group, 10.0.0.3 by classic multipath, 10.0.0.4 by one
    // path. up3 carries routes too, but none to a VTEP: a prefix and the default route.
    ns_->ip({"nexthop", "add", "id", "1", "via", "192.0.2.2", "dev", "up1"});
    ns_->ip({"nexthop", "add", "id", "2", "via", "192.0.2.6", "dev", "up2"});
    ns_->ip({"nexthop", "add", "id", "10", "group", "1/2"});
    ns_->ip({"route", "add", "10.0.0.2/32", "nhid", "10"});
    ns_->ip({"route", "add", "10.0.0.3/32", "nexthop", "via", "192.0.2.2", "dev", "up1", "nexthop", "via",
             "192.0.2.6", "dev", "up2"});
    ns_->ip({"route", "add", "10.0.0.4/32", "via", "192.0.2.6", "dev", "up2"});
    ns_->ip({"route", "add", "198.51.100.0/24", "via", "192.0.2.10", "dev", "up3"});
    ns_->ip({"route", "add", "default", "via", "192.0.2.10", "dev", "up3"});
  }
  void TearDown() override {
    if (ns_) run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    ns_.reset();
  }

  void add_vxlan(const std::string& dev, const std::string& vni, const Names& extra) {
    Names args = {"link", "add", dev, "type", "vxlan", "id", vni, "dstport", "4789"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("nolearning");
    ns_->ip(args);
    ns_->ip({"link", "set", dev, "up"});
  }
  // FRR's head-end replication entry for a remote VTEP.
  void flood_to(const std::string& vtep, const std::string& dev = "vx100") {
    run_ok({"bridge", "-n", ns_->name(), "fdb", "append", "00:00:00:00:00:00", "dev", dev, "dst", vtep});
  }
  UplinkDiscovery discover(const Names& devs = {"vx100"}) {
    UplinkDiscovery d;
    Netns::open(ns_->name()).run([&] {
      std::vector<int> ifindexes;
      for (const auto& dev : devs) ifindexes.push_back(static_cast<int>(if_nametoindex(dev.c_str())));
      d = discover_uplinks(ifindexes);
    });
    return d;
  }
  std::string egress_hook(const std::string& dev) { return tc_hook_listing(ns_->name(), dev, "egress"); }

  std::unique_ptr<ScopedNetns> ns_;
};

// What invalidates mode balance's knowledge of a router's ECMP stage: the route's fingerprint
// changes with its legs and with the multipath hash seed, and is the same again when the same legs
// come back in the same order; the rtnetlink notifications say that something changed.
TEST_F(UplinkDiscoveryTest, RouteFingerprintFollowsTheLegsAndTheHashSeedAndChangesAreNotified) {
  const Netns ns = Netns::open(ns_->name());
  std::unique_ptr<RtnlEvents> events;
  ns.run([&] { events = std::make_unique<RtnlEvents>(); });
  auto get = [&] {
    RouteToVtep r;
    ns.run([&] { r = route_to("10.0.0.3"); });
    return r;
  };
  const RouteToVtep both = get();
  EXPECT_EQ(both.prefix, "10.0.0.3/32");
  EXPECT_EQ(both.devices, (Names{"up1", "up2"}));
  EXPECT_FALSE(events->changed()) << "nothing changed yet";
  ns_->ip({"route", "replace", "10.0.0.3/32", "via", "192.0.2.2", "dev", "up1"});
  EXPECT_TRUE(events->changed());
  EXPECT_FALSE(events->changed()) << "drained";
  const RouteToVtep one = get();
  EXPECT_EQ(one.devices, Names{"up1"});
  EXPECT_NE(one.fingerprint, both.fingerprint);
  ns_->ip({"route", "replace", "10.0.0.3/32", "nexthop", "via", "192.0.2.2", "dev", "up1", "nexthop", "via",
           "192.0.2.6", "dev", "up2"});
  EXPECT_EQ(get().fingerprint, both.fingerprint) << "the same legs in the same order: the same mapping";
  run_ok({"ip", "netns", "exec", ns_->name(), "sysctl", "-qw", "net.ipv4.fib_multipath_hash_seed=4242"});
  EXPECT_NE(get().fingerprint, both.fingerprint) << "another seed hashes the ports elsewhere";
}

TEST_F(UplinkDiscoveryTest, NexthopGroupRouteGivesEveryMembersDevice) {
  flood_to("10.0.0.2");
  UplinkDiscovery d = discover();
  EXPECT_EQ(d.uplinks, (Names{"up1", "up2"}));
  ASSERT_EQ(d.remote_vteps.size(), 1u);
  EXPECT_EQ(d.remote_vteps[0].address, "10.0.0.2");
  EXPECT_EQ(d.remote_vteps[0].route, "10.0.0.2/32");
  EXPECT_EQ(d.remote_vteps[0].vxlan_devices, Names{"vx100"});
}

// With nexthop_compat_mode 0 the kernel reports only the route's nexthop id (RTA_NH_ID), not the
// expanded legs: the group's members must then be read from the nexthop objects themselves.
TEST_F(UplinkDiscoveryTest, NexthopGroupIsReadFromTheNexthopObjectsWithoutCompatMode) {
  run_ok({"ip", "netns", "exec", ns_->name(), "sysctl", "-qw", "net.ipv4.nexthop_compat_mode=0"});
  const std::string route = ns_->ip({"route", "get", "fibmatch", "10.0.0.2"});
  EXPECT_EQ(route.find("dev up"), std::string::npos) << "the kernel still expands the group: " << route;
  flood_to("10.0.0.2");
  EXPECT_EQ(discover().uplinks, (Names{"up1", "up2"}));
}

TEST_F(UplinkDiscoveryTest, MultipathRouteGivesEveryLegsDevice) {
  flood_to("10.0.0.3");
  EXPECT_EQ(discover().uplinks, (Names{"up1", "up2"}));
}

TEST_F(UplinkDiscoveryTest, SinglePathRouteGivesItsDevice) {
  flood_to("10.0.0.4");
  EXPECT_EQ(discover().uplinks, Names{"up2"});
}

TEST_F(UplinkDiscoveryTest, DefaultRouteAndOtherPrefixesDoNotMakeAnUplink) {
  flood_to("10.0.0.9");  // only the default route (via up3) covers it
  UplinkDiscovery d = discover();
  EXPECT_TRUE(d.uplinks.empty());
  ASSERT_EQ(d.remote_vteps.size(), 1u);
  EXPECT_EQ(d.remote_vteps[0].route, "");
}

TEST_F(UplinkDiscoveryTest, ExternLearnedMacsAndUnicastRemoteAreVteps) {
  run_ok({"bridge", "-n", ns_->name(), "fdb", "add", "02:00:00:00:00:01", "dev", "vx100", "dst", "10.0.0.2",
          "self", "extern_learn"});
  add_vxlan("vx200", "200", {"local", "10.0.0.1", "remote", "10.0.0.4"});
  UplinkDiscovery d = discover({"vx100", "vx200"});
  EXPECT_EQ(d.uplinks, (Names{"up1", "up2"}));
  ASSERT_EQ(d.remote_vteps.size(), 2u);
  EXPECT_EQ(d.remote_vteps[1].address, "10.0.0.4");
  EXPECT_EQ(d.remote_vteps[1].vxlan_devices, Names{"vx200"});
}

TEST_F(UplinkDiscoveryTest, OnlyTheGivenDevicesVtepsCount) {
  add_vxlan("vx200", "200", {"local", "10.0.0.1"});
  flood_to("10.0.0.4", "vx200");
  EXPECT_TRUE(discover().uplinks.empty());
  EXPECT_EQ(discover({"vx200"}).uplinks, Names{"up2"});
}

TEST_F(UplinkDiscoveryTest, Ipv6RemoteVtepByMultipathRoute) {
  ns_->ip({"addr", "add", "2001:db8:1::1/64", "dev", "up1", "nodad"});
  ns_->ip({"addr", "add", "2001:db8:3::1/64", "dev", "up3", "nodad"});
  ns_->ip({"route", "add", "2001:db8:ff::2/128", "nexthop", "via", "2001:db8:1::2", "dev", "up1", "nexthop",
           "via", "fe80::2", "dev", "up2"});
  add_vxlan("vx6", "600", {"local", "2001:db8:ff::1"});
  flood_to("2001:db8:ff::2", "vx6");
  UplinkDiscovery d = discover({"vx6"});
  EXPECT_EQ(d.uplinks, (Names{"up1", "up2"}));
  ASSERT_EQ(d.remote_vteps.size(), 1u);
  EXPECT_EQ(d.remote_vteps[0].route, "2001:db8:ff::2/128");
}

TEST_F(UplinkDiscoveryTest, AttachWithoutUplinkCountsOnTheDiscoveredOnesAndDetachRemovesThem) {
  flood_to("10.0.0.2");
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name()}));
  ASSERT_EQ(a["uplinks"].size(), 2u) << a.dump();
  EXPECT_EQ(a["uplinks"][0]["ifname"], "up1");
  EXPECT_EQ(a["uplinks"][1]["ifname"], "up2");
  EXPECT_TRUE(a["uplinks"][0]["discovered"].get<bool>());
  ASSERT_EQ(a["remote_vteps"].size(), 1u);
  EXPECT_EQ(a["remote_vteps"][0]["address"], "10.0.0.2");
  EXPECT_EQ(a["remote_vteps"][0]["uplinks"], (json{"up1", "up2"}));
  for (const char* up : {"up1", "up2"}) EXPECT_NE(egress_hook(up).find("qps_uplink_egre"), std::string::npos) << up;
  EXPECT_EQ(egress_hook("up3"), "");
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  for (const char* up : {"up1", "up2", "vx100"}) EXPECT_EQ(egress_hook(up), "") << up;
}

TEST_F(UplinkDiscoveryTest, NoUplinksSkipsDiscovery) {
  flood_to("10.0.0.2");
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--no-uplinks"}));
  EXPECT_TRUE(a["uplinks"].empty());
  EXPECT_FALSE(a["uplinks_discovered"].get<bool>());
  EXPECT_EQ(egress_hook("up1"), "");
}

TEST_F(UplinkDiscoveryTest, NoRouteToAnyVtepStillAttachesAndSaysHowToNameUplinks) {
  flood_to("10.0.0.9");
  CommandResult r = run({QPSPREAD_BIN, "attach", "--netns", ns_->name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("attached: vx100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no uplink carries a route to a remote VTEP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--uplink IF"), std::string::npos) << r.out;
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name()}));
  EXPECT_TRUE(a["uplinks"].empty());
  EXPECT_TRUE(a["uplinks_discovered"].get<bool>());
}

}  // namespace
}  // namespace qpspread::test
