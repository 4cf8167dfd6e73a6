// Processes started by qpspread and known by PID: their identity over time (start ticks, so a
// reused PID is never signalled) and the pid file a daemon writes once it runs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace qpspread {

// Start time of a process in clock ticks since boot (/proc/PID/stat field 22); 0 when it is gone.
unsigned long long process_start_ticks(pid_t pid);

// The PID a daemon wrote to `path`, waiting up to `timeout` for the file to appear; 0 when it did
// not (or `alive_pid`, when given, ended first: a daemon that failed at start writes none).
pid_t wait_for_pidfile(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       pid_t alive_pid = 0);

// The running binary's path (/proc/self/exe): to start another qpspread command as a daemon.
std::string self_exe();

// Starts argv detached from this process (its own session, stdin /dev/null, stdout and stderr
// appended to `log`); returns its PID.
pid_t spawn_daemon(const std::vector<std::string>& argv, const std::string& log);

}  // namespace qpspread
