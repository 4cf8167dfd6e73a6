#include "loader/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/error.h"
#include "loader/bpffs.h"
#include "loader/kernel_version.h"
#include "loader/skeleton.h"
#include "loader/tc_hook.h"
#include "loader/vxlan_discovery.h"
#include "loader/xdp_hook.h"
#include "transit_ingress.skel.h"
#include "underlay_xdp.skel.h"
#include "uplink_egress.skel.h"
#include "vxlan_egress.skel.h"

namespace qpspread {
namespace {

constexpr SkeletonOps<vxlan_egress> kVxlanEgress{vxlan_egress__open, vxlan_egress__load, vxlan_egress__destroy,
                                                 "VXLAN tc"};
constexpr SkeletonOps<underlay_xdp> kUnderlayXdp{underlay_xdp__open, underlay_xdp__load, underlay_xdp__destroy, "XDP"};
constexpr SkeletonOps<transit_ingress> kTransitIngress{transit_ingress__open, transit_ingress__load,
                                                       transit_ingress__destroy, "transit tc"};
constexpr SkeletonOps<uplink_egress> kUplinkEgress{uplink_egress__open, uplink_egress__load, uplink_egress__destroy,
                                                   "uplink"};

std::string names_of(const std::vector<VxlanDevice>& devs) {
  std::string s;
  for (const auto& d : devs) s += (s.empty() ? "" : ", ") + d.ifname;
  return s.empty() ? "none" : s;
}

std::vector<VxlanDevice> select_devices(const Netns& ns, const std::vector<std::string>& wanted, bool no_vtep_ok) {
  std::vector<VxlanDevice> all = discover_vxlan_devices();
  // A transit node, or one that only observes its underlay (a spine, a border), need not be a VTEP.
  if (all.empty() && wanted.empty() && no_vtep_ok) return all;
  if (all.empty())
    throw Error("no VXLAN device in netns " + ns.name() + "; is FRR's VXLAN configured?");
  std::vector<VxlanDevice> picked;
  if (wanted.empty()) {
    picked = all;
  } else {
    for (const auto& name : wanted) {
      auto it = std::find_if(all.begin(), all.end(), [&](auto& d) { return d.ifname == name; });
      if (it == all.end())
        throw Error("no VXLAN device '" + name + "' in netns " + ns.name() +
                    " (VXLAN devices there: " + names_of(all) + ")");
      picked.push_back(*it);
    }
  }
  for (const auto& d : picked) {
    // With collect-metadata (and vnifilter) devices the VNI is chosen per packet by the bridge,
    // so a per-device VNI, which the datapath's config is keyed by, does not exist.
    if (d.external)
      throw Error("VXLAN device " + d.ifname + " in netns " + ns.name() +
                  " is a collect-metadata (external/vnifilter) device; qpspread supports one VNI "
                  "per device (FRR's traditional setup): pass --dev for the others");
    if (d.port_count == 0)
      throw Error("VXLAN device " + d.ifname + " has an empty source-port range");
  }
  return picked;
}

// The caller's uplinks, or, when it names none, those carrying routes to the remote VTEPs of the
// devices being attached.
std::vector<std::string> resolve_uplinks(const AttachOptions& opts, const std::vector<VxlanDevice>& devs,
                                         AttachReport& report) {
  if (!opts.uplinks.empty() || !opts.discover_uplinks) return opts.uplinks;
  std::vector<int> ifindexes;
  for (const auto& d : devs) ifindexes.push_back(d.ifindex);
  UplinkDiscovery found = discover_uplinks(ifindexes);
  report.uplinks_discovered = true;
  report.remote_vteps = std::move(found.remote_vteps);
  return found.uplinks;
}

// One program instance per device, its config (the VNI's mode included) in .rodata: the datapath
// looks nothing up for it.
LoadedSkel<vxlan_egress> open_and_load(const std::string& pin_dir, const qps_dev_cfg& cfg) {
  return load_skeleton(kVxlanEgress, pin_dir, [&](vxlan_egress& s) { s.rodata->qps_dev = cfg; });
}

// count_qps: whether the instance counts per QP; not when the namespace's uplink programs do.
qps_dev_cfg dev_cfg(const VxlanDevice& dev, uint32_t mark, const qps_vni_cfg& vni_cfg, bool count_qps) {
  qps_dev_cfg cfg{};
  cfg.vni = dev.vni;
  cfg.mark = mark;
  cfg.port_min = dev.port_min;
  cfg.port_count = dev.port_count;
  cfg.count_qps = count_qps;
  cfg.vni_cfg = vni_cfg;
  return cfg;
}

bool same_cfg(const qps_dev_cfg& a, const qps_dev_cfg& b) {
  return a.vni == b.vni && a.mark == b.mark && a.port_min == b.port_min && a.port_count == b.port_count &&
         a.count_qps == b.count_qps && a.vni_cfg.mode == b.vni_cfg.mode &&
         a.vni_cfg.flowlet_gap_us == b.vni_cfg.flowlet_gap_us && a.vni_cfg.coarse_res_ns == b.vni_cfg.coarse_res_ns;
}

// What a VNI's VTEP instances are loaded with: its vni_mode entry, or, for a VNI that has none yet,
// the mode attach is about to give it.
qps_vni_cfg vni_cfg_for(const std::map<uint32_t, qps_vni_cfg>& modes, uint32_t vni, qps_vni_cfg initial) {
  const auto it = modes.find(vni);
  if (it != modes.end()) return it->second;
  initial.coarse_res_ns = coarse_clock_res_ns();  // as PinnedMaps::init_mode stores it
  return initial;
}

// Removes qpspread's tc programs from an interface: a veth uplink's receive program on ingress
// first, since the egress filter's removal may take the clsact qdisc with it (transit: ingress
// only). Returns whether the qdisc went.
bool remove_tc_programs(TcApi api, int ifindex, uint8_t kind, bool rx_on_tc, bool created_qdisc) {
  if (rx_on_tc) tc_detach(api, ifindex, TcDir::ingress, false);
  return tc_detach(api, ifindex, kind == QPS_ATTACH_TRANSIT ? TcDir::ingress : TcDir::egress, created_qdisc);
}

TcApi recorded_api(const qps_attachment& a) {
  if (a.tc_api > QPS_TC_TCX)
    throw Error("the record of " + std::string(a.ifname) + " names an unknown tc hook (" + std::to_string(a.tc_api) +
                "): made by a newer qpspread; detach with that version");
  return static_cast<TcApi>(a.tc_api);
}

// Undoes, unless committed, what one attach call added.
struct AttachTxn {
  std::string pin_dir;
  bool pins_new = false;
  std::optional<PinnedMaps> maps;
  std::vector<DeviceState> added;                       // records this call created
  std::vector<std::pair<int, uint32_t>> xdp_added;      // XDP programs it attached where none of ours was
  std::vector<std::string> warnings;
  TcApi api = TcApi::clsact;  // for interfaces without tc programs of ours yet
  bool api_explicit = false;  // the caller chose it
  bool committed = false;

