// Lab fidelity (issue 10): in the default lab, every router with an ECMP choice on the way from
// dc1-leaf1-h100 to dc2-leaf1-h100 sends each QP's VXLAN frames over the link its own kernel
// predicts for the frame's outer header (route_oracle.h), as a switch hashing the outer header
// with its own seed would; and the borders' predictions use both of their links. With qpspread in
// qp-hash on dc1-leaf1 every QP gets its own outer source port. Under the old hash policy 1 a
// router behind veth took the leaf's skb hash instead (dc1-border1 agreed for 21 of 32 QPs).
// QPS_FIDELITY_LAB_FILE=path runs the same check on another topology file (by hand).
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "common/netns.h"
#include "tests/e2e/route_oracle.h"
#include "tests/support/test_util.h"
#include "userspace/lab/clab_file.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_sender.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
using workload::FrameCapture;
constexpr int kQps = 32;
constexpr uint16_t kVxlanPort = 4789;

std::string lab_file() {
  const char* f = std::getenv("QPS_FIDELITY_LAB_FILE");
  return f && *f ? f : QPS_LAB_FILE;
}

std::string dotted(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char b[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, b, sizeof(b));
}

// The first address an exec command of `node` adds ("ip addr add A/N dev DEV").
std::string exec_address(const lab::ClabNode& n, const std::string& dev) {
  const std::regex addr("ip addr add ([0-9.]+)/[0-9]+ dev " + dev);
  for (const auto& e : n.exec) {
    std::smatch m;
    if (std::regex_search(e, m, addr)) return m[1].str();
  }
  return "";
}

std::array<uint8_t, 6> mac_of(const std::string& ns, const std::string& dev) {
  const json j = json::parse(run_ok({"ip", "-j", "-n", ns, "link", "show", dev}));
  std::array<uint8_t, 6> mac{};
  unsigned v[6];
  std::sscanf(j[0]["address"].get<std::string>().c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4],
              &v[5]);
  for (int i = 0; i < 6; i++) mac[i] = static_cast<uint8_t>(v[i]);
  return mac;
}

// The devices of the route to `dst` in `ns` (several when the router has an ECMP choice).
std::set<std::string> nexthop_devs(const std::string& ns, const std::string& dst) {
  std::set<std::string> devs;
  for (const auto& r : json::parse(run_ok({"ip", "-j", "-n", ns, "route", "show", dst}))) {
    if (r.contains("dev")) devs.insert(r["dev"].get<std::string>());
    if (r.contains("nexthops"))
      for (const auto& nh : r["nexthops"]) devs.insert(nh["dev"].get<std::string>());
  }
  return devs;
}

// What one router did with each QP: the links it arrived by and left by, its outer source port.
struct QpSeen {
  std::set<std::string> in, out;
  std::set<uint16_t> sports;
  uint32_t outer_src = 0, outer_dst = 0;
};

struct RouterWatch {
  std::string node, ns;
  std::set<std::string> choices;  // the next hops towards the destination VTEP
  std::vector<std::unique_ptr<FrameCapture>> caps;
  std::map<uint32_t, QpSeen> qps;  // by destination QP

  void tally() {
    for (auto& c : caps) {
      const bool out = choices.count(c->ifname()) > 0;
      for (const auto& f : c->drain()) {
        auto v = workload::parse_vxlan_frame(f);
        if (!v || !v->inner_is_roce) continue;
        QpSeen& q = qps[v->dest_qp];
        (out ? q.out : q.in).insert(c->ifname());
        q.sports.insert(v->outer_sport);
        q.outer_src = v->outer_src;
        q.outer_dst = v->outer_dst;
      }
    }
  }
};

