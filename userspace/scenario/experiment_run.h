// `qpspread experiment run`: every run of a study's spec (experiment_spec.h) on a lab brought up
// once, each recorded as it ends (experiment_records.h, docs/experiment.md). Per run: the WAN
// impairments and the VNI's mode are set, the collective runs with the run's settings, and the
// WAN and leaf-uplink shares, balance, iteration times, retransmissions and PSN reorders come from
// qpspread's counters before and after the run (they are cumulative; the lab is not re-attached).
#pragma once

#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>
#include <string>

#include "userspace/scenario/lab_session.h"

namespace qpspread::scenario {

struct ExperimentSpec;
struct ExperimentRun;

struct ExperimentOptions {
  std::filesystem::path spec;
  std::filesystem::path out;  // "" : results/<name>
  bool resume = false;        // skip the runs with an ok record in out/runs.jsonl
  bool replace = false;       // start over: records already in out are removed
  bool keep_lab = false;      // leave the lab up at the end (an error or Ctrl-C still takes it down)
  std::string command_line;   // recorded in meta.json
};

struct ExperimentSummary {
  std::filesystem::path out;
  int runs = 0, skipped = 0, ok = 0, failed = 0;
  double lab_up_s = 0;  // bringing the lab up and converged (0 when every run was already done)
  double seconds = 0;
};

// Called after each run is recorded, with the lab still up: its record as runs.jsonl has it. An
// exception thrown from it ends the experiment (the lab is taken down).
using RunObserver = std::function<void(const ExperimentRun& run, const nlohmann::json& record)>;

// Installs the Ctrl-C/SIGTERM handler (common/interrupt.h): an interrupt ends the current run,
// takes the lab down and throws. A run that fails is recorded as failed and the next one runs;
// throws qpspread::Error when the spec is bad (before anything starts) or the lab fails.
ExperimentSummary run_experiment(const ExperimentOptions& opts, const Progress& progress);
// The same for a spec already parsed (opts.spec unused); the demo is one.
ExperimentSummary run_experiment(const ExperimentSpec& spec, const ExperimentOptions& opts, const Progress& progress,
                                 const RunObserver& after_run = {});

}  // namespace qpspread::scenario