  // How rec's interface gets its tc programs: as its tc programs already are (a caller naming the
  // other way is told how to switch, and the interface stays attached: an agent keeps working).
  TcApi api_for(const std::optional<qps_attachment>& rec, const std::string& ifname) {
    if (!rec || (!rec->prog_id && !rec->rx_prog_id)) return api;
    const TcApi had = recorded_api(*rec);
    if (api_explicit && had != api)
      warnings.push_back(ifname + " stays attached through " + tc_api_name(had) + "; run 'qpspread detach' first to attach it through " +
                         tc_api_name(api));
    return had;
  }

  ~AttachTxn() {
    if (committed) return;
    for (const auto& [ifindex, prog_id] : xdp_added) {
      try {
        xdp_detach(ifindex, prog_id);
      } catch (...) {
      }
    }
    for (const auto& d : added) {
      try {
        if (d.prog_id || d.rx_tc_prog_id)
          remove_tc_programs(d.tc_api, d.ifindex, d.kind, d.rx_tc_prog_id != 0, d.created_qdisc);
      } catch (...) {
      }
      if (maps) maps->delete_attachment(static_cast<uint32_t>(d.ifindex));
    }
    if (pins_new) unpin_all(pin_dir);
  }
};

void set_hook(qps_attachment& rec, TcApi api) {
  rec.tc_api = static_cast<uint8_t>(api);
  rec.handle = api == TcApi::clsact ? QPS_TC_HANDLE : 0;
  rec.priority = api == TcApi::clsact ? QPS_TC_PRIORITY : 0;
}

// Attaches prog_fd to st.ifindex and records it, unless an identical attachment is in place (and
// `stale` does not say otherwise). `load` is called only when something has to be (re)attached.
template <typename Load>
DeviceState install(AttachTxn& txn, DeviceState st, uint8_t kind, const qps_dev_cfg& cfg, Load load,
                    bool stale = false) {
  const uint32_t key = static_cast<uint32_t>(st.ifindex);
  const std::optional<qps_attachment> rec = txn.maps ? txn.maps->attachment(key) : std::nullopt;
  const bool rec_owns_qdisc = rec.has_value() && rec->created_qdisc;
  st.tc_api = txn.api_for(rec, st.ifname);
  if (!stale && rec && rec->kind == kind && same_cfg(rec->cfg, cfg) && rec->prog_id &&
      (st.prog_id = tc_query(st.tc_api, st.ifindex, TcDir::egress)) == rec->prog_id) {
    st.already_attached = true;
    st.created_qdisc = rec_owns_qdisc;
    return st;
  }
  auto skel = load();  // the instance must live until tc holds its program
  if (!txn.maps) txn.maps = PinnedMaps::open(txn.pin_dir);
  const TcAttachResult r = tc_attach(st.tc_api, st.ifindex, TcDir::egress, bpf_program__fd(skel.second));
  st.prog_id = r.prog_id;
  // A record left by an earlier attach (or a changed --mark) keeps its qdisc ownership.
  st.created_qdisc = r.created_qdisc || rec_owns_qdisc;
  if (!rec) txn.added.push_back(st);
  // An uplink's record also holds its XDP program: replacing the tc half keeps it.
  qps_attachment out = rec ? *rec : qps_attachment{};
  out.ifindex = key;
  out.vni = st.vni;
  out.prog_id = st.prog_id;
  set_hook(out, st.tc_api);
  out.created_qdisc = st.created_qdisc;
  out.kind = kind;
  std::strncpy(out.ifname, st.ifname.c_str(), sizeof(out.ifname) - 1);
  out.cfg = cfg;
  txn.maps->put_attachment(out);
  return st;
}

DeviceState attach_vxlan(AttachTxn& txn, const VxlanDevice& dev, uint32_t mark, const qps_vni_cfg& vni_cfg,
                         bool count_qps) {
  const qps_dev_cfg cfg = dev_cfg(dev, mark, vni_cfg, count_qps);
  DeviceState st{.ifname = dev.ifname, .ifindex = dev.ifindex, .vni = dev.vni, .port_min = dev.port_min,
                 .port_count = dev.port_count, .mark = mark, .mode = vni_cfg.mode};
  return install(txn, st, QPS_ATTACH_VXLAN, cfg, [&] {
    std::shared_ptr<vxlan_egress> skel = open_and_load(txn.pin_dir, cfg);
    return std::make_pair(skel, skel->progs.qps_vxlan_egress);
  });
}

const char* xdp_mode_name(uint32_t flags) {
  return flags & XDP_FLAGS_SKB_MODE ? "generic" : flags & XDP_FLAGS_DRV_MODE ? "native" : "";
}

enum class Hook { xdp, tc };

// underlay_xdp loaded with cfg, only the entry of the hook it goes on (the other one would be
// verified for nothing).
LoadedSkel<underlay_xdp> load_underlay(const std::string& pin_dir, const qps_xdp_cfg& cfg, Hook hook) {
  return load_skeleton(kUnderlayXdp, pin_dir, [&](underlay_xdp& s) {
    s.rodata->qps_xdp = cfg;
    bpf_program__set_autoload(hook == Hook::xdp ? s.progs.qps_underlay_tc : s.progs.qps_underlay_xdp, false);
  });
}

// Puts underlay_xdp, loaded with cfg, on st's interface and records it with the interface's
// attachment (created with `kind` when the interface has none yet).
void install_xdp(AttachTxn& txn, DeviceState& st, uint8_t kind, const qps_xdp_cfg& cfg) {
  const uint32_t key = static_cast<uint32_t>(st.ifindex);
  const std::optional<qps_attachment> rec = txn.maps ? txn.maps->attachment(key) : std::nullopt;
  if (rec && rec->xdp_prog_id && std::memcmp(&rec->xdp, &cfg, sizeof(cfg)) == 0 &&
      xdp_query(st.ifindex) == rec->xdp_prog_id) {
    st.xdp_prog_id = rec->xdp_prog_id;
    st.xdp_mode = xdp_mode_name(rec->xdp_flags);
    return;
  }
  auto skel = load_underlay(txn.pin_dir, cfg, Hook::xdp);
  if (!txn.maps) txn.maps = PinnedMaps::open(txn.pin_dir);
  const uint32_t ours = rec ? rec->xdp_prog_id : 0;
  const XdpAttachResult r = xdp_attach(st.ifindex, st.ifname, bpf_program__fd(skel->progs.qps_underlay_xdp), ours);
  st.already_attached = false;
  st.xdp_prog_id = r.prog_id;
  st.xdp_mode = xdp_mode_name(r.flags);
  if (r.generic_fallback)
    txn.warnings.push_back("native XDP refused on " + st.ifname + ": attached in generic mode (slower)");
  if (!ours) txn.xdp_added.emplace_back(st.ifindex, r.prog_id);
  qps_attachment out{};
  if (rec) {
    out = *rec;
  } else {
    out.ifindex = key;
    out.kind = kind;
    std::strncpy(out.ifname, st.ifname.c_str(), sizeof(out.ifname) - 1);
    txn.added.push_back(st);
  }
  out.xdp_prog_id = r.prog_id;
  out.xdp_flags = r.flags;
  out.xdp = cfg;
  txn.maps->put_attachment(out);
}

// The receive role on tc ingress (an uplink that is a veth, xdp_hook.h), recorded with the tc
// egress half attach_uplink_tc put on the same interface just before. (No XDP program of ours can
// be there: attach never puts one on a veth uplink, and an older qpspread's records do not fit
// this one's map, so its pins must be detached by it first.)
void install_rx_tc(AttachTxn& txn, DeviceState& st, const qps_xdp_cfg& cfg) {
  qps_attachment rec = *txn.maps->attachment(static_cast<uint32_t>(st.ifindex));
  st.rx_on_tc = true;
  if (rec.rx_prog_id && std::memcmp(&rec.xdp, &cfg, sizeof(cfg)) == 0 &&
      tc_query(st.tc_api, st.ifindex, TcDir::ingress) == rec.rx_prog_id) {
    st.rx_tc_prog_id = rec.rx_prog_id;
    return;
  }
  auto skel = load_underlay(txn.pin_dir, cfg, Hook::tc);
  const TcAttachResult r =
      tc_attach(st.tc_api, st.ifindex, TcDir::ingress, bpf_program__fd(skel->progs.qps_underlay_tc));
  st.already_attached = false;
  st.rx_tc_prog_id = r.prog_id;
  for (auto& d : txn.added)
    if (d.ifindex == st.ifindex) d.rx_tc_prog_id = r.prog_id;  // undone with the record
  rec.rx_prog_id = r.prog_id;
  rec.created_qdisc = rec.created_qdisc || r.created_qdisc;
  rec.xdp = cfg;
  txn.maps->put_attachment(rec);
}

int interface_index(const Netns& ns, const std::string& ifname, const char* role) {
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw Error("no interface '" + ifname + "' in netns " + ns.name() + " (" + role + ")");
  return ifindex;
}

// The XDP config shared by a namespace's instances: the VXLAN port of its devices, the port range
// a VTEP with the default range uses (the namespace's ip_local_port_range).
qps_xdp_cfg xdp_cfg(const std::vector<VxlanDevice>& devs, uint8_t roles) {
  qps_xdp_cfg cfg{};
  cfg.vxlan_port = devs.empty() || !devs.front().dstport ? 4789 : devs.front().dstport;
  cfg.roles = roles;
  if (roles & QPS_XDP_TRANSIT) {
    uint16_t low = 0, high = 0;
    local_port_range(low, high);
    cfg.port_min = low;
    cfg.port_count = static_cast<uint16_t>(high - low);
  }
  return cfg;
}

// The tc ingress half of a transit interface (see transit_ingress.bpf.c), recorded with the XDP
// half that install_xdp put on the same interface.
void install_transit_rehash(AttachTxn& txn, DeviceState& st, uint16_t vxlan_port) {
  qps_attachment rec = *txn.maps->attachment(static_cast<uint32_t>(st.ifindex));
  st.tc_api = txn.api_for(rec, st.ifname);
  if (rec.prog_id && tc_query(st.tc_api, st.ifindex, TcDir::ingress) == rec.prog_id) {
    st.prog_id = rec.prog_id;
    st.created_qdisc = rec.created_qdisc;
    return;
  }
  auto skel = load_skeleton(kTransitIngress, txn.pin_dir,
                            [&](transit_ingress& s) { s.rodata->qps_transit.vxlan_port = vxlan_port; });
  const TcAttachResult r =
      tc_attach(st.tc_api, st.ifindex, TcDir::ingress, bpf_program__fd(skel->progs.qps_transit_ingress));
  st.already_attached = false;
  st.prog_id = r.prog_id;
  st.created_qdisc = r.created_qdisc || rec.created_qdisc;
  rec.prog_id = r.prog_id;
  rec.created_qdisc = st.created_qdisc;
  set_hook(rec, st.tc_api);
  txn.maps->put_attachment(rec);
  bool recorded = false;
  for (auto& d : txn.added) {
    if (d.ifindex != st.ifindex) continue;
    d.prog_id = r.prog_id;
    d.tc_api = st.tc_api;
    d.created_qdisc = st.created_qdisc;
    recorded = true;
  }
  if (!recorded) txn.added.push_back(st);  // an older record without the tc program: undo just as well
}

DeviceState attach_transit(AttachTxn& txn, const Netns& ns, const std::string& ifname, const qps_xdp_cfg& cfg,
                           const std::vector<uint32_t>& vnis) {
  DeviceState st{.ifname = ifname,
                 .ifindex = interface_index(ns, ifname, "--transit names the interfaces VXLAN arrives by"),
                 .already_attached = true,  // until an install finds something to do
                 .port_min = cfg.port_min,
                 .port_count = cfg.port_count,
                 .vnis = vnis,
                 .kind = QPS_ATTACH_TRANSIT};
  install_xdp(txn, st, QPS_ATTACH_TRANSIT, cfg);
  install_transit_rehash(txn, st, cfg.vxlan_port);
  return st;
}

// The tc program parses VXLAN to the namespace's VXLAN port, as its XDP sibling does: the
// record's XDP config holds the port both were loaded with, so a changed port reloads both.
DeviceState attach_uplink_tc(AttachTxn& txn, const Netns& ns, const std::string& ifname, uint16_t vxlan_port) {
  const int ifindex = interface_index(ns, ifname, "uplinks are the underlay interfaces toward the spines");
  DeviceState st{.ifname = ifname, .ifindex = ifindex, .kind = QPS_ATTACH_UPLINK};
  const std::optional<qps_attachment> rec =
      txn.maps ? txn.maps->attachment(static_cast<uint32_t>(ifindex)) : std::nullopt;
  const bool port_changed = rec && (rec->xdp_prog_id || rec->rx_prog_id) && rec->xdp.vxlan_port != vxlan_port;
  return install(
      txn, st, QPS_ATTACH_UPLINK, qps_dev_cfg{},
      [&] {
        std::shared_ptr<uplink_egress> skel = load_skeleton(
            kUplinkEgress, txn.pin_dir, [&](uplink_egress& s) { s.rodata->qps_uplink.vxlan_port = vxlan_port; });
        return std::make_pair(skel, skel->progs.qps_uplink_egress);
      },
      port_changed);
}

// An uplink: tc egress counts what leaves by it, XDP (tc ingress on a veth) what arrives.
DeviceState attach_uplink(AttachTxn& txn, const Netns& ns, const std::string& ifname, const qps_xdp_cfg& cfg) {
  DeviceState st = attach_uplink_tc(txn, ns, ifname, cfg.vxlan_port);
  const bool tc_was_there = st.already_attached;
  if (xdp_costs_more_than_tc(ifname))
    install_rx_tc(txn, st, cfg);
  else
    install_xdp(txn, st, QPS_ATTACH_UPLINK, cfg);
  st.already_attached = tc_was_there && st.already_attached;
  return st;
}

// Forgets the records of interfaces that are gone (their programs went with them) and renames those
// of renamed ones; returns the names forgotten. In the namespace's thread.
std::vector<std::string> forget_gone(const PinnedMaps& maps) {
  std::vector<std::string> gone;
  for (qps_attachment a : maps.attachments()) {
    char name[IF_NAMESIZE] = {};
    if (!if_indextoname(a.ifindex, name)) {
      maps.delete_attachment(a.ifindex);
      gone.push_back(a.ifname);
    } else if (std::strncmp(name, a.ifname, sizeof(a.ifname)) != 0) {
      std::memset(a.ifname, 0, sizeof(a.ifname));
      std::memcpy(a.ifname, name, std::min(std::strlen(name), sizeof(a.ifname) - 1));
      maps.put_attachment(a);
    }
  }
  return gone;
}

// Replaces the VTEP instances of `vni` whose config is not its vni_mode entry (every one after a
// mode change; tcx and tc replace a program atomically). In the namespace's thread.
void reload_vteps(const std::string& pin_dir, uint32_t vni) {
  AttachTxn txn;
  txn.pin_dir = pin_dir;
  txn.maps = PinnedMaps::open(pin_dir);  // the devices' records say how their programs are attached
  if (!txn.maps) return;
  const auto modes = txn.maps->vni_configs();
  const auto mode = modes.find(vni);
  if (mode == modes.end()) return;
  for (const auto& dev : discover_vxlan_devices()) {
    if (dev.vni != vni) continue;
    const auto rec = txn.maps->attachment(static_cast<uint32_t>(dev.ifindex));
    if (rec && rec->kind == QPS_ATTACH_VXLAN)
      attach_vxlan(txn, dev, rec->cfg.mark, mode->second, rec->cfg.count_qps != 0);
  }
  txn.committed = true;
}

PinnedMaps open_pins_or_throw(const Netns& ns) {
  auto maps = PinnedMaps::open(pin_dir_for(ns.inode()));
  if (!maps)
    throw Error("qpspread is not attached in netns " + ns.name() + "; run 'qpspread attach --netns " +
                ns.name() + "' first");
  return std::move(*maps);
}

}  // namespace

AttachReport attach(const Netns& ns, const AttachOptions& opts) {
  if (opts.mark == 0) throw Error("--mark must not be 0: a zero mark does not bypass the tunnel route cache");
  AttachReport report;
  report.pin_dir = pin_dir_for(ns.inode());
  for (const auto& t : opts.transit)
    if (std::find(opts.uplinks.begin(), opts.uplinks.end(), t) != opts.uplinks.end())
      throw Error(t + " is named both as --uplink and --transit; an interface takes one role: pick one");
  const PinLock lock = PinLock::acquire();
  ns.run([&] {
    const std::vector<VxlanDevice> devs =
        select_devices(ns, opts.devices, opts.vteps_optional || !opts.transit.empty() || !opts.uplinks.empty());
    std::vector<uint32_t> transit_vnis = opts.transit_vnis;
    if (transit_vnis.empty())
      for (const auto& d : devs) transit_vnis.push_back(d.vni);
    if (!opts.transit.empty() && transit_vnis.empty())
      throw Error("netns " + ns.name() + " has no VXLAN device, so --transit needs the VNIs to steer: --vni N");
    AttachTxn txn;
    txn.pin_dir = report.pin_dir;
    txn.api = opts.tc_api.value_or(tcx_supported() ? TcApi::tcx : TcApi::clsact);
    txn.api_explicit = opts.tc_api.has_value();
    if (txn.api == TcApi::tcx && !tcx_supported())
      throw Error("this kernel has no tcx (Linux 6.6+): use clsact (attach --tc-api clsact; the agent's tc_api: clsact), "
                  "or leave the choice to qpspread");
    txn.maps = PinnedMaps::open(report.pin_dir);
    txn.pins_new = !txn.maps.has_value();
    if (txn.maps) report.forgotten = forget_gone(*txn.maps);
    make_pin_dir(report.pin_dir);
    const auto modes = txn.maps ? txn.maps->vni_configs() : std::map<uint32_t, qps_vni_cfg>{};
    const std::vector<std::string> uplinks = resolve_uplinks(opts, devs, report);
    // Where uplink programs count the QPs (this call's, or an earlier one's), the VTEP programs
    // do not: one per-QP update per frame.
    bool uplinks_count = !uplinks.empty();
    if (txn.maps)
      for (const auto& a : txn.maps->attachments()) uplinks_count |= a.kind == QPS_ATTACH_UPLINK;
    for (const auto& dev : devs)
      report.devices.push_back(
          attach_vxlan(txn, dev, opts.mark, vni_cfg_for(modes, dev.vni, opts.initial_mode), !uplinks_count));
    for (const auto& up : uplinks)
      report.uplinks.push_back(attach_uplink(txn, ns, up, xdp_cfg(devs, QPS_XDP_RX)));
    for (const auto& t : opts.transit)
      report.transit.push_back(attach_transit(txn, ns, t, xdp_cfg(devs, QPS_XDP_TRANSIT), transit_vnis));
    if (!txn.maps) return;  // nothing to attach (no device, no uplink): nothing was pinned
    for (const auto& dev : devs)
      if (txn.maps->init_mode(dev.vni, opts.initial_mode)) report.new_vnis.push_back(dev.vni);
    if (!opts.transit.empty())
      for (uint32_t vni : transit_vnis)
        if (txn.maps->init_mode(vni, opts.initial_mode)) report.new_vnis.push_back(vni);
    report.warnings = txn.warnings;
    if (const auto k = running_kernel())
      if (auto w = multipath_source_warning(*k)) report.warnings.push_back(*w);
    txn.committed = true;
  });
  return report;
}

DetachReport detach(const Netns& ns) {
  DetachReport report;
  const PinLock lock = PinLock::acquire();
  const std::string dir = pin_dir_for(ns.inode());
  ns.run([&] {
    auto maps = PinnedMaps::open(dir);
    if (!maps) {
      unpin_all(dir);
      return;
    }
    report.was_attached = true;
    const std::vector<qps_attachment> records = maps->attachments();
    for (const auto& a : records) recorded_api(a);  // all understood before anything is removed
    for (const auto& a : records) {
      if (a.xdp_prog_id) xdp_detach(static_cast<int>(a.ifindex), a.xdp_prog_id);
      const int ifindex = static_cast<int>(a.ifindex);
      const bool qdisc_gone = remove_tc_programs(recorded_api(a), ifindex, a.kind, a.rx_prog_id != 0, a.created_qdisc);
      if (qdisc_gone) report.qdiscs_removed.push_back(a.ifname);
      report.devices.push_back(a.ifname);
    }
    unpin_all(dir);
  });
  return report;
}

NetnsStatus status(const Netns& ns, bool count_qps) {
  NetnsStatus st;
  st.netns = ns.name();
  st.pin_dir = pin_dir_for(ns.inode());
  ns.run([&] {
    auto maps = PinnedMaps::open(st.pin_dir);
    if (!maps) return;
    st.attached = true;
    for (const auto& a : maps->attachments()) {
      DeviceState d;
      d.ifname = a.ifname;
      d.ifindex = static_cast<int>(a.ifindex);
      d.vni = a.vni;
      d.created_qdisc = a.created_qdisc;
      d.tc_api = recorded_api(a);
      d.prog_id = tc_query(d.tc_api, d.ifindex, a.kind == QPS_ATTACH_TRANSIT ? TcDir::ingress : TcDir::egress);
      d.mark = a.cfg.mark;
      d.mode = a.cfg.vni_cfg.mode;
      d.port_min = a.kind == QPS_ATTACH_TRANSIT ? a.xdp.port_min : a.cfg.port_min;
      d.port_count = a.kind == QPS_ATTACH_TRANSIT ? a.xdp.port_count : a.cfg.port_count;
      if (a.xdp_prog_id) {
        d.xdp_prog_id = xdp_query(d.ifindex);  // 0 when someone removed it
        d.xdp_mode = xdp_mode_name(a.xdp_flags);
      }
      d.rx_on_tc = a.rx_prog_id != 0;
      if (d.rx_on_tc) d.rx_tc_prog_id = tc_query(d.tc_api, d.ifindex, TcDir::ingress);  // 0 when someone removed it
      (a.kind == QPS_ATTACH_UPLINK ? st.uplinks : a.kind == QPS_ATTACH_TRANSIT ? st.transit : st.devices).push_back(d);
    }
    st.vni_modes = maps->vni_modes();
    st.reasons = maps->reasons();
    st.uplink_reasons = maps->uplink_reasons();
    st.xdp_reasons = maps->xdp_reasons();
    if (count_qps) st.qp_entries = maps->qp_stats().size();
  });
  return st;
}

std::map<uint32_t, qps_vni_cfg> vni_configs(const Netns& ns) {
  auto maps = PinnedMaps::open(pin_dir_for(ns.inode()));
  return maps ? maps->vni_configs() : std::map<uint32_t, qps_vni_cfg>{};
}

void set_mode(const Netns& ns, uint32_t vni, const qps_vni_cfg& cfg) {
  const PinLock lock = PinLock::acquire();
  PinnedMaps maps = open_pins_or_throw(ns);
  // attach gives every VNI it steers (a VXLAN device's, or a transit one) a mode entry.
  const std::map<uint32_t, qps_vni_cfg> configs = maps.vni_configs();
  const auto entry = configs.find(vni);
  if (entry == configs.end()) {
    std::string vnis;
    for (const auto& [v, c] : configs) vnis += (vnis.empty() ? "" : ", ") + std::to_string(v);
    throw Error("VNI " + std::to_string(vni) + " is not attached in netns " + ns.name() +
                " (attached VNIs: " + (vnis.empty() ? "none" : vnis) + ")");
  }
  const qps_vni_cfg before = entry->second;
  // The transit program reads the map; the VTEP programs hold the mode in their config.
  maps.set_mode(vni, cfg);
  const std::string dir = pin_dir_for(ns.inode());
  try {
    ns.run([&] { reload_vteps(dir, vni); });
  } catch (const std::exception& e) {
    // Back to the mode it had, on every device: none is left in the new one.
    maps.set_mode(vni, before);
    try {
      ns.run([&] { reload_vteps(dir, vni); });
    } catch (...) {
    }
    throw Error(std::string(e.what()) + "; VNI " + std::to_string(vni) + " keeps its mode");
  }
}

void assign_ports(const Netns& ns, uint32_t vni, const std::map<uint32_t, uint16_t>& ports) {
  const PinLock lock = PinLock::acquire();
  PinnedMaps maps = open_pins_or_throw(ns);
  if (!maps.vni_modes().count(vni))
    throw Error("VNI " + std::to_string(vni) + " is not attached in netns " + ns.name());
  // The ranges the VNI's programs here steer into: its VXLAN devices', and the transit range.
  std::vector<std::pair<uint16_t, uint16_t>> ranges;  // min, count
  std::string text;
  for (const auto& a : maps.attachments()) {
    uint16_t min = 0, count = 0;
    if (a.kind == QPS_ATTACH_VXLAN && a.vni == vni) min = a.cfg.port_min, count = a.cfg.port_count;
    if (a.xdp_prog_id && (a.xdp.roles & QPS_XDP_TRANSIT)) min = a.xdp.port_min, count = a.xdp.port_count;
    if (!count) continue;
    ranges.emplace_back(min, count);
    text += (text.empty() ? "" : ", ") + std::to_string(min) + "-" + std::to_string(min + count - 1);
  }
  for (const auto& entry : ports) {
    const uint16_t sport = entry.second;  // a plain variable: clang 14 cannot capture a binding
    if (sport == 0) continue;
    if (ranges.empty())
      throw Error("nothing in netns " + ns.name() + " steers VNI " + std::to_string(vni) +
                  " (no VXLAN device of it, no transit interface); attach first");
    const bool sendable = std::any_of(ranges.begin(), ranges.end(),
                                      [&](const auto& r) { return sport >= r.first && sport - r.first < r.second; });
    if (!sendable)
      throw Error("port " + std::to_string(sport) + " is outside the source ports VNI " + std::to_string(vni) +
                  " can leave with here (" + text + "); the driver would not send it");
  }
  for (const auto& [qpn, sport] : ports) {
    if (sport) maps.assign({vni, qpn}, sport);
    else maps.unassign({vni, qpn});
  }
  if (!ports.empty()) maps.assignments_changed();  // after the writes: the datapath reads them then
}

std::vector<QpStats> qp_stats(const Netns& ns, std::optional<uint32_t> vni) {
  PinnedMaps maps = open_pins_or_throw(ns);
  std::vector<QpStats> all = maps.qp_stats();
  if (vni) std::erase_if(all, [&](const QpStats& q) { return q.vni != *vni; });
  std::sort(all.begin(), all.end(), [](const QpStats& a, const QpStats& b) {
    return std::tie(a.vni, a.qpn) < std::tie(b.vni, b.qpn);
  });
  return all;
}

PathReport path_report(const Netns& ns) {
  PinnedMaps maps = open_pins_or_throw(ns);
  PathReport r;
  r.paths = maps.path_stats();
  r.rx_paths = maps.rx_paths();
  r.qp_paths = maps.qp_paths();
  r.qp_rx = maps.qp_rx();
  r.assignments = maps.assignments();
  r.flowlets = maps.flowlets();
  for (const auto& a : maps.attachments())
    if (a.kind == QPS_ATTACH_UPLINK) r.ifnames[a.ifindex] = a.ifname;
  return r;
}

}  // namespace qpspread
