#include "userspace/report/prometheus.h"

#include <cstdint>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <tuple>

namespace qpspread::cli {
namespace {

using nlohmann::json;

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

}  // namespace

std::string prometheus_text(const json& j) {
  Writer w;
  const std::string ns = "netns=\"" + escape(j["netns"].get<std::string>()) + "\"";
  auto vni_labels = [&](const json& v) { return ns + ",vni=\"" + std::to_string(v["vni"].get<unsigned>()) + "\""; };
  auto path_labels = [&](const json& v, const json& p) {
    return vni_labels(v) + ",path=\"" + escape(p["ifname"].get<std::string>()) + "\",remote_vtep=\"" +
           escape(p["remote_vtep"].get<std::string>()) + "\"";
  };
  const Family path_counters[] = {
      {"qpspread_path_tx_packets_total", "counter", "VXLAN frames sent on the path (uplink, VNI, remote VTEP)"},
      {"qpspread_path_tx_bytes_total", "counter", "bytes of VXLAN frames sent on the path"},
      {"qpspread_path_tx_rocev2_packets_total", "counter", "VXLAN frames with RoCEv2 inside sent on the path"},
      {"qpspread_path_tx_rocev2_bytes_total", "counter", "bytes of VXLAN frames with RoCEv2 inside sent on the path"},
      {"qpspread_path_rx_packets_total", "counter", "VXLAN frames received on the path (uplink, VNI, sending VTEP)"},
      {"qpspread_path_rx_bytes_total", "counter", "bytes of VXLAN frames received on the path"},
      {"qpspread_path_rx_rocev2_packets_total", "counter", "VXLAN frames with RoCEv2 inside received on the path"},
      {"qpspread_path_rx_rocev2_bytes_total", "counter", "bytes of VXLAN frames with RoCEv2 inside received on the path"}};
  const char* path_fields[] = {"tx_packets", "tx_bytes", "tx_roce_packets", "tx_roce_bytes",
                               "rx_packets", "rx_bytes", "rx_roce_packets", "rx_roce_bytes"};
  for (size_t i = 0; i < std::size(path_fields); i++) {
    w.family(path_counters[i]);
    for (const auto& v : j["vnis"])
      for (const auto& p : v["paths"]) w.sample(path_counters[i].name, path_labels(v, p), p[path_fields[i]].get<double>());
  }
  w.family({"qpspread_path_share", "gauge", "share of the VNI's RoCEv2 bytes on the path"});
  for (const auto& v : j["vnis"])
    for (const auto& p : v["paths"]) w.sample("qpspread_path_share", path_labels(v, p), p["share"].get<double>());
  w.family({"qpspread_vni_imbalance", "gauge", "max share / mean share over the VNI's paths"});
  for (const auto& v : j["vnis"]) w.sample("qpspread_vni_imbalance", vni_labels(v), v["imbalance"].get<double>());
  w.family({"qpspread_vni_jain_index", "gauge", "Jain's fairness index over the VNI's paths"});
  for (const auto& v : j["vnis"]) w.sample("qpspread_vni_jain_index", vni_labels(v), v["jain"].get<double>());
  w.family({"qpspread_vni_qps", "gauge", "queue pairs seen on the VNI"});
  for (const auto& v : j["vnis"]) w.sample("qpspread_vni_qps", vni_labels(v), static_cast<double>(v["qps"].size()));
  // Summed over the VNI's QPs: per-QP series would be unbounded.
  for (const auto& [name, field, help] :
       {std::tuple{"qpspread_vni_reordered_total", "reordered", "received RoCEv2 frames whose PSN was lower than expected"},
        std::tuple{"qpspread_vni_psn_gaps_total", "gaps", "times a QP's received PSN jumped ahead of the expected one"}}) {
    w.family({name, "counter", help});
    for (const auto& v : j["vnis"]) {
      double sum = 0;
      for (const auto& q : v["qps"]) sum += q[field].get<double>();
      w.sample(name, vni_labels(v), sum);
    }
  }
  w.family({"qpspread_vni_mode_info", "gauge", "the VNI's mode (1 for the current one)"});
  for (const auto& v : j["vnis"])
    w.sample("qpspread_vni_mode_info", vni_labels(v) + ",mode=\"" + v["mode"].get<std::string>() + "\"", 1);
  w.family({"qpspread_vxlan_packets_total", "counter", "packets the VXLAN-device program saw, by reason"});
  for (const auto& [reason, r] : j["reasons"].items())
    w.sample("qpspread_vxlan_packets_total", ns + ",reason=\"" + reason + "\"", r["packets"].get<double>());
  return w.str();
}

}  // namespace qpspread::cli
