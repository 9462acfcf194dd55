"""README's tables of results, printed from the committed results.json of every experiment.

Command: python -m experiments.lib.readme   (a few seconds; runs nothing, reads the JSON)
Prints the parameter table, the table of experiments (with the command that made each
committed result) and the speed targets, in markdown, for README.md.
"""

import dataclasses
import importlib
import os

from experiments.lib import reporting
from experiments.lib import runner

# In README's order.
EXPERIMENTS = ("render_ablation", "loss_networks", "reading_speed", "device_scaling",
               "temporal_stability", "bench_inference", "bench_training", "bench_input",
               "bench_video", "bench_memory", "bench_exports", "multi_style", "styles",
               "bench_shipped",
               "export_accuracy", "bench_start", "optimization_baseline", "styles_stability",
               "bench_serve", "objective_calibration")


def load(name):
  """(module, summary) of experiment `name`, the summary from its committed results."""
  module = importlib.import_module(f"experiments.{name}")
  path = os.path.join(reporting.results_dir(name), reporting.RESULTS)
  return module, reporting.read_json(path)


def command(module, summary):
  """The command line that made `summary`: --quick, and the flags that changed the config."""
  base = dataclasses.asdict(module.QUICK if summary.get("quick") else module.FULL)
  args = ["--quick"] if summary.get("quick") else []
  for name in runner.flag_fields(module.Config):
    if name in ("work_dir", "start_from", "runs_dir"):  # where runs are, not settings
      continue
    value = summary["config"].get(name)
    if value != base[name]:
      args.append(f"--{name}" if value is True else f"--no{name}" if value is False
                  else f"--{name} {value}")
  return " ".join([f"python -m {module.__name__}"] + args)


def title(module):
  """The first line of the module's docstring, without its full stop."""
  return module.__doc__.strip().splitlines()[0].rstrip(".")


def experiments_table(names=EXPERIMENTS):
  rows = []
  for name in names:
    module, summary = load(name)
    found = module.finding(summary) if hasattr(module, "finding") else ""
    rows.append([title(module), f"`{command(module, summary)}`",
                 f"[report](experiments/results/{name}/report.md)", found])
  return reporting.markdown_table(["experiment", "command (of the committed results)",
                                   "results", "what it found"], rows)


def targets_table(names=EXPERIMENTS):
  rows = []
  for name in names:
    module, summary = load(name)
    if hasattr(module, "targets"):
      rows += [[target, measured, "yes" if met else "no"]
               for target, measured, met in module.targets(summary)]
  return reporting.markdown_table(["target", "measured (committed results)", "met?"], rows)


def main():
  from experiments import model_table  # pylint: disable=g-import-not-at-top
  _, summary = load("model_table")
  print(model_table.table(summary))
  print()
  print(experiments_table())
  print()
  print(targets_table())


if __name__ == "__main__":
  main()
