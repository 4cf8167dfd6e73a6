#include "userspace/workload/dcqcn.h"

#include <algorithm>
#include <cmath>

namespace qpspread::workload {

DcqcnParams DcqcnParams::scaled_to(double line_rate_bps) {
  DcqcnParams p;
  if (line_rate_bps <= 0) return p;  // off
  const double d = 40e9 / line_rate_bps;
  p.line_rate_bps = line_rate_bps;
  p.alpha_period_ns = static_cast<int64_t>(10'000 * d);
  p.increase_period_ns = static_cast<int64_t>(55'000 * d);
  p.reduce_period_ns = static_cast<int64_t>(4'000 * d);
  p.rai_bps = 40e6 / d;
  p.rhai_bps = 400e6 / d;
  p.min_rate_bps = 1e6 / d;
  return p;
}

Dcqcn::Dcqcn(const DcqcnParams& p) : p_(p), rc_(p.line_rate_bps), rt_(p.line_rate_bps) {}

void Dcqcn::clamp() {
  rt_ = std::clamp(rt_, p_.min_rate_bps, p_.line_rate_bps);
  rc_ = std::clamp(rc_, p_.min_rate_bps, p_.line_rate_bps);
}

void Dcqcn::on_cnp(int64_t now, double sending_bps) {
  if (!on()) return;
  advance(now);
  cnp_in_period_ = true;
  if (cut_before_ && now - last_cut_ns_ < p_.reduce_period_ns) return;
  cut_before_ = true;
  last_cut_ns_ = now;
  cuts_++;
  if (sending_bps > 0 && rc_ >= p_.line_rate_bps) rc_ = std::min(rc_, sending_bps);
  rt_ = rc_;
  rc_ = rc_ * (1 - alpha_ / 2);
  alpha_ = (1 - p_.g) * alpha_ + p_.g;
  clamp();
  timer_stage_ = byte_stage_ = 0;
  bytes_ = 0;
  next_increase_ns_ = now + p_.increase_period_ns;
  if (!alpha_running_) next_alpha_ns_ = now + p_.alpha_period_ns;
  alpha_running_ = true;
  armed_ = true;
}

void Dcqcn::advance(int64_t now) {
  if (alpha_running_ && next_alpha_ns_ <= now) {
    // The period that ends first saw a CNP or not; every later one up to now saw none.
    if (!cnp_in_period_) alpha_ *= 1 - p_.g;
    cnp_in_period_ = false;
    const int64_t more = (now - next_alpha_ns_) / p_.alpha_period_ns;
    alpha_ *= std::pow(1 - p_.g, static_cast<double>(more));
    next_alpha_ns_ += (more + 1) * p_.alpha_period_ns;
  }
  while (armed_ && next_increase_ns_ <= now) {
    next_increase_ns_ += p_.increase_period_ns;
    increase();
    timer_stage_++;
  }
}

void Dcqcn::on_sent(uint64_t bytes, int64_t now) {
  if (!armed_) return;
  advance(now);
  bytes_ += bytes;
  while (armed_ && bytes_ >= p_.byte_counter) {
    bytes_ -= p_.byte_counter;
    increase();
    byte_stage_++;
  }
}

void Dcqcn::increase() {
  const int f = p_.fast_recovery_stages;
  if (std::min(timer_stage_, byte_stage_) > f) rt_ += (std::min(timer_stage_, byte_stage_) - f) * p_.rhai_bps;
  else if (std::max(timer_stage_, byte_stage_) >= f) rt_ += p_.rai_bps;
  rc_ = (rt_ + rc_) / 2;
  clamp();
  // Back at the line rate: nothing left to recover until the next CNP (alpha keeps decaying).
  if (rc_ >= p_.line_rate_bps) armed_ = false;
}

}  // namespace qpspread::workload
