#include "loader/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "loader/bpffs.h"
#include "loader/error.h"
#include "loader/tc_hook.h"
#include "loader/vxlan_discovery.h"
#include "vxlan_egress.skel.h"

namespace qpspread {
namespace {

using Skel = std::unique_ptr<vxlan_egress, decltype(&vxlan_egress__destroy)>;

std::string names_of(const std::vector<VxlanDevice>& devs) {
  std::string s;
  for (const auto& d : devs) s += (s.empty() ? "" : ", ") + d.ifname;
  return s.empty() ? "none" : s;
}

std::vector<VxlanDevice> select_devices(const Netns& ns, const std::vector<std::string>& wanted) {
  std::vector<VxlanDevice> all = discover_vxlan_devices();
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

Skel open_and_load(const std::string& pin_dir) {
  Skel skel(vxlan_egress__open(), vxlan_egress__destroy);
  if (!skel) throw Error(errno_text("cannot open the BPF object", errno));
  // Pinned maps are reused at load when they exist: a second attach shares the first's state.
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel->obj) {
    const std::string path = pin_dir + "/" + bpf_map__name(map);
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err)
      throw Error(errno_text("cannot set pin path " + path, err));
  }
  if (int err = vxlan_egress__load(skel.get()); err)
    throw Error(errno_text("cannot load the BPF program", err) +
                (err == -EPERM || err == -EACCES ? " (run as root)"
                                                 : "; if pins in " + pin_dir +
                                                       " are from another version, run 'qpspread "
                                                       "detach' first, or rerun with -v"));
  return skel;
}

struct AttachTxn {
  vxlan_egress* skel;
  std::vector<DeviceState> added;  // undone if the transaction is not committed
  bool pins_new = false;
  std::string pin_dir;
  bool committed = false;

  ~AttachTxn() {
    if (committed) return;
    for (const auto& d : added) {
      try {
        tc_detach_egress(d.ifindex, d.created_qdisc);
      } catch (...) {
      }
      bpf_map__delete_elem(skel->maps.devs, &d.ifindex, sizeof(uint32_t), 0);
      bpf_map__delete_elem(skel->maps.attachments, &d.ifindex, sizeof(uint32_t), 0);
    }
    if (pins_new) unpin_all(pin_dir);
  }
};

DeviceState attach_one(vxlan_egress* skel, const VxlanDevice& dev, uint32_t mark) {
  DeviceState st{dev.ifname, dev.ifindex, dev.vni, 0, false, false, dev.port_min, dev.port_count,
                 mark};
  qps_dev_cfg cfg{};
  cfg.vni = dev.vni;
  cfg.mark = mark;
  cfg.port_min = dev.port_min;
  cfg.port_count = dev.port_count;
  const uint32_t key = static_cast<uint32_t>(dev.ifindex);
  if (bpf_map__update_elem(skel->maps.devs, &key, sizeof(key), &cfg, sizeof(cfg), BPF_ANY))
    throw Error(errno_text("cannot configure " + dev.ifname, errno));

  qps_attachment rec{};
  if (bpf_map__lookup_elem(skel->maps.attachments, &key, sizeof(key), &rec, sizeof(rec), 0) == 0 &&
      (st.prog_id = tc_query_egress(dev.ifindex)) != 0) {
    st.already_attached = true;
    st.created_qdisc = rec.created_qdisc;
    return st;
  }
  const TcAttachResult r = tc_attach_egress(dev.ifindex, bpf_program__fd(skel->progs.qps_vxlan_egress));
  st.prog_id = r.prog_id;
  // A record left by a run that died between attach and now keeps its qdisc ownership.
  st.created_qdisc = r.created_qdisc || (rec.ifindex == key && rec.created_qdisc);
  rec = {};
  rec.ifindex = key;
  rec.vni = dev.vni;
  rec.prog_id = st.prog_id;
  rec.handle = QPS_TC_HANDLE;
  rec.priority = QPS_TC_PRIORITY;
  rec.created_qdisc = st.created_qdisc;
  std::strncpy(rec.ifname, dev.ifname.c_str(), sizeof(rec.ifname) - 1);
  if (bpf_map__update_elem(skel->maps.attachments, &key, sizeof(key), &rec, sizeof(rec), BPF_ANY))
    throw Error(errno_text("cannot record the attachment of " + dev.ifname, errno));
  return st;
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
  ensure_bpffs();
  ns.run([&] {
    const std::vector<VxlanDevice> devs = select_devices(ns, opts.devices);
    const bool pins_new = !PinnedMaps::open(report.pin_dir).has_value();
    make_pin_dir(report.pin_dir);
    Skel skel = open_and_load(report.pin_dir);
    AttachTxn txn{skel.get(), {}, pins_new, report.pin_dir};
    for (const auto& dev : devs) {
      DeviceState st = attach_one(skel.get(), dev, opts.mark);
      if (!st.already_attached) txn.added.push_back(st);
      report.devices.push_back(st);
    }
    for (const auto& dev : devs) {
      qps_vni_cfg vc{};
      vc.mode = opts.initial_mode;
      // BPF_NOEXIST: a mode chosen earlier with `qpspread mode` survives a repeated attach.
      bpf_map__update_elem(skel->maps.vni_mode, &dev.vni, sizeof(dev.vni), &vc, sizeof(vc), BPF_NOEXIST);
    }
    txn.committed = true;
  });
  return report;
}

DetachReport detach(const Netns& ns) {
  DetachReport report;
  const std::string dir = pin_dir_for(ns.inode());
  ns.run([&] {
    auto maps = PinnedMaps::open(dir);
    if (!maps) {
      unpin_all(dir);
      return;
    }
    report.was_attached = true;
    for (const auto& a : maps->attachments()) {
      if (tc_detach_egress(static_cast<int>(a.ifindex), a.created_qdisc))
        report.qdiscs_removed.push_back(a.ifname);
      report.devices.push_back(a.ifname);
    }
    unpin_all(dir);
  });
  return report;
}

NetnsStatus status(const Netns& ns) {
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
      d.prog_id = tc_query_egress(d.ifindex);
      st.devices.push_back(d);
    }
    st.vni_modes = maps->vni_modes();
    st.reasons = maps->reasons();
    st.qp_entries = maps->qp_stats().size();
  });
  return st;
}

void set_mode(const Netns& ns, uint32_t vni, uint32_t mode) {
  PinnedMaps maps = open_pins_or_throw(ns);
  std::string vnis;
  bool found = false;
  for (const auto& a : maps.attachments()) {
    found |= a.vni == vni;
    vnis += (vnis.empty() ? "" : ", ") + std::to_string(a.vni);
  }
  if (!found)
    throw Error("VNI " + std::to_string(vni) + " is not on any attached VXLAN device in netns " +
                ns.name() + " (attached VNIs: " + (vnis.empty() ? "none" : vnis) + ")");
  maps.set_mode(vni, mode);
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

}  // namespace qpspread
