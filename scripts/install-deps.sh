#!/usr/bin/env bash
# Installs every Debian package qpspread needs to build, test and run its lab (Debian 12, as root).
# gnuplot draws the study's figures; chromium (headless) checks that its HTML report shows them.
# The agent serves HTTP with cpp-httplib and tells systemd it is ready with libsystemd; its tests
# parse /metrics with the Prometheus client's text parser (python3-prometheus-client). The
# sanitizer and fuzzing tree is built with clang and its runtimes (libclang-rt-14-dev: ASan, UBSan,
# libFuzzer).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
      libcli11-dev libgtest-dev nlohmann-json3-dev libyaml-cpp-dev libnl-3-dev libnl-route-3-dev
      libcpp-httplib-dev libsystemd-dev python3-prometheus-client curl libclang-rt-14-dev
      frr iproute2 iputils-ping procps util-linux tcpdump tshark gnuplot chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# bpffs is not mounted at boot on these machines; the loader mounts it too, this is for tools.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
