// top: the stats report as a live view. Two reads a measured interval apart make a frame
// (top_frame.h); this file owns the loop, the keyboard, the signals and the terminal's state.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <cstdint>
#include <thread>

#include "common/error.h"
#include "userspace/cli/commands.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/top_frame.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct TopOptions {
  NetnsTarget target;
  double interval = 1.0;
  bool once = false;
  uint32_t vni = 0;
  bool only_vni = false;
  size_t qps = 10;
};

// The write end of a self-pipe: a signal handler may only do async-signal-safe things, and a
// byte in a pipe is one that also wakes the poll() the loop sleeps in.
int g_wake_fd = -1;

void on_signal(int) {
  const int saved = errno;
  if (g_wake_fd >= 0) (void)!::write(g_wake_fd, "s", 1);
  errno = saved;
}

// SIGINT, SIGTERM and SIGHUP end the loop through the pipe instead of killing the process, so
// the terminal is restored; the previous handlers come back on destruction.
class SignalWaker {
 public:
  SignalWaker() {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(errno_text("pipe2", errno));
    g_wake_fd = fds_[1];
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); i++) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~SignalWaker() {
    for (size_t i = 0; i < kSignals.size(); i++) ::sigaction(kSignals[i], &old_[i], nullptr);
    g_wake_fd = -1;
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  SignalWaker(const SignalWaker&) = delete;
  SignalWaker& operator=(const SignalWaker&) = delete;
  int fd() const { return fds_[0]; }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  int fds_[2] = {-1, -1};
  std::array<struct sigaction, 3> old_{};
};

// Keys without Enter and without echo when stdin is a terminal (ISIG stays, so Ctrl-C is still
// SIGINT); a hidden cursor and a cleared screen when stdout is one. Restored on every way out.
class TerminalMode {
 public:
  TerminalMode(bool keys, bool screen) : screen_(screen) {
    if (keys && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      keys_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    if (screen_) {
      std::fputs("\033[?25l\033[H\033[2J", stdout);
      std::fflush(stdout);
    }
  }
  ~TerminalMode() {
    if (keys_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    if (screen_) std::fputs("\033[?25h", stdout);
    std::fflush(stdout);
  }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;
  bool keys() const { return keys_; }

 private:
  bool screen_;
  bool keys_ = false;
  termios saved_{};
};

// Sleeps until `deadline`; true when the user asked to stop: a signal, 'q', or a terminal that
// went away (a read of 0 or an error on stdin).
bool wait_for_quit(const SignalWaker& sig, bool keys, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{sig.fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int n = ::poll(fds, keys ? 2 : 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;  // the handler wrote to the pipe: seen next round
    if (n < 0) throw Error(errno_text("poll", errno));
    if (fds[0].revents) return true;
    if (keys && fds[1].revents) {
      char buf[64];
      const ssize_t r = ::read(STDIN_FILENO, buf, sizeof(buf));
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0 || std::memchr(buf, 'q', r) || std::memchr(buf, 'Q', r)) return true;
    }
  }
}

struct Snapshot {
  report::StatsReport stats;
  Clock::time_point at;
};

Snapshot take(const Netns& ns, const TopOptions& o) {
  report::StatsReport stats = report::build_stats(ns, o.only_vni ? std::optional<uint32_t>(o.vni) : std::nullopt);
  return {std::move(stats), Clock::now()};
}

json frame_between(const Snapshot& a, const Snapshot& b, const TopOptions& o) {
  json f = report::top_frame(a.stats, b.stats, std::chrono::duration<double>(b.at - a.at).count(), o.qps);
  f["interval"] = o.interval;
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
  f["time"] = when;
  return f;
}

// On a screen the frame overwrites the last one from the top left, each line cleared to its end
// and the rest of the screen after it, which does not flicker as a full clear would. The frame is
// cut to the screen's size: a line that wraps or one row too many scrolls, and home would no
// longer be the frame's top.
std::string for_screen(const std::string& text) {
  winsize ws{};
  const bool known = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col;
  size_t rows = known ? ws.ws_row : SIZE_MAX, cols = known ? ws.ws_col : SIZE_MAX, col = 0;
  std::string s = "\033[H";
  for (char c : text) {
    if (c != '\n') {
      if (col++ < cols) s += c;
      continue;
    }
    if (--rows == 0) break;
    s += "\033[K\n";
    col = 0;
  }
  return s + "\033[J";
}

void draw(const OutputOptions& out, const json& frame, bool screen) {
  if (out.json || out.pretty)
    emit(out, frame, nullptr);
  else if (!screen)
    std::printf("%s\n", report::render_top_frame(frame).c_str());
  else
    std::fputs(for_screen(report::render_top_frame(frame)).c_str(), stdout);
  std::fflush(stdout);
}

void run_top(const OutputOptions& out, const TopOptions& o) {
  const Netns ns = Netns::open(o.target.resolve());
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval));
  if (o.once) {
    const Snapshot a = take(ns, o);
    std::this_thread::sleep_until(a.at + interval);
    draw(out, frame_between(a, take(ns, o), o), false);
    return;
  }
  SignalWaker sig;
  const bool screen = ::isatty(STDOUT_FILENO) && !out.json && !out.pretty;
  TerminalMode term(::isatty(STDIN_FILENO), screen);
  Snapshot prev = take(ns, o);
  while (!wait_for_quit(sig, term.keys(), prev.at + interval)) {
    Snapshot cur = take(ns, o);
    draw(out, frame_between(prev, cur, o), screen);
    prev = std::move(cur);
  }
}

std::string check_interval(const std::string& s) {
  double v = 0;
  try {
    v = std::stod(s);
  } catch (const std::exception&) {
    return "takes seconds, e.g. 0.5, not '" + s + "'";
  }
  if (!(v > 0 && v <= 3600)) return "must be more than 0 and at most 3600 seconds, not " + s;
  return "";
}

}  // namespace

void register_top_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("top", "live per-path rates, shares, imbalance, Jain's index and the busiest QPs; q quits");
  auto o = std::make_shared<TopOptions>();
  o->target.add_to(cmd, true);
  cmd->add_option("--interval", o->interval, "seconds between frames (default 1, at most 3600)")->check(check_interval);
  cmd->add_flag("--once", o->once, "print one frame, measured over one interval, and exit (for scripts)");
  auto* vni_opt = cmd->add_option("--vni", o->vni, "only this VNI");
  cmd->add_option("--qps", o->qps, "how many of the busiest QPs to show (default 10)")->check(CLI::NonNegativeNumber);
  cmd->callback([&ctx, o, vni_opt] {
    o->only_vni = vni_opt->count() > 0;
    ctx.action = [&ctx, o] { run_top(ctx.out, *o); };
  });
}

}  // namespace qpspread::cli
