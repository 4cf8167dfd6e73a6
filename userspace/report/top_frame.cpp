#include "userspace/report/top_frame.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/units.h"
#include "userspace/report/fairness.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

// j[key] when it is an array, else an empty one: a report may lack a part (no QPs yet), and
// json::value() would return a copy that pointers into it must not outlive.
const json& items(const json& j, const char* key) {
  static const json empty = json::array();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

// The element of `arr` whose `key` fields equal those of `like`, or null: paths are matched by
// (ifname, remote_vtep), QPs by qpn, VNIs by vni, since the order of a report is not stable.
const json* find_like(const json& arr, const json& like, std::initializer_list<const char*> keys) {
  for (const auto& e : arr) {
    bool same = true;
    for (const char* k : keys) same = same && e.contains(k) && like.contains(k) && e[k] == like[k];
    if (same) return &e;
  }
  return nullptr;
}

// Counter `field` grew by this much; a missing field (a report from before the receive-side
// counters existed) counts as 0, an element new in `after` has counted all of it in the interval.
uint64_t grew(const json* before, const json& after, const char* field) {
  const uint64_t now = after.value(field, uint64_t{0});
  return counter_delta(before ? before->value(field, uint64_t{0}) : 0, now);
}

struct Rate {
  double elapsed;
  double per_s(uint64_t n) const { return elapsed > 0 ? static_cast<double>(n) / elapsed : 0.0; }
  double bits_per_s(uint64_t bytes) const { return per_s(bytes) * 8; }
};

json vni_paths(const json* before, const json& after, Rate r) {
  json paths = json::array();
  std::vector<uint64_t> roce;
  for (const auto& p : items(after, "paths")) {
    const json* b = before ? find_like(items(*before, "paths"), p, {"ifname", "remote_vtep"}) : nullptr;
    paths.push_back({{"ifname", p.value("ifname", "")}, {"remote_vtep", p.value("remote_vtep", "")},
                     {"tx_pps", r.per_s(grew(b, p, "tx_packets"))}, {"tx_bps", r.bits_per_s(grew(b, p, "tx_bytes"))},
                     {"rx_pps", r.per_s(grew(b, p, "rx_packets"))}, {"rx_bps", r.bits_per_s(grew(b, p, "rx_bytes"))}});
    roce.push_back(grew(b, p, "tx_roce_bytes"));
  }
  const std::vector<double> share = metrics::shares(roce);
  std::map<std::string, uint64_t> per_uplink;  // the ECMP choice is the uplink: balance is over them
  for (size_t i = 0; i < paths.size(); i++) {
    paths[i]["share"] = share[i];
    per_uplink[paths[i]["ifname"].get<std::string>()] += roce[i];
  }
  std::vector<uint64_t> load;
  for (const auto& [_, bytes] : per_uplink) load.push_back(bytes);
  return {{"paths", paths}, {"imbalance", metrics::imbalance(load)}, {"jain", metrics::jain_index(load)}};
}

json vni_qps(const json* before, const json& after, Rate r, size_t top_qps) {
  struct Row {
    uint64_t bytes, packets;
    json j;
  };
  std::vector<Row> rows;
  for (const auto& q : items(after, "qps")) {
    const json* b = before ? find_like(items(*before, "qps"), q, {"qpn"}) : nullptr;
    Row row{grew(b, q, "bytes"), grew(b, q, "packets"), json::object()};
    row.j = {{"qpn", q.value("qpn", 0u)}, {"pps", r.per_s(row.packets)}, {"bps", r.bits_per_s(row.bytes)},
             {"moves", grew(b, q, "moves")}, {"reordered", grew(b, q, "reordered")}, {"gaps", grew(b, q, "gaps")}};
    if (q.contains("path")) row.j["path"] = q["path"];
    rows.push_back(std::move(row));
  }
  // Busiest first; ties by packets, then by QPN so that idle QPs keep their place between frames.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.packets != b.packets) return a.packets > b.packets;
    return a.j["qpn"].get<uint32_t>() < b.j["qpn"].get<uint32_t>();
  });
  json out = json::array();
  for (size_t i = 0; i < rows.size() && i < top_qps; i++) out.push_back(std::move(rows[i].j));
  return out;
}

