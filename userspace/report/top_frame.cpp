#include "userspace/report/top_frame.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/units.h"
#include "userspace/report/fairness.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

// The element of `arr` that `same` says is `like`, or null: paths are matched by (ifname,
// remote_vtep), QPs by qpn, VNIs by vni, since the order of a report is not stable.
template <class T, class Same>
const T* find_like(const std::vector<T>& arr, const T& like, Same same) {
  for (const auto& e : arr)
    if (same(e, like)) return &e;
  return nullptr;
}

// Counter `field` grew by this much; an element new in `after` has counted all of it in the interval.
template <class T>
uint64_t grew(const T* before, const T& after, uint64_t T::*field) {
  return counter_delta(before ? before->*field : 0, after.*field);
}
uint64_t grew(const VniPath* before, const VniPath& after, PathCounters VniPath::*dir, uint64_t PathCounters::*field) {
  return counter_delta(before ? (before->*dir).*field : 0, (after.*dir).*field);
}

struct Rate {
  double elapsed;
  double per_s(uint64_t n) const { return elapsed > 0 ? static_cast<double>(n) / elapsed : 0.0; }
  double bits_per_s(uint64_t bytes) const { return per_s(bytes) * 8; }
};

json vni_paths(const VniReport* before, const VniReport& after, Rate r) {
  json paths = json::array();
  std::vector<uint64_t> roce;
  std::vector<std::pair<std::string, uint64_t>> uplink_load;
  for (const auto& p : after.paths) {
    const VniPath* b = before ? find_like(before->paths, p, [](const VniPath& x, const VniPath& y) {
      return x.ifname == y.ifname && x.remote_vtep == y.remote_vtep;
    }) : nullptr;
    using P = PathCounters;
    paths.push_back({{"ifname", p.ifname}, {"remote_vtep", p.remote_vtep},
                     {"tx_pps", r.per_s(grew(b, p, &VniPath::tx, &P::packets))},
                     {"tx_bps", r.bits_per_s(grew(b, p, &VniPath::tx, &P::bytes))},
                     {"rx_pps", r.per_s(grew(b, p, &VniPath::rx, &P::packets))},
                     {"rx_bps", r.bits_per_s(grew(b, p, &VniPath::rx, &P::bytes))},
                     {"rx_ce_pps", r.per_s(grew(b, p, &VniPath::rx, &P::ecn_ce))},
                     {"rx_cnp_pps", r.per_s(grew(b, p, &VniPath::rx, &P::cnp))}});
    roce.push_back(grew(b, p, &VniPath::tx, &P::roce_bytes));
    uplink_load.emplace_back(p.ifname, roce.back());
  }
  const std::vector<double> share = shares(roce);
  for (size_t i = 0; i < paths.size(); i++) paths[i]["share"] = share[i];
  const Balance bal = uplink_balance(uplink_load);
  return {{"paths", paths}, {"imbalance", bal.imbalance}, {"jain", bal.jain}};
}

json vni_qps(const VniReport* before, const VniReport& after, Rate r, size_t top_qps) {
  struct Row {
    uint64_t bytes, packets;
    json j;
  };
  std::vector<Row> rows;
  for (const auto& q : after.qps) {
    const QpRow* b = before ? find_like(before->qps, q, [](const QpRow& x, const QpRow& y) { return x.qpn == y.qpn; })
                            : nullptr;
    Row row{grew(b, q, &QpRow::bytes), grew(b, q, &QpRow::packets), json::object()};
    row.j = {{"qpn", q.qpn}, {"pps", r.per_s(row.packets)}, {"bps", r.bits_per_s(row.bytes)},
             {"moves", grew(b, q, &QpRow::moves)}, {"reordered", grew(b, q, &QpRow::reordered)},
             {"gaps", grew(b, q, &QpRow::gaps)}};
    if (q.path) row.j["path"] = *q.path;
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
                v["mode"].is_string() ? v["mode"].get<std::string>().c_str() : "-", v["paths"].size(), v["qp_count"].get<unsigned>());
  s += line;
  if (!v["paths"].empty()) {
    std::snprintf(line, sizeof(line), "  %-10s %-16s %10s %12s %10s %12s %7s %7s %7s\n", "UPLINK", "REMOTE-VTEP",
                  "TX-PKT/S", "TX-BIT/S", "RX-PKT/S", "RX-BIT/S", "CE/S", "CNP/S", "SHARE");
    s += line;
    for (const auto& p : v["paths"]) {
      std::snprintf(line, sizeof(line), "  %-10s %-16s %10.0f %12s %10.0f %12s %7.0f %7.0f %6.1f%%\n",
                    p["ifname"].get<std::string>().c_str(), p["remote_vtep"].get<std::string>().c_str(),
                    p["tx_pps"].get<double>(), human_rate(p["tx_bps"].get<double>(), "bit/s").c_str(),
                    p["rx_pps"].get<double>(), human_rate(p["rx_bps"].get<double>(), "bit/s").c_str(),
                    p.value("rx_ce_pps", 0.0), p.value("rx_cnp_pps", 0.0), 100 * p["share"].get<double>());
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

json top_frame(const StatsReport& before, const StatsReport& after, double elapsed_s, size_t top_qps) {
  const Rate r{elapsed_s};
  json frame = {{"netns", after.netns}, {"elapsed", elapsed_s}, {"vnis", json::array()}};
  for (const auto& v : after.vnis) {
    const VniReport* b =
        find_like(before.vnis, v, [](const VniReport& x, const VniReport& y) { return x.vni == y.vni; });
    json fv = vni_paths(b, v, r);
    fv["vni"] = v.vni;
    fv["mode"] = mode_json(v.mode);
    fv["qp_count"] = v.qps.size();
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

}  // namespace qpspread::report
