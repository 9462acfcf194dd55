"""Peak memory (RSS) of stylizing 1920x1080 and 4K (3840x2160) photos with every export.

Untiled, an image's full-resolution activations (32-64 channels of float32 per pixel for a
width-32 network) must fit in memory; tiled (4K tiles by default, at 512 px), memory
is bounded by the tile and the 1024-pixel statistics copy, plus what the runtime, the model
and the process take (the 256x256 row). Every export tiles with whole-image statistics:
.keras through Keras, the SavedModel and the TFLite file through their own statistics
signatures (fastchi_tf/tiling.py).
Targets: TFLite's untiled 1920x1080 peak within 1.5x of the SavedModel's; every export's 4K
at most 3 GiB (by default, so tiled).
Method: every case runs tools/stylize.py as a user would, in a fresh process, on scikit-image's
coffee photo resized and saved as PNG, with the shipped collection's network (in the Wave)
exported to each format here (the SavedModel alone, without a .keras beside it); the peak RSS
is the child's own VmHWM, read as it exits (see _PEAK_WRAPPER). The seconds are
whole-process times, for orientation only (speed: bench_inference, bench_shipped).

Command: python -m experiments.bench.bench_memory [--quick] [--out_dir DIR]
Run time on 2 CPU cores: about 6 minutes with --quick (1 run of each case), about 25 minutes
(estimated) in full (also 4K untiled, 3 runs each).
Writes results.json and report.md to experiments/results/bench_memory/.
"""

import dataclasses
import os
import subprocess
import sys
import tempfile
import time

from PIL import Image

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import samples
from fastchi_tf import shipped

SIZE_HD = (1920, 1080)
SIZE_4K = (3840, 2160)
TARGET_TILED_GIB = 3.0
TARGET_LITE_RATIO = 1.5  # TFLite's untiled 1080p peak over the SavedModel's
GIB = 2 ** 30
STYLE = "wave"
# Model file names in the scratch folder, by the label the report gives them.
MODELS = {".keras": "model.keras", "SavedModel": "saved_model",
          "TFLite float32": "model_float32.tflite"}


def _cases(sizes):
  """(label, model, image size, --tile) for every model and (size label, size, tile)."""
  return tuple((f"{model} {size_label}", model, size, tile)
               for size_label, size, tile in sizes for model in MODELS)


@dataclasses.dataclass(frozen=True)
class Config:
  runs: int = 3
  # --tile 0 never tiles; None leaves tools/stylize.py's default (tiles 4K at 512).
  cases: tuple = (("TFLite float32 256x256", "TFLite float32", (256, 256), None),) + _cases(
      (("1920x1080", SIZE_HD, 0), ("4K default", SIZE_4K, None), ("4K untiled", SIZE_4K, 0)))


FULL = Config()
QUICK = Config(runs=1, cases=Config.cases[:1] + _cases(
    (("1920x1080", SIZE_HD, 0), ("4K default", SIZE_4K, None))))


def write_models(folder):
  """The shipped network as each of MODELS in `folder`."""
  import keras  # pylint: disable=g-import-not-at-top
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top
  model = keras.saving.load_model(shipped.path("keras"), safe_mode=True)
  export.export_keras(model, os.path.join(folder, MODELS[".keras"]))
  export.export_saved_model(model, os.path.join(folder, MODELS["SavedModel"]))
  with open(os.path.join(folder, MODELS["TFLite float32"]), "wb") as f:
    f.write(export.tflite_bytes(model, "float32"))


def write_photo(path, size):
  """scikit-image's coffee photo resized to `size` (width, height), as PNG."""
  with Image.open(samples.skimage_path(samples.HELD_OUT_PHOTO)) as photo:
    photo.convert("RGB").resize(size, Image.LANCZOS).save(path)
  return path


