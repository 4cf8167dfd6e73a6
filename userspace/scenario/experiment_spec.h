// The spec of a study (docs/experiment.md): which lab, which settings stay fixed, which vary, and
// its expansion into points (the product of the axes, or the listed points) and runs (repeats, each
// with its own seed). Every value is typed and checked here, before anything starts: an unknown
// key, a bad value or a bad unit is an Error naming the file, the line and the key.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "userspace/wan/impairment.h"

namespace qpspread::scenario {

// A failure at a time from the start of the collective: a WAN link cut (down) or restored (up),
// or a node stopped or started.
struct ExperimentEvent {
  uint64_t at_us = 0;
  std::string link, node;  // exactly one is set
  std::string state;       // link: down | up; node: stop | start
  bool operator==(const ExperimentEvent&) const = default;
};

// Every setting of one run (the keys of `fixed`).
struct RunConfig {
  std::string mode = "off";  // off | qp-hash | balance
  std::string collective = "allreduce";  // allreduce | ps | stream
  uint32_t vni = 100;
  int ranks = 2;
  int qps = 8;
  std::string split = "rr";     // rr | split
  std::string sport = "fixed";  // fixed | qpn | few
  uint64_t size = 1000000;      // bytes per rank
  int iterations = 4;
  // stream only: stream messages of `size` for this long, once (iterations do not apply); 0: send
  // `size` per iteration.
  uint64_t duration_us = 0;
  uint64_t rate_bps = 24'000'000;  // per host; 0: unpaced
  // Congestion control of the QPs (workload --cc): DCQCN as RoCE NICs run it, which acts where the
  // WAN queue marks ECN (wan.ecn); none is the open loop (go-back-N only).
  std::string cc = "dcqcn";  // dcqcn | none
  // The QPs' local ACK timeout (a QP attribute of RoCE NICs: 4.096 us x 2^n): it must exceed the
  // round trip, or every frame is resent before its ACK can arrive (a 50 ms WAN delay is 100 ms).
  uint64_t ack_timeout_us = 20'000;
  // Mode balance: the controller (every leaf's, observing the borders) places the run's QPs before
  // their first frame and again every this long, and at once when a route changes.
  uint64_t balance_interval_us = 1'000'000;
  wan::Impairment wan{10'000, 0, 0, 20'000'000, {}};
  bool bfd = true;
  std::vector<ExperimentEvent> events;
};

struct ExperimentPoint {
  int index = 0;
  std::string part;  // the part of the study it belongs to ("" without parts)
  RunConfig config;
  // The swept values of this point, "key=value" as the spec wrote them (for progress lines).
  std::vector<std::string> label;
  int repeats = 0;  // its part's repeats; 0: the spec's
};

struct ExperimentRun {
  std::string run_id;  // "p0003-r1"
  int point = 0, repeat = 0;
  uint64_t seed = 0;  // seed_base + 1000 point + repeat
};

struct ExperimentSpec {
  std::filesystem::path file;
  std::string text;  // the YAML as written: the results' spec.yml
  std::string name;
  std::filesystem::path topology;  // resolved against the spec's folder
  std::string topology_text;       // as the spec wrote it (recorded)
  std::string runner = "qpspread";  // qpspread | containerlab
  std::string lab;  // "" with runner containerlab and no lab given: the topology file's name
  int repeats = 1;
  uint64_t seed_base = 1;
  std::vector<ExperimentPoint> points;
  std::vector<ExperimentRun> runs;  // point-major: every repeat of point 0, then of point 1, ...
};

// Parses and expands; throws qpspread::Error "FILE:LINE: KEY: problem" on the first bad value.
ExperimentSpec parse_experiment_spec(const std::string& yaml_text, const std::filesystem::path& file);
ExperimentSpec load_experiment_spec(const std::filesystem::path& file);

// The record's "config" (docs/experiment.md): name, topology, runner, then the run's settings.
nlohmann::json config_json(const ExperimentSpec& spec, const RunConfig& c);
// The same with the point's part ("part", when the spec has parts).
nlohmann::json config_json(const ExperimentSpec& spec, const ExperimentPoint& p);
// "2s link wan1 down; 4s node dc1-spine1 stop" ("" for none): the CSV's events column.
std::string events_text(const std::vector<ExperimentEvent>& events);

}  // namespace qpspread::scenario
