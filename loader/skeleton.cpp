#include "loader/skeleton.h"

#include "common/error.h"

namespace qpspread {

void set_pin_paths(bpf_object* obj, const std::string& pin_dir) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;  // .rodata belongs to this instance
    const std::string path = pin_dir + "/" + bpf_map__name(map);
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err)
      throw Error(errno_text("cannot set pin path " + path, err));
  }
}

std::string load_hint(int err, const std::string& pin_dir) {
  if (err == -EPERM || err == -EACCES) return " (run as root)";
  if (pin_dir.empty()) return "; rerun with -v for libbpf's messages and the verifier's log";
  return "; if pins in " + pin_dir + " are from another qpspread version, detach with that version first "
         "('qpspread detach'), or rerun with -v";
}

void throw_open_failed(const char* what, int err) {
  throw Error(errno_text(std::string("cannot open the ") + what + " BPF object", err));
}

void throw_load_failed(const char* what, int err, const std::string& pin_dir) {
  throw Error(errno_text(std::string("cannot load the ") + what + " program", err) + load_hint(err, pin_dir));
}

}  // namespace qpspread
