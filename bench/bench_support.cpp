#include "bench/bench_support.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "common/error.h"
#include "common/interrupt.h"
#include "qpspread/abi.h"

namespace qpspread::bench {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 2);
  return "unknown";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json Summary::to_json() const {
  return {{"min_s", min()}, {"median_s", median()}, {"max_s", max()}, {"runs_s", runs}};
}

Summary summary_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {std::move(values)};
}

Summary timed(int runs, const std::function<void()>& fn) {
  std::vector<double> v;
  for (int i = 0; i < runs; i++) {
    throw_if_interrupted();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    v.push_back(seconds_since(t0));
  }
  return summary_of(std::move(v));
}

UniqueFd open_pin(const std::string& dir, const char* name) {
  const std::string path = dir + "/" + name;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) throw Error(errno_text("cannot open " + path, errno));
  return fd;
}

namespace {

void update_batch(int fd, const std::vector<qps_qp_key>& keys, const void* values, const char* map) {
  __u32 count = static_cast<__u32>(keys.size());
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  if (bpf_map_update_batch(fd, keys.data(), values, &count, &opts) != 0)
    throw Error(errno_text(std::string("cannot fill ") + map + " (" + std::to_string(count) + " written)", errno));
}

}  // namespace

void fill_qps(const std::string& pin_dir, uint32_t vni, uint32_t uplink_ifindex, uint32_t n) {
  const size_t ncpu = static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<qps_qp_key> keys(n);
  std::vector<qps_qp_stats> stats(n * ncpu);
  std::vector<qps_qp_path> paths(n);
  for (uint32_t i = 0; i < n; i++) {
    keys[i] = {vni, i + 1};
    for (size_t c = 0; c < ncpu; c++)
      stats[i * ncpu + c] = {1000 + i + c, (1000 + i + c) * 4096, static_cast<__u16>(c ? 0 : 49152 + i % 16384), {}};
    paths[i] = {uplink_ifindex, static_cast<__u16>(49152 + i % 16384), 0, i % 5, {}, 1000 + i, (1000 + i) * 4096ull};
  }
  update_batch(open_pin(pin_dir, "qp_stats").get(), keys, stats.data(), "qp_stats");
  update_batch(open_pin(pin_dir, "qp_paths").get(), keys, paths.data(), "qp_paths");
}

}  // namespace qpspread::bench
