"""experiments/README.md, written whole from the committed results.json of every experiment.

Commands (a few seconds each; they run nothing and read only the JSON):
  python -m experiments.lib.readme --experiments_readme   # writes experiments/README.md
  python -m experiments.lib.readme                        # prints the same text
experiments/README.md lists the experiments by kind (paper/, bench/, shipped/), each with its
one-line finding, the command that made its committed results and a link to its report,
then the speed targets and the render networks' parameter table. A test compares the
committed file with what this writes, so it is never edited by hand.
"""

import dataclasses
import importlib
import os
import sys

from absl import flags

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf.light import io_utils

# (kind: the subpackage of experiments/, its heading, its experiments in the file's order).
KINDS = (
    ("paper", "The FastChi paper's figures and tables",
     ("render_ablation", "loss_networks", "reading_speed", "device_scaling",
      "temporal_stability", "multi_style")),
    ("bench", "Benchmarks: speed and memory against targets",
     ("bench_inference", "bench_training", "bench_input", "bench_video", "bench_memory",
      "bench_exports", "bench_start", "bench_serve", "bench_peer")),
    ("shipped", "The shipped style collection: its recipe and its measurements",
     ("styles", "bench_shipped", "export_accuracy", "optimization_baseline",
      "styles_stability", "objective_calibration", "add_style", "distill",
      "optimum_distill", "stability_vs_shipped", "stabilized_video")),
)
EXPERIMENTS = tuple(name for _, _, names in KINDS for name in names)
# The parameter table has no finding of its own; it closes the file.
KIND = dict({name: kind for kind, _, names in KINDS for name in names}, model_table="paper")
PATH = os.path.join(reporting.EXPERIMENTS_DIR, "README.md")

_INTRO = """\
# Experiments

Each module of `experiments/` is one experiment, run from the repository root as
`python -m experiments.KIND.NAME`. `--quick` runs small settings on 2 CPU cores, offline
(minutes for most, up to about 2 hours for the training sweeps); the default reproduces the
paper's settings. Each module's docstring gives its commands and run times.
`--report_only` redraws the report and its figures from the committed numbers. Results go
to `experiments/results/NAME/`: `results.json` (the numbers, the config that ran, the
machine and its load), `report.md` (what was found, and how it differs from the paper) and
the figures. The committed results ran on 2-core machines shared with other jobs, so read
their timings as ratios. The machine column gives the CPU model and, where the record has
it, the vector ISA (AVX2 or AVX-512), which changes TensorFlow's speed against TFLite's.

This file is written from the committed results by
`python -m experiments.lib.readme --experiments_readme`; a test checks that it is current.
"""


def module_name(name):
  """"experiments.paper.render_ablation" for "render_ablation"."""
  return f"experiments.{KIND[name]}.{name}"


def results_path(name):
  return os.path.join(reporting.EXPERIMENTS_DIR, "results", name, reporting.RESULTS)


def load(name):
  """(module, summary) of experiment `name`; the summary from its committed results, or
  None before it has any."""
  module = importlib.import_module(module_name(name))
  path = results_path(name)
  return module, reporting.read_json(path) if os.path.exists(path) else None


def command(module, summary):
  """The command line that made `summary`: --quick, and the flags that changed the config."""
  base = dataclasses.asdict(module.QUICK if summary.get("quick") else module.FULL)
  args = ["--quick"] if summary.get("quick") else []
  for name in runner.flag_fields(module.Config):
    if name in ("work_dir", "start_from", "runs_dir"):  # where runs are, not settings
      continue
    if name not in summary["config"]:  # a setting added after the results were made
      continue
    value = summary["config"].get(name)
    if value != base[name]:
      args.append(f"--{name}" if value is True else f"--no{name}" if value is False
                  else f"--{name} {value}")
  return " ".join([f"python -m {module.__name__}"] + args)


def title(module):
  """The first paragraph of the module's docstring on one line, without its full stop."""
  return " ".join(module.__doc__.strip().split("\n\n")[0].split()).rstrip(".")


def machine(summary):
  """"AMD EPYC, AVX2, 2 cores": the kind of machine a committed timing comes from."""
  record = summary.get("machine", {})
  if "cpus" not in record:
    return "not recorded"
  parts = [record.get("cpu_model", "CPU model not recorded")]
  if "vector_isa" in record:
    parts.append(record["vector_isa"])
  return ", ".join(parts + [f"{record['cpus']} cores"])


def experiments_table(names=EXPERIMENTS, results="results"):
  """One row per experiment; `results` is the results folder as the table's file sees it."""
  rows = []
  for name in names:
    module, summary = load(name)
    if summary is None:
      rows.append([title(module), "no committed results yet", f"`python -m {module.__name__}`",
                   "", ""])
      continue
    found = module.finding(summary) if hasattr(module, "finding") else ""
    rows.append([title(module), found, f"`{command(module, summary)}`", machine(summary),
                 f"[report]({results}/{name}/report.md)"])
  return reporting.markdown_table(
      ["experiment", "what it found", "command (of the committed results)", "machine",
       "report"], rows)


def targets_table(names=EXPERIMENTS):
  rows = []
  for name in names:
    module, summary = load(name)
    if summary is not None and hasattr(module, "targets"):
      rows += [[target, measured, "yes" if met else "no"]
               for target, measured, met in module.targets(summary)]
  return reporting.markdown_table(["target", "measured (committed results)", "met?"], rows)


def model_table():
  module, summary = load("model_table")
  return module.table(summary)


def experiments_readme():
  """The whole text of experiments/README.md."""
  parts = [_INTRO]
  for kind, heading, names in KINDS:
    parts.append(f"## {heading} (`experiments/{kind}/`)\n\n{experiments_table(names)}\n")
  parts.append("## Targets on a 2-core CPU: speed, memory, accuracy, start\n\n"
               f"{targets_table()}\n")
  parts.append("## Render networks: parameters and GFLOPs per 256x256 frame\n\n"
               "From `python -m experiments.paper.model_table` (FLOPs counted from the traced "
               "convolution shapes).\n\n"
               f"{model_table()}\n")
  return "\n".join(parts)


def main(argv):
  values = flags.FlagValues()
  flags.DEFINE_bool("experiments_readme", False,
                    "Write experiments/README.md (atomically) instead of printing it.",
                    flag_values=values)
  values(argv)
  text = experiments_readme()
  if values.experiments_readme:
    io_utils.write_text(PATH, text)
    print(f"wrote {PATH}")
  else:
    sys.stdout.write(text)


if __name__ == "__main__":
  main(sys.argv)
