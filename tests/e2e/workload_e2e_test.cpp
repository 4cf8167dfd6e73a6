// The workload generator end to end, without FRR: 4 hosts in their own namespaces, each with an
// eth1 on one bridge (in a 5th namespace). Ring AllReduce and Parameter Server over RC queue
// pairs must produce exact sums, with and without injected loss, and the CLI's JSON must parse.
#include <arpa/inet.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_util.h"
#include "userspace/workload/allreduce.h"
#include "userspace/workload/param_server.h"

namespace qpspread::test {
namespace {

using workload::HostAddr;

class WorkloadE2e : public ::testing::Test {
 protected:
  static constexpr int kHosts = 4;

  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, AF_PACKET)";
    sw_ = std::make_unique<ScopedNetns>("qps-wl-sw");
    sw_->ip({"link", "add", "br0", "type", "bridge"});
    sw_->ip({"link", "set", "br0", "up"});
    for (int i = 0; i < kHosts; i++) {
      hosts_ns_.push_back(std::make_unique<ScopedNetns>("qps-wl-h" + std::to_string(i)));
      const ScopedNetns& h = *hosts_ns_.back();
      const std::string port = "p" + std::to_string(i);
      const std::string mac = "02:00:00:77:00:0" + std::to_string(i + 1);
      const std::string ip = "10.77.0." + std::to_string(i + 1);
      sw_->ip({"link", "add", port, "type", "veth", "peer", "name", "eth1", "netns", h.name()});
      sw_->ip({"link", "set", port, "master", "br0", "up"});
      h.ip({"link", "set", "eth1", "address", mac, "up"});
      h.ip({"addr", "add", ip + "/24", "dev", "eth1"});
      HostAddr a;
      a.netns = h.name();
      a.ip = ntohl(inet_addr(ip.c_str()));
      a.mac = {0x02, 0, 0, 0x77, 0, static_cast<uint8_t>(i + 1)};
      hosts_.push_back(a);
    }
  }

  std::unique_ptr<ScopedNetns> sw_;
  std::vector<std::unique_ptr<ScopedNetns>> hosts_ns_;
  std::vector<HostAddr> hosts_;
};

uint64_t total(const workload::WorkloadReport& r, uint64_t workload::RcQpStats::*field) {
  uint64_t sum = 0;
  for (const auto& q : r.qps) sum += q.stats.*field;
  return sum;
}

TEST_F(WorkloadE2e, RingAllReduceSumsExactlyOverFourNamespaces) {
  workload::TransportOptions opt;
  opt.qps = 2;
  opt.split = workload::SplitMode::Split;
  workload::AllReduceOptions ar;
  ar.bytes = 256 * 1024;
  ar.iterations = 3;
  ar.timeout_ns = 60'000'000'000;
  const auto rep = workload::run_allreduce(hosts_, opt, ar);
  EXPECT_TRUE(rep.correct);
  ASSERT_EQ(rep.iteration_s.size(), 3u);
  EXPECT_EQ(rep.qps.size(), 4u * 3u * 2u);  // every rank has 2 QPs to each of 3 peers
  // The ring only uses QPs to the successor: 2(N-1) chunks of bytes/N per iteration per rank.
  EXPECT_EQ(total(rep, &workload::RcQpStats::tx_bytes), 4u * 3u * 2u * 3u * (256u * 1024u / 4u));
  EXPECT_FALSE(rep.latency_ns.empty());
}

TEST_F(WorkloadE2e, AllReduceRecoversFromDroppedFramesByGoBackN) {
  workload::TransportOptions opt;
  opt.qps = 2;
  opt.drop_every_data_rx = 37;
  opt.ack_timeout_ns = 5'000'000;
  workload::AllReduceOptions ar;
  ar.bytes = 128 * 1024;
  ar.iterations = 2;
  const auto rep = workload::run_allreduce(hosts_, opt, ar);
  EXPECT_TRUE(rep.correct);
  EXPECT_GT(total(rep, &workload::RcQpStats::dropped_by_hook), 0u);
  EXPECT_GT(total(rep, &workload::RcQpStats::retx_frames), 0u);
  EXPECT_GT(total(rep, &workload::RcQpStats::naks_rx), 0u);
}

TEST_F(WorkloadE2e, ParameterServerAggregatesAllWorkers) {
  workload::TransportOptions opt;
  opt.qps = 1;
  opt.sport = workload::SportModel::Few;
  opt.rate_bps = 2e9;
  workload::ParamServerOptions ps;
  ps.servers = 1;
  ps.bytes = 64 * 1024;
  ps.iterations = 3;
  const auto rep = workload::run_param_server(hosts_, opt, ps);
  EXPECT_TRUE(rep.correct);
  EXPECT_EQ(rep.iteration_s.size(), 3u);
}

