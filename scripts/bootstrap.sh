#!/usr/bin/env bash
# The README's two commands: install every package, build, then run the demo or every test.
#   bash scripts/bootstrap.sh demo   # the main job (builds only the qpspread binary)
#   bash scripts/bootstrap.sh test   # all tests (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
case "$what" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run as root: qpspread needs BPF, namespaces and FRR" >&2; exit 1; }

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

if [ "$what" = demo ]; then
  # The demo needs the qpspread binary alone (its BPF objects are embedded): no tests, no benches.
  cmake --build build -j"$(nproc)" --target qpspread
  exec build/qpspread demo
fi
cmake --build build -j"$(nproc)"
# Tests that bring up FRR fabrics run one at a time: two cores, and FRR is slow to converge when
# several fabrics compete.
exec ctest --test-dir build --output-on-failure --timeout 600
