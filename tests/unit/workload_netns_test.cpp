// Tests that need the system: AF_PACKET send and capture over a veth pair in a private network
// namespace (root), and decoding of generated frames by Wireshark's dissectors (tshark).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/netns.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/rc_transport.h"
#include "userspace/workload/roce_sender.h"

namespace qpspread::workload {
namespace {

using Frames = std::vector<std::vector<uint8_t>>;
using Dir = FrameCapture::Direction;

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs argv without a shell; stdout (and stderr when with_stderr) is returned.
CommandResult run(const std::vector<std::string>& argv, bool with_stderr = true) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(p[1], 1);
    const int err = with_stderr ? p[1] : ::open("/dev/null", O_WRONLY);
    ::dup2(err, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(p[1]);
  CommandResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof(buf))) > 0;) r.out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  return r;
}

// A network namespace named qpsw-PID-N, deleted by the destructor on every way out of a test
// (assertion failure, exception). Declare it before the sockets that live in it.
class ScopedNetns {
 public:
  ScopedNetns() {
    static std::atomic<int> counter{0};
    name_ = "qpsw-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const CommandResult r = run({"ip", "netns", "add", name_});
    if (r.exit_code != 0) throw std::runtime_error("ip netns add " + name_ + ": " + r.out);
  }
  ~ScopedNetns() { run({"ip", "netns", "del", name_}); }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  const std::string& name() const { return name_; }
  // `ip -n NAME args...`; false (and a test failure) when it exits non-zero.
  bool ip(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip", "-n", name_};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = run(argv);
    EXPECT_EQ(r.exit_code, 0) << "ip -n " << name_ << " ...: " << r.out;
    return r.exit_code == 0;
  }

 private:
  std::string name_;
};

// A namespace with the veth pair wtx0 <-> wrx0, up, and no IPv6 so the kernel itself sends
// nothing (router solicitations, MLD) that a capture would see besides the test's frames.
bool make_veth_pair(const ScopedNetns& ns) {
  const CommandResult r = run({"ip", "netns", "exec", ns.name(), "sysctl", "-qw",
                               "net.ipv6.conf.all.disable_ipv6=1",
                               "net.ipv6.conf.default.disable_ipv6=1"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.exit_code == 0 &&
         ns.ip({"link", "add", "wtx0", "type", "veth", "peer", "name", "wrx0"}) &&
         ns.ip({"link", "set", "wtx0", "up"}) && ns.ip({"link", "set", "wrx0", "up"});
}

Frames test_frames(int qps, int per_qp, uint32_t first_psn) {
  RoceFrameSpec spec;
  spec.src_mac = {0x02, 0, 0, 0, 0x51, 0x01};
  spec.dst_mac = {0x02, 0, 0, 0, 0x51, 0x02};
  spec.src_ip = 0x0a330001;
  spec.dst_ip = 0x0a330002;
  spec.psn = first_psn;
  QpTraffic t;
  t.qps = qps;
  t.frames_per_qp = per_qp;
  return build_qp_frames(spec, t);
}

Frames sorted(Frames f) {
  // A sending thread that moves between CPUs may enqueue to two CPUs' backlogs: order on the
  // receiving side is not guaranteed, content is.
  std::sort(f.begin(), f.end());
  return f;
}

TEST(RawSocketNetns, VethFramesArriveByteIdenticalAndFiltered) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces and AF_PACKET";
  ScopedNetns ns;
  ASSERT_TRUE(make_veth_pair(ns));
  const Netns netns = Netns::open(ns.name());
  std::unique_ptr<RawSender> tx;
  std::unique_ptr<FrameCapture> rx_all, rx_roce, rx_vxlan, rx_out, tx_out, tx_in;
  netns.run([&] {
    tx = std::make_unique<RawSender>("wtx0");
    rx_all = std::make_unique<FrameCapture>("wrx0", Dir::Incoming);
    rx_roce = std::make_unique<FrameCapture>("wrx0", Dir::Both, kRoceV2Port);
    rx_vxlan = std::make_unique<FrameCapture>("wrx0", Dir::Incoming, kVxlanPort);
    rx_out = std::make_unique<FrameCapture>("wrx0", Dir::Outgoing);
    tx_out = std::make_unique<FrameCapture>("wtx0", Dir::Outgoing);
    tx_in = std::make_unique<FrameCapture>("wtx0", Dir::Incoming);
  });
  // Sent from this thread, outside the namespace: the sockets stay bound where they were made.
  const Frames sent = test_frames(5, 10, 0);
  ASSERT_EQ(sent.size(), 50u);
  for (const auto& f : sent) tx->send(f);

  EXPECT_EQ(sorted(rx_all->drain()), sorted(sent));
  EXPECT_EQ(sorted(rx_roce->drain()), sorted(sent));
  EXPECT_EQ(sorted(tx_out->drain()), sorted(sent));
  const auto brief = std::chrono::milliseconds(100);
  EXPECT_TRUE(rx_vxlan->drain(brief).empty());
  EXPECT_TRUE(rx_out->drain(brief).empty());
  EXPECT_TRUE(tx_in->drain(brief).empty());

  // A later drain returns only what arrived since the previous one.
  const Frames more = test_frames(2, 5, 100);
  for (const auto& f : more) tx->send(f);
  EXPECT_EQ(sorted(rx_all->drain()), sorted(more));
}

TEST(RawSocketNetns, UnknownInterfaceIsNamedInTheError) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces and AF_PACKET";
  ScopedNetns ns;
  const Netns netns = Netns::open(ns.name());
  for (bool sender : {true, false}) {
    try {
      netns.run([&] {
        if (sender) {
          RawSender s("qpsw-nosuch0");
        } else {
          FrameCapture c("qpsw-nosuch0", Dir::Both);
        }
      });
      ADD_FAILURE() << "no error for a missing interface";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("qpsw-nosuch0"), std::string::npos) << e.what();
    }
  }
}

