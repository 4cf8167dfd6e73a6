// The lab's building blocks: commands in namespaces, veth links, FRR daemons.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/command.h"
#include "common/error.h"
#include "common/process.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/lab_runner.h"

namespace qpspread::lab {

namespace fs = std::filesystem;

std::vector<std::string> in_netns(const std::string& ns, const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  if (!argv.empty() && argv[0] == "ip") {
    out = {"ip", "-n", ns};
    out.insert(out.end(), argv.begin() + 1, argv.end());
  } else {
    out = {"ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
  }
  return out;
}

void veth_between(const std::string& ns_a, const std::string& if_a, const std::string& ns_b, const std::string& if_b,
                  int mtu) {
  run_checked({"ip", "link", "add", "name", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b});
  for (const auto& [ns, dev] : {std::pair{ns_a, if_a}, std::pair{ns_b, if_b}}) {
    if (mtu) run_checked({"ip", "-n", ns, "link", "set", "dev", dev, "mtu", std::to_string(mtu)});
    run_checked({"ip", "-n", ns, "link", "set", "dev", dev, "up"});
  }
}

void start_frr(LabState& st, const std::string& ns, const std::string& node, const std::string& frr_conf) {
  const std::string run_dir = "/var/run/frr/" + ns;
  fs::create_directories(run_dir);
  if (const passwd* pw = ::getpwnam("frr")) ::chown(run_dir.c_str(), pw->pw_uid, pw->pw_gid);
  // The daemons start empty; vtysh then hands each its part of the integrated config.
  const std::string empty = st.dir() + "/empty.conf";
  if (!fs::exists(empty)) std::ofstream(empty) << "!\n";
  ::chmod(empty.c_str(), 0644);
  for (const char* daemon : {"zebra", "bfdd", "bgpd"}) {
    const std::string pidfile = run_dir + "/" + daemon + ".pid";
    ::unlink(pidfile.c_str());
    run_checked({"ip", "netns", "exec", ns, std::string("/usr/lib/frr/") + daemon, "-d", "-N", ns, "-f", empty, "-i",
                 pidfile, "--log", "file:" + run_dir + "/frr.log"});
    const pid_t pid = wait_for_pidfile(pidfile);
    if (!pid) throw Error(std::string(daemon) + " of node " + node + " wrote no pid file; see " + run_dir + "/frr.log");
    st.add_process({node, daemon, pid, process_start_ticks(pid)});
  }
  CommandOutput r = run_command({"vtysh", "-N", ns, "-f", frr_conf});
  if (r.exit_code != 0) throw Error("node " + node + ": FRR refused " + frr_conf + ": " + r.out + r.err);
}

}  // namespace qpspread::lab
