"""The one `main` of every experiment, and the shape it expects of one.

An experiment is a module of experiments/KIND/ (paper, bench or shipped) that defines
  Config    a frozen dataclass of its settings; a field made with `flag(default, help)` is
            also a command-line flag of the same name (absent: the chosen config's value);
  FULL      the paper's settings, the default run, and
  QUICK     small ones that run in minutes on 2 CPU cores, offline (--quick);
  run(cfg, out_dir) -> summary
            runs the experiment and returns its numbers as a JSON-able dict; out_dir gets only
            what needs the run itself (pictures of trained outputs, loss logs);
  report(summary, out_dir) -> str
            draws the figures that come from the numbers into out_dir and returns the text of
            report.md; it reads nothing but the summary and out_dir, so --report_only redraws
            everything from a committed results.json;
  finding(summary) -> str         optional: its line in experiments/README.md;
  targets(summary) -> [(target, measured, met)]   optional: rows of experiments/README.md's
                                  targets;
and ends with
  if __name__ == "__main__":
    runner.main(__name__)
It is listed under its kind in experiments/lib/readme.py's KINDS (a test checks), and so in
experiments/README.md from its first commit.

Run from the repository root (experiments/ is not an installed package):
  python -m experiments.KIND.NAME [--quick] [--out_dir DIR] [--report_only] [its Config's
  flags]
Results go to experiments/results/NAME/ (--out_dir): results.json holds the summary with the
config that ran, the machine and its load; report.md and the figures are drawn from it.
"""

import dataclasses
import os
import sys
import time
import typing

from absl import flags

from experiments.lib import reporting
from fastchi_tf import cli
from fastchi_tf.light import io_utils

_HELP = "flag_help"  # metadata of the Config fields that are flags
_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string}


def flag(default, help_text):
  """A Config field that is also a command-line flag."""
  return dataclasses.field(default=default, metadata={_HELP: help_text})


def name_of(module):
  """"render_ablation" for experiments/render_ablation.py, however it was started."""
  return os.path.splitext(os.path.basename(module.__file__))[0]


def flag_fields(config_class):
  """{field name: (bool, int, float or str, help)} of the Config fields made with `flag`."""
  hints = typing.get_type_hints(config_class)
  fields = {}
  for field in dataclasses.fields(config_class):
    if _HELP in field.metadata:
      kind = hints[field.name]
      if typing.get_origin(kind) is typing.Union:  # Optional[X]
        kind, = [a for a in typing.get_args(kind) if a is not type(None)]
      fields[field.name] = (kind, field.metadata[_HELP])
  return fields


def define_flags(module, flag_values=flags.FLAGS, module_name=None):
  """The flags every experiment takes, and one per flag field of its Config.

  module_name: the module that --help lists them under (absl's name for the main script).
  """
  where = dict(flag_values=flag_values, module_name=module_name)
  flags.DEFINE_bool("quick", False, "QUICK's small settings: minutes on 2 CPU cores, offline.",
                    **where)
  flags.DEFINE_bool("report_only", False,
                    "Run nothing: redraw report.md and the figures from results.json.", **where)
  flags.DEFINE_string("out_dir", None, f"Results folder (default experiments/results/"
                      f"{name_of(module)}/).", **where)
  for name, (kind, help_text) in flag_fields(module.Config).items():
    full, quick = getattr(module.FULL, name), getattr(module.QUICK, name)
    default = f"{full}" if full == quick else f"{full}; --quick: {quick}"
    _DEFINE[kind](name, None, f"{help_text} (default {default})", **where)


def chosen_config(module, quick, overrides=None):
  """QUICK or FULL, with the flag fields that were given (not None) replaced."""
  cfg = module.QUICK if quick else module.FULL
  return dataclasses.replace(cfg, **{k: v for k, v in (overrides or {}).items()
                                     if v is not None})


def execute(module, cfg, out_dir, quick=False):
  """Runs `cfg`; writes results.json, the figures and report.md to out_dir.

  Returns the summary as written to results.json: run's numbers with the config, whether it
  was QUICK, the machine and the run's seconds.
  """
  os.makedirs(out_dir, exist_ok=True)
  machine = reporting.machine()  # the load average before the run
  start = time.perf_counter()
  numbers = module.run(cfg, out_dir)
  # A run may return the config it resolved (a recipe chosen by a flag): that one is kept.
  path = reporting.write_json(os.path.join(out_dir, reporting.RESULTS), dict(
      {"config": dataclasses.asdict(cfg)}, **numbers, quick=quick, machine=machine,
      run_seconds=time.perf_counter() - start))
  summary = reporting.read_json(path)  # the report sees what --report_only would
  write_report(module, summary, out_dir)
  return summary


def write_report(module, summary, out_dir):
  """Draws the figures and writes report.md; returns its text."""
  text = module.report(summary, out_dir)
  io_utils.write_text(os.path.join(out_dir, reporting.REPORT), text)
  return text


def report_only(module, out_dir):
  """write_report from the results.json in out_dir."""
  summary = reporting.read_json(os.path.join(out_dir, reporting.RESULTS))
  return write_report(module, summary, out_dir)


def main(module_name):
  """The command line of the experiment module `module_name` (its `__name__`)."""
  module = sys.modules[module_name]
  define_flags(module, module_name=sys.argv[0])  # --help lists the main script's flags
  cli.run(lambda argv: _main(module))


def _main(module):
  values = flags.FLAGS
  out_dir = reporting.results_dir(name_of(module), values.out_dir)
  if values.report_only:
    text = report_only(module, out_dir)
  else:
    # Experiments trace a tf.function per shape or run on purpose: no "retracing" warnings.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.get_logger().setLevel("ERROR")
    overrides = {name: values[name].value for name in flag_fields(module.Config)}
    cfg = chosen_config(module, values.quick, overrides)
    execute(module, cfg, out_dir, values.quick)
    with open(os.path.join(out_dir, reporting.REPORT)) as f:
      text = f.read()
  print(text)
  print(f"wrote {out_dir}")
  if not values.out_dir:  # the committed results changed: experiments/README.md follows them
    print("experiments/README.md is written from the results: "
          "python -m experiments.lib.readme --experiments_readme")
