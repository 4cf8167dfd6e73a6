// The RC queue pair as a pure state machine: frames per opcode, ACK/AETH layout, PSN wrap,
// go-back-N recovery when the test hooks drop data frames or acknowledgements, and congestion:
// ECT(0) on the wire, a CNP per CE-marked frame (one per interval), DCQCN pacing at the sender.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "common/error.h"
#include "userspace/workload/rc_host.h"
#include "userspace/workload/rc_transport.h"

namespace qpspread::workload {
namespace {

RcQpConfig config(uint32_t local, uint32_t remote, uint32_t first_psn = 0) {
  RcQpConfig c;
  c.local_qpn = local;
  c.remote_qpn = remote;
  c.local_ip = 0x0a000000 | local;
  c.remote_ip = 0x0a000000 | remote;
  c.mtu = 264;  // 256 data bytes per frame
  c.ack_every = 4;
  c.window = 16;
  c.ack_timeout_ns = 5'000'000;
  c.first_psn = first_psn;
  return c;
}

std::vector<uint8_t> message(size_t n, uint8_t seed) {
  std::vector<uint8_t> m(n);
  for (size_t i = 0; i < n; i++) m[i] = static_cast<uint8_t>(seed + i * 7);
  return m;
}

// All data frames `qp` sends now, parsed.
std::vector<std::vector<uint8_t>> drain_data(RcQp& qp, int64_t now) {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t> buf;
  while (qp.next_data(now, buf)) frames.push_back(buf);
  return frames;
}

TEST(RcQp, MessageBecomesFirstMiddleLastWithAckReqOnTheLast) {
  RcQpConfig c = config(0x101, 0x202, 7);
  c.ack_every = 100;
  RcQp qp(c);
  qp.post_send(message(256 * 3 + 10, 1));
  qp.post_send(message(5, 2));
  const auto frames = drain_data(qp, 1000);
  ASSERT_EQ(frames.size(), 5u);
  const uint8_t want_op[] = {0x00, 0x01, 0x01, 0x02, 0x04};
  const size_t want_len[] = {264, 264, 264, 18, 13};
  for (size_t i = 0; i < frames.size(); i++) {
    const auto v = parse_rocev2(frames[i]);
    ASSERT_TRUE(v) << i;
    EXPECT_EQ(v->opcode, want_op[i]) << i;
    EXPECT_EQ(v->dest_qp, 0x202u);
    EXPECT_EQ(v->psn, 7 + i);
    EXPECT_EQ(v->ack_req, i == 3 || i == 4) << i;
    EXPECT_EQ(v->payload.size(), want_len[i]) << i;
    EXPECT_TRUE(v->icrc_ok);
    EXPECT_EQ(v->src_port, 49152);
  }
}

TEST(RcQp, AckCarriesAethAndIsCumulative) {
  RcQp tx(config(1, 2)), rx(config(2, 1));
  tx.post_send(message(256 * 2, 3));
  std::vector<uint8_t> buf;
  for (const auto& f : drain_data(tx, 1)) rx.on_frame(*parse_rocev2(f), 2);
  ASSERT_TRUE(rx.next_ack(buf));
  std::vector<uint8_t> none;
  EXPECT_FALSE(rx.next_ack(none));  // one ACK covers both frames
  const auto v = parse_rocev2(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->opcode, 0x11);
  EXPECT_EQ(v->dest_qp, 1u);
  EXPECT_EQ(v->psn, 1u);  // the last PSN received
  const auto aeth = parse_aeth(v->payload);
  ASSERT_TRUE(aeth);
  EXPECT_TRUE(aeth->is_ack());
  EXPECT_EQ(aeth->syndrome, 0x1f);
  EXPECT_EQ(aeth->msn, 1u);
  EXPECT_EQ(v->payload.size(), kAethLen);
  EXPECT_TRUE(v->icrc_ok);
  EXPECT_FALSE(tx.send_idle());
  tx.on_frame(*v, 3);
  EXPECT_TRUE(tx.send_idle());
  EXPECT_EQ(rx.take_message(), message(512, 3));
}

TEST(RcQp, GapIsAnsweredByOneNakWithTheExpectedPsn) {
  RcQp tx(config(1, 2, 0xfffffe)), rx(config(2, 1, 0xfffffe));
  tx.post_send(message(256 * 5, 4));
  const auto frames = drain_data(tx, 1);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(parse_rocev2(frames[2])->psn, 0u);  // 24-bit wrap
  rx.on_frame(*parse_rocev2(frames[0]), 2);
  for (size_t i = 2; i < frames.size(); i++) rx.on_frame(*parse_rocev2(frames[i]), 2);
  std::vector<uint8_t> buf;
  ASSERT_TRUE(rx.next_ack(buf));
  const auto nak = parse_rocev2(buf);
  EXPECT_EQ(nak->psn, 0xffffffu);
  EXPECT_TRUE(parse_aeth(nak->payload)->is_nak_seq_error());
  EXPECT_EQ(rx.stats().naks_tx, 1u);
  tx.on_frame(*nak, 3);
  const auto again = drain_data(tx, 4);  // go-back-N: from the expected PSN to the end
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(parse_rocev2(again[0])->psn, 0xffffffu);
  EXPECT_EQ(tx.stats().retx_frames, 4u);
  for (const auto& f : again) rx.on_frame(*parse_rocev2(f), 5);
  EXPECT_EQ(rx.take_message(), message(256 * 5, 4));
}

// Two QPs joined back to back, every frame parsed as a receiver would; `rounds` steps of 1 ms.
void pump(RcQp& a, RcQp& b, int64_t& now, int rounds) {
  std::vector<uint8_t> buf;
  for (int r = 0; r < rounds; r++) {
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      while (from->next_ack(buf)) to->on_frame(*parse_rocev2(buf), now);
      while (from->next_data(now, buf)) to->on_frame(*parse_rocev2(buf), now);
      from->check_timeout(now);
    }
    now += 1'000'000;
  }
}

TEST(RcQp, GoBackNDeliversEverythingDespiteDroppedDataFrames) {
  RcQpConfig ca = config(1, 2, 0xfffff0), cb = config(2, 1, 0xfffff0);
  cb.drop_every_data_rx = 7;
  RcQp a(ca), b(cb);
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < 20; i++) {
    sent.push_back(message(static_cast<size_t>(100 + i * 97), static_cast<uint8_t>(i)));
    a.post_send(sent.back());
  }
  int64_t now = 1'000'000;
  pump(a, b, now, 200);
  EXPECT_TRUE(a.send_idle());
  for (const auto& m : sent) EXPECT_EQ(b.take_message(), m);
  EXPECT_FALSE(b.take_message());
  EXPECT_GT(b.stats().dropped_by_hook, 0u);
  EXPECT_GT(a.stats().naks_rx, 0u);
  EXPECT_GT(a.stats().retx_frames, 0u);
  EXPECT_EQ(a.stats().tx_msgs, 20u);
}

