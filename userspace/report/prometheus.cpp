#include "userspace/report/prometheus.h"

#include <cstdint>
#include <iomanip>
#include <iterator>
#include <sstream>

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

void reason_samples(Writer& w, const Family& f, const std::string& ns, const std::vector<ReasonStats>& reasons) {
  if (reasons.empty()) return;  // the program is not attached here
  w.family(f);
  for (const auto& r : reasons) w.sample(f.name, ns + ",reason=\"" + r.name + "\"", static_cast<double>(r.packets));
}

double num(uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string prometheus_text(const StatsReport& r) {
  Writer w;
  const std::string ns = "netns=\"" + escape(r.netns) + "\"";
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
       [](const VniPath& p) { return num(p.rx.cnp); }}};
  for (const auto& [family, get] : path_counters) {
    w.family(family);
    path_samples(w, r, family.name, ns, get);
  }
  w.family({"qpspread_path_share", "gauge", "share of the VNI's RoCEv2 bytes on the path"});
  path_samples(w, r, "qpspread_path_share", ns, [](const VniPath& p) { return p.share; });
  w.family({"qpspread_vni_imbalance", "gauge", "max share / mean share over the VNI's uplinks"});
  for (const auto& v : r.vnis) w.sample("qpspread_vni_imbalance", vni_labels(ns, v), v.balance.imbalance);
  w.family({"qpspread_vni_jain_index", "gauge", "Jain's fairness index over the VNI's uplinks"});
  for (const auto& v : r.vnis) w.sample("qpspread_vni_jain_index", vni_labels(ns, v), v.balance.jain);
  w.family({"qpspread_vni_qps", "gauge", "queue pairs seen on the VNI"});
  for (const auto& v : r.vnis) w.sample("qpspread_vni_qps", vni_labels(ns, v), num(v.qps.size()));
  // Summed over the VNI's QPs: per-QP series would be unbounded.
  w.family({"qpspread_vni_reordered_total", "counter", "received RoCEv2 frames whose PSN was lower than expected"});
  for (const auto& v : r.vnis) {
    uint64_t sum = 0;
    for (const auto& q : v.qps) sum += q.reordered;
    w.sample("qpspread_vni_reordered_total", vni_labels(ns, v), num(sum));
  }
  w.family({"qpspread_vni_psn_gaps_total", "counter", "times a QP's received PSN jumped ahead of the expected one"});
  for (const auto& v : r.vnis) {
    uint64_t sum = 0;
    for (const auto& q : v.qps) sum += q.gaps;
    w.sample("qpspread_vni_psn_gaps_total", vni_labels(ns, v), num(sum));
  }
  // A VNI only observed on the uplinks has no mode here: no sample rather than a made-up one.
  w.family({"qpspread_vni_mode_info", "gauge", "the VNI's mode (1 for the current one)"});
  for (const auto& v : r.vnis)
    if (v.mode) w.sample("qpspread_vni_mode_info", vni_labels(ns, v) + ",mode=\"" + mode_name(*v.mode) + "\"", 1);
  w.family({"qpspread_vxlan_packets_total", "counter", "packets the VXLAN-device program saw, by reason"});
  for (const auto& reason : r.reasons)
    w.sample("qpspread_vxlan_packets_total", ns + ",reason=\"" + reason.name + "\"", num(reason.packets));
  reason_samples(w, {"qpspread_uplink_packets_total", "counter", "frames the uplink program found not VXLAN, by reason"},
                 ns, r.uplink_reasons);
  reason_samples(w, {"qpspread_xdp_packets_total", "counter", "frames the underlay XDP program saw, by reason"}, ns,
                 r.xdp_reasons);
  return w.str();
}

}  // namespace qpspread::report
