#include "common/interrupt.h"

#include <signal.h>

#include <atomic>

#include "common/error.h"

namespace qpspread {
namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int sig) {
  g_interrupted.store(true);
  ::signal(sig, SIG_DFL);  // the next one is not caught
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(); }

void throw_if_interrupted() {
  if (interrupted()) throw Error("interrupted; everything that was set up has been removed");
}

}  // namespace qpspread
