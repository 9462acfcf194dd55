"""Peak memory (RSS) of stylizing a 4K (3840x2160) image with and without --tile.

Untiled, the full-resolution activations of the inception w16 network (16-32 channels of
3840x2160 float32 each) must all fit in memory; tiled, memory is bounded by the tile and the
1024-pixel statistics copy, plus what TensorFlow, the model and the process take (the 256x256
row). Target: tiled at most 3 GiB.
Method: every case runs tools/stylize.py as a user would, in a fresh process, on a generated
4K PNG with a .keras inception w16 model (untrained: memory does not depend on the weights);
the peak RSS is the child's ru_maxrss from os.wait4, so cases cannot mask each other (a plain
getrusage(RUSAGE_CHILDREN) reports the largest child so far).

Command: python -m experiments.bench_memory [--quick] [--out_dir DIR]
Run time on 2 CPU cores: 2-3 minutes with --quick (untiled via --tile 0, --tile 512 and the
default, which tiles 4K at 512 automatically; 2 runs each),
about 5 minutes (estimated) in full (also --tile 256 and 1024, 3 runs each).
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
from fastchi_tf import build_render_net
from fastchi_tf import samples
from fastchi_tf import export

SIZE_4K = (3840, 2160)
TARGET_TILED_GIB = 3.0
GIB = 2 ** 30


@dataclasses.dataclass(frozen=True)
class Config:
  runs: int = 3
  # (label, image size, --tile); the small image shows what TensorFlow and the model alone
  # take. --tile 0 never tiles; None leaves tools/stylize.py's default (tiles 4K).
  cases: tuple = (("256x256", (256, 256), None), ("4K untiled", SIZE_4K, 0),
                  ("4K --tile 256", SIZE_4K, 256), ("4K --tile 512", SIZE_4K, 512),
                  ("4K --tile 1024", SIZE_4K, 1024))


FULL = Config()
QUICK = Config(runs=2, cases=(("256x256", (256, 256), None), ("4K untiled", SIZE_4K, 0),
                              ("4K --tile 512", SIZE_4K, 512), ("4K default", SIZE_4K, None)))


def write_photo(path, size):
  """scikit-image's coffee photo resized to `size` (width, height), as PNG."""
  with Image.open(samples.skimage_path(samples.HELD_OUT_PHOTO)) as photo:
    photo.convert("RGB").resize(size, Image.LANCZOS).save(path)
  return path


def run_stylize(model, image, output, tile=None):
  """Runs tools/stylize.py in a fresh process; returns (peak RSS bytes, seconds)."""
  cmd = [sys.executable, os.path.join(reporting.REPO_ROOT, "tools", "stylize.py"),
         "--model", model, "--input", image, "--output", output]
  if tile is not None:
    cmd += ["--tile", str(tile)]
  env = dict(os.environ, PYTHONPATH=reporting.REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  start = time.perf_counter()
  with tempfile.TemporaryFile() as log:
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, in KiB on Linux
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode:
      log.seek(0)
      tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
      raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(tail))
  return usage.ru_maxrss * 1024, seconds


def run(cfg, out_dir):
  del out_dir  # numbers only
  results = {label: dict(size=size, tile=tile, peak_rss_bytes=[], seconds=[])
             for label, size, tile in cfg.cases}
  with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "model.keras")
    export.export_keras(build_render_net("inception", 16, 2), model)
    images = {size: write_photo(os.path.join(tmp, f"{size[0]}x{size[1]}.png"), size)
              for size in {size for _, size, _ in cfg.cases}}
    for r in range(cfg.runs):
      for label, size, tile in cfg.cases:  # interleaved, like the other benchmarks
        output = os.path.join(tmp, "out.png")
        rss, seconds = run_stylize(model, images[size], output, tile)
        with Image.open(output) as image:  # reads the header only
          if image.size != size:
            raise RuntimeError(f"{label}: output of {image.size}, expected {size}")
        results[label]["peak_rss_bytes"].append(rss)
        results[label]["seconds"].append(seconds)
        print(f"run {r + 1}/{cfg.runs} {label}: {rss / GIB:.2f} GiB, {seconds:.1f} s")
  for r in results.values():
    r["median_peak_rss_gib"] = reporting.median(r["peak_rss_bytes"]) / GIB
    r["median_seconds"] = reporting.median(r["seconds"])
  return dict(target_tiled_gib=TARGET_TILED_GIB, results=results,
              target_met=max(_tiled(results).values()) <= TARGET_TILED_GIB)


def _tiled(results):
  """{label: median peak GiB} of the cases that tile (--tile N > 0)."""
  return {label: r["median_peak_rss_gib"] for label, r in results.items() if r["tile"]}


def _untiled_4k(results):
  return next(r["median_peak_rss_gib"] for r in results.values()
              if r["tile"] == 0 and tuple(r["size"]) == SIZE_4K)


def targets(summary):
  tiled = ", ".join(f"{gib:.2f} GiB with `{label[3:]}`"  # "4K --tile 512" -> "--tile 512"
                    for label, gib in _tiled(summary["results"]).items())
  return [(f"tiled 4K stylization at most {summary['target_tiled_gib']:g} GiB peak RSS",
           f"{tiled} ({_untiled_4k(summary['results']):.1f} GiB untiled)",
           summary["target_met"])]


def finding(summary):
  measured = targets(summary)[0][1]
  return f"{measured}; target at most {summary['target_tiled_gib']:g} GiB"


def report(summary, out_dir):
  del out_dir  # no figures
  results = summary["results"]
  tiles = {None: "default", 0: "never"}
  rows = [[label, tiles.get(results[label]["tile"], results[label]["tile"]),
           f"{results[label]['median_peak_rss_gib']:.2f}",
           f"{results[label]['median_seconds']:.1f}"]
          for label, _, _ in summary["config"]["cases"]]  # in the order they ran
  table = reporting.markdown_table(["image", "tile", "peak RSS (GiB)", "seconds (process)"],
                                   rows)
  tiled = ", ".join(f"{label} {gib:.2f} GiB" for label, gib in _tiled(results).items())
  return f"""# Peak memory of stylizing 4K

tools/stylize.py with a .keras inception w16 model, each run in a fresh process; medians of
{summary['config']['runs']} runs.

{table}

Tiled 4K peak RSS: {tiled} (target <= {summary['target_tiled_gib']:g} GiB:
{reporting.met(summary['target_met'])}).
"""


if __name__ == "__main__":
  runner.main(__name__)
