// Opening and loading a bpftool skeleton: one path for every program the loader (and the tc
// benchmark) loads, so each gets the same .rodata step, map pins and error messages.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>
#include <string>

namespace qpspread {

// What load_skeleton needs of the skeleton `T` bpftool generated: its functions, and how errors
// name it ("the <what> BPF object", "the <what> program").
template <typename T>
struct SkeletonOps {
  T* (*open)();
  int (*load)(T*);
  void (*destroy)(T*);
  const char* what;
};

template <typename T>
using LoadedSkel = std::unique_ptr<T, void (*)(T*)>;

// Every map the object defines, apart from its own .rodata/.bss, is pinned in pin_dir: the load
// reuses a pin that exists, so every instance and every later command share one set of counters
// and modes per namespace.
void set_pin_paths(bpf_object* obj, const std::string& pin_dir);

// What to try when a load failed (pin_dir empty: nothing pinned).
std::string load_hint(int err, const std::string& pin_dir);

[[noreturn]] void throw_open_failed(const char* what, int err);
[[noreturn]] void throw_load_failed(const char* what, int err, const std::string& pin_dir);

// Opens T, lets `configure(T&)` fill its .rodata (read-only once loaded), pins its maps in pin_dir
// (unless empty) and loads it: the verifier sees the configured values and drops dead code.
template <typename T, typename Configure>
LoadedSkel<T> load_skeleton(const SkeletonOps<T>& ops, const std::string& pin_dir, Configure&& configure) {
  LoadedSkel<T> skel(ops.open(), ops.destroy);
  if (!skel) throw_open_failed(ops.what, errno);
  configure(*skel);
  if (!pin_dir.empty()) set_pin_paths(skel->obj, pin_dir);
  if (int err = ops.load(skel.get()); err) throw_load_failed(ops.what, err, pin_dir);
  return skel;
}

template <typename T>
LoadedSkel<T> load_skeleton(const SkeletonOps<T>& ops, const std::string& pin_dir) {
  return load_skeleton(ops, pin_dir, [](T&) {});
}

}  // namespace qpspread
