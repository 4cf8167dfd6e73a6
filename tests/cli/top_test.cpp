// `qpspread top` as a user runs it: --once as JSON and as text in a namespace these tests create,
// and the live view on a pseudo-terminal, which must leave on 'q', Ctrl-C or SIGTERM with status
// 0, the cursor shown again and the terminal's modes restored.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void exec_child(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

// A child on a pseudo-terminal, or with `Pipe` on stdin from /dev/null and stdout and stderr into
// a pipe. Whatever the test did, the destructor kills the child (by its PID) if it still runs,
// reaps it and closes the master.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv, unsigned short rows = 50, unsigned short cols = 132) {
    struct winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) exec_child(argv);
  }
  struct Pipe {};
  Child(const std::vector<std::string>& argv, Pipe) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, STDIN_FILENO);
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      exec_child(argv);
    }
    ::close(fds[1]);
    master_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& output() const { return out_; }
  void send(const std::string& s) { ASSERT_EQ(::write(master_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }

  // Reads until `needle` is in the output; false at the deadline or at the end of the output.
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (out_.find(needle) == std::string::npos)
      if (!read_some(deadline)) return false;
    return true;
  }
  // Reads to the end (the child closed the terminal) and reaps the child; the wait status, or
  // nothing when it did not end by the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (read_some(deadline)) {
    }
    while (!status_ && Clock::now() < deadline) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
      else std::this_thread::sleep_for(10ms);
    }
    return status_;
  }
  // The terminal's local modes as the child left them.
  tcflag_t lflag() const {
    termios t{};
    EXPECT_EQ(::tcgetattr(master_, &t), 0) << errno;
    return t.c_lflag;
  }

 private:
  // False at the deadline or at the end of the output (EIO once the child's side is closed).
  bool read_some(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(master_, buf, sizeof(buf));
    if (n <= 0) return false;
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_;
};

class TopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    ns_ = std::make_unique<ScopedNetns>("qps-top");
    ns_->ip({"link", "add", "vx100", "type", "vxlan", "id", "100", "dstport", "4789", "local", "10.0.0.1", "nolearning"});
    ns_->ip({"link", "add", "up1", "type", "veth", "peer", "name", "dn1"});
    run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--uplink", "up1"});
  }
  void TearDown() override {
    if (ns_) run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    ns_.reset();
  }
  // The live view, stopped by `stop` once its first frame is on the terminal; it must then exit 0
  // with the cursor shown last and the terminal back in canonical mode with echo.
  void expect_clean_exit(const std::function<void(Child&)>& stop) {
    Child c({QPSPREAD_BIN, "top", "--netns", ns_->name(), "--interval", "0.2"});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(c.read_until("VNI 100 (mode qp-hash)", 5s)) << c.output();
    EXPECT_NE(c.output().find("\033[?25l"), std::string::npos) << "cursor hidden while running";
    EXPECT_EQ(c.lflag() & (ICANON | ECHO), 0u) << "keys without Enter and without echo";
    stop(c);
    const std::optional<int> st = c.wait_exit(5s);
    ASSERT_TRUE(st) << "top did not exit; output: " << c.output();
    ASSERT_TRUE(WIFEXITED(*st)) << "ended by signal " << WTERMSIG(*st);
    EXPECT_EQ(WEXITSTATUS(*st), 0) << c.output();
    EXPECT_TRUE(c.output().ends_with("\033[?25h")) << c.output();
    EXPECT_EQ(c.lflag() & (ICANON | ECHO), static_cast<tcflag_t>(ICANON | ECHO)) << "terminal modes restored";
  }

  std::unique_ptr<ScopedNetns> ns_;
};