TEST(RcQp, LostAcksAreRecoveredByTheTimeout) {
  RcQpConfig ca = config(1, 2), cb = config(2, 1);
  ca.drop_every_ack_rx = 1;  // every ACK lost: only the timeout and duplicate ACKs remain
  ca.window = 4;
  RcQp a(ca), b(cb);
  a.post_send(message(256 * 3, 9));
  int64_t now = 1'000'000;
  pump(a, b, now, 20);
  EXPECT_GT(a.stats().timeouts, 0u);
  EXPECT_GT(b.stats().rx_duplicate, 0u);
  EXPECT_FALSE(a.send_idle());  // no ACK ever arrives
  EXPECT_EQ(b.take_message(), message(256 * 3, 9));  // but the data did, once
  EXPECT_FALSE(b.take_message());
}

TEST(RcQp, WindowLimitsFramesInFlight) {
  RcQpConfig c = config(1, 2);
  c.window = 3;
  RcQp qp(c);
  qp.post_send(message(256 * 10, 1));
  const auto frames = drain_data(qp, 1);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_TRUE(parse_rocev2(frames[2])->ack_req);  // the window's last frame asks for an ACK
}

TEST(RcQp, LatencyComesFromTheTimestamp) {
  RcQp tx(config(1, 2)), rx(config(2, 1));
  tx.post_send(message(10, 1));
  for (const auto& f : drain_data(tx, 5'000)) rx.on_frame(*parse_rocev2(f), 12'000);
  EXPECT_EQ(rx.take_latencies(), std::vector<int64_t>{7'000});
}

TEST(RcWire, SourcePortModels) {
  EXPECT_EQ(inner_sport(SportModel::Fixed, 0x101, 0x202), 49152);
  EXPECT_EQ(inner_sport(SportModel::Fixed, 0x102, 0x203), 49152);
  // Linux rdma_get_udp_sport(): 0x101 * 0x202 = 0x20402, folded by 20 and 40 bits: 0x20402 ^ 0
  // = flow label 0x20402; low 14 bits 0x0402 ^ (0x20000 >> 14 = 8) = 0x040a, | 0xC000.
  EXPECT_EQ(rdma_udp_sport(0x101, 0x202), 0xc40a);
  std::set<uint16_t> few;
  for (uint32_t q = 0x100; q < 0x140; q++) {
    const uint16_t p = inner_sport(SportModel::Qpn, q, q + 0x100);
    EXPECT_GE(p, 0xc000);
    few.insert(inner_sport(SportModel::Few, q, q + 0x100));
  }
  EXPECT_EQ(few.size(), 4u);
  EXPECT_EQ(parse_sport_model("qpn"), SportModel::Qpn);
  EXPECT_THROW(parse_sport_model("random"), std::exception);
}

TEST(RcWire, PsnArithmeticWraps) {
  EXPECT_EQ(psn_add(0xffffff, 2), 1u);
  EXPECT_EQ(psn_diff(1, 0xffffff), 2);
  EXPECT_EQ(psn_diff(0xffffff, 1), -2);
}

TEST(Pacer, SpacesFramesAtTheRate) {
  Pacer p(1e9);  // 1 Gbit/s: a 1000-byte frame (+24 on the wire) takes 8192 ns
  int64_t now = 1'000'000'000;
  EXPECT_TRUE(p.ready(now));
  int sent = 0;
  for (int64_t t = now; t < now + 1'000'000; t += 100)
    if (p.ready(t)) {
      p.account(1000, t);
      sent++;
    }
  EXPECT_NEAR(sent, 1'000'000 / 8192 + 6, 8);  // the 50 us of initial credit, then the rate
}

// Eight senders behind one pace that lets one frame out per call: the turn passes on, so each sends
// every eighth frame. (It stayed with the first sender when every call started the round over:
// that sender took the whole line rate, the others what it left, and CNPs reached them one by one.)
TEST(TxTurns, APaceOfOneFramePerCallIsSharedEvenly) {
  TxTurns turns;
  std::vector<int> sent(8, 0);
  for (int call = 0; call < 800; call++) {
    bool credit = true;  // one frame per call
    const TxTurns::Offered o = turns.offer(
        8, 64, [&] { return credit; },
        [&](size_t i) {
          sent[i]++;
          credit = false;
          return true;
        });
    EXPECT_EQ(o.sent, 1u);
    EXPECT_TRUE(o.paced);
  }
  for (int i = 0; i < 8; i++) EXPECT_EQ(sent[i], 100) << i;
  // Senders with nothing ready pass their turn; once all passed in a row the offer ends.
  std::vector<int> left = {0, 3, 0, 0};
  const TxTurns::Offered o = turns.offer(
      4, 64, [] { return true; },
      [&](size_t i) { return left[i] > 0 && left[i]-- > 0; });
  EXPECT_EQ(o.sent, 3u);
  EXPECT_FALSE(o.paced);
}

// A sender's rate over its last 16 frames: unknown before, bits over the time since the oldest,
// unknown again after an idle second.
TEST(RecentRate, BitsOverTheLastSixteenFrames) {
  RecentRate r;
  for (int i = 0; i < 15; i++) r.sent(1000, i * 1'000'000);
  EXPECT_EQ(r.bps(15'000'000), 0) << "fewer than 16 frames: unknown";
  for (int i = 15; i < 40; i++) r.sent(1000, i * 1'000'000);  // 1000 bytes per ms: 8 Mbit/s
  EXPECT_NEAR(r.bps(39'000'000), 8e6, 1);
  r.sent(1000, 39'500'000);  // a frame half a millisecond early: 15 frames in 14.5 ms
  EXPECT_NEAR(r.bps(39'500'000), 15 * 8000 / 14.5e-3, 1);
  EXPECT_EQ(r.bps(39'500'000 + 1'100'000'000), 0) << "idle for a second: unknown";
}

// An experiment's seed moves the QPNs (the QP hash picks paths from them): the same seed gives the
// same first QPN, another seed another one, and every QPN of the run stays below the multicast QPN.
TEST(FirstQpnForSeed, SameSeedSameBaseOtherSeedOtherBaseAllIn24Bits) {
  EXPECT_EQ(first_qpn_for_seed(1001, 2, 8), first_qpn_for_seed(1001, 2, 8));
  EXPECT_NE(first_qpn_for_seed(1001, 2, 8), first_qpn_for_seed(1002, 2, 8));
  std::set<uint32_t> bases;
  for (uint64_t seed = 0; seed < 200; seed++) {
    const uint32_t first = first_qpn_for_seed(seed, 16, 256);
    EXPECT_GE(first, kFirstQpn);
    EXPECT_LT(qpn_base(15, 16, 256, first) + 16 * 256 - 1, 0xffffffu) << seed;
    bases.insert(first);
  }
  EXPECT_GT(bases.size(), 190u);
  EXPECT_THROW(first_qpn_for_seed(1, 4096, 2), Error);
}

// A received frame as it would arrive after a queue marked it CE (the outer CE copied inward by
// the far VTEP): the IPv4 ECN bits set; the ICRC does not cover them.
std::vector<uint8_t> marked_ce(std::vector<uint8_t> f) {
  f[15] |= 3;
  return f;
}

TEST(RcQpCongestion, FramesLeaveEctAndACeMarkAsksForOneCnpPerInterval) {
  RcQpConfig tc = config(0x101, 0x202), rc = config(0x202, 0x101);
  rc.cnp_interval_ns = 50'000;
  RcQp tx(tc), rx(rc);
  tx.post_send(message(256 * 4, 1));
  const auto frames = drain_data(tx, 1000);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(parse_rocev2(frames[0])->ecn, 2) << "ECT(0), as NICs send";
  std::vector<uint8_t> cnp;
  rx.on_frame(*parse_rocev2(frames[0]), 10'000);
  EXPECT_FALSE(rx.next_cnp(cnp)) << "not marked";
  rx.on_frame(*parse_rocev2(marked_ce(frames[1])), 20'000);
  ASSERT_TRUE(rx.next_cnp(cnp));
  EXPECT_FALSE(rx.next_cnp(cnp)) << "one CNP per mark";
  const auto v = parse_rocev2(cnp);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->opcode, 0x81);
  EXPECT_EQ(v->dest_qp, 0x101u) << "to the requester's QP";
  EXPECT_TRUE(v->becn);
  EXPECT_EQ(v->ecn, 0) << "a CNP is not ECN-capable";
  EXPECT_EQ(cnp[15] >> 2, 48) << "DSCP 48, the network-control class fabrics prioritize";
  EXPECT_EQ(v->payload.size(), 16u);
  for (uint8_t b : v->payload) EXPECT_EQ(b, 0);
  EXPECT_TRUE(v->icrc_ok);
  rx.on_frame(*parse_rocev2(marked_ce(frames[2])), 60'000);  // 40 us later: within the interval
  EXPECT_FALSE(rx.next_cnp(cnp));
  rx.on_frame(*parse_rocev2(marked_ce(frames[3])), 70'000);  // 50 us after the CNP
  EXPECT_TRUE(rx.next_cnp(cnp));
  EXPECT_EQ(rx.stats().ecn_ce_rx, 3u);
  EXPECT_EQ(rx.stats().cnp_tx, 2u);
  EXPECT_EQ(rx.stats().rx_frames, 4u) << "marked frames are delivered";
}

// The requester: a CNP cuts the QP's DCQCN rate, and its frames then leave at that rate.
TEST(RcQpCongestion, ACnpCutsTheRateAndPacesTheQp) {
  RcQpConfig tc = config(0x101, 0x202), rc = config(0x202, 0x101);
  tc.window = 100'000;
  tc.dcqcn = DcqcnParams::scaled_to(8'000'000);  // 8 Mbit/s line rate
  RcQp tx(tc), rx(rc);
  tx.post_send(message(256 * 200, 1));
  std::vector<uint8_t> buf;
  ASSERT_TRUE(tx.next_data(0, buf));
  rx.on_frame(*parse_rocev2(marked_ce(buf)), 1);
  std::vector<uint8_t> cnp;
  ASSERT_TRUE(rx.next_cnp(cnp));
  tx.on_frame(*parse_rocev2(cnp), 2);
  EXPECT_EQ(tx.stats().cnp_rx, 1u);
  EXPECT_DOUBLE_EQ(tx.dcqcn().rate_bps(), 4'000'000) << "alpha starts at 1: half";
  // Frames now leave at 4 Mbit/s (frame bits with preamble, FCS and gap); the first one may use
  // the pacer's carried-over credit, the next ones are spaced by the rate.
  std::vector<int64_t> sent_at;
  int64_t now = 2;
  while (sent_at.size() < 5) {
    if (tx.next_data(now, buf)) {
      sent_at.push_back(now);
      continue;
    }
    const int64_t w = tx.pace_wait_ns(now);
    ASSERT_GT(w, 0) << "held back by the rate, and says for how long";
    now += w;
  }
  const double gap_ns = (static_cast<double>(buf.size()) + 24) * 8 / 4e6 * 1e9;
  for (size_t i = 2; i < sent_at.size(); i++)
    EXPECT_NEAR(static_cast<double>(sent_at[i] - sent_at[i - 1]), gap_ns, 1000) << i;
  EXPECT_DOUBLE_EQ(tx.stats().rate_bps_min, 4'000'000);
  // The increase timer (55 us at 40 Gbit/s: 275 ms at 8 Mbit/s) then recovers the rate: fast
  // recovery halves the gap to the target, 8 Mbit/s, each period.
  tx.post_send(message(256 * 2000, 2));
  while (tx.next_data(now, buf) || (now += std::max<int64_t>(1, tx.pace_wait_ns(now))) < 2'000'000'000) {
  }
  EXPECT_GT(tx.dcqcn().rate_bps(), 7'000'000);
  EXPECT_GT(tx.stats().rate_bps_avg, 4'000'000);
}

TEST(RcQpCongestion, WithoutDcqcnACnpIsCountedAndNothingSlows) {
  RcQpConfig tc = config(0x101, 0x202), rc = config(0x202, 0x101);
  RcQp tx(tc), rx(rc);
  tx.post_send(message(256 * 8, 1));
  std::vector<uint8_t> buf, cnp;
  ASSERT_TRUE(tx.next_data(0, buf));
  rx.on_frame(*parse_rocev2(marked_ce(buf)), 1);
  ASSERT_TRUE(rx.next_cnp(cnp));
  tx.on_frame(*parse_rocev2(cnp), 2);
  EXPECT_EQ(tx.stats().cnp_rx, 1u);
  EXPECT_EQ(drain_data(tx, 3).size(), 7u);
}

// A QP that sends below its own rate (8 QPs share the host's line rate) is cut from what it sends:
// RC 8 Mbit/s, sending 2 Mbit/s, alpha 1: 1 Mbit/s, where half of RC would not slow it at all.
TEST(RcQpCongestion, ACutStartsFromWhatTheQpSends) {
  RcQpConfig tc = config(0x101, 0x202), rc = config(0x202, 0x101);
  tc.window = 100'000;
  tc.dcqcn = DcqcnParams::scaled_to(8'000'000);
  RcQp tx(tc), rx(rc);
  tx.post_send(message(256 * 100, 1));
  std::vector<uint8_t> buf;
  int64_t now = 0;
  for (int i = 0; i < 32; i++, now += 1'000'000) ASSERT_TRUE(tx.next_data(now, buf));
  // One frame per ms: its wire bits per ms.
  const double sending = (static_cast<double>(buf.size()) + 24) * 8 * 1000;
  ASSERT_LT(sending, 4e6);
  rx.on_frame(*parse_rocev2(marked_ce(buf)), now);
  std::vector<uint8_t> cnp;
  ASSERT_TRUE(rx.next_cnp(cnp));
  tx.on_frame(*parse_rocev2(cnp), now - 1'000'000 + 1);
  EXPECT_NEAR(tx.dcqcn().target_bps(), sending, sending * 1e-3);
  EXPECT_NEAR(tx.dcqcn().rate_bps(), sending / 2, sending * 1e-3);
}

}  // namespace
}  // namespace qpspread::workload
