// The stats report: what the datapath counted in one namespace, per VNI and path.
#include "userspace/report/stats_report.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <type_traits>

#include "common/units.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

PathCounters find_path(const std::vector<PathStats>& all, uint32_t vni, const std::string& remote, uint32_t ifindex) {
  for (const auto& p : all)
    if (p.vni == vni && p.remote == remote && p.ifindex == ifindex)
      return {p.packets, p.bytes, p.roce_packets, p.roce_bytes, p.ecn_ce, p.cnp};
  return {};
}

// Every attached uplink is a path to every remote VTEP of the VNI: one that carried nothing is a
// path with zero traffic, which is exactly what an imbalance must see.
void vni_paths(VniReport& v, const PathReport& pr) {
  std::set<std::string> remotes;
  for (const auto* list : {&pr.paths, &pr.rx_paths})
    for (const auto& p : *list)
      if (p.vni == v.vni) remotes.insert(p.remote);
  std::vector<uint64_t> load;
  std::vector<std::pair<std::string, uint64_t>> uplink_load;
  for (const auto& remote : remotes) {
    for (const auto& [ifindex, ifname] : pr.ifnames) {
      VniPath p{ifname, remote, find_path(pr.paths, v.vni, remote, ifindex), find_path(pr.rx_paths, v.vni, remote, ifindex)};
      load.push_back(p.tx.roce_bytes);
      uplink_load.emplace_back(ifname, p.tx.roce_bytes);
      v.paths.push_back(std::move(p));
    }
  }
  const std::vector<double> share = shares(load);
  for (size_t i = 0; i < v.paths.size(); i++) v.paths[i].share = share[i];
  v.balance = uplink_balance(uplink_load);
}

std::string ifname_or_index(const PathReport& pr, uint32_t ifindex) {
  auto name = pr.ifnames.find(ifindex);
  return name == pr.ifnames.end() ? std::to_string(ifindex) : name->second;
}

// The VNI's QPs, sent (VTEP program; uplink program: path, port, moves) or received (XDP), by QPN.
// A node without VXLAN devices knows its QPs from the uplink and XDP programs only.
std::vector<QpRow> vni_qps(uint32_t vni, const std::vector<QpStats>& sent, const PathReport& pr) {
  // The rows, one per QPN any map has for this VNI, by QPN: a sorted vector, not a map of 100 000
  // nodes.
  std::vector<uint32_t> qpns;
  auto add_keys = [&](const auto& per_qp) {
    for (const auto& kv : per_qp)
      if (kv.first.vni == vni) qpns.push_back(kv.first.qpn);
  };
  for (const auto& q : sent)
    if (q.vni == vni) qpns.push_back(q.qpn);
  add_keys(pr.qp_paths);
  add_keys(pr.qp_rx);
  add_keys(pr.flowlets);
  add_keys(pr.assignments);
  std::sort(qpns.begin(), qpns.end());
  qpns.erase(std::unique(qpns.begin(), qpns.end()), qpns.end());
  std::vector<QpRow> rows(qpns.size());
  for (size_t i = 0; i < qpns.size(); i++) rows[i].qpn = qpns[i];
  auto entry = [&](uint32_t qpn) -> QpRow& {
    return *std::lower_bound(rows.begin(), rows.end(), qpn, [](const QpRow& r, uint32_t n) { return r.qpn < n; });
  };
  // Each per-QP map's entries of this VNI into their rows.
  auto fill = [&](const auto& per_qp, const auto& set) {
    for (const auto& [key, v] : per_qp)
      if (key.vni == vni) set(entry(key.qpn), v);
  };
  for (const auto& q : sent) {
    if (q.vni != vni) continue;
    QpRow& row = entry(q.qpn);
    row.packets = q.packets;
    row.bytes = q.bytes;
    row.sport = q.sport;
  }
  fill(pr.qp_paths, [&](QpRow& row, const qps_qp_path& p) {
    row.path = ifname_or_index(pr, p.ifindex);
    row.path_sport = p.sport;
    row.path_remote = vtep_text(p.remote);
    row.moves = p.moves;
  });
  fill(pr.qp_rx, [&](QpRow& row, const qps_qp_rx& rx) {
    row.rx_packets = rx.packets;
    row.rx_bytes = rx.bytes;
    row.rx_path = ifname_or_index(pr, rx.ifindex);
    row.reordered = rx.reordered;
    row.gaps = rx.gaps;
    row.ecn_ce = rx.ecn_ce;
    row.cnp = rx.cnp;
  });
  fill(pr.flowlets, [](QpRow& row, const qps_qp_flowlet& f) {
    row.balance_sport = f.sport;
    row.balance_moves = f.moves;
  });
  // After the flowlets: a move is pending while the port in use is not the assigned one.
  fill(pr.assignments, [](QpRow& row, uint16_t port) {
    row.assigned_sport = port;
    row.move_pending = row.balance_sport && *row.balance_sport != port;
  });
  return rows;
}