# Runs a script (argv[1:]) and, at exit, writes the process's peak RSS (VmHWM, KiB) to the
# file named by FASTCHI_PEAK_FILE. VmHWM belongs to the memory map that exec made, so it is
# this program's own peak; ru_maxrss (wait4, getrusage) carries the parent's RSS across fork
# and exec, and this benchmark's parent holds TensorFlow (0.9 GiB).
_PEAK_WRAPPER = """
import atexit, os, runpy, sys
def report():
  with open('/proc/self/status') as f:
    peak = next(line for line in f if line.startswith('VmHWM:')).split()[1]
  with open(os.environ['FASTCHI_PEAK_FILE'], 'w') as f:
    f.write(peak)
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def run_stylize(model, image, output, tile=None):
  """Runs tools/stylize.py in a fresh process; returns (peak RSS bytes, seconds)."""
  cmd = [sys.executable, "-c", _PEAK_WRAPPER,
         os.path.join(reporting.REPO_ROOT, "tools", "stylize.py"),
         "--model", model, "--style", STYLE, "--input", image, "--output", output]
  if tile is not None:
    cmd += ["--tile", str(tile)]
  if not model.endswith(".tflite"):  # itself, not the TFLite file beside it (--runtime auto)
    cmd += ["--runtime", "tf"]
  with tempfile.TemporaryDirectory() as tmp:
    peak_file = os.path.join(tmp, "peak")
    env = dict(os.environ, PYTHONPATH=reporting.REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2",
               FASTCHI_PEAK_FILE=peak_file)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if result.returncode:
      tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
      raise RuntimeError(f"{' '.join(cmd[3:])} failed ({result.returncode}):\n" +
                         "\n".join(tail))
    with open(peak_file) as f:
      return int(f.read()) * 1024, seconds


def run(cfg, out_dir):
  del out_dir  # numbers only
  results = {label: dict(model=model, size=size, tile=tile, peak_rss_bytes=[], seconds=[])
             for label, model, size, tile in cfg.cases}
  machine = reporting.machine()  # its load average: before the run
  with tempfile.TemporaryDirectory() as tmp:
    write_models(tmp)
    images = {size: write_photo(os.path.join(tmp, f"{size[0]}x{size[1]}.png"), size)
              for size in {case[2] for case in cfg.cases}}
    for r in range(cfg.runs):
      for label, model, size, tile in cfg.cases:  # interleaved, like the other benchmarks
        output = os.path.join(tmp, "out.png")
        rss, seconds = run_stylize(os.path.join(tmp, MODELS[model]), images[size], output,
                                   tile)
        with Image.open(output) as image:  # reads the header only
          if image.size != size:
            raise RuntimeError(f"{label}: output of {image.size}, expected {size}")
        results[label]["peak_rss_bytes"].append(rss)
        results[label]["seconds"].append(seconds)
        print(f"run {r + 1}/{cfg.runs} {label}: {rss / GIB:.2f} GiB, {seconds:.1f} s")
  for r in results.values():
    r["median_peak_rss_gib"] = reporting.median(r["peak_rss_bytes"]) / GIB
    r["median_seconds"] = reporting.median(r["seconds"])
  summary = dict(target_tiled_gib=TARGET_TILED_GIB, target_lite_ratio=TARGET_LITE_RATIO,
                 results=results, machine=machine,
                 width=shipped.training_config().render.width)
  summary["tiled_met"] = max(_default_4k(summary).values()) <= TARGET_TILED_GIB
  summary["lite_met"] = _lite_ratio(summary) <= TARGET_LITE_RATIO
  return summary


def _peak(summary, model, size, tile):
  return next(r["median_peak_rss_gib"] for r in summary["results"].values()
              if r["model"] == model and tuple(r["size"]) == size and r["tile"] == tile)


def _default_4k(summary):
  """{model: median peak GiB} of 4K with the default (tiled) settings."""
  return {model: _peak(summary, model, SIZE_4K, None) for model in MODELS}


def _lite_ratio(summary):
  return (_peak(summary, "TFLite float32", SIZE_HD, 0) /
          _peak(summary, "SavedModel", SIZE_HD, 0))


def targets(summary):
  tiled = ", ".join(f"{model} {gib:.2f}" for model, gib in _default_4k(summary).items())
  hd = {model: _peak(summary, model, SIZE_HD, 0) for model in ("TFLite float32", "SavedModel")}
  return [
      (f"4K stylization (tiled by default) at most {summary['target_tiled_gib']:g} GiB "
       "peak RSS with every export", f"{tiled} GiB", summary["tiled_met"]),
      (f"TFLite's untiled 1920x1080 peak within {summary['target_lite_ratio']:g}x the "
       "SavedModel's",
       f"{_lite_ratio(summary):.2f}x ({hd['TFLite float32']:.2f} against "
       f"{hd['SavedModel']:.2f} GiB)", summary["lite_met"])]


def finding(summary):
  return "; ".join(f"{measured} ({reporting.met(met)})" for _, measured, met in
                   targets(summary))


def report(summary, out_dir):
  del out_dir  # no figures
  results = summary["results"]
  tiles = {None: "default", 0: "never"}
  rows = [[label, tiles.get(results[label]["tile"], results[label]["tile"]),
           f"{results[label]['median_peak_rss_gib']:.2f}",
           f"{results[label]['median_seconds']:.1f}"]
          for label, _, _, _ in summary["config"]["cases"]]  # in the order they ran
  table = reporting.markdown_table(["case", "tile", "peak RSS (GiB)", "seconds (process)"],
                                   rows)
  goals = "\n".join(f"- {name}: {measured} ({reporting.met(met)})"
                     for name, measured, met in targets(summary))
  width = summary.get("width", 32)  # (results from before it was recorded: width 32)
  return f"""# Peak memory of stylizing 1920x1080 and 4K with every export

tools/stylize.py with the shipped collection's network (width {width}, in the {STYLE.title()})
exported to each format, each run in a fresh process; medians of
{summary['config']['runs']} run(s). {reporting.machine_line(summary['machine'])}. Seconds
are whole-process times, for orientation only.

{table}

{goals}
"""


if __name__ == "__main__":
  runner.main(__name__)