TEST_F(WorkloadE2e, CliPrintsJsonForAllReduceAndPs) {
  std::vector<std::string> names;
  for (const auto& h : hosts_) names.push_back(h.netns);  // addresses found on eth1
  for (const std::string algo : {"allreduce", "ps", "stream"}) {
    std::vector<std::string> argv = {QPSPREAD_BIN, "-j", "workload", algo, "--size", "65536",
                                     "--iterations", "2", "--qps", "2", "--sport", "qpn", "--hosts"};
    argv.insert(argv.end(), names.begin(), names.end());
    if (algo == "ps") argv.insert(argv.end(), {"--servers", "2", "--workers", "2"});
    const CommandResult r = run(argv);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["algorithm"], algo);
    EXPECT_TRUE(j["correct"].get<bool>());
    EXPECT_EQ(j["iterations"].size(), 2u);
    EXPECT_GT(j["completion_s"]["p50"].get<double>(), 0);
    EXPECT_GT(j["algbw_bps"].get<double>(), 0);
    EXPECT_FALSE(j["qps"].empty());
    EXPECT_TRUE(j["latency_us"].contains("p99"));
    // Congestion, counted: nothing queues on a bridge, so nothing is marked and no CNP goes.
    for (const char* k : {"ecn_ce_rx", "cnp_tx", "cnp_rx"}) EXPECT_EQ(j[k], 0) << k;
    EXPECT_EQ(j["options"]["cc"], "dcqcn");
    EXPECT_TRUE(j["options"]["dcqcn"].contains("off")) << "no --rate: no line rate to recover to";
    for (const char* k : {"cnp_rx", "rate_bps_min", "rate_bps_avg"}) EXPECT_TRUE(j["qps"][0].contains(k)) << k;
  }
}

// The stream: the first host sends to each other host, every byte checked; with DCQCN at a line
// rate, its parameters are the paper's scaled to that rate.
TEST_F(WorkloadE2e, StreamDeliversToEveryReceiverAndReportsDcqcn) {
  std::vector<std::string> argv = {QPSPREAD_BIN, "-j", "workload", "stream", "--size", "300000", "--iterations", "2",
                                   "--qps", "4", "--split", "split", "--rate", "400mbit", "--window", "8", "--hosts"};
  for (const auto& h : hosts_) argv.push_back(h.netns);
  const CommandResult r = run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["correct"].get<bool>());
  EXPECT_EQ(j["options"]["dcqcn"]["line_rate"], "400mbit");
  EXPECT_EQ(j["options"]["dcqcn"]["increase_period"], "5500us") << "55 us x 40 Gbit/s / 400 Mbit/s";
  EXPECT_EQ(j["options"]["cnp_interval"], "5ms");
  EXPECT_EQ(j["options"]["window"], 8);
  uint64_t sent = 0, received = 0;
  for (const auto& q : j["qps"]) {
    if (q["rank"] == 0) sent += q["tx_bytes"].get<uint64_t>();
    else received += q["rx_bytes"].get<uint64_t>();
  }
  EXPECT_EQ(sent, 3u * 2 * 300000) << "to each of 3 receivers, twice";
  EXPECT_EQ(received, sent);
}

// A timed stream (iperf's -t): messages of --size for the duration, then the stream's end; every
// receiver gets whole messages, each checked, and what the sender sent arrived.
TEST_F(WorkloadE2e, TimedStreamSendsForTheDurationInWholeMessages) {
  std::vector<std::string> argv = {QPSPREAD_BIN, "-j", "workload", "stream", "--size", "64kb", "--duration", "1s",
                                   "--qps", "4", "--split", "split", "--rate", "100mbit", "--hosts"};
  for (const auto& h : hosts_) argv.push_back(h.netns);
  const CommandResult r = run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["correct"].get<bool>());
  const auto bytes = j["bytes"].get<uint64_t>();
  EXPECT_GT(bytes, 10u * 64000) << "100 Mbit/s for a second is far more than 10 messages";
  EXPECT_EQ(bytes % 64000, 0u) << "whole messages";
  EXPECT_GE(j["completion_s"]["p50"].get<double>(), 1.0);
  uint64_t sent = 0, received = 0;
  for (const auto& q : j["qps"]) {
    if (q["rank"] == 0) sent += q["tx_bytes"].get<uint64_t>();
    else received += q["rx_bytes"].get<uint64_t>();
  }
  EXPECT_EQ(received, sent);
  EXPECT_GE(sent, 3 * bytes) << "each of 3 receivers got at least the fewest";
}

// --rate takes rates as tc netem and `lab impair` write them; the old "10G" is refused naming the
// value and the syntax, before any host is touched.
TEST_F(WorkloadE2e, CliRateTakesNetemSyntax) {
  std::vector<std::string> argv = {QPSPREAD_BIN, "-j", "workload", "allreduce", "--size", "65536", "--iterations", "2",
                                   "--rate", "400mbit", "--hosts"};
  for (const auto& h : hosts_) argv.push_back(h.netns);
  CommandResult r = run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(r.out)["options"]["rate_bps"].get<double>(), 4e8);
  argv[9] = "10G";
  argv.erase(argv.begin() + 1);  // plain output: the error on stderr
  r = run(argv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--rate: '10G' is not a rate like 1gbit, 100mbit or 500kbit"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qpspread::test
