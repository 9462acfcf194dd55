"""Frames/s of the shipped style collection through its SavedModel and its TFLite file.

The shipped .keras model (fastchi_tf/shipped) is exported to a SavedModel in a temporary
folder; that and the shipped float16 TFLite file stylize one uint8 frame per call, in one
style, the way tools/stylize.py and tools/stylize_video.py run them (stylize.Stylizer,
uint8 in and out). Per frame size, the two take turns once per round after warm-up, and
each is reported by its median round.

Command: python -m experiments.shipped.bench_shipped [--quick]
Run time on 2 CPU cores, quiet machine: ~2 min (--quick: 1 round, ~40 s). Writes
results.json and report.md to experiments/results/bench_shipped/.
"""

import dataclasses
import os
import shutil
import tempfile
import time

import numpy as np

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import export
from fastchi_tf import samples
from fastchi_tf import shipped
from fastchi_tf import stylize


@dataclasses.dataclass(frozen=True)
class Config:
  sizes: tuple = ((640, 360), (1280, 720))  # (width, height)
  rounds: int = runner.flag(5, "Timed runs per model and size.")
  warmup: int = 2
  style: str = "starry_night"


FULL = Config()
QUICK = Config(rounds=1, warmup=1)


def photo_frame(width, height):
  """A real photo resized to width x height (content does not change the time)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return np.asarray(Image.fromarray(samples.read_photo("astronaut.png")).resize(
      (width, height), Image.LANCZOS))


def run(cfg, out_dir):
  del out_dir
  import keras  # pylint: disable=g-import-not-at-top
  scratch = tempfile.mkdtemp(prefix="fastchi-bench-shipped-")
  try:
    saved = os.path.join(scratch, "saved_model")
    export.export_saved_model(keras.saving.load_model(shipped.path("keras"), safe_mode=True),
                              saved)
    stylizers = {"SavedModel": stylize.load_stylizer(saved),
                 "TFLite float16": stylize.load_stylizer(shipped.path("tflite"))}
    for s in stylizers.values():
      s.set_style(cfg.style)
    rows = []
    for width, height in cfg.sizes:
      frame = photo_frame(width, height)
      for s in stylizers.values():
        for _ in range(cfg.warmup):
          s(frame)
      times = {name: [] for name in stylizers}
      for _ in range(cfg.rounds):
        for name, s in stylizers.items():
          start = time.perf_counter()
          s(frame)
          times[name].append(time.perf_counter() - start)
      for name, values in times.items():
        median = reporting.median(values)
        rows.append({"size": f"{width}x{height}", "model": name, "seconds": median,
                     "fps": 1.0 / median, "rounds": values})
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  render = shipped.training_config().render
  return {"rows": rows, "styles": list(stylizers["SavedModel"].style_names),
          "network": f"{render.variant} width {render.width}, k {render.shrink}"}


def report(summary, out_dir):
  del out_dir
  machine = summary["machine"]
  lines = [
      "# Speed of the shipped styles",
      "",
      f"The shipped collection ({len(summary['styles'])} styles, "
      f"{summary.get('network', 'inception width 32, k 2')}), "
      f"one frame per call in style {summary['config']['style']}, uint8 in and out; median "
      f"of {summary['config']['rounds']} interleaved rounds after "
      f"{summary['config']['warmup']} warm-up runs.",
      "",
      reporting.machine_line(machine) + f"; TensorFlow {machine['tensorflow']}."
      + (" Quick settings: one round, a check that it runs." if summary["quick"] else ""),
      "",
      reporting.markdown_table(
          ["frame", "model", "ms per frame", "frames/s"],
          [[r["size"], r["model"], f"{1000 * r['seconds']:.0f}", f"{r['fps']:.2f}"]
           for r in summary["rows"]]),
      "",
      "Machines differ by 2-4x (AVX-512 against AVX2 alone); compare the two models within "
      "one run.",
      "",
  ]
  return "\n".join(lines)


def finding(summary):
  parts = [f"{r['model']} {r['fps']:.1f} frames/s at {r['size']}" for r in summary["rows"]]
  return "; ".join(parts)


if __name__ == "__main__":
  runner.main(__name__)