std::vector<UplinkTotals> uplink_totals(const PathReport& pr) {
  std::vector<UplinkTotals> out;
  for (const auto& [ifindex, ifname] : pr.ifnames) {
    UplinkTotals u{ifname, {}, {}};
    for (const auto& [dir, list] : {std::pair{&u.tx, &pr.paths}, std::pair{&u.rx, &pr.rx_paths}}) {
      for (const auto& p : *list) {
        if (p.ifindex != ifindex) continue;
        dir->packets += p.packets;
        dir->bytes += p.bytes;
        if (p.vni == QPS_VNI_OTHER) {
          dir->other_packets += p.packets;
          dir->other_bytes += p.bytes;
        }
      }
    }
    out.push_back(std::move(u));
  }
  return out;
}

// The VXLAN devices' VNIs, the transit ones (both have a mode), and those the uplinks saw (but
// not mode balance's path probes).
std::set<uint32_t> report_vnis(const NetnsStatus& st, const PathReport& pr) {
  std::set<uint32_t> vnis;
  for (const auto& d : st.devices) vnis.insert(d.vni);
  for (const auto& [vni, mode] : st.vni_modes) vnis.insert(vni);
  for (const auto* list : {&pr.paths, &pr.rx_paths})
    for (const auto& p : *list)
      if (p.vni != QPS_VNI_OTHER) vnis.insert(p.vni);
  for (const auto& [key, _] : pr.qp_paths) vnis.insert(key.vni);
  for (const auto& [key, _] : pr.qp_rx) vnis.insert(key.vni);
  vnis.erase(QPS_PROBE_VNI);  // mode balance's path probes: in the uplinks' totals, not a VNI
  return vnis;
}

}  // namespace

StatsReport make_stats(const NetnsStatus& st, const PathReport& pr, const std::vector<QpStats>& sent,
                       std::optional<uint32_t> only) {
  StatsReport r;
  r.netns = st.netns;
  r.uplinks = uplink_totals(pr);
  r.reasons = st.reasons;
  r.uplink_reasons = st.uplink_reasons;
  r.xdp_reasons = st.xdp_reasons;
  std::set<uint32_t> device_vnis;
  for (const auto& d : st.devices) device_vnis.insert(d.vni);
  for (uint32_t vni : report_vnis(st, pr)) {
    if (only && vni != *only) continue;
    VniReport v;
    v.vni = vni;
    if (auto m = st.vni_modes.find(vni); m != st.vni_modes.end())
      v.mode = m->second;
    else if (device_vnis.count(vni))
      v.mode = QPS_MODE_OFF;  // the datapath reads a missing entry as off
    vni_paths(v, pr);
    v.qps = vni_qps(vni, sent, pr);
    // Moved, not copied: with 100 000 QPs a copy of the list costs as much as building it.
    r.vnis.push_back(std::move(v));
  }
  return r;
}

StatsReport build_stats(const Netns& ns, std::optional<uint32_t> only) {
  return make_stats(status(ns, false), path_report(ns), qp_stats(ns, only), only);
}

json mode_json(const std::optional<uint32_t>& mode) { return mode ? json(mode_name(*mode)) : json(nullptr); }

json reasons_json(const std::vector<ReasonStats>& reasons) {
  json j = json::object();
  for (const auto& r : reasons) j[r.name] = {{"packets", r.packets}, {"bytes", r.bytes}};
  return j;
}