void render_vni(std::string& s, const json& v) {
  char line[256];
  std::snprintf(line, sizeof(line), "\nVNI %u (mode %s), %zu paths, %u QPs\n", v["vni"].get<unsigned>(),
                v["mode"].get<std::string>().c_str(), v["paths"].size(), v["qp_count"].get<unsigned>());
  s += line;
  if (!v["paths"].empty()) {
    std::snprintf(line, sizeof(line), "  %-10s %-16s %10s %12s %10s %12s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PKT/S",
                  "TX-BIT/S", "RX-PKT/S", "RX-BIT/S", "SHARE");
    s += line;
    for (const auto& p : v["paths"]) {
      std::snprintf(line, sizeof(line), "  %-10s %-16s %10.0f %12s %10.0f %12s %6.1f%%\n",
                    p["ifname"].get<std::string>().c_str(), p["remote_vtep"].get<std::string>().c_str(),
                    p["tx_pps"].get<double>(), human_rate(p["tx_bps"].get<double>(), "bit/s").c_str(),
                    p["rx_pps"].get<double>(), human_rate(p["rx_bps"].get<double>(), "bit/s").c_str(),
                    100 * p["share"].get<double>());
      s += line;
    }
    std::snprintf(line, sizeof(line), "  imbalance %.2f, Jain's index %.3f\n", v["imbalance"].get<double>(),
                  v["jain"].get<double>());
    s += line;
  }
  std::snprintf(line, sizeof(line), "  %-10s %-10s %10s %12s %6s %6s %6s\n", "QPN", "PATH", "PKT/S", "BIT/S", "MOVES",
                "REORD", "GAPS");
  s += line;
  for (const auto& q : v["qps"]) {
    std::snprintf(line, sizeof(line), "  0x%-8x %-10s %10.0f %12s %6lu %6lu %6lu\n", q["qpn"].get<unsigned>(),
                  q.contains("path") ? q["path"].get<std::string>().c_str() : "-", q["pps"].get<double>(),
                  human_rate(q["bps"].get<double>(), "bit/s").c_str(),
                  static_cast<unsigned long>(q["moves"].get<uint64_t>()),
                  static_cast<unsigned long>(q["reordered"].get<uint64_t>()),
                  static_cast<unsigned long>(q["gaps"].get<uint64_t>()));
    s += line;
  }
}

}  // namespace

uint64_t counter_delta(uint64_t before, uint64_t after) { return after >= before ? after - before : after; }

json top_frame(const json& before, const json& after, double elapsed_s, size_t top_qps) {
  const Rate r{elapsed_s};
  json frame = {{"netns", after.value("netns", "")}, {"elapsed", elapsed_s}, {"vnis", json::array()}};
  for (const auto& v : items(after, "vnis")) {
    const json* b = find_like(items(before, "vnis"), v, {"vni"});
    json fv = vni_paths(b, v, r);
    fv["vni"] = v.value("vni", 0u);
    fv["mode"] = v.value("mode", "");
    fv["qp_count"] = items(v, "qps").size();
    fv["qps"] = vni_qps(b, v, r, top_qps);
    frame["vnis"].push_back(std::move(fv));
  }
  return frame;
}

std::string render_top_frame(const json& frame) {
  std::string s = "qpspread top: netns " + frame.value("netns", std::string());
  char buf[96];
  if (frame.contains("interval")) {
    std::snprintf(buf, sizeof(buf), ", interval %.3g s", frame["interval"].get<double>());
    s += buf;
  }
  std::snprintf(buf, sizeof(buf), " (measured %.3f s)", frame.value("elapsed", 0.0));
  s += buf;
  if (frame.contains("time")) s += ", " + frame["time"].get<std::string>();
  s += "\n";
  if (frame["vnis"].empty()) s += "\nno VXLAN device attached in this netns; see 'qpspread attach --help'\n";
  for (const auto& v : frame["vnis"]) render_vni(s, v);
  return s;
}

}  // namespace qpspread::cli
