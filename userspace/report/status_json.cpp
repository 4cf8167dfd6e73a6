#include "userspace/report/status_json.h"

#include "userspace/report/stats_report.h"

namespace qpspread::report {

using nlohmann::json;

json device_json(const DeviceState& d) {
  return {{"ifname", d.ifname},     {"ifindex", d.ifindex},
          {"vni", d.vni},           {"prog_id", d.prog_id},
          {"attached", d.prog_id != 0}, {"tc_hook", tc_api_name(d.tc_api)}, {"created_qdisc", d.created_qdisc},
          {"mark", d.mark},         {"mode", mode_name(d.mode)}, {"sport_min", d.port_min},
          {"sport_max", d.port_min + d.port_count - 1}};
}


json underlay_json(const DeviceState& d, bool transit) {
  json j = {{"ifname", d.ifname},           {"ifindex", d.ifindex},          {"xdp_prog_id", d.xdp_prog_id},
            {"xdp_mode", d.xdp_mode},       {"tc_hook", tc_api_name(d.tc_api)}};
  if (transit) {
    j["vnis"] = d.vnis;
    j["sport_min"] = d.port_min;
    j["sport_max"] = d.port_min + d.port_count - 1;
    j["prog_id"] = d.prog_id;  // tc ingress: invalidates the stale flow hash (transit_ingress.bpf.c)
    j["attached"] = d.xdp_prog_id != 0 && d.prog_id != 0;
  } else {
    j["prog_id"] = d.prog_id;  // tc egress: counts what leaves
    // What counts what arrives: XDP, or on a veth the same program on tc ingress (xdp_hook.h).
    j["rx_hook"] = d.rx_on_tc ? "tc ingress" : "xdp " + d.xdp_mode;
    j["rx_prog_id"] = d.rx_on_tc ? d.rx_tc_prog_id : d.xdp_prog_id;
    j["attached"] = d.prog_id != 0 && j["rx_prog_id"].get<uint32_t>() != 0;
  }
  return j;
}

json status_json(const NetnsStatus& st) {
  json j = {{"netns", st.netns}, {"pin_dir", st.pin_dir}, {"attached", st.attached},
            {"devices", json::array()}, {"vnis", json::array()}, {"reasons", json::object()},
            {"qp_entries", st.qp_entries}};
  // A device's mode is its program instance's (what its frames get); the VNI's is the vni_mode entry.
  for (const auto& d : st.devices) j["devices"].push_back(device_json(d));
  for (const auto& [vni, mode] : st.vni_modes) j["vnis"].push_back({{"vni", vni}, {"mode", mode_name(mode)}});
  j["uplinks"] = json::array();
  for (const auto& u : st.uplinks) j["uplinks"].push_back(underlay_json(u, false));
  j["transit"] = json::array();
  for (const auto& t : st.transit) j["transit"].push_back(underlay_json(t, true));
  j["reasons"] = reasons_json(st.reasons);
  j["uplink_reasons"] = reasons_json(st.uplink_reasons);
  j["xdp_reasons"] = reasons_json(st.xdp_reasons);
  return j;
}

}  // namespace qpspread::report
