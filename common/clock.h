// CLOCK_MONOTONIC in nanoseconds, and an absolute sleep on it: the WAN relay and its probes time
// frames against one clock, so a one-way delay measured between two namespaces of this host is exact.
#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>

namespace qpspread {

inline int64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// TIMER_ABSTIME: a wake-up that comes late does not push the following deadlines back.
inline void sleep_until_mono_ns(int64_t t) {
  const timespec ts{static_cast<time_t>(t / 1000000000), static_cast<long>(t % 1000000000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace qpspread