namespace {

// The stats document written straight into a string: 100 000 QPs as nlohmann objects took 0.7 s
// and hundreds of MB; written so, a small part of that. Keys in the order nlohmann's std::map
// dumps them (sorted), numbers as it prints them (doubles through it).
class Writer {
 public:
  explicit Writer(std::string& out) : o_(out) {}
  void open() { o_ += '{', first_ = true; }
  void close() { o_ += '}', first_ = false; }
  void open_array() { o_ += '[', first_ = true; }
  void close_array() { o_ += ']', first_ = false; }
  // The next element of an array.
  void next() {
    if (!first_) o_ += ',';
    first_ = false;
  }
  Writer& key(const char* k) {
    next();
    str(k);
    o_ += ':';
    first_ = true;  // the value follows: no comma before it
    return *this;
  }
  void str(std::string_view v) {
    o_ += '"';
    size_t plain = 0;  // characters since the last one that needed escaping, appended in one go
    for (size_t i = 0; i < v.size(); i++) {
      const char c = v[i];
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
      o_.append(v.substr(plain, i - plain));
      if (c == '"' || c == '\\') {
        o_ += '\\';
        o_ += c;
      } else {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
        o_ += esc;
      }
      plain = i + 1;
    }
    o_.append(v.substr(plain));
    o_ += '"';
    first_ = false;
  }
  void num(uint64_t v) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    o_.append(buf, end);
    first_ = false;
  }
  void boolean(bool v) { o_ += v ? "true" : "false", first_ = false; }
  void raw(const json& j) { o_ += j.dump(), first_ = false; }
  template <class T>
  void opt(const std::optional<T>& v) {
    if (!v) {
      o_ += "null";
      first_ = false;
    } else if constexpr (std::is_same_v<T, std::string>) {
      str(*v);
    } else {
      num(*v);
    }
  }

 private:
  std::string& o_;
  bool first_ = true;
};

void write_path(Writer& w, const VniPath& p) {
  w.open();
  w.key("ifname").str(p.ifname);
  w.key("remote_vtep").str(p.remote_vtep);
  w.key("rx_bytes").num(p.rx.bytes);
  w.key("rx_cnp").num(p.rx.cnp);
  w.key("rx_ecn_ce").num(p.rx.ecn_ce);
  w.key("rx_packets").num(p.rx.packets);
  w.key("rx_roce_bytes").num(p.rx.roce_bytes);
  w.key("rx_roce_packets").num(p.rx.roce_packets);
  w.key("share").raw(p.share);
  w.key("tx_bytes").num(p.tx.bytes);
  w.key("tx_packets").num(p.tx.packets);
  w.key("tx_roce_bytes").num(p.tx.roce_bytes);
  w.key("tx_roce_packets").num(p.tx.roce_packets);
  w.close();
}

void write_qp(Writer& w, const QpRow& q) {
  w.open();
  w.key("assigned_sport").opt(q.assigned_sport);
  w.key("balance_moves").num(q.balance_moves);
  w.key("balance_sport").opt(q.balance_sport);
  w.key("bytes").num(q.bytes);
  w.key("cnp").num(q.cnp);
  w.key("ecn_ce").num(q.ecn_ce);
  w.key("gaps").num(q.gaps);
  w.key("move_pending").boolean(q.move_pending);
  w.key("moves").num(q.moves);
  w.key("packets").num(q.packets);
  w.key("path").opt(q.path);
  w.key("path_remote").opt(q.path_remote);
  w.key("path_sport").opt(q.path_sport);
  w.key("qpn").num(q.qpn);
  w.key("reordered").num(q.reordered);
  w.key("rx_bytes").num(q.rx_bytes);
  w.key("rx_packets").num(q.rx_packets);
  w.key("rx_path").opt(q.rx_path);
  w.key("sport").num(q.sport);
  w.close();
}

void write_uplink(Writer& w, const UplinkTotals& u) {
  w.open();
  w.key("ifname").str(u.ifname);
  for (const auto& [d, dir] : {std::pair{"rx", &u.rx}, std::pair{"tx", &u.tx}}) {
    const std::string p = d;
    w.key((p + "_bytes").c_str()).num(dir->bytes);
    w.key((p + "_other_bytes").c_str()).num(dir->other_bytes);
    w.key((p + "_other_packets").c_str()).num(dir->other_packets);
    w.key((p + "_packets").c_str()).num(dir->packets);
  }
  w.close();
}

}  // namespace