TEST_F(TopTest, OnceJsonIsOneFrameWithTheReportsStructure) {
  const CommandResult r = run({QPSPREAD_BIN, "-j", "top", "--netns", ns_->name(), "--once", "--interval", "0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json f = json::parse(r.out);  // throws, failing the test, unless stdout is one JSON document
  EXPECT_EQ(f["netns"], ns_->name());
  EXPECT_DOUBLE_EQ(f["interval"].get<double>(), 0.2);
  EXPECT_GE(f["elapsed"].get<double>(), 0.2);
  EXPECT_TRUE(f["time"].is_string());
  ASSERT_EQ(f["vnis"].size(), 1u);
  const json& v = f["vnis"][0];
  EXPECT_EQ(v["vni"], 100);
  EXPECT_EQ(v["mode"], "qp-hash");
  EXPECT_TRUE(v["paths"].is_array());
  EXPECT_TRUE(v["qps"].is_array());
  EXPECT_TRUE(v["imbalance"].is_number());
  EXPECT_TRUE(v["jain"].is_number());
}

TEST_F(TopTest, OnceTextPrintsTheHeaderAndTablesWithoutEscapeCodes) {
  const CommandResult r = run({QPSPREAD_BIN, "top", "--netns", ns_->name(), "--once", "--interval", "0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("qpspread top: netns " + ns_->name() + ", interval 0.2 s", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("VNI 100 (mode qp-hash)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("QPN"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
}

TEST_F(TopTest, VniFilterLeavesOtherVnisOut) {
  const json f = json::parse(run_ok({QPSPREAD_BIN, "-j", "top", "--netns", ns_->name(), "--once", "--interval",
                                     "0.1", "--vni", "200"}));
  EXPECT_TRUE(f["vnis"].empty()) << f.dump();
}

TEST_F(TopTest, QKeyQuitsAtOnceWithStatusZero) {
  expect_clean_exit([](Child& c) { c.send("q"); });
}

TEST_F(TopTest, CtrlCOnTheTerminalQuitsWithStatusZero) {
  expect_clean_exit([](Child& c) { c.send("\x03"); });
}

TEST_F(TopTest, SigtermQuitsWithStatusZero) {
  expect_clean_exit([](Child& c) { ::kill(c.pid(), SIGTERM); });
}

TEST_F(TopTest, DetachUnderneathEndsWithTheErrorAndARestoredTerminal) {
  Child c({QPSPREAD_BIN, "top", "--netns", ns_->name(), "--interval", "0.2"});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(c.read_until("VNI 100 (mode qp-hash)", 5s)) << c.output();
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  const std::optional<int> st = c.wait_exit(5s);
  ASSERT_TRUE(st && WIFEXITED(*st)) << c.output();
  EXPECT_EQ(WEXITSTATUS(*st), 1);
  // The terminal is restored before main prints the error, so the message is readable.
  const size_t shown = c.output().rfind("\033[?25h"), error = c.output().find("not attached");
  ASSERT_NE(error, std::string::npos) << c.output();
  EXPECT_LT(shown, error) << c.output();
  EXPECT_EQ(c.lflag() & (ICANON | ECHO), static_cast<tcflag_t>(ICANON | ECHO));
}

TEST_F(TopTest, FrameIsCutToTheScreensSize) {
  Child c({QPSPREAD_BIN, "top", "--netns", ns_->name(), "--interval", "0.2"}, 3, 20);
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(c.read_until("qpspread top:", 5s)) << c.output();
  ASSERT_TRUE(c.read_until("\033[J", 5s)) << c.output();
  c.send("q");
  ASSERT_TRUE(c.wait_exit(5s));
  // 3 rows of 20 columns: the header cut, the blank line, "VNI 100 (mode qp-has"; no table.
  EXPECT_NE(c.output().find("VNI 100 (mode qp-has\033[J"), std::string::npos) << c.output();
  EXPECT_EQ(c.output().find("netns " + ns_->name()), std::string::npos) << c.output();
  EXPECT_EQ(c.output().find("QPN"), std::string::npos) << c.output();
}

TEST_F(TopTest, WithoutATerminalFramesFollowEachOtherPlainUntilASignal) {
  Child c({QPSPREAD_BIN, "top", "--netns", ns_->name(), "--interval", "0.2"}, Child::Pipe{});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(c.read_until("qpspread top:", 5s)) << c.output();
  ASSERT_TRUE(c.read_until("\n\nqpspread top:", 5s)) << "a second frame below the first: " << c.output();
  ::kill(c.pid(), SIGTERM);
  const std::optional<int> st = c.wait_exit(5s);
  ASSERT_TRUE(st && WIFEXITED(*st)) << c.output();
  EXPECT_EQ(WEXITSTATUS(*st), 0);
  EXPECT_EQ(c.output().find('\033'), std::string::npos) << c.output();
}

TEST(TopOptions, IntervalOutOfRangeIsRefusedWithTheReason) {
  for (const std::string bad : {"0", "-1", "3600.5", "nan", "soon"}) {
    const CommandResult r = run({QPSPREAD_BIN, "top", "--netns", "qps-top-unused", "--interval", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--interval"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace qpspread::test