class LabFidelity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || ::access("/usr/lib/frr/zebra", X_OK) != 0) return;
    topo_ = new lab::ClabTopology(lab::load_clab(lab_file()));
    name_ = "qpsf" + std::to_string(::getpid() % 100000);
    up_ = new CommandResult(run({QPSPREAD_BIN, "lab", "up", "-t", lab_file(), "--name", name_, "--timeout", "60"}));
  }
  static void TearDownTestSuite() {
    if (up_) run({QPSPREAD_BIN, "lab", "down", "--name", name_});
    delete up_;
    delete topo_;
    up_ = nullptr;
    topo_ = nullptr;
  }
  void SetUp() override {
    if (!up_) GTEST_SKIP() << "needs root and FRR";
    ASSERT_EQ(up_->exit_code, 0) << up_->out << up_->err;
  }
  static std::string netns(const std::string& node) { return "clab-" + name_ + "-" + node; }

  // Watches, on every router with more than one next hop towards `dst_vtep`, the VXLAN frames
  // leaving by each next hop and arriving by each other link of the node.
  static std::vector<std::unique_ptr<RouterWatch>> watch_routers(const std::string& dst_vtep) {
    std::vector<std::unique_ptr<RouterWatch>> out;
    for (const auto& n : topo_->nodes) {
      if (n.labels.count("role") == 0 || n.labels.at("role") == "host") continue;
      auto w = std::make_unique<RouterWatch>();
      w->node = n.name;
      w->ns = netns(n.name);
      w->choices = nexthop_devs(w->ns, dst_vtep);
      if (w->choices.size() < 2) continue;
      Netns::open(w->ns).run([&] {
        for (const auto& l : topo_->links)
          for (const auto* e : {&l.a, &l.b}) {
            if (e->node != n.name) continue;
            const bool nexthop = w->choices.count(e->ifname) > 0;
            w->caps.push_back(std::make_unique<FrameCapture>(
                e->ifname, nexthop ? FrameCapture::Direction::Outgoing : FrameCapture::Direction::Incoming,
                kVxlanPort));
          }
      });
      out.push_back(std::move(w));
    }
    return out;
  }

  static void send_qps(const std::string& from, const std::string& to, int qps) {
    const lab::ClabNode *src = topo_->node(from), *dst = topo_->node(to);
    ASSERT_TRUE(src && dst);
    workload::RoceFrameSpec spec;
    spec.src_mac = mac_of(netns(from), "eth1");
    spec.dst_mac = mac_of(netns(to), "eth1");
    in_addr a{}, b{};
    inet_pton(AF_INET, exec_address(*src, "eth1").c_str(), &a);
    inet_pton(AF_INET, exec_address(*dst, "eth1").c_str(), &b);
    spec.src_ip = ntohl(a.s_addr);
    spec.dst_ip = ntohl(b.s_addr);
    workload::QpTraffic t;
    t.qps = qps;
    t.frames_per_qp = 8;
    const auto frames = workload::build_qp_frames(spec, t);
    Netns::open(netns(from)).run([&] {
      workload::RawSender tx("eth1");
      for (size_t i = 0; i < frames.size(); i++) {
        tx.send(frames[i]);
        if (i % 32 == 31) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }

  static inline lab::ClabTopology* topo_ = nullptr;
  static inline std::string name_;
  static inline CommandResult* up_ = nullptr;
};

// The router's own prediction for one QP: a packet it sends itself, or one it forwards.
std::string predict(const FibProbe& probe, const RouterWatch& w, const QpSeen& q) {
  const OuterFlow f{dotted(q.outer_src), dotted(q.outer_dst), *q.sports.begin()};
  if (q.in.empty()) return local_choice(probe, w.ns, f);
  return forwarded_choice(w.ns, *q.in.begin(), f);
}

TEST_F(LabFidelity, EveryRouterWithAChoiceSendsEachQpWhereItsOwnHashSays) {
  const std::string from = "dc1-leaf1-h100", to = "dc2-leaf1-h100";
  const std::string dst_vtep = exec_address(*topo_->node("dc2-leaf1"), "lo");
  ASSERT_FALSE(dst_vtep.empty());
  CommandResult a = run({QPSPREAD_BIN, "attach", "--lab", name_, "--node", "dc1-leaf1", "--mode", "qp-hash"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // EVPN learns the hosts' MACs from this exchange; the raw frames below are addressed to them.
  ASSERT_EQ(run({"ip", "netns", "exec", netns(from), "ping", "-q", "-c", "3", "-i", "0.2", "-W", "2",
                 exec_address(*topo_->node(to), "eth1")}).exit_code, 0);
  auto routers = watch_routers(dst_vtep);
  send_qps(from, to, kQps);
  const FibProbe probe;
  std::set<std::string> watched;
  for (auto& w : routers) {
    w->tally();
    if (w->qps.empty()) continue;  // not on this path (dc1-leaf2, dc2-leaf2)
    watched.insert(w->node);
    EXPECT_EQ(w->qps.size(), static_cast<size_t>(kQps)) << w->node;
    int agree = 0, flow_agree = 0;
    std::set<std::string> predicted;
    for (const auto& [qpn, q] : w->qps) {
      ASSERT_EQ(q.out.size(), 1u) << w->node << " QP " << qpn << " left by more than one link";
      ASSERT_EQ(q.sports.size(), 1u) << w->node << " QP " << qpn << " changed outer source port";
      const std::string p = predict(probe, *w, q);
      predicted.insert(p);
      agree += p == *q.out.begin();
      // For the record: the flow (fl4) hash, right for the node's own packets, on forwarded ones.
      const OuterFlow f{dotted(q.outer_src), dotted(q.outer_dst), *q.sports.begin()};
      flow_agree += local_choice(probe, w->ns, f) == *q.out.begin();
      EXPECT_EQ(*q.out.begin(), p) << w->node << " QP " << qpn << " sport " << *q.sports.begin()
                                   << (q.in.empty() ? " (sent by the node)" : " (in by " + *q.in.begin() + ")");
    }
    std::printf("%-12s %d of %zu QPs on the link the router predicts (flow hash: %d)\n", w->node.c_str(), agree,
                w->qps.size(), flow_agree);
    if (w->node.find("border") != std::string::npos) {
      EXPECT_EQ(predicted, w->choices) << w->node << ": the prediction uses every link for some QP";
    }
  }
  EXPECT_EQ(watched, (std::set<std::string>{"dc1-leaf1", "dc1-border1", "dc2-border1"}))
      << "the routers with a choice on the way";
  run({QPSPREAD_BIN, "detach", "--lab", name_, "--node", "dc1-leaf1"});
}

}  // namespace
}  // namespace qpspread::test
