#!/usr/bin/env bash
# The README's two commands: install every package, build, then run the demo or every test.
#   bash scripts/bootstrap.sh demo   # the main job (builds only the qpspread binary)
#   bash scripts/bootstrap.sh test   # all tests (what CI runs), then the unit, CLI and fuzz tests
#                                    # again in a clang ASan/UBSan tree (build-san)
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
status=0
ctest --test-dir build --output-on-failure --timeout 600 || status=$?
# Then a second tree, built with clang under AddressSanitizer and UndefinedBehaviorSanitizer: the
# unit and CLI tests again (the e2e tests' FRR fabrics would take too long under ASan on 2 cores),
# and each libFuzzer harness for 10 s (docs/benchmarks.md has the long runs).
CC=clang CXX=clang++ cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQPSPREAD_SANITIZE=ON \
  -DQPSPREAD_FUZZ=ON >/dev/null
cmake --build build-san -j"$(nproc)"
ctest --test-dir build-san -L 'unit|cli|fuzz' --output-on-failure --timeout 600 || status=$?
exit "$status"
