#include "userspace/report/prometheus.h"

#include <cstdint>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <span>
#include <vector>

namespace qpspread::report {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

double num(uint64_t v) { return static_cast<double>(v); }

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

class Writer {
 public:
  void family(const Family& f) { out_ << "# HELP " << f.name << " " << f.help << "\n# TYPE " << f.name << " " << f.type << "\n"; }
  void sample(const char* name, const std::string& labels, double value) {
    out_ << name << "{" << labels << "} ";
    // Counters print exactly (a double holds integers up to 2^53); ratios with full precision.
    if (value == static_cast<double>(static_cast<uint64_t>(value)))
      out_ << static_cast<uint64_t>(value);
    else
      out_ << std::setprecision(17) << value;
    out_ << "\n";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string vni_labels(const std::string& ns, const VniReport& v) {
  return ns + ",vni=\"" + std::to_string(v.vni) + "\"";
}

// One sample per path of every VNI.
template <class Get>
void path_samples(Writer& w, const StatsReport& r, const char* name, const std::string& ns, Get get) {
  for (const auto& v : r.vnis)
    for (const auto& p : v.paths)
      w.sample(name, vni_labels(ns, v) + ",path=\"" + escape(p.ifname) + "\",remote_vtep=\"" + escape(p.remote_vtep) + "\"",
               get(p));
}

// A program's reasons in every namespace where it is attached (no family where it is nowhere).
template <class NsOf, class Reasons>
void reason_samples(Writer& w, const Family& f, std::span<const StatsReport> reports, NsOf ns_of, Reasons reasons) {
  bool any = false;
  for (const auto& r : reports) any = any || !reasons(r).empty();
  if (!any) return;
  w.family(f);
  for (const auto& r : reports)
    for (const auto& x : reasons(r)) w.sample(f.name, ns_of(r) + ",reason=\"" + x.name + "\"", static_cast<double>(x.packets));
}

}  // namespace

std::string prometheus_label(const std::string& value) { return "\"" + escape(value) + "\""; }

// A span over the one report: no copy of its QP rows.
std::string prometheus_text(const StatsReport& r) { return prometheus_text(std::span<const StatsReport>(&r, 1)); }

// Every family once, its samples from each namespace (a family's samples must be contiguous).
std::string prometheus_text(std::span<const StatsReport> reports) {
  Writer w;
  auto ns_of = [](const StatsReport& r) { return "netns=" + prometheus_label(r.netns); };
  using Get = double (*)(const VniPath&);
  const std::pair<Family, Get> path_counters[] = {
      {{"qpspread_path_tx_packets_total", "counter", "VXLAN frames sent on the path (uplink, VNI, remote VTEP)"},
       [](const VniPath& p) { return num(p.tx.packets); }},
      {{"qpspread_path_tx_bytes_total", "counter", "bytes of VXLAN frames sent on the path"},
       [](const VniPath& p) { return num(p.tx.bytes); }},
      {{"qpspread_path_tx_rocev2_packets_total", "counter", "VXLAN frames with RoCEv2 inside sent on the path"},
       [](const VniPath& p) { return num(p.tx.roce_packets); }},
      {{"qpspread_path_tx_rocev2_bytes_total", "counter", "bytes of VXLAN frames with RoCEv2 inside sent on the path"},
       [](const VniPath& p) { return num(p.tx.roce_bytes); }},
      {{"qpspread_path_rx_packets_total", "counter", "VXLAN frames received on the path (uplink, VNI, sending VTEP)"},
       [](const VniPath& p) { return num(p.rx.packets); }},
      {{"qpspread_path_rx_bytes_total", "counter", "bytes of VXLAN frames received on the path"},
       [](const VniPath& p) { return num(p.rx.bytes); }},
      {{"qpspread_path_rx_rocev2_packets_total", "counter", "VXLAN frames with RoCEv2 inside received on the path"},
       [](const VniPath& p) { return num(p.rx.roce_packets); }},
      {{"qpspread_path_rx_rocev2_bytes_total", "counter", "bytes of VXLAN frames with RoCEv2 inside received on the path"},
       [](const VniPath& p) { return num(p.rx.roce_bytes); }},
      {{"qpspread_path_ecn_ce_total", "counter", "VXLAN frames received on the path with CE in the outer header"},
       [](const VniPath& p) { return num(p.rx.ecn_ce); }},
      {{"qpspread_path_cnp_total", "counter", "RoCEv2 congestion notifications (CNPs) received on the path"},
       [](const VniPath& p) { return num(p.rx.cnp); }},
      {{"qpspread_path_share", "gauge", "share of the VNI's RoCEv2 bytes on the path"},
       [](const VniPath& p) { return p.share; }}};
  for (const auto& [family, get] : path_counters) {
    w.family(family);
    for (const auto& r : reports) path_samples(w, r, family.name, ns_of(r), get);
  }
  using VniGet = double (*)(const VniReport&);
  // Summed over the VNI's QPs: per-QP series would be unbounded.
  const std::pair<Family, VniGet> vni_values[] = {
      {{"qpspread_vni_imbalance", "gauge", "max share / mean share over the VNI's uplinks"},
       [](const VniReport& v) { return v.balance.imbalance; }},
      {{"qpspread_vni_jain_index", "gauge", "Jain's fairness index over the VNI's uplinks"},
       [](const VniReport& v) { return v.balance.jain; }},
      {{"qpspread_vni_qps", "gauge", "queue pairs seen on the VNI"}, [](const VniReport& v) { return num(v.qps.size()); }},
      {{"qpspread_vni_reordered_total", "counter", "received RoCEv2 frames whose PSN was lower than expected"},
       [](const VniReport& v) {
         uint64_t sum = 0;
         for (const auto& q : v.qps) sum += q.reordered;
         return num(sum);
       }},
      {{"qpspread_vni_psn_gaps_total", "counter", "times a QP's received PSN jumped ahead of the expected one"},
       [](const VniReport& v) {
         uint64_t sum = 0;
         for (const auto& q : v.qps) sum += q.gaps;
         return num(sum);
       }}};
  for (const auto& [family, get] : vni_values) {
    w.family(family);
    for (const auto& r : reports)
      for (const auto& v : r.vnis) w.sample(family.name, vni_labels(ns_of(r), v), get(v));
  }
  // A VNI only observed on the uplinks has no mode here: no sample rather than a made-up one.
  w.family({"qpspread_vni_mode_info", "gauge", "the VNI's mode (1 for the current one)"});
  for (const auto& r : reports)
    for (const auto& v : r.vnis)
      if (v.mode) w.sample("qpspread_vni_mode_info", vni_labels(ns_of(r), v) + ",mode=\"" + mode_name(*v.mode) + "\"", 1);
  w.family({"qpspread_vxlan_packets_total", "counter", "packets the VXLAN-device program saw, by reason"});
  for (const auto& r : reports)
    for (const auto& reason : r.reasons)
      w.sample("qpspread_vxlan_packets_total", ns_of(r) + ",reason=\"" + reason.name + "\"", num(reason.packets));
  reason_samples(w, {"qpspread_uplink_packets_total", "counter", "frames the uplink program found not VXLAN, by reason"},
                 reports, ns_of, [](const StatsReport& r) -> const std::vector<ReasonStats>& { return r.uplink_reasons; });
  reason_samples(w, {"qpspread_xdp_packets_total", "counter", "frames the underlay receive and transit programs saw (XDP, or tc ingress on a veth uplink), by reason"}, reports,
                 ns_of, [](const StatsReport& r) -> const std::vector<ReasonStats>& { return r.xdp_reasons; });
  return w.str();
}

}  // namespace qpspread::report