// Writes frames as a pcap (Ethernet link type) that removes itself.
class TempPcap {
 public:
  explicit TempPcap(const Frames& frames) {
    char tmpl[] = "/tmp/qpsw-frames-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp");
    path_ = tmpl;
    FILE* f = ::fdopen(fd, "wb");
    const uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // LE host assumed
    std::fwrite(header, sizeof(header), 1, f);
    for (const auto& fr : frames) {
      const uint32_t rec[4] = {0, 0, static_cast<uint32_t>(fr.size()), static_cast<uint32_t>(fr.size())};
      std::fwrite(rec, sizeof(rec), 1, f);
      std::fwrite(fr.data(), 1, fr.size(), f);
    }
    std::fclose(f);
  }
  ~TempPcap() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Wireshark's InfiniBand dissector must read the generated frames as RoCEv2 with our QP, PSN and
// pad count, and its IPv4/UDP checks must pass. (tshark 4.0 shows the ICRC without checking it;
// the ICRC itself is checked against external vectors in workload_icrc_test.cpp.)
TEST(RoceFrameTshark, DissectsOpcodeQpPsnAndValidChecksums) {
  if (run({"tshark", "--version"}, false).exit_code != 0) GTEST_SKIP() << "tshark not installed";
  Frames frames;
  for (size_t payload : {256u, 61u}) {
    RoceFrameSpec s;
    s.src_ip = 0x0a000001;
    s.dst_ip = 0x0a000002;
    s.dest_qp = 0x1234 + static_cast<uint32_t>(payload);
    s.psn = 0xabcde;
    s.payload_len = payload;
    frames.push_back(build_rocev2_frame(s));
  }
  const TempPcap pcap(frames);
  const CommandResult r = run({"tshark", "-r", pcap.path(), "-o", "ip.check_checksum:TRUE", "-o",
                               "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=,",
                               "-e", "infiniband.bth.opcode", "-e", "infiniband.bth.destqp",
                               "-e", "infiniband.bth.psn", "-e", "infiniband.bth.padcnt", "-e",
                               "ip.checksum.status", "-e", "udp.checksum.status", "-e",
                               "infiniband.invariant.crc"},
                              false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Checksum status 1 = good. The ICRC tshark shows is the last 4 bytes read big endian.
  auto icrc_text = [](const std::vector<uint8_t>& f) {
    char b[16];
    std::snprintf(b, sizeof(b), "0x%02x%02x%02x%02x", f[f.size() - 4], f[f.size() - 3],
                  f[f.size() - 2], f[f.size() - 1]);
    return std::string(b);
  };
  const std::string want = "4,0x001334,703710,0,1,1," + icrc_text(frames[0]) + "\n" +
                           "4,0x001271,703710,3,1,1," + icrc_text(frames[1]) + "\n";
  EXPECT_EQ(r.out, want);
}

// The RC transport's frames as Wireshark reads them: SEND FIRST/MIDDLE/LAST/ONLY with AckReq on
// a message's last frame, then the responder's ACK and NAK with their AETH.
TEST(RoceFrameTshark, DissectsRcSendOpcodesAndAeth) {
  if (run({"tshark", "--version"}, false).exit_code != 0) GTEST_SKIP() << "tshark not installed";
  RcQpConfig ca, cb;
  ca.local_qpn = cb.remote_qpn = 0x101;
  ca.remote_qpn = cb.local_qpn = 0x202;
  ca.mtu = cb.mtu = 264;
  ca.ack_every = cb.ack_every = 100;
  RcQp a(ca), b(cb);
  a.post_send(std::vector<uint8_t>(256 * 2 + 1, 7));
  a.post_send(std::vector<uint8_t>(3, 8));
  Frames frames;
  std::vector<uint8_t> buf;
  while (a.next_data(1, buf)) frames.push_back(buf);
  ASSERT_EQ(frames.size(), 4u);
  b.on_frame(*parse_rocev2(frames[0]), 2);
  b.on_frame(*parse_rocev2(frames[1]), 2);
  b.on_frame(*parse_rocev2(frames[2]), 2);  // the last frame asks for an ACK
  ASSERT_TRUE(b.next_ack(buf));
  frames.push_back(buf);
  RcQp c(cb);
  c.on_frame(*parse_rocev2(frames[1]), 2);  // PSN 1 while 0 is expected: NAK with PSN 0
  ASSERT_TRUE(c.next_ack(buf));
  frames.push_back(buf);
  const TempPcap pcap(frames);
  const CommandResult r = run({"tshark", "-r", pcap.path(), "-o", "udp.check_checksum:TRUE",
                               "-T", "fields", "-E", "separator=,", "-e", "infiniband.bth.opcode",
                               "-e", "infiniband.bth.destqp", "-e", "infiniband.bth.psn", "-e",
                               "infiniband.bth.a", "-e", "infiniband.aeth.syndrome", "-e",
                               "infiniband.aeth.msn", "-e", "udp.checksum.status"},
                              false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out,
            "0,0x000202,0,0,,,1\n"
            "1,0x000202,1,0,,,1\n"
            "2,0x000202,2,1,,,1\n"
            "4,0x000202,3,1,,,1\n"
            "17,0x000101,2,0,31,1,1\n"  // syndrome 0x1f: ACK, no credit limit
            "17,0x000101,0,0,96,0,1\n");  // 0x60: NAK, PSN sequence error
}

}  // namespace
}  // namespace qpspread::workload