std::string stats_json_text(const StatsReport& r) {
  std::string out;
  out.reserve(256 + 400 * [&] {
    size_t n = 0;
    for (const auto& v : r.vnis) n += v.qps.size();
    return n;
  }());
  Writer w(out);
  w.open();
  w.key("netns").str(r.netns);
  w.key("reasons").raw(reasons_json(r.reasons));
  w.key("uplink_reasons").raw(reasons_json(r.uplink_reasons));
  w.key("uplinks").open_array();
  for (const auto& u : r.uplinks) {
    w.next();
    write_uplink(w, u);
  }
  w.close_array();
  w.key("vnis").open_array();
  for (const auto& v : r.vnis) {
    w.next();
    w.open();
    w.key("imbalance").raw(v.balance.imbalance);
    w.key("jain").raw(v.balance.jain);
    w.key("mode").raw(mode_json(v.mode));
    w.key("paths").open_array();
    for (const auto& p : v.paths) {
      w.next();
      write_path(w, p);
    }
    w.close_array();
    w.key("qps").open_array();
    for (const auto& q : v.qps) {
      w.next();
      write_qp(w, q);
    }
    w.close_array();
    w.key("vni").num(v.vni);
    w.close();
  }
  w.close_array();
  w.key("xdp_reasons").raw(reasons_json(r.xdp_reasons));
  w.close();
  return out;
}

json to_json(const StatsReport& r) { return json::parse(stats_json_text(r)); }

namespace {

const char* name_or_dash(const std::optional<std::string>& v) { return v ? v->c_str() : "-"; }
unsigned long ul(uint64_t v) { return static_cast<unsigned long>(v); }

void print_paths(const VniReport& v) {
  std::printf("  %-10s %-16s %11s %10s %11s %10s %8s %6s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PACKETS", "TX-BYTES",
              "RX-PACKETS", "RX-BYTES", "RX-CE", "RX-CNP", "SHARE");
  for (const auto& p : v.paths)
    std::printf("  %-10s %-16s %11lu %10s %11lu %10s %8lu %6lu %6.1f%%\n", p.ifname.c_str(), p.remote_vtep.c_str(),
                ul(p.tx.packets), human_bytes(p.tx.bytes).c_str(), ul(p.rx.packets), human_bytes(p.rx.bytes).c_str(),
                ul(p.rx.ecn_ce), ul(p.rx.cnp), 100 * p.share);
  std::set<std::string> uplinks;
  for (const auto& p : v.paths) uplinks.insert(p.ifname);
  std::printf("  imbalance %.2f, Jain's index %.3f (over the tx RoCEv2 bytes of %zu uplinks)\n", v.balance.imbalance,
              v.balance.jain, uplinks.size());
}

// SPORT: the port this VTEP chose, else the one the uplink program saw (a node that only forwards).
// With mode balance on any of the VNI's QPs here, ASSIGNED: the port assigned to the QP ("-": its
// qp-hash port), with "*" while the move to it waits for the QP's idle gap.
void print_qps(const VniReport& v) {
  const bool balance = std::any_of(v.qps.begin(), v.qps.end(), [](const QpRow& q) { return q.balance_sport.has_value(); });
  std::printf("  %-10s %10s %10s %6s %-8s %5s %10s %-8s %9s %6s%s\n", "QPN", "TX-PKTS", "TX-BYTES", "SPORT", "PATH", "MOVES",
              "RX-PKTS", "RX-PATH", "REORDERED", "GAPS", balance ? "  ASSIGNED" : "");
  for (const auto& q : v.qps) {
    const unsigned sport = q.balance_sport ? *q.balance_sport : q.sport ? q.sport : q.path_sport.value_or(0);
    std::string assigned;
    if (balance) assigned = "  " + (q.assigned_sport ? std::to_string(*q.assigned_sport) + (q.move_pending ? "*" : "") : "-");
    std::printf("  0x%-8x %10lu %10s %6s %-8s %5lu %10lu %-8s %9lu %6lu%s\n", q.qpn, ul(q.packets),
                human_bytes(q.bytes).c_str(), sport ? std::to_string(sport).c_str() : "-", name_or_dash(q.path),
                ul(q.moves), ul(q.rx_packets), name_or_dash(q.rx_path), ul(q.reordered), ul(q.gaps), assigned.c_str());
  }
}

}  // namespace

void print_stats_table(const StatsReport& r) {
  for (const auto& v : r.vnis) {
    if (v.mode)
      std::printf("VNI %u (mode %s) in netns %s\n", v.vni, mode_name(*v.mode), r.netns.c_str());
    else
      std::printf("VNI %u (seen on the uplinks, not steered here) in netns %s\n", v.vni, r.netns.c_str());
    if (!v.paths.empty()) print_paths(v);
    print_qps(v);
  }
}

}  // namespace qpspread::report
