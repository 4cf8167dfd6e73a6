// `qpspread lab impair` on a lab deployed by containerlab: two namespaces clab-<lab>-a/b joined by
// a veth, as containerlab leaves them, and nothing of qpspread's state. Where the kernel has no
// sch_netem (these machines) it fails naming netem and changes nothing; where it has, the netem
// qdisc shows up on both ends. The commands themselves are unit-tested (netem_command_test).
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

bool kernel_has_netem() {
  ScopedNetns probe("qps-netem-probe");
  return run({"tc", "-n", probe.name(), "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}).exit_code == 0;
}

class ClabImpairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces)";
    lab_ = "qci" + std::to_string(::getpid() % 100000) + std::to_string(counter_++);
    dir_ = fs::temp_directory_path() / ("qps-clab-" + lab_);
    fs::create_directories(dir_);
    file_ = (dir_ / "t.clab.yml").string();
    std::ofstream(file_) << "name: " << lab_ << R"(
topology:
  nodes:
    a: {kind: linux}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth2", "b:eth2"]
      vars:
        name: wan1
        impairment: {delay: 5ms, jitter: 1ms, loss: "0.5", rate: 20mbit}
)";
  }
  void TearDown() override {
    b_.reset();
    a_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // What containerlab deploys for the file: the nodes' namespaces and the link's veth.
  void deploy() {
    a_ = std::make_unique<ScopedNetns>("clab-" + lab_ + "-a", true);
    b_ = std::make_unique<ScopedNetns>("clab-" + lab_ + "-b", true);
    run_ok({"ip", "-n", a_->name(), "link", "add", "eth2", "type", "veth", "peer", "name", "eth2", "netns",
            b_->name()});
    a_->ip({"link", "set", "eth2", "up"});
    b_->ip({"link", "set", "eth2", "up"});
  }
  std::string qdisc(const ScopedNetns& ns) { return run({"tc", "-n", ns.name(), "qdisc", "show", "dev", "eth2"}).out; }
  CommandResult qps(std::vector<std::string> args) {
    args.insert(args.begin(), QPSPREAD_BIN);
    return run(args);
  }

  static inline int counter_ = 0;
  std::string lab_, file_;
  fs::path dir_;
  std::unique_ptr<ScopedNetns> a_, b_;
};

TEST_F(ClabImpairTest, FromFileWithoutNetemNamesItAndChangesNothing) {
  if (kernel_has_netem()) GTEST_SKIP() << "this kernel has sch_netem: the qdisc test below covers it";
  deploy();
  const std::string qa = qdisc(*a_), qb = qdisc(*b_);
  CommandResult r = qps({"lab", "impair", "--lab", lab_, "--from-file", file_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("this kernel has no sch_netem"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("modprobe sch_netem"), std::string::npos) << r.err;
  // One link with flags takes the same path.
  CommandResult one = qps({"-j", "lab", "impair", "-t", file_, "wan1", "--delay", "20ms"});
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_NE(json::parse(one.out).value("error", "").find("no sch_netem"), std::string::npos) << one.out;
  EXPECT_EQ(qdisc(*a_), qa);
  EXPECT_EQ(qdisc(*b_), qb);
  EXPECT_FALSE(fs::exists("/run/qpspread/lab/" + lab_)) << "a containerlab lab got qpspread state";
}

TEST_F(ClabImpairTest, FromFileSetsTheNetemQdiscOnBothEnds) {
  if (!kernel_has_netem())
    GTEST_SKIP() << "this kernel has no sch_netem: the commands are checked by netem_command_test";
  deploy();
  CommandResult r = qps({"-j", "lab", "impair", "--from-file", file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["runner"], "containerlab");
  for (const ScopedNetns* ns : {a_.get(), b_.get()}) {
    const std::string q = qdisc(*ns);
    EXPECT_NE(q.find("netem 1:"), std::string::npos) << q;
    EXPECT_NE(q.find("delay 5ms  1ms"), std::string::npos) << q;
    EXPECT_NE(q.find("loss 0.5%"), std::string::npos) << q;
    EXPECT_NE(q.find("rate 20Mbit"), std::string::npos) << q;
  }
  ASSERT_EQ(qps({"lab", "impair", "-t", file_, "wan1", "--rate", "0"}).exit_code, 0);
  EXPECT_EQ(qdisc(*a_).find("rate"), std::string::npos) << qdisc(*a_);
}

TEST_F(ClabImpairTest, ALabNeitherRunnerHasIsNamedWithWhatToCheck) {
  CommandResult r = qps({"lab", "impair", "--from-file", file_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("lab " + lab_ + " is neither up under qpspread"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no namespace clab-" + lab_ + "-a"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("containerlab inspect -t " + file_), std::string::npos) << r.err;
}

TEST_F(ClabImpairTest, ALinkOrFromFileIsRequiredAndFromFileTakesNoValues) {
  EXPECT_EQ(qps({"lab", "impair", "--lab", lab_}).exit_code, 2);
  CommandResult r = qps({"lab", "impair", "--from-file", file_, "--delay", "1ms"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--from-file excludes --delay"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qpspread::test
