"""Cold start: the wall time of one `tools/stylize.py` run on a photo, process start to exit.

What a user waits for when stylizing one photo: Python starting, the imports, loading the
model, the network, writing the file. Models: the shipped float16 TFLite file (the light
path, which never imports TensorFlow) and the shipped .keras file (TensorFlow). Each run is a
new process; the two take turns, and each is reported by its median. A run with the TFLite
model also reports whether TensorFlow was imported (it must not be). Goal (issue 15): the
TFLite path at most 2 s for a 600x400 photo on this machine.

Command: python -m experiments.bench.bench_start [--quick]
Run time on 2 CPU cores: ~2 min (--quick: 2 rounds, ~40 s). Writes
experiments/results/bench_start/.
"""

import dataclasses
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import samples

ROOT = reporting.REPO_ROOT


@dataclasses.dataclass(frozen=True)
class Config:
  size: tuple = (600, 400)  # (width, height)
  rounds: int = runner.flag(7, "Cold runs per model.")
  style: str = "starry_night"


FULL = Config()
QUICK = Config(rounds=2)

# Runs the tool in this process after recording whether TensorFlow got imported.
_PROBE = ("import runpy, sys, atexit; "
          "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules, "
          "file=sys.stderr)); sys.argv = sys.argv[1:]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")


def _run(model, photo, output, style):
  env = dict(os.environ, PYTHONPATH=ROOT)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  start = time.perf_counter()
  result = subprocess.run(
      [sys.executable, "-c", _PROBE, os.path.join(ROOT, "tools", "stylize.py"),
       "--model", model, "--input", photo, "--output", output, "--style", style]
      # The .keras file itself, not the TFLite file beside it (--runtime auto).
      + ([] if model.endswith(".tflite") else ["--runtime", "tf"]),
      capture_output=True, text=True, env=env, timeout=300)
  seconds = time.perf_counter() - start
  if result.returncode != 0:
    raise RuntimeError(f"stylize failed: {result.stderr.strip()[-500:]}")
  return seconds, "tensorflow imported: True" in result.stderr


def run(cfg, out_dir):
  del out_dir
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  models = {"TFLite float16 (light path)": shipped.path("tflite"),
            ".keras (TensorFlow)": shipped.path("keras")}
  scratch = tempfile.mkdtemp(prefix="fastchi-bench-start-")
  photo = os.path.join(scratch, "photo.jpg")
  Image.fromarray(np.asarray(Image.fromarray(samples.read_photo("astronaut.png")).resize(
      cfg.size, Image.LANCZOS))).save(photo, quality=92)
  times = {name: [] for name in models}
  imported = {name: [] for name in models}
  for _ in range(cfg.rounds):
    for name, model in models.items():
      seconds, tf_imported = _run(model, photo, os.path.join(scratch, "out.png"), cfg.style)
      times[name].append(seconds)
      imported[name].append(tf_imported)
  rows = [{"model": name, "median_seconds": reporting.median(values), "runs": values,
           "tensorflow_imported": any(imported[name])} for name, values in times.items()]
  return {"rows": rows}


def report(summary, out_dir):
  del out_dir
  machine = summary["machine"]
  cfg = summary["config"]
  lines = [
      "# Cold start of tools/stylize.py",
      "",
      f"One {cfg['size'][0]}x{cfg['size'][1]} photo per process, from process start to exit "
      f"(Python, imports, model load, network, PNG written); median of {cfg['rounds']} "
      "runs per model, the models taking turns.",
      "",
      reporting.machine_line(machine) + "."
      + (" Quick settings." if summary["quick"] else ""),
      "",
      reporting.markdown_table(
          ["model", "median seconds", "runs (s)", "TensorFlow imported"],
          [[r["model"], f"{r['median_seconds']:.2f}",
            ", ".join(f"{t:.2f}" for t in r["runs"]), "yes" if r["tensorflow_imported"]
            else "no"] for r in summary["rows"]]),
      "",
  ]
  return "\n".join(lines)


def finding(summary):
  return "; ".join(f"{r['model']}: {r['median_seconds']:.1f} s" for r in summary["rows"])


def targets(summary):
  light = summary["rows"][0]
  return [("cold stylize of a 600x400 photo with a .tflite model, no TensorFlow import",
           f"{light['median_seconds']:.2f} s, TensorFlow "
           f"{'imported' if light['tensorflow_imported'] else 'not imported'}",
           light["median_seconds"] <= 2.0 and not light["tensorflow_imported"])]


if __name__ == "__main__":
  runner.main(__name__)
